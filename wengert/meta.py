"""Meta-learning: MAML (Finn, Abbeel and Levine 2017) on the sinusoid regression benchmark.

Each task is a sinusoid y = A sin(x - phase) with A ~ U[0.1, 5], phase ~ U[0, pi], x ~ U[-5, 5];
a learner sees K = 10 (x, y) pairs of a task (the support set), takes a few plain gradient steps
on their mean squared error with step size alpha, and is scored on fresh points of the same
task (the query set). MAML learns the initial parameters theta of a 1-40-40-1 ReLU network so
that this adaptation works well:

    theta_i' = theta - alpha * grad L_support_i(theta)          (inner loop, per task)
    min_theta  mean_i L_query_i(theta_i')                       (outer loop, Adam)

* Second-order MAML differentiates the outer loss through the inner gradient steps: the inner
  `wg.grad` is itself differentiated by the outer one (the Hessian-vector products of the
  support loss appear in the meta-gradient).
* First-order MAML (`first_order=True`) wraps the inner gradients in `wg.stop_gradient`, so
  the meta-gradient is just the query gradient at the adapted parameters.
* `learn_alpha=True` also learns the inner step size alpha (a scalar, as in Meta-SGD with
  one shared rate): its hypergradient is the derivative of the outer loss through every
  inner step.
* `train_pretrained` is the paper's baseline: one network regressed on all tasks jointly,
  then fine-tuned on the support set with the same inner steps.

All tasks of a meta-batch are adapted at once: the meta-parameters are broadcast to a leading
task axis, and the gradient of the *sum* of the per-task support losses with respect to the
broadcast copies is each task's own gradient (tasks share no copy). Gradients flowing back to
theta through the broadcast sum over tasks.

    python -m wengert.meta             # the report: post-adaptation MSE after 1 and 10 steps
    python -m wengert.meta --quick     # a few seconds

The report trains each method for 10,000 meta-iterations of 25 tasks (about a minute in all on
one core; the paper used 70,000); `--quick` uses 100.
"""

import argparse
import time
from typing import NamedTuple

import numpy as np

from . import numpy as wnp
from .core import tree_map
from .nn import functional as F
from .optim import Adam
from .transforms.api import grad, stop_gradient, value_and_grad

AMPLITUDE = (0.1, 5.0)
PHASE = (0.0, np.pi)
X_RANGE = (-5.0, 5.0)


class Tasks(NamedTuple):
    """A batch of sinusoid tasks: support and query points of shape (tasks, points, 1), and the
    amplitude and phase of each task."""

    x_support: np.ndarray
    y_support: np.ndarray
    x_query: np.ndarray
    y_query: np.ndarray
    amplitude: np.ndarray
    phase: np.ndarray


def sample_tasks(rng, n_tasks, k_support=10, k_query=10, dtype=np.float32):
    """Draw `n_tasks` sinusoid tasks with `k_support` support and `k_query` query points each
    (amplitude U[0.1, 5], phase U[0, pi], x U[-5, 5]), from the NumPy Generator `rng`."""
    amplitude = rng.uniform(*AMPLITUDE, size=(n_tasks, 1, 1))
    phase = rng.uniform(*PHASE, size=(n_tasks, 1, 1))
    x = rng.uniform(*X_RANGE, size=(n_tasks, k_support + k_query, 1))
    y = amplitude * np.sin(x - phase)
    x, y = x.astype(dtype), y.astype(dtype)
    return Tasks(x[:, :k_support], y[:, :k_support], x[:, k_support:], y[:, k_support:],
                 amplitude.ravel(), phase.ravel())


def init_mlp(sizes=(1, 40, 40, 1), *, rng=None, dtype=np.float32):
    """Parameters of an MLP with the given layer sizes: a list of {"w": (in, out), "b": (1, out)}
    with PyTorch's default initialisation (uniform in +-1/sqrt(fan_in))."""
    rng = np.random.default_rng(rng)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(n_in)
        params.append({"w": rng.uniform(-bound, bound, (n_in, n_out)).astype(dtype),
                       "b": rng.uniform(-bound, bound, (1, n_out)).astype(dtype)})
    return params


def mlp(params, x):
    """The ReLU MLP on inputs `x` of shape (..., points, in); the parameters may carry the same
    leading task axes as `x` (per-task adapted copies). Differentiable in params and x."""
    *hidden, last = params
    for layer in hidden:
        x = F.relu(x @ layer["w"] + layer["b"])
    return x @ last["w"] + last["b"]


def task_losses(params, x, y):
    """Mean squared error of each task (the mean over points and outputs): shape (tasks,)."""
    return wnp.mean((mlp(params, x) - y) ** 2, axis=(-2, -1))


def _summed_loss(params, x, y):
    return wnp.sum(task_losses(params, x, y))


def per_task(params, n_tasks):
    """Broadcast meta-parameters to one copy per task (a leading axis of length n_tasks)."""
    return tree_map(lambda p: wnp.broadcast_to(p, (n_tasks,) + p.shape), params)


def adapt(params, x, y, alpha, steps=1, *, first_order=False):
    """Adapt `params` to each task of the batch (x, y: (tasks, K, 1)) by `steps` plain gradient
    steps of size `alpha` on its support loss; returns per-task parameters (leading task axis).

    Differentiable in params and alpha: through the inner gradients (second order) unless
    `first_order`, which stops the gradient through them (first-order MAML)."""
    params = per_task(params, x.shape[0])
    for _ in range(steps):
        g = grad(_summed_loss)(params, x, y)
        if first_order:
            g = tree_map(stop_gradient, g)
        params = tree_map(lambda p, gp: p - alpha * gp, params, g)
    return params


def maml_loss(params, tasks, alpha, steps=1, *, first_order=False):
    """MAML's outer objective: the mean query loss over the tasks after adapting to each one's
    support set. Differentiable in params and alpha (its gradient is the meta-gradient)."""
    adapted = adapt(params, tasks.x_support, tasks.y_support, alpha, steps,
                    first_order=first_order)
    return wnp.mean(task_losses(adapted, tasks.x_query, tasks.y_query))


def _outer_loss(meta, tasks, alpha, steps, first_order):
    """maml_loss on meta = {"net": params} or {"net": params, "alpha": learned step size}."""
    alpha = meta.get("alpha", alpha)
    return maml_loss(meta["net"], tasks, alpha, steps, first_order=first_order)


def train_maml(iterations=2000, *, meta_batch=10, k_shot=10, alpha=0.01, inner_steps=1,
               meta_lr=1e-3, first_order=False, learn_alpha=False, seed=0, dtype=np.float32,
               log_every=0):
    """Meta-train a 1-40-40-1 network with MAML; returns (params, alpha, history).

    Each iteration draws `meta_batch` tasks with `k_shot` support and `k_shot` query points,
    takes `inner_steps` inner steps of size alpha and one Adam step (lr `meta_lr`) on the
    meta-gradient. `first_order` gives first-order MAML; `learn_alpha` learns alpha too
    (returned alpha is then the learned one). history: the outer loss of every iteration."""
    rng = np.random.default_rng(seed)
    meta = {"net": init_mlp(rng=rng, dtype=dtype)}
    if learn_alpha:
        meta["alpha"] = np.asarray(alpha, dtype=dtype)
    opt = Adam(lr=meta_lr)
    state = opt.init(meta)
    step = value_and_grad(_outer_loss)
    history = []
    for it in range(iterations):
        tasks = sample_tasks(rng, meta_batch, k_shot, k_shot, dtype)
        loss, g = step(meta, tasks, alpha, inner_steps, first_order)
        meta, state = opt.update(g, state, meta)
        history.append(float(loss))
        if log_every and (it + 1) % log_every == 0:
            print(f"  iter {it + 1}: outer loss {np.mean(history[-log_every:]):.3f}")
    return meta["net"], float(meta.get("alpha", alpha)), history


def train_pretrained(iterations=2000, *, meta_batch=10, k_shot=10, lr=1e-3, seed=0,
                     dtype=np.float32):
    """The paper's pretrained baseline: one network regressed on the points of all tasks
    jointly (Adam, the same number of tasks and points per step as `train_maml`); returns
    (params, history)."""
    rng = np.random.default_rng(seed)
    params = init_mlp(rng=rng, dtype=dtype)
    opt = Adam(lr=lr)
    state = opt.init(params)
    step = value_and_grad(_joint_loss)
    history = []
    for _ in range(iterations):
        tasks = sample_tasks(rng, meta_batch, k_shot, k_shot, dtype)
        loss, g = step(params, tasks)
        params, state = opt.update(g, state, params)
        history.append(float(loss))
    return params, history


def _joint_loss(params, tasks):
    x = np.concatenate([tasks.x_support, tasks.x_query], axis=1)
    y = np.concatenate([tasks.y_support, tasks.y_query], axis=1)
    return wnp.mean(task_losses(params, x, y))


def evaluate(params, tasks, alpha=0.01, steps=(0, 1, 10)):
    """Mean query MSE over `tasks` after each number of inner steps in `steps` (plain gradient
    steps of size alpha on the support set, as at meta-test time): {steps: mse}."""
    out = {}
    adapted, done = per_task(params, tasks.x_support.shape[0]), 0
    for n in sorted(steps):
        for _ in range(n - done):
            g = grad(_summed_loss)(adapted, tasks.x_support, tasks.y_support)
            adapted = tree_map(lambda p, gp: p - alpha * gp, adapted, g)
        done = n
        out[n] = float(np.mean(task_losses(adapted, tasks.x_query, tasks.y_query)))
    return out


def report(iterations=10000, *, meta_batch=25, eval_tasks=200, eval_points=100, alpha=0.01,
           seed=0, baseline_alphas=(0.001, 0.01, 0.02), verbose=True):
    """Train second-order MAML, first-order MAML, MAML with a learned alpha and the pretrained
    baseline for `iterations` meta-steps each, evaluate them on `eval_tasks` held-out tasks
    (10-shot support, `eval_points` query points) after 0, 1 and 10 inner steps, and return
    the rows of the table: (method, alpha, train seconds, {steps: mse}).

    The pretrained baseline is fine-tuned with each step size in `baseline_alphas` (the paper
    tuned its step size); every one is reported."""
    held_out = sample_tasks(np.random.default_rng(seed + 12345), eval_tasks, 10, eval_points)
    rows = []

    def run(name, train, eval_alphas):
        start = time.perf_counter()
        params, a = train()
        seconds = time.perf_counter() - start
        for ea in eval_alphas or (a,):
            rows.append((name, ea, seconds, evaluate(params, held_out, ea)))
            if verbose:
                print(f"{name} (alpha {ea:.4g}): {seconds:.0f} s, MSE {rows[-1][3]}")

    kw = dict(meta_batch=meta_batch, alpha=alpha, seed=seed)
    run("MAML (second order)", lambda: train_maml(iterations, **kw)[:2], ())
    run("first-order MAML", lambda: train_maml(iterations, first_order=True, **kw)[:2], ())
    run("MAML, learned alpha", lambda: train_maml(iterations, learn_alpha=True, **kw)[:2], ())
    run("pretrained baseline",
        lambda: (train_pretrained(iterations, meta_batch=meta_batch, seed=seed)[0], alpha),
        baseline_alphas)
    return rows


def markdown(rows):
    """The rows of `report` as a Markdown table."""
    lines = ["| method | alpha | train time | MSE, 0 steps | MSE, 1 step | MSE, 10 steps |",
             "|---|---|---|---|---|---|"]
    for name, a, seconds, mse in rows:
        lines.append(f"| {name} | {a:.4g} | {seconds:.0f} s | {mse[0]:.3f} | {mse[1]:.3f} "
                     f"| {mse[10]:.3f} |")
    return "\n".join(lines)


def main(argv=None):
    """`python -m wengert.meta [--iterations N] [--meta-batch B] [--quick]`: print the report."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--iterations", type=int, default=10000)
    parser.add_argument("--meta-batch", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="100 iterations, 50 eval tasks")
    args = parser.parse_args(argv)
    iterations = 100 if args.quick else args.iterations
    rows = report(iterations, meta_batch=args.meta_batch, seed=args.seed,
                  eval_tasks=50 if args.quick else 200)
    print(f"\n{iterations} meta-iterations, meta-batch {args.meta_batch}, 10-shot, inner "
          "alpha 0.01 (1 step in training), Adam lr 1e-3\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
