"""`wengert train cartpole`: balance Gymnasium's CartPole-v1 with a policy gradient, PPO
(default) or REINFORCE with a learned baseline (see `wengert.rl`), then evaluate the greedy
policy on 100 new episodes. CartPole-v1 counts as solved at an average return of 475 (the
maximum is 500, an episode being cut at 500 steps).

Both algorithms step several environments at once (Gymnasium's NumPy-vectorised CartPole)
and evaluate the policy on the whole batch of observations in one call; the policy and the
value function are 4-64-64 tanh MLPs.
"""

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import rl
from .common import (
    PER_BATCH_STYLE,
    History,
    Progress,
    TrainingError,
    as_arrays,
    count_parameters,
    format_rate,
    format_seconds,
    report_files,
    save_outputs,
)

ENV_ID = "CartPole-v1"
SOLVED = 475.0
ALGOS = ("ppo", "reinforce")
# PPO: RL Zoo's tuned CartPole-v1 values (see rl.ppo). REINFORCE: 16 complete episodes per
# update. Both reach a greedy return of 500 on seeds 0-4 (PPO in ~10 s, REINFORCE in ~5 s).
DEFAULTS = {"ppo": {"steps": 100_000, "envs": 8, "lr": 1e-3},
            "reinforce": {"steps": 200_000, "envs": 16, "lr": 3e-3}}
EVAL_SEED_OFFSET = 1_000_003  # evaluation episodes start from other states than training
WINDOW = 100  # the moving average of training returns, like the solved criterion


def make_env(num_envs):
    """`num_envs` CartPole-v1 environments stepped together (Gymnasium's vectorised one)."""
    try:
        import gymnasium as gym
    except ImportError:
        raise TrainingError(
            "wengert train cartpole: the environment comes with Gymnasium, which is not "
            "installed; run `pip install gymnasium` (or `pip install 'wengert[examples]'`)."
        ) from None
    return gym.make_vec(ENV_ID, num_envs=num_envs, vectorization_mode="vector_entry_point")


@dataclass
class Result:
    """What a run ends with; `history` holds every recorded series."""

    algo: str
    steps: int
    episodes: int
    eval_returns: np.ndarray
    seconds: float
    n_parameters: int
    history: History
    out: Path = None
    files: dict = field(default_factory=dict)

    @property
    def eval_mean(self):
        return float(np.mean(self.eval_returns))

    @property
    def solved(self):
        return self.eval_mean >= SOLVED


def train(algo="ppo", steps=None, envs=None, lr=None, seed=0, out=None, *,
          eval_episodes=100, use_jit=True, use_tqdm=None, log=print):
    """Train a CartPole-v1 policy with `algo` ("ppo" or "reinforce") for about `steps`
    environment steps on `envs` environments (defaults: `DEFAULTS`), evaluate its greedy
    policy on `eval_episodes` episodes and return a `Result`. Seeded and reproducible:
    `seed` fixes the initial weights, the environments and the sampled actions. With `out`
    (a directory) the parameters (`model.npz`) and the return curve (`returns.png`, if
    matplotlib is installed) are written there. `log` prints the report lines; the progress
    bar uses tqdm when installed (`use_tqdm`)."""
    if algo not in ALGOS:
        raise TrainingError(f"wengert train cartpole: unknown algorithm {algo!r}; choose one "
                            f"of {ALGOS}.")
    steps = DEFAULTS[algo]["steps"] if steps is None else steps
    envs = DEFAULTS[algo]["envs"] if envs is None else envs
    lr = DEFAULTS[algo]["lr"] if lr is None else lr
    out = None if out is None else Path(out)
    env = make_env(envs)
    params = as_arrays(rl.ActorCritic(4, 2, rng=seed))
    n_params = count_parameters(params)
    log(f"{ENV_ID} with {algo.upper()} (policy and value 4-64-64 MLPs, {n_params:,} "
        f"parameters): {steps:,} steps of {envs} environments, Adam lr {lr:g}, seed {seed}")

    history, returns = History(), []
    start = time.perf_counter()
    with Progress(steps, f"cartpole {algo}", unit="step", use_tqdm=use_tqdm) as bar:
        def record(info):
            for r in info["episode_returns"]:
                returns.append(r)
                history.add(episode_step=info["steps"], episode_return=r)
            recent = float(np.mean(returns[-WINDOW:])) if returns else 0.0
            history.add(step=info["steps"], mean_return=recent, loss=info["loss"],
                        elapsed=time.perf_counter() - start)
            bar.update(min(info["steps"], steps) - bar.count, episodes=len(returns),
                       mean_return=f"{recent:.1f}")

        train_fn = rl.ppo if algo == "ppo" else rl.reinforce
        params = train_fn(env, params, steps, lr=lr, seed=seed, use_jit=use_jit,
                          callback=record)
    seconds = time.perf_counter() - start
    eval_returns = rl.evaluate(make_env(eval_episodes), params, seed=seed + EVAL_SEED_OFFSET)

    result = Result(algo=algo, steps=int(history.last("step")), episodes=len(returns),
                    eval_returns=eval_returns, seconds=seconds, n_parameters=n_params,
                    history=history, out=out)
    if out is not None:
        save_outputs(result, out, params, _panels(history, result),
                     f"wengert train cartpole --algo {algo}", plot="returns.png")
    report(result, log)
    return result


def _panels(history, result):
    return [{
        "ylabel": "episode return", "xlabel": "environment steps",
        "series": [("training episodes", history["episode_step"], history["episode_return"],
                    {**PER_BATCH_STYLE, "linestyle": "none", "marker": "."}),
                   (f"mean of the last {WINDOW}", history["step"], history["mean_return"]),
                   (f"greedy policy, {len(result.eval_returns)} new episodes",
                    [result.steps], [result.eval_mean], {"marker": "*", "markersize": 12})],
        "hlines": [(f"solved ({SOLVED:g})", SOLVED)],
    }]


def report(result, log=print):
    """Print the final report of a run."""
    r = result.eval_returns
    verdict = "solved" if result.solved else f"not solved (needs {SOLVED:g})"
    log(f"\nGreedy policy over {len(r)} new episodes: mean return {r.mean():.1f} "
        f"(min {r.min():g}, max {r.max():g}): {verdict}")
    log(f"Training time {format_seconds(result.seconds)} for {result.steps:,} steps and "
        f"{result.episodes:,} episodes ({format_rate(result.steps / result.seconds, 'step')})")
    report_files(result, log)
