"""wengert.rl: the REINFORCE estimator is unbiased on a bandit with a known gradient, the
return and advantage estimates match hand computations, and short CartPole runs learn,
reproducibly (`wengert train cartpole` included)."""

import importlib.util

import numpy as np
import pytest

import wengert as wg
from wengert import rl
from wengert.testing import check_grads
from wengert.train.common import as_arrays

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


# Estimators --------------------------------------------------------------------------------

MEANS = np.array([10.0, 11.0, 12.5])  # a 3-armed Gaussian bandit, rewards N(mean, 1)
THETA = np.array([0.3, -0.2, 0.1])  # softmax policy logits


def bandit_estimates(baseline, n_batches=400, batch=250, seed=0):
    """`n_batches` REINFORCE estimates of grad E[reward] at THETA, each the gradient of the
    surrogate over `batch` sampled pulls, with rewards minus `baseline`."""
    rng = np.random.default_rng(seed)
    p = np.exp(THETA) / np.exp(THETA).sum()
    grad = wg.grad(lambda theta, a, w: -rl.reinforce_loss(
        theta * np.ones((len(a), 1)), a, w))
    out = []
    for _ in range(n_batches):
        a = rng.choice(3, size=batch, p=p)
        r = MEANS[a] + rng.standard_normal(batch)
        out.append(grad(THETA, a, r - baseline))
    return np.array(out)


@pytest.mark.parametrize("baseline", ["none", "exact value"])
def test_reinforce_estimator_is_unbiased_on_a_bandit(baseline):
    p = np.exp(THETA) / np.exp(THETA).sum()
    value = p @ MEANS
    exact = p * (MEANS - value)  # d/dtheta sum_a softmax(theta)_a mean_a
    estimates = bandit_estimates(0.0 if baseline == "none" else value)
    stderr = estimates.std(axis=0, ddof=1) / np.sqrt(len(estimates))
    assert np.all(np.abs(estimates.mean(axis=0) - exact) < 4 * stderr)


def test_baseline_reduces_the_variance_of_the_estimator():
    p = np.exp(THETA) / np.exp(THETA).sum()
    plain = bandit_estimates(0.0, n_batches=100).var(axis=0)
    with_baseline = bandit_estimates(p @ MEANS, n_batches=100).var(axis=0)
    assert np.all(with_baseline < plain / 10)


def test_reinforce_loss_and_log_prob_derivatives():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((5, 3))
    actions = np.array([0, 2, 1, 1, 0])
    weights = rng.standard_normal(5)
    check_grads(lambda z: rl.reinforce_loss(z, actions, weights), (logits,), order=2)
    logp = np.asarray(rl.log_prob(logits, actions))
    expected = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(logp, expected[np.arange(5), actions])


def test_discounted_returns_restart_after_each_episode():
    rewards = np.array([[1.0], [2.0], [3.0], [4.0]])
    dones = np.array([[False], [True], [False], [True]])
    np.testing.assert_allclose(rl.discounted_returns(rewards, dones, 0.5)[:, 0],
                               [1 + 0.5 * 2, 2, 3 + 0.5 * 4, 4])


def test_gae_bootstraps_truncated_episodes_only():
    gamma, lam = 0.9, 0.8
    rewards = np.ones((2, 2))
    values = np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])  # V of obs 0, 1, 2
    terminated = np.array([[False, False], [True, False]])
    truncated = np.array([[False, False], [False, True]])
    adv, returns = rl.gae(rewards, values, terminated, terminated | truncated, gamma, lam)
    last = np.array([1 - 2.0, 1 + gamma * 3.0 - 2.0])  # terminated / truncated at step 1
    first = 1 + gamma * 2.0 - 1.0 + gamma * lam * last
    np.testing.assert_allclose(adv, [first, last])
    np.testing.assert_allclose(returns, adv + values[:-1])
    # lambda = 1 and zero values: plain discounted returns
    adv1, _ = rl.gae(rewards, np.zeros((3, 2)), terminated, terminated | truncated, gamma, 1.0)
    np.testing.assert_allclose(adv1, rl.discounted_returns(rewards, terminated | truncated,
                                                           gamma))


def test_ppo_loss_is_the_policy_gradient_when_ratio_is_one():
    """At the sampling policy (ratio 1, nothing clipped) PPO's surrogate has the REINFORCE
    gradient; the jitted loss-and-gradient agrees with the plain one."""
    rng = np.random.default_rng(2)
    params = as_arrays(rl.ActorCritic(4, 2, hidden=(8,), rng=0))
    obs = rng.standard_normal((6, 4)).astype(np.float32)
    actions = rng.integers(0, 2, 6)
    adv = rng.standard_normal(6).astype(np.float32)
    old = np.asarray(rl.log_prob(params.actor(obs), actions))
    args = (obs, actions, old, adv, np.zeros(6, np.float32), np.ones(6, np.float32),
            np.float32(0.2), np.float32(0.0), np.float32(0.0))
    g_ppo = wg.grad(lambda p: rl.ppo_loss(p, *args)[0])(params)
    g_pg = wg.grad(lambda p: rl.reinforce_loss(p.actor(obs), actions, adv))(params)
    np.testing.assert_allclose(g_ppo.actor[0].weight, g_pg.actor[0].weight, rtol=1e-4,
                               atol=1e-6)
    plain = wg.value_and_grad(rl.ppo_loss, has_aux=True)(params, *args)
    jitted = wg.jit(wg.value_and_grad(rl.ppo_loss, has_aux=True))(params, *args)
    np.testing.assert_allclose(jitted[0][0], plain[0][0], rtol=1e-5)
    np.testing.assert_allclose(jitted[1].critic[0].weight, plain[1].critic[0].weight,
                               rtol=1e-4, atol=1e-7)


# CartPole ----------------------------------------------------------------------------------

def test_short_ppo_run_beats_a_random_policy_reproducibly():
    pytest.importorskip("gymnasium")
    from wengert.train.cartpole import make_env

    def run():
        params = as_arrays(rl.ActorCritic(4, 2, rng=0))
        returns = []
        params = rl.ppo(make_env(8), params, 12_288, seed=0,
                        callback=lambda info: returns.extend(info["episode_returns"]))
        return params, returns

    params, returns = run()
    again, _ = run()
    np.testing.assert_array_equal(params.actor[0].weight, again.actor[0].weight)
    random_policy = np.mean(returns[:20])  # the first episodes: a near-uniform policy
    assert 15 < random_policy < 35
    greedy = rl.evaluate(make_env(20), params, seed=1).mean()
    assert greedy > 100, (random_policy, greedy)


def test_train_cartpole_reinforce_writes_model_and_curve(tmp_path):
    pytest.importorskip("gymnasium")
    from wengert.train import cartpole

    lines = []
    result = cartpole.train("reinforce", steps=40_000, seed=0, out=tmp_path, eval_episodes=20,
                            use_tqdm=False, log=lines.append)
    assert result.eval_mean > 100
    assert len(result.eval_returns) == 20
    assert (tmp_path / "model.npz").exists()
    assert (tmp_path / "returns.png").exists() == HAVE_MATPLOTLIB
    assert any("Greedy policy over 20 new episodes" in line for line in lines)
    with pytest.raises(cartpole.TrainingError, match="unknown algorithm"):
        cartpole.train("dqn")
