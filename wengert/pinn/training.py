"""Training a physics-informed loss: Adam, then L-BFGS, on one flat float64 vector.

The parameters (any pytree, e.g. an `MLP`) are flattened once; the loss and its gradient
with respect to that vector come from one `wg.jit`-compiled `value_and_grad`, shared by both
phases. Adam (`wengert.optim.Adam`, functional) takes the first steps, from which L-BFGS
with a strong-Wolfe line search (the algorithm of `wengert.optim.lbfgs`, PyTorch's) refines
to high accuracy: the usual recipe for PINNs, whose losses are badly conditioned.
"""

import time
from typing import NamedTuple

import numpy as np

from ..ir import jit as _jit
from ..optim import Adam
from ..optim._flat import ravel_pytree
from ..optim.lbfgs import _lbfgs_hyper, _lbfgs_run
from ..transforms.api import value_and_grad


class TrainResult(NamedTuple):
    """`params` (shaped like the initial ones), the loss `history` (a dict of lists:
    "evaluation" counts loss-and-gradient evaluations, "loss" the loss there, "phase" 0 for
    Adam and 1 for L-BFGS; with a monitor also "monitor" and "monitor_evaluation"),
    `adam_steps` and `lbfgs_iterations` done, `evaluations` in all, and the wall time
    `seconds`."""

    params: object
    history: dict
    adam_steps: int
    lbfgs_iterations: int
    evaluations: int
    seconds: float


class _Objective:
    """The flat objective `x -> (loss, gradient)`: compiled once, records every evaluation in
    the history, and remembers the last few points, so that re-evaluating a point the line
    search already visited (at the start of each L-BFGS chunk) costs nothing."""

    def __init__(self, loss, unravel, data, use_jit):
        def flat_loss(x, data):
            return loss(unravel(x)) if data is None else loss(unravel(x), data)

        vg = value_and_grad(flat_loss)
        self.value_and_grad = _jit(vg) if use_jit else vg
        self.data = data
        self.history = {"evaluation": [], "loss": [], "phase": []}
        self.phase = 0
        self._recent = []
        self.unravel = unravel

    def watch(self, monitor, x):
        """Record monitor(params at x) against the number of evaluations so far."""
        if monitor is not None:
            h = self.history
            h.setdefault("monitor_evaluation", []).append(len(h["loss"]))
            h.setdefault("monitor", []).append(float(monitor(self.unravel(x))))

    def __call__(self, x):
        for seen, result in self._recent:
            if np.array_equal(seen, x):
                return result
        value, g = self.value_and_grad(x, self.data)
        result = float(value), np.asarray(g)
        self._recent = [(x, result)] + self._recent[:31]
        h = self.history
        h["evaluation"].append(len(h["loss"]) + 1)
        h["loss"].append(result[0])
        h["phase"].append(self.phase)
        return result


def _rescale_lbfgs_state(state, factor):
    """The L-BFGS state for the objective multiplied by `factor`: gradient differences and
    gradients scale with it, inverse curvatures against it; the directions stay."""
    if "old_dirs" not in state:
        return
    state["old_dirs"] = [y * factor for y in state["old_dirs"]]
    state["ro"] = [r / factor for r in state["ro"]]
    state["H_diag"] = state["H_diag"] / factor
    state["prev_flat_grad"] = state["prev_flat_grad"] * factor


def _lbfgs_phase(objective, x, iterations, history_size, deadline, progress, monitor,
                 chunk=100):
    """Up to `iterations` L-BFGS iterations from x (the algorithm of wengert.optim.lbfgs);
    returns the last iterate and the number of iterations done.

    It runs in chunks, to log and watch the clock between them; the curvature history carries
    over in the state, and the evaluation that starts each chunk hits the objective's cache.
    Each chunk minimises the loss divided by its value at the chunk's start, and the stored
    curvature pairs are rescaled to match (so the iteration is otherwise unchanged): the
    L-BFGS port keeps a pair only when y.s > 1e-10 (PyTorch's absolute threshold), which a
    PINN loss of 1e-6 and below fails for every new pair, and L-BFGS then stalls."""
    hp = _lbfgs_hyper("train", 1.0, chunk, None, 0.0, 1e-15, history_size, "strong_wolfe")
    state = {"n_iter": 0, "func_evals": 0}
    scale = 1.0

    def scaled(x):
        value, g = objective(x)
        return value * scale, g * scale

    while state["n_iter"] < iterations:
        new_scale = 1.0 / max(objective(x)[0], np.finfo(np.float64).tiny)
        _rescale_lbfgs_state(state, new_scale / scale)
        scale = new_scale
        todo = min(chunk, iterations - state["n_iter"])
        hp.update(max_iter=todo, max_eval=todo * 5 // 4 + 25)
        iters, evals = state["n_iter"], state["func_evals"]
        x, _, _, _, converged = _lbfgs_run(scaled, x, state, hp)
        objective.watch(monitor, x)
        progress(f"L-BFGS iteration {state['n_iter']}/{iterations}")
        # Fewer iterations than asked, with evaluations to spare: the step or the change of
        # the loss fell below tolerance, so more chunks would not move.
        stalled = (state["n_iter"] - iters < todo
                   and state["func_evals"] - evals < hp["max_eval"])
        if converged or stalled or (deadline is not None and time.perf_counter() > deadline):
            break
    return x, state["n_iter"]


def _check_count(name, value):
    if int(value) != value or value < 0:
        raise ValueError(f"train: {name} must be an integer >= 0, got {value!r}.")
    return int(value)


def train(loss, params, data=None, *, adam_steps=1000, lr=1e-3, lbfgs_iterations=5000,
          history_size=50, use_jit=True, log=print, log_every=10.0, max_seconds=None,
          monitor=None):
    """Minimise `loss(params)`, or `loss(params, data)` when `data` (a pytree of arrays: the
    collocation and boundary points) is given, over the pytree of float arrays `params`: Adam
    for `adam_steps` steps at learning rate `lr`, then up to `lbfgs_iterations` L-BFGS
    iterations (strong-Wolfe line search, `history_size` curvature pairs), stopping early
    when L-BFGS converges (its gradient or step vanishes) or after `max_seconds`.
    `use_jit=False` differentiates eagerly (slower; for debugging). `log(text)` gets a
    progress line about every `log_every` seconds (None: silent). `monitor(params)`, if
    given, returns a number to watch (say the error against a reference solution): it is
    evaluated at the end of Adam and after every 100 L-BFGS iterations, recorded in the
    history ("monitor", at "monitor_evaluation") and shown in the progress lines. Returns a
    `TrainResult`.

    Pass the points as `data` rather than closing over them: the jit then takes them as
    arguments instead of baking them into the compiled graph as constants, so new points
    (resampling) reuse the compiled function.

    >>> result = train(pinn_loss, MLP([2, 20, 1], lo, hi, rng=0), {"collocation": X})
    >>> result.history["loss"][-1]
    """
    adam_steps = _check_count("adam_steps", adam_steps)
    lbfgs_iterations = _check_count("lbfgs_iterations", lbfgs_iterations)
    if not callable(loss):
        raise TypeError(f"train: loss must be a function of the parameters, got {type(loss)}.")
    flat, unravel = ravel_pytree(params)
    if flat.dtype.kind != "f":
        raise TypeError(f"train: params must hold floating-point arrays, got {flat.dtype}.")
    objective = _Objective(loss, unravel, data, use_jit)
    start = last_log = time.perf_counter()
    deadline = None if max_seconds is None else start + max_seconds

    def progress(label, force=False):
        nonlocal last_log
        now = time.perf_counter()
        if log is not None and (force or now - last_log >= log_every):
            last_log = now
            h = objective.history
            watched = f", monitor {h['monitor'][-1]:.3e}" if h.get("monitor") else ""
            log(f"{label}: loss {h['loss'][-1]:.3e}{watched}, {now - start:.0f} s")

    opt = Adam(lr=lr)
    state = opt.init(flat)
    x = flat
    steps_done = 0
    for steps_done in range(1, adam_steps + 1):
        _, g = objective(x)
        x, state = opt.update(g, state, x)
        progress(f"Adam step {steps_done}/{adam_steps}")
        if deadline is not None and time.perf_counter() > deadline:
            break
    x = np.asarray(x)
    objective.watch(monitor, x)

    objective.phase = 1
    x, iterations = _lbfgs_phase(objective, x, lbfgs_iterations, history_size, deadline,
                                 progress, monitor)
    seconds = time.perf_counter() - start
    progress("done", force=True)
    return TrainResult(unravel(x), objective.history, steps_done, iterations,
                       len(objective.history["loss"]), seconds)


__all__ = ["TrainResult", "train"]
