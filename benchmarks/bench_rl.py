"""Policy gradients: time per PPO update and per policy evaluation of `wengert train
cartpole`'s networks (policy and value MLPs 4-64-64, tanh), wengert functional and jitted
side by side with PyTorch eager on the same weights and the same batch.

- PPO update: the clipped-surrogate loss of `wengert.rl.ppo_loss` on a minibatch of 256
  CartPole observations, its gradient, clipping by the global norm (0.5) and an Adam step.
  wengert functional: `wg.value_and_grad(ppo_loss, has_aux=True)` then `clip_by_global_norm`
  and `opt.update`; wengert jit: the same with the loss and gradient under `wg.jit`;
  PyTorch: the same loss, `backward()`, `clip_grad_norm_` and `torch.optim.Adam`.
- Policy forward: the logits of 8 observations (one step of the 8 environments of a
  rollout), the per-step cost of acting.

The first losses are checked equal before timing. Ratios are to PyTorch (or to wengert
functional without PyTorch).

    python benchmarks/bench_rl.py --threads 1
"""

import numpy as np

try:
    from . import common
except ImportError:  # run as a script
    import common

import wengert as wg
from wengert import rl
from wengert.optim import Adam
from wengert.optim.clip import clip_by_global_norm
from wengert.train.common import as_arrays

BATCH, ROLLOUT_ENVS, LR, MAX_NORM = 256, 8, 1e-3, 0.5
CLIP, VF_COEF, ENT_COEF = 0.2, 0.5, 0.0


def make_batch(params, rng):
    """A PPO minibatch: observations, actions, their log-probabilities under a slightly
    different policy (so that some ratios are clipped), advantages, returns and weights."""
    obs = (rng.standard_normal((BATCH, 4)) * [1.0, 1.0, 0.1, 1.0]).astype(np.float32)
    actions = rng.integers(0, 2, BATCH)
    old = np.asarray(rl.log_prob(params.actor(obs), actions))
    old = (old + 0.3 * rng.standard_normal(BATCH)).astype(np.float32)
    return (obs, actions, old, rng.standard_normal(BATCH).astype(np.float32),
            (10 * rng.random(BATCH)).astype(np.float32), np.ones(BATCH, np.float32),
            np.float32(CLIP), np.float32(VF_COEF), np.float32(ENT_COEF))


def wengert_update(params, batch, jit):
    """One functional PPO update on a copy of `params`; returns the loss."""
    opt = Adam(lr=LR, eps=1e-5)
    loss_grad = wg.value_and_grad(rl.ppo_loss, has_aux=True)
    if jit:
        loss_grad = wg.jit(loss_grad)
    carry = {"params": as_arrays(params)}
    carry["state"] = opt.init(carry["params"])

    def step():
        (loss, _), grads = loss_grad(carry["params"], *batch)
        grads = clip_by_global_norm(grads, MAX_NORM)
        carry["params"], carry["state"] = opt.update(grads, carry["state"], carry["params"])
        return float(loss)

    return step


def _actor(params, obs):
    return params.actor(obs)


def wengert_forward(params, obs, jit):
    actor = wg.jit(_actor) if jit else _actor
    return lambda: np.asarray(actor(params, obs))


def torch_nets(params):
    """PyTorch copies of the actor and the critic."""
    torch = common.peer("torch")

    def copy(seq):
        layers = []
        for layer in seq:
            if hasattr(layer, "weight"):
                lin = torch.nn.Linear(layer.in_features, layer.out_features)
                with torch.no_grad():
                    lin.weight.copy_(torch.from_numpy(np.array(layer.weight)))
                    lin.bias.copy_(torch.from_numpy(np.array(layer.bias)))
                layers.append(lin)
            else:
                layers.append(torch.nn.Tanh())
        return torch.nn.Sequential(*layers)

    return copy(params.actor), copy(params.critic)


def torch_update(params, batch):
    torch = common.peer("torch")
    actor, critic = torch_nets(params)
    net_params = list(actor.parameters()) + list(critic.parameters())
    opt = torch.optim.Adam(net_params, lr=LR, eps=1e-5)
    obs, actions, old, adv, returns, weights = (torch.from_numpy(np.asarray(x))
                                                for x in batch[:6])

    def step():
        opt.zero_grad()
        logp_all = torch.log_softmax(actor(obs), dim=-1)
        logp = logp_all.gather(1, actions[:, None])[:, 0]
        ratio = torch.exp(logp - old)
        policy = -torch.minimum(ratio * adv, ratio.clamp(1 - CLIP, 1 + CLIP) * adv)
        value = (critic(obs)[:, 0] - returns) ** 2
        entropy = -(logp_all.exp() * logp_all).sum(-1)
        n = weights.sum()
        loss = ((policy + VF_COEF * value - ENT_COEF * entropy) * weights).sum() / n
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net_params, MAX_NORM)
        opt.step()
        return float(loss.detach())

    return step


def torch_forward(params, obs):
    torch = common.peer("torch")
    actor, _ = torch_nets(params)
    x = torch.from_numpy(obs)

    def forward():
        with torch.no_grad():
            return actor(x).numpy()

    return forward


def run():
    rng = np.random.default_rng(0)
    params = as_arrays(rl.ActorCritic(4, 2, rng=0))
    batch = make_batch(params, rng)
    obs8 = batch[0][:ROLLOUT_ENVS]
    have_torch = common.peer("torch") is not None
    updates = {"wengert functional": wengert_update(params, batch, jit=False),
               "wengert jit": wengert_update(params, batch, jit=True)}
    forwards = {"wengert functional": wengert_forward(params, obs8, jit=False),
                "wengert jit": wengert_forward(params, obs8, jit=True)}
    if have_torch:
        updates["PyTorch"] = torch_update(params, batch)
        forwards["PyTorch"] = torch_forward(params, obs8)
    first = {name: fn() for name, fn in updates.items()}  # fresh copies: the same first loss
    ref = first["wengert functional"]
    for name, loss in first.items():
        if not np.isclose(loss, ref, rtol=1e-4):
            raise AssertionError(f"bench_rl: {name}'s first loss {loss} differs from {ref}")
    t_update = common.measure_all(updates)
    t_forward = common.measure_all(forwards)
    base = "PyTorch" if have_torch else "wengert functional"
    rows = [[name, common.fmt_time(t_update[name]),
             common.fmt_ratio(t_update[name] / t_update[base]),
             common.fmt_time(t_forward[name]),
             common.fmt_ratio(t_forward[name] / t_forward[base])] for name in updates]
    notes = [
        f"PPO update: loss, gradient, global-norm clipping and Adam on a minibatch of {BATCH} "
        "for separate policy and value MLPs 4-64-64 (tanh), float32; first losses checked "
        "equal.",
        f"Policy forward: the logits of {ROLLOUT_ENVS} observations (one rollout step).",
    ]
    notes += common.skipped_notes(["torch"])
    return common.Report(
        "Policy gradients: PPO update and policy forward (CartPole networks)",
        ["implementation", "PPO update", f"vs {base}", "policy forward", f"vs {base}"],
        rows, notes)


if __name__ == "__main__":
    common.main(run, __doc__)
