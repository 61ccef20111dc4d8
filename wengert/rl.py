"""Policy-gradient reinforcement learning for discrete actions: REINFORCE with a learned
baseline and PPO (clipped surrogate, generalised advantage estimation), on Gymnasium vector
environments.

The policy and the value function are small MLPs (`ActorCritic`, a `Module`), trained
functionally: the losses here are ordinary differentiable functions of the parameters, so
`wg.value_and_grad(ppo_loss, has_aux=True)` (optionally under `wg.jit`) gives a
model-shaped gradient for `wengert.optim.Adam`. Environment interaction is plain NumPy.

Data are time-major arrays of shape (T, N) for T steps of N environments. Gymnasium's vector
environments reset with the "next step" convention: the step after an episode ends only
resets that environment (reward 0, the action ignored), and the observation returned by the
last step of an episode is its true final observation. Such reset steps are masked out
(`valid`), and the final observation bootstraps the value of a truncated episode.
"""

import math
from dataclasses import dataclass, field

import numpy as np

from . import numpy as wnp
from .ir import jit as _jit
from .nn import Linear, Module, Parameter, Sequential, Tanh
from .nn import functional as F
from .nn.init import orthogonal
from .optim import Adam
from .optim.clip import clip_by_global_norm
from .transforms.api import value_and_grad

__all__ = [
    "ActorCritic",
    "Rollout",
    "discounted_returns",
    "evaluate",
    "gae",
    "log_prob",
    "mlp",
    "ppo",
    "ppo_loss",
    "reinforce",
    "reinforce_loss",
    "sample",
]


# Networks ----------------------------------------------------------------------------------

def mlp(sizes, *, rng=None, out_gain=1.0, dtype=np.float32):
    """A tanh MLP with layer widths `sizes` (input first), orthogonally initialised with gain
    sqrt(2) on the hidden layers and `out_gain` on the last, biases zero (the usual
    initialisation for policy gradients: a small `out_gain` starts the policy near uniform)."""
    rng = np.random.default_rng(rng)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        last = k == len(sizes) - 2
        layer = Linear(n_in, n_out, rng=rng, dtype=dtype)
        layer.weight = Parameter(orthogonal((n_out, n_in), rng=rng, dtype=dtype,
                                            gain=out_gain if last else math.sqrt(2)))
        layer.bias = Parameter(np.zeros(n_out, dtype))
        layers += [layer] if last else [layer, Tanh()]
    return Sequential(*layers)


class ActorCritic(Module):
    """Separate policy (logits over `n_actions`) and value MLPs on observations of size
    `obs_dim`, each with `hidden` tanh layers."""

    def __init__(self, obs_dim, n_actions, hidden=(64, 64), *, rng=None):
        rng = np.random.default_rng(rng)
        self.actor = mlp([obs_dim, *hidden, n_actions], rng=rng, out_gain=0.01)
        self.critic = mlp([obs_dim, *hidden, 1], rng=rng, out_gain=1.0)

    def forward(self, obs):
        """(logits, values) of a batch of observations."""
        return self.actor(obs), self.critic(obs)[..., 0]


# Distributions and estimators --------------------------------------------------------------

def log_prob(logits, actions):
    """log pi(action | logits) of a softmax policy, for (N, A) logits and N integer actions
    (differentiable in `logits`)."""
    return -F.nll_loss(F.log_softmax(logits, axis=-1), actions, reduction="none")


def sample(logits, rng):
    """Actions drawn from the softmax of (N, A) raw `logits` with `rng` (inverse CDF)."""
    logits = np.asarray(logits, dtype=np.float64)
    p = np.exp(logits - logits.max(axis=-1, keepdims=True))
    cdf = np.cumsum(p, axis=-1)
    u = rng.random(len(cdf))[:, None] * cdf[:, -1:]
    return np.minimum((cdf < u).sum(axis=-1), logits.shape[-1] - 1)


def reinforce_loss(logits, actions, weights):
    """The REINFORCE surrogate -mean(log pi(a|s) * w): its gradient is the score-function
    estimate of the gradient of -E[return] when `weights` are returns (or returns minus a
    baseline), which carry no gradient."""
    return -wnp.mean(log_prob(logits, actions) * weights)


def discounted_returns(rewards, dones, gamma):
    """Returns-to-go G_t = r_t + gamma * G_{t+1}, restarting after every step where `dones`
    is true; (T, N) arrays, and zero is assumed after the last step (complete episodes)."""
    returns = np.zeros_like(rewards)
    future = np.zeros_like(rewards[0])
    for t in reversed(range(len(rewards))):
        future = rewards[t] + gamma * np.where(dones[t], 0.0, future)
        returns[t] = future
    return returns


def gae(rewards, values, terminated, dones, gamma, lam):
    """Generalised advantage estimates (Schulman et al. 2016) and the value targets
    `advantages + values[:-1]`. `values` has T + 1 rows: the value of every observation and
    of the one after the last step. The bootstrap `values[t + 1]` is dropped when step t
    terminated the episode, kept when it was truncated; the sum stops at any episode end
    (`dones` = terminated or truncated)."""
    advantages = np.zeros_like(rewards)
    last = np.zeros_like(rewards[0])
    for t in reversed(range(len(rewards))):
        delta = rewards[t] + gamma * np.where(terminated[t], 0.0, values[t + 1]) - values[t]
        last = delta + gamma * lam * np.where(dones[t], 0.0, last)
        advantages[t] = last
    return advantages, advantages + values[:-1]


def ppo_loss(params, obs, actions, old_log_prob, advantages, returns, weights, clip,
             vf_coef=0.5, ent_coef=0.0):
    """PPO's clipped surrogate plus `vf_coef` times the squared value error minus
    `ent_coef` times the entropy, averaged with `weights` (1 for real steps, 0 for reset
    steps). Differentiable in `params` (an `ActorCritic`); returns `(loss, (policy loss,
    value loss, entropy, approximate KL))`."""
    logits, values = params(obs)
    logp_all = F.log_softmax(logits, axis=-1)
    logp = -F.nll_loss(logp_all, actions, reduction="none")
    ratio = wnp.exp(logp - old_log_prob)
    clipped = wnp.minimum(wnp.maximum(ratio, 1 - clip), 1 + clip)
    policy = -wnp.minimum(ratio * advantages, clipped * advantages)
    value = (values - returns) ** 2
    entropy = -wnp.sum(wnp.exp(logp_all) * logp_all, axis=-1)
    n = wnp.sum(weights)

    def mean(x):
        return wnp.sum(x * weights) / n

    policy, value, entropy = mean(policy), mean(value), mean(entropy)
    approx_kl = mean((ratio - 1) - (logp - old_log_prob))
    loss = policy + vf_coef * value - ent_coef * entropy
    return loss, (policy, value, entropy, approx_kl)


# Rollouts ----------------------------------------------------------------------------------

@dataclass
class Rollout:
    """T steps of N environments: `obs` has T + 1 rows (the last one follows the last step);
    `valid` is False on reset steps, whose action was ignored."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    valid: np.ndarray
    log_probs: np.ndarray
    episode_returns: list = field(default_factory=list)

    @property
    def dones(self):
        return self.terminated | self.truncated


def _np_log_softmax(logits):
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class _Runner:
    """Steps a vector environment with a policy, carrying the current observations, the
    reset flags and the running episode returns from one rollout to the next."""

    def __init__(self, env, seed):
        self.env = env
        self.obs, _ = env.reset(seed=seed)
        self.prev_done = np.zeros(env.num_envs, bool)
        self.running = np.zeros(env.num_envs)

    def rollout(self, policy, n_steps, rng):
        """`n_steps` steps of every environment, actions sampled from the logits
        `policy(obs)`; records the log-probabilities of the actions taken."""
        steps = []
        finished = []
        obs = [self.obs]
        for _ in range(n_steps):
            logp_all = _np_log_softmax(policy(self.obs))
            actions = sample(logp_all, rng)
            valid = ~self.prev_done
            self.obs, reward, term, trunc, _ = self.env.step(actions)
            term, trunc = term & valid, trunc & valid
            done = term | trunc
            self.running += np.where(valid, reward, 0.0)
            finished += self.running[done].tolist()
            self.running[done] = 0.0
            self.prev_done = done
            obs.append(self.obs)
            steps.append((actions, reward, term, trunc, valid,
                          np.take_along_axis(logp_all, actions[:, None], axis=1)[:, 0]))
        actions, rewards, term, trunc, valid, logps = (np.stack(x) for x in zip(*steps))
        return Rollout(np.stack(obs), actions, rewards.astype(np.float32), term, trunc, valid,
                       logps.astype(np.float32), finished)


def _episodes(env, policy, rng, seed=None):
    """One complete episode in each environment of `env`, stepped together until the last
    ends: the Rollout of all steps, `valid` False after an environment's episode ended."""
    obs, _ = env.reset(seed=seed)
    alive = np.ones(env.num_envs, bool)
    all_obs, steps = [obs], []
    while alive.any():
        logp_all = _np_log_softmax(policy(obs))
        actions = sample(logp_all, rng)
        obs, reward, term, trunc, _ = env.step(actions)
        steps.append((actions, np.where(alive, reward, 0.0), term & alive, trunc & alive,
                      alive.copy()))
        all_obs.append(obs)
        alive &= ~(term | trunc)
    actions, rewards, term, trunc, valid = (np.stack(x) for x in zip(*steps))
    returns = rewards.sum(axis=0).tolist()
    return Rollout(np.stack(all_obs), actions, rewards.astype(np.float32), term, trunc, valid,
                   None, returns)


def _flat(x):
    return x.reshape((-1,) + x.shape[2:])


def _normalise(adv, mask):
    mean = adv[mask].mean()
    return ((adv - mean) / (adv[mask].std() + 1e-8)).astype(np.float32)


def _functions(loss, use_jit):
    """(value_and_grad of `loss` with aux, the policy's logits, the values). Only the
    gradient is jitted when asked (compiled once per batch shape): on a few observations
    the plain forward is faster than a jitted call, whose argument handling dominates."""
    loss_grad = value_and_grad(loss, has_aux=True)
    return (_jit(loss_grad) if use_jit else loss_grad, lambda p, obs: p.actor(obs),
            lambda p, obs: p.critic(obs)[..., 0])


def ppo(env, params, total_steps, *, n_steps=32, epochs=20, minibatch_size=None, lr=1e-3,
        gamma=0.98, gae_lambda=0.8, clip=0.2, vf_coef=0.5, ent_coef=0.0, max_grad_norm=0.5,
        anneal=True, seed=0, use_jit=True, callback=None):
    """Train `params` (an `ActorCritic` of arrays) with PPO on the Gymnasium vector
    environment `env` (discrete actions) for about `total_steps` environment steps and return
    the trained parameters.

    Each iteration runs `n_steps` steps of every environment, computes GAE advantages
    (normalised per batch) and makes `epochs` passes of minibatches of `minibatch_size`
    (which must divide n_steps * num_envs; default: the whole batch) with Adam; the
    learning rate and the clip range decay linearly to 0 when `anneal`. The defaults are
    RL Zoo's tuned values for CartPole-v1. `callback(info)` gets a dict after every
    iteration: "steps" so far, "episode_returns" finished in it, and the last minibatch's
    "loss", "value_loss", "entropy" and "approx_kl". Reproducible for a given `seed`
    (environment and sampling)."""
    batch = n_steps * env.num_envs
    minibatch_size = batch if minibatch_size is None else minibatch_size
    if batch % minibatch_size:
        raise ValueError(f"ppo: minibatch_size={minibatch_size} must divide n_steps * num_envs "
                         f"= {batch}; choose a divisor, e.g. {batch}.")
    iterations = -(-total_steps // batch)
    n_updates = iterations * epochs * (batch // minibatch_size)
    opt = Adam(lr=(lambda step: lr * (1 - step / n_updates)) if anneal else lr, eps=1e-5)
    state = opt.init(params)
    loss_grad, actor, critic = _functions(ppo_loss, use_jit)
    coefs = np.float32(vf_coef), np.float32(ent_coef)  # float32 arrays: no promotion
    rng = np.random.default_rng(seed)
    runner = _Runner(env, seed)
    for it in range(iterations):
        ro = runner.rollout(lambda obs, p=params: actor(p, obs), n_steps, rng)
        values = np.asarray(critic(params, _flat(ro.obs))).reshape(ro.obs.shape[:2])
        adv, returns = gae(ro.rewards, values, ro.terminated, ro.dones, gamma, gae_lambda)
        data = [_flat(ro.obs[:-1]), _flat(ro.actions), _flat(ro.log_probs),
                _normalise(_flat(adv), _flat(ro.valid)), _flat(returns).astype(np.float32),
                _flat(ro.valid).astype(np.float32)]
        clip_now = np.float32(clip * (1 - it / iterations) if anneal else clip)
        for _ in range(epochs):
            perm = rng.permutation(batch)
            for start in range(0, batch, minibatch_size):
                idx = perm[start:start + minibatch_size]
                (loss, aux), grads = loss_grad(params, *(x[idx] for x in data), clip_now,
                                               *coefs)
                grads = clip_by_global_norm(grads, max_grad_norm)
                params, state = opt.update(grads, state, params)
        if callback is not None:
            callback({"steps": (it + 1) * batch, "episode_returns": ro.episode_returns,
                      "loss": float(loss), "value_loss": float(aux[1]),
                      "entropy": float(aux[2]), "approx_kl": float(aux[3])})
    return params


def _reinforce_objective(params, obs, actions, advantages, returns, weights, vf_coef):
    """REINFORCE with a learned baseline: the surrogate with the (masked) advantages plus
    `vf_coef` times the squared error of the baseline V(s) against the returns."""
    logits, values = params(obs)
    n = wnp.sum(weights)
    policy = -wnp.sum(log_prob(logits, actions) * advantages * weights) / n
    value = wnp.sum((values - returns) ** 2 * weights) / n
    return policy + vf_coef * value, (policy, value)


def reinforce(env, params, total_steps, *, lr=3e-3, gamma=0.99, vf_coef=0.5, seed=0,
              use_jit=True, callback=None):
    """Train `params` (an `ActorCritic` of arrays) with REINFORCE and a learned baseline:
    each iteration plays one complete episode in every environment of `env`, then makes one
    Adam step on the score-function estimate with advantages G_t - V(s_t) (normalised per
    batch) and on the regression of V(s_t) to the returns-to-go G_t. Stops after about
    `total_steps` environment steps; `callback` as for `ppo` ("loss" and "value_loss")."""
    opt = Adam(lr=lr)
    state = opt.init(params)
    loss_grad, actor, critic = _functions(_reinforce_objective, use_jit)
    rng = np.random.default_rng(seed)
    steps, first = 0, True
    while steps < total_steps:
        ep = _episodes(env, lambda obs, p=params: actor(p, obs), rng,
                       seed if first else None)
        first = False
        if use_jit:  # pad to a multiple of 50 steps: at most 10 shapes to compile
            pad = -len(ep.actions) % 50
            ep = Rollout(*(np.concatenate([x, np.zeros((pad,) + x.shape[1:], x.dtype)])
                           for x in (ep.obs, ep.actions, ep.rewards, ep.terminated,
                                     ep.truncated, ep.valid)), None, ep.episode_returns)
        returns = discounted_returns(ep.rewards, ep.dones, gamma)
        values = np.asarray(critic(params, _flat(ep.obs[:-1])))
        valid = _flat(ep.valid)
        adv = _normalise(_flat(returns) - values, valid)
        (loss, aux), grads = loss_grad(params, _flat(ep.obs[:-1]), _flat(ep.actions), adv,
                                       _flat(returns), valid.astype(np.float32),
                                       np.float32(vf_coef))
        params, state = opt.update(grads, state, params)
        steps += int(valid.sum())
        if callback is not None:
            callback({"steps": steps, "episode_returns": ep.episode_returns,
                      "loss": float(loss), "value_loss": float(aux[1])})
    return params


def evaluate(env, params, seed=None):
    """The return of one episode in each environment of the vector env `env` with the greedy
    policy (the most probable action) of `params`: an array of `env.num_envs` returns."""
    def greedy(obs):
        logits = np.asarray(params.actor(obs))
        return np.where(np.arange(logits.shape[-1]) == np.argmax(logits, -1)[:, None],
                        0.0, -np.inf)

    return np.asarray(_episodes(env, greedy, np.random.default_rng(0), seed).episode_returns)
