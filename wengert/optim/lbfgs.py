"""L-BFGS with an optional strong-Wolfe line search, as `torch.optim.LBFGS`.

The algorithm runs on one flat vector through an objective `fun(x) -> (loss, grad)`; the
eager `LBFGS` builds that objective from a closure and the parameters' `.grad`, the
functional `lbfgs_minimize` from `wg.value_and_grad`. Both call the same `_lbfgs_run`, a
line-by-line port of PyTorch's `LBFGS.step` (so runs agree with PyTorch iterate for
iterate), with its line search `_strong_wolfe` (More-Thuente style bracketing and zoom with
cubic interpolation, from minFunc).
"""

import math
from typing import NamedTuple

import numpy as np

from ..tensor import Tensor, enable_grad
from ..transforms.api import value_and_grad
from ._flat import get_flat_grad, get_flat_params, ravel_pytree, set_flat_params
from .base import _param_groups


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to `bounds`
    (default: between x1 and x2); the midpoint if the cubic has no minimum or the two points
    coincide (a collapsed bracket when tolerance_change is 0)."""
    xmin_bound, xmax_bound = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    if x1 == x2:
        return (xmin_bound + xmax_bound) / 2.0
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square < 0:
        return (xmin_bound + xmax_bound) / 2.0
    d2 = math.sqrt(d2_square)
    if x1 > x2:  # the formula below is written for x1 <= x2
        x1, f1, g1, x2, f2, g2 = x2, f2, g2, x1, f1, g1
    denominator = g2 - g1 + 2 * d2
    if denominator == 0:
        return (xmin_bound + xmax_bound) / 2.0
    min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / denominator)
    return min(max(min_pos, xmin_bound), xmax_bound)


def _strong_wolfe(obj, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9, max_ls=25):
    """A step t along d from x satisfying the strong Wolfe conditions. `obj(x, t, d)` returns
    (loss, grad) at x + t d. Returns (loss, grad, t, number of evaluations)."""
    d_norm = float(np.max(np.abs(d)))
    f_new, g_new = obj(x, t, d)
    evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    # Bracketing phase: grow t until an interval is known to contain a Wolfe point.
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        t_prev, t = t, _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                                          bounds=(min_step, max_step))
        f_prev, g_prev, gtd_prev = f_new, g_new, gtd_new
        f_new, g_new = obj(x, t, d)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0.0, t], [f, f_new], [g, g_new]
        # (PyTorch keeps the previous bracket_gtd here; with the loop exhausted, zoom below
        # does not run, so it is never read.)

    # Zoom phase: shrink the bracket by cubic interpolation until a Wolfe point is found.
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0],
                               bracket[1], bracket_f[1], bracket_gtd[1])
        # Stay away from the bracket's ends unless progress has been good.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj(x, t, d)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], evals


def _lbfgs_run(fun, x, state, hp):
    """One `torch.optim.LBFGS.step`: up to hp["max_iter"] iterations from the flat vector x.
    `fun(x) -> (loss, grad)`; `state` (a dict, updated) carries the curvature history across
    calls. Returns (x, loss at the start, loss at x, grad at x, converged)."""
    lr, max_iter, max_eval = hp["lr"], hp["max_iter"], hp["max_eval"]
    tolerance_grad, tolerance_change = hp["tolerance_grad"], hp["tolerance_change"]
    state.setdefault("func_evals", 0)
    state.setdefault("n_iter", 0)
    loss, flat_grad = fun(x)
    orig_loss = loss
    current_evals = 1
    state["func_evals"] += 1
    opt_cond = float(np.max(np.abs(flat_grad))) <= tolerance_grad
    if opt_cond:
        return x, orig_loss, loss, flat_grad, True

    d, t = state.get("d"), state.get("t")
    old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
    h_diag, prev_flat_grad = state.get("H_diag"), state.get("prev_flat_grad")
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        state["n_iter"] += 1
        # The direction: steepest descent first, then the two-loop recursion.
        if state["n_iter"] == 1:
            d = -flat_grad
            old_dirs, old_stps, ro = [], [], []
            h_diag = 1.0
        else:
            y = flat_grad - prev_flat_grad
            s = d * t
            ys = float(y @ s)
            if ys > 1e-10:  # keep only pairs with positive curvature
                if len(old_dirs) == hp["history_size"]:
                    old_dirs.pop(0)
                    old_stps.pop(0)
                    ro.pop(0)
                old_dirs.append(y)
                old_stps.append(s)
                ro.append(1.0 / ys)
                h_diag = ys / float(y @ y)
            al = [0.0] * len(old_dirs)
            q = -flat_grad
            for i in range(len(old_dirs) - 1, -1, -1):
                al[i] = float(old_stps[i] @ q) * ro[i]
                q = q - al[i] * old_dirs[i]
            d = r = q * h_diag
            for i in range(len(old_dirs)):
                be_i = float(old_dirs[i] @ r) * ro[i]
                r = r + (al[i] - be_i) * old_stps[i]
            d = r
        prev_flat_grad = flat_grad
        prev_loss = loss
        # The first step is scaled so that it moves no more than lr * 1 in total.
        if state["n_iter"] == 1:
            t = min(1.0, 1.0 / float(np.sum(np.abs(flat_grad)))) * lr
        else:
            t = lr
        gtd = float(flat_grad @ d)
        if gtd > -tolerance_change:  # not a descent direction: stop
            break

        if hp["line_search_fn"] is not None:
            def obj(x0, step, direction):
                return fun(x0 + step * direction)

            loss, flat_grad, t, ls_evals = _strong_wolfe(
                obj, x, t, d, loss, flat_grad, gtd, tolerance_change=tolerance_change,
                max_ls=max_eval - current_evals)
            x = x + t * d
            opt_cond = float(np.max(np.abs(flat_grad))) <= tolerance_grad
        else:
            x = x + t * d
            ls_evals = 0
            if n_iter != max_iter:
                loss, flat_grad = fun(x)
                opt_cond = float(np.max(np.abs(flat_grad))) <= tolerance_grad
                ls_evals = 1
        current_evals += ls_evals
        state["func_evals"] += ls_evals

        if n_iter == max_iter or current_evals >= max_eval or opt_cond:
            break
        if float(np.max(np.abs(d * t))) <= tolerance_change:
            break
        if abs(loss - prev_loss) < tolerance_change:
            break

    state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                 prev_flat_grad=prev_flat_grad, prev_loss=prev_loss)
    return x, orig_loss, loss, flat_grad, opt_cond


def _lbfgs_hyper(fn, lr, max_iter, max_eval, tolerance_grad, tolerance_change, history_size,
                 line_search_fn):
    if not lr >= 0:
        raise ValueError(f"{fn}: lr={lr!r} is invalid; it must be >= 0.")
    if line_search_fn not in (None, "strong_wolfe"):
        raise ValueError(
            f"{fn}: line_search_fn={line_search_fn!r} is not supported; pass 'strong_wolfe' "
            "or None."
        )
    return dict(lr=lr, max_iter=max_iter,
                max_eval=max_iter * 5 // 4 if max_eval is None else max_eval,
                tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                history_size=history_size, line_search_fn=line_search_fn)


class LBFGS:
    """L-BFGS for eager parameters (`torch.optim.LBFGS`): `opt.step(closure)` runs up to
    `max_iter` iterations, calling `closure()` (which zeroes the gradients, computes the loss,
    calls `loss.backward()` and returns the loss) whenever it needs the loss and gradient.
    Returns the loss at the start of the step.

    >>> opt = LBFGS(model.parameters(), line_search_fn="strong_wolfe")
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = loss_fn(model(x), y)
    ...     loss.backward()
    ...     return loss
    >>> opt.step(closure)
    """

    def __init__(self, params, lr=1.0, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        self.defaults = _lbfgs_hyper("LBFGS", lr, max_iter, max_eval, tolerance_grad,
                                     tolerance_change, history_size, line_search_fn)
        self.param_groups = _param_groups("LBFGS", params, self.defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS: parameter groups are not supported; pass one list of "
                             "parameters.")
        self._params = self.param_groups[0]["params"]
        self.state = {}

    def zero_grad(self, set_to_none=True):
        for p in self._params:
            p.grad = None if set_to_none or p.grad is None else Tensor(np.zeros_like(p.primal))

    def step(self, closure):
        """Run up to max_iter L-BFGS iterations; the parameters end at the last iterate."""
        if closure is None:
            raise TypeError("LBFGS.step: a closure is required (it re-evaluates the loss and "
                            "calls backward).")

        def fun(x):
            set_flat_params(self._params, x)
            with enable_grad():
                loss = closure()
            return float(loss), get_flat_grad(self._params)

        x0 = get_flat_params(self._params)
        x, orig_loss, *_ = _lbfgs_run(fun, x0, self.state, self.param_groups[0])
        set_flat_params(self._params, x)
        return orig_loss


class OptimizeResult(NamedTuple):
    """The result of a functional minimiser: the solution `x` (shaped like x0), `fun` and
    `grad` there, iterations `nit`, evaluations of f with its gradient `nfev`, whether the
    gradient tolerance was met (`converged`), and for the Newton minimisers the evaluations
    of the dense Hessian `nhev` and of Hessian-vector products `nhvp` (0 otherwise)."""

    x: object
    fun: float
    grad: object
    nit: int
    nfev: int
    converged: bool
    nhev: int = 0
    nhvp: int = 0


def lbfgs_minimize(f, x0, *, lr=1.0, max_iter=1000, max_eval=None, tolerance_grad=1e-7,
                   tolerance_change=1e-9, history_size=100, line_search_fn="strong_wolfe"):
    """Minimise the scalar function `f(x)` from the pytree `x0` by L-BFGS with a strong-Wolfe
    line search (PyTorch's algorithm and stopping rules: max |grad| <= tolerance_grad, or a
    change in x or f below tolerance_change). Gradients come from `wg.value_and_grad`.
    Returns an `OptimizeResult`.

    >>> res = lbfgs_minimize(lambda x: ((x - 3.0) ** 2).sum(), np.zeros(2))
    >>> res.x  # array([3., 3.])
    """
    hp = _lbfgs_hyper("lbfgs_minimize", lr, max_iter, max_eval, tolerance_grad,
                      tolerance_change, history_size, line_search_fn)
    flat0, unravel = ravel_pytree(x0)
    value_and_grad_f = value_and_grad(f)

    def fun(x):
        value, g = value_and_grad_f(unravel(x))
        return float(value), ravel_pytree(g)[0].astype(x.dtype, copy=False)

    state = {}
    x, _, loss, g, converged = _lbfgs_run(fun, flat0, state, hp)
    return OptimizeResult(unravel(x), loss, unravel(g), state["n_iter"], state["func_evals"],
                          converged)
