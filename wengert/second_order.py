"""`wengert newton`: second-order optimisation, measured against first-order methods.

On the Rosenbrock function (n = 2 from (-1.2, 1), and its chained form in n = 1000 from
(-1.2, 1, -1.2, 1, ...)) and on L2-regularised logistic regression on scikit-learn's
breast-cancer data (standardised features), it runs gradient descent with a backtracking
line search, L-BFGS (`wengert.optim.LBFGS`), Newton's method with the exact Hessian
(`newton_minimize`) and Newton-CG on Hessian-vector products, with a line search
(`newton_minimize(hessian="hvp")`) and with a trust region (`newton_cg_minimize`). It
records the gradient norm at every iteration and the evaluations of f with its gradient, of
Hessians and of Hessian-vector products, and reports the iterations and the time to reach
a gradient norm of 1e-10, the estimated order of convergence of the last iterates, and a
plot of the gradient norm against the iteration.

    from wengert.second_order import run_study, format_table
    runs = run_study(quick=True)
    print(format_table(runs))

scikit-learn (the data) and matplotlib (the plot) are optional: without them the logistic
regression, or the plot, is skipped with a note.
"""

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import numpy as wnp
from .core import tree_flatten, tree_unflatten
from .optim import LBFGS, newton_cg_minimize, newton_minimize
from .optim._flat import ravel_pytree
from .optim.newton import _FlatObjective
from .tensor import tensor
from .train.common import save_curves
from .transforms.api import value_and_grad

TOLERANCE = 1e-10
L2 = 1e-3  # the logistic regression's penalty (L2 / 2) |w|^2 on the weights, not the bias
ZERO_FLOOR = 1e-18  # where a gradient norm of exactly 0 is drawn on the log scale


# The problems --------------------------------------------------------------------------------

def rosenbrock(x):
    """The chained Rosenbrock function sum_i 100 (x_(i+1) - x_i^2)^2 + (1 - x_i)^2 (for
    n = 2 the classic banana); its minimum is 0 at x = (1, ..., 1)."""
    return wnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_start(n):
    """The standard start (-1.2, 1, -1.2, 1, ...) of length n."""
    x0 = np.ones(n)
    x0[::2] = -1.2
    return x0


def logistic_problem():
    """L2-regularised logistic regression on the breast-cancer data (569 x 30, standardised):
    (f, x0) with x0 = {"w": zeros(30), "b": 0} and f the mean log-loss plus
    (L2 / 2) |w|^2. None without scikit-learn."""
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        return None
    data = load_breast_cancer()
    features = (data.data - data.data.mean(axis=0)) / data.data.std(axis=0)
    signs = 2.0 * data.target - 1.0

    def loss(params):
        margins = signs * (features @ params["w"] + params["b"])
        return wnp.mean(wnp.logaddexp(0.0, -margins)) + 0.5 * L2 * wnp.sum(params["w"] ** 2)

    return loss, {"w": np.zeros(features.shape[1]), "b": np.zeros(())}


@dataclass
class Problem:
    name: str
    f: object
    x0: object


def problems(quick=False):
    """The problems of the study (Rosenbrock n = 100 instead of 1000 when quick), and a
    list of notes on what was skipped."""
    n_large = 100 if quick else 1000
    found = [Problem("Rosenbrock n=2", rosenbrock, np.array([-1.2, 1.0])),
             Problem(f"Rosenbrock n={n_large}", rosenbrock, rosenbrock_start(n_large))]
    logistic = logistic_problem()
    if logistic is None:
        return found, ["logistic regression: scikit-learn is not installed (pip install "
                       "scikit-learn); skipped."]
    return found + [Problem("logistic regression (breast cancer)", *logistic)], []


# Recording a run -----------------------------------------------------------------------------

class _OutOfTime(Exception):
    """Raised by a `Run` from inside a minimiser's callback when the time limit is reached."""


@dataclass
class Run:
    """One method on one problem: the gradient norm at each iterate (iteration 0 first),
    the evaluation counts, the wall time, f at the end, and why it stopped."""

    problem: str
    method: str
    max_iter: int
    max_seconds: float
    grad_norms: list = field(default_factory=list)
    nfev: int = 0
    nhev: int = 0
    nhvp: int = 0
    seconds: float = 0.0
    fun: float = math.nan
    stopped: str = ""
    _t0: float = field(default=0.0, repr=False)

    @property
    def iterations(self):
        return len(self.grad_norms) - 1

    @property
    def reached(self):
        return bool(self.grad_norms) and self.grad_norms[-1] <= TOLERANCE

    def start(self, grad_norm):
        self.grad_norms = [grad_norm]
        self._t0 = time.perf_counter()

    def record(self, grad_norm, fun, nfev, nhev=0, nhvp=0):
        """Note one iteration; raises _OutOfTime past the time limit."""
        self.grad_norms.append(grad_norm)
        self.fun, self.nfev, self.nhev, self.nhvp = fun, nfev, nhev, nhvp
        self.seconds = time.perf_counter() - self._t0
        if self.seconds > self.max_seconds and grad_norm > TOLERANCE:
            raise _OutOfTime

    def newton_callback(self, progress):
        """A `callback` for the Newton minimisers of wengert.optim."""
        self.record(progress.grad_norm, progress.fun, progress.nfev, progress.nhev,
                    progress.nhvp)

    def finish(self):
        self.seconds = time.perf_counter() - self._t0
        if not self.reached:
            self.stopped = (
                f"time limit ({self.max_seconds:g} s)" if self.seconds > self.max_seconds
                else f"iteration limit ({self.max_iter:,})" if self.iterations >= self.max_iter
                else "stalled (the line search found no decrease)")


def _initial_grad_norm(f, x0):
    """||grad f(x0)||, computed before the clock starts (every method knows it at once)."""
    return float(np.linalg.norm(ravel_pytree(value_and_grad(f)(x0)[1])[0]))


# The methods ---------------------------------------------------------------------------------

def gradient_descent(f, x0, run, *, c1=1e-4):
    """Steepest descent with a backtracking (Armijo) line search on the pytree x0, recording
    into `run`. Each iteration first tries twice the previous step, then halves it until f
    decreases enough: the baseline for the Newton methods, not a practical optimiser."""
    objective = _FlatObjective("gradient_descent", f, x0)
    evaluate, flat = objective.value_and_grad, objective.x0
    loss, g = evaluate(flat)
    step = 1.0
    for _ in range(run.max_iter):
        g_norm = float(np.linalg.norm(g))
        if g_norm <= TOLERANCE:
            break
        step *= 2.0
        while True:
            trial_loss, trial_g = evaluate(flat - step * g)
            if trial_loss <= loss - c1 * step * g_norm ** 2:
                break
            step *= 0.5
            if step * g_norm < np.finfo(flat.dtype).eps * (1.0 + np.linalg.norm(flat)):
                return  # the step no longer changes x: stalled
        flat, loss, g = flat - step * g, trial_loss, trial_g
        run.record(float(np.linalg.norm(g)), loss, objective.nfev)


def _key(params):
    return b"".join(np.asarray(p.primal).tobytes() for p in params)


def lbfgs(f, x0, run):
    """wengert.optim.LBFGS (strong-Wolfe line search, default history) on eager tensors,
    one iteration per `step` so that every iterate is recorded; stopping is on the
    gradient's 2-norm, like the other methods. The iterates are those of a single `step`
    with many iterations: each step starts from a point its predecessor's line search
    evaluated, so the loss and gradient there come from a cache, not a new evaluation."""
    leaves, treedef = tree_flatten(x0)
    params = [tensor(np.array(leaf, dtype=float), requires_grad=True) for leaf in leaves]
    # The tolerances that would stop it early are off; tolerance_change stays positive so
    # the line search's zoom still ends as soon as its bracket collapses.
    opt = LBFGS(params, max_iter=1, max_eval=26, tolerance_grad=0.0, tolerance_change=1e-30,
                line_search_fn="strong_wolfe")
    cache = {}  # the points evaluated since the last iterate: key -> (loss, gradients)
    nfev = 0

    def closure():
        nonlocal nfev
        key = _key(params)
        if key not in cache:
            nfev += 1
            opt.zero_grad()
            loss = f(tree_unflatten(treedef, params))
            loss.backward()
            cache[key] = (float(loss), [np.asarray(p.grad.primal).copy() for p in params])
        loss, grads = cache[key]
        for p, g in zip(params, grads):
            p.grad = tensor(g)
        return loss

    current = _key(params)
    for _ in range(run.max_iter):
        if run.grad_norms[-1] <= TOLERANCE:
            break
        opt.step(closure)
        key = _key(params)
        if key == current or key not in cache:
            return  # no step taken: the direction was not a descent direction
        loss, grads = entry = cache[key]
        cache.clear()
        cache[key] = entry
        current = key
        run.record(float(np.sqrt(sum(float(g.ravel() @ g.ravel()) for g in grads))), loss,
                   nfev)


def _newton(f, x0, run):
    newton_minimize(f, x0, tolerance_grad=TOLERANCE, max_iter=run.max_iter,
                    callback=run.newton_callback)


def _newton_cg_line_search(f, x0, run):
    newton_minimize(f, x0, hessian="hvp", tolerance_grad=TOLERANCE, max_iter=run.max_iter,
                    callback=run.newton_callback)


def _newton_cg_trust_region(f, x0, run):
    newton_cg_minimize(f, x0, tolerance_grad=TOLERANCE, max_iter=run.max_iter,
                       callback=run.newton_callback)


METHODS = {
    "gradient descent": gradient_descent,
    "L-BFGS": lbfgs,
    "Newton (exact Hessian)": _newton,
    "Newton-CG, line search (HVPs)": _newton_cg_line_search,
    "Newton-CG, trust region (HVPs)": _newton_cg_trust_region,
}


def run_method(method, problem, max_iter, max_seconds):
    """Run METHODS[method] on `problem` until the gradient norm is at most TOLERANCE or a
    limit is reached; returns the `Run`."""
    run = Run(problem.name, method, max_iter, max_seconds)
    g0 = _initial_grad_norm(problem.f, problem.x0)
    run.start(g0)
    try:
        METHODS[method](problem.f, problem.x0, run)
    except _OutOfTime:
        pass
    run.finish()
    return run


def run_study(quick=False, gd_limits=None, limits=None):
    """Every method on every problem. Limits are (iterations, seconds) per run: by default
    (20,000, 60 s) for gradient descent and (10,000, 300 s) for the others; a quick study
    uses Rosenbrock n = 100 for n = 1000 and limits of (1,000, 3 s) and (2,000, 20 s).
    Returns (runs, notes)."""
    gd_limits = gd_limits or ((1000, 3.0) if quick else (20000, 60.0))
    limits = limits or ((2000, 20.0) if quick else (10000, 300.0))
    found, notes = problems(quick)
    runs = []
    for problem in found:
        for method in METHODS:
            runs.append(run_method(method, problem,
                                   *(gd_limits if method == "gradient descent" else limits)))
    return runs, notes


# Reading the results -------------------------------------------------------------------------

def convergence_order(grad_norms, floor=1e-13, pairs=3):
    """The order q of convergence, fitted (least squares) to log g_(k+1) = q log g_k + c
    over the last `pairs` consecutive decreasing steps with norms above `floor` (below it
    rounding dominates): 1 for linear, 1 < q < 2 superlinear, 2 quadratic. The fit's slope
    does not depend on the scale of g, unlike a single ratio log g_(k+1) / log g_k. Also
    returns C = g_(k+1) / g_k^2 of the last step (bounded under quadratic convergence).
    (nan, nan) with fewer than two such steps."""
    g = np.asarray(grad_norms, dtype=float)
    last = max((k for k in range(len(g) - 1) if g[k + 1] > floor), default=None)
    if last is None:
        return math.nan, math.nan
    first = last
    while first > 0 and last - first + 1 < pairs and floor < g[first] < g[first - 1]:
        first -= 1
    steps = [k for k in range(first, last + 1) if g[k + 1] < g[k]]
    if len(steps) < 2 or len(steps) != last - first + 1:
        return math.nan, math.nan
    q = np.polyfit(np.log(g[steps]), np.log(g[[k + 1 for k in steps]]), 1)[0]
    return float(q), float(g[last + 1] / g[last] ** 2)


def _fmt_seconds(seconds):
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def format_table(runs):
    """The results as a Markdown table: iterations, evaluations, and the time to reach
    ||grad|| <= 1e-10 (or the limit that stopped the run)."""
    header = ["problem", "method", "iterations", "f & grad evals", "Hessians", "HVPs",
              "final ||grad||", "final f", "time to 1e-10"]
    rows = []
    for r in runs:
        result = (_fmt_seconds(r.seconds) if r.reached else
                  f"not reached: {r.stopped} after {_fmt_seconds(r.seconds)}")
        rows.append([r.problem, r.method, f"{r.iterations:,}", f"{r.nfev:,}", f"{r.nhev:,}",
                     f"{r.nhvp:,}", f"{r.grad_norms[-1]:.1e}", f"{r.fun:.6g}", result])
    return _markdown(header, rows)


def format_orders(runs):
    """The estimated convergence order q and rate C of each run as a Markdown table."""
    rows = []
    for r in runs:
        q, c = convergence_order(r.grad_norms)
        tail = ", ".join(f"{v:.1e}" for v in r.grad_norms[-4:])
        rows.append([r.problem, r.method, "-" if math.isnan(q) else f"{q:.2f}",
                     "-" if math.isnan(c) else f"{c:.3g}", tail])
    return _markdown(["problem", "method", "order q (fit, last 3 steps)",
                      "C = ||g+|| / ||g||^2 (last step)", "last ||grad||"], rows)


def _markdown(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def save_plot(runs, path):
    """Gradient norm against iteration (log-log), one panel per problem, into the PNG
    `path`. Returns the path, or None without matplotlib."""
    panels = []
    for problem in dict.fromkeys(r.problem for r in runs):
        series = []
        for r in (r for r in runs if r.problem == problem):
            norms = np.maximum(r.grad_norms, ZERO_FLOOR)
            series.append((r.method, np.arange(1, len(norms) + 1), norms))
        panels.append({"xlabel": f"iteration + 1: {problem}",
                       "ylabel": "||grad f||_2 (0 drawn at 1e-18)",
                       "series": series, "hlines": [("1e-10", TOLERANCE)], "logx": True,
                       "logy": True})
    return save_curves(path, panels, "Gradient norm against iteration")


def main(args):
    """Run `wengert newton` with parsed `args` (out, quick): print the tables, write the
    plot; return the exit status."""
    runs, notes = run_study(quick=args.quick)
    print("## Iterations and time to reach ||grad f|| <= 1e-10\n")
    print(format_table(runs))
    print("## Order of convergence from the last iterates\n")
    print(format_orders(runs))
    for note in notes:
        print(f"Note: {note}")
    out = Path("runs") / "second_order" if args.out is None else Path(args.out)
    path = save_plot(runs, out / "convergence.png")
    if path is None:
        print("matplotlib is not installed (pip install matplotlib): no plot written.")
    else:
        print(f"Plot: {path}")
    return 0
