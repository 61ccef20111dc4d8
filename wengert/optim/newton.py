"""Newton's method: with the exact Hessian and a line search (`newton_minimize`), and with
Hessian-vector products only, either in a line search (`newton_minimize(hessian="hvp")`,
truncated Newton) or in a trust region (Steihaug-Toint truncated conjugate gradients,
`newton_cg_minimize` and the eager `NewtonCG`).

The iterations run on one flat vector. `_FlatObjective` presents the user's `f` of a pytree
as a function of that vector with counted oracles: value and gradient, the dense Hessian
(`wg.hessian`), and Hessian-vector products from `wg.linearize` of the value and gradient
(the gradient's computation is recorded once per point, then each product is one forward
sweep through it). `_trust_ncg_run` takes `fun(x) -> (loss, grad, hvp)`, so that the eager
`NewtonCG` can supply it from a double backward pass through the closure's graph
(`wg.autograd_grad(..., create_graph=True)`).
"""

import math
import numbers
from typing import NamedTuple

import numpy as np
import scipy.linalg

from ..tensor import Tensor, autograd_grad, enable_grad
from ..transforms.api import hessian as hessian_transform
from ..transforms.api import linearize, value_and_grad
from ._flat import get_flat_params, ravel_pytree, set_flat_params
from .base import _param_groups
from .lbfgs import OptimizeResult

ARMIJO_C1 = 1e-4  # sufficient decrease: f(x + t p) <= f(x) + c1 t g.p
MAX_BACKTRACKS = 60  # halvings of the step before the line search gives up (2^-60 ~ 1e-18)


class NewtonProgress(NamedTuple):
    """What a minimiser's `callback` receives after each iteration: the iteration count
    `nit`, the iterate `x` (shaped like x0), `fun` and the gradient's 2-norm `grad_norm`
    there, and the evaluations so far: of f with its gradient (`nfev`), of the dense
    Hessian (`nhev`) and of Hessian-vector products (`nhvp`)."""

    nit: int
    x: object
    fun: float
    grad_norm: float
    nfev: int
    nhev: int
    nhvp: int


class _FlatObjective:
    """The scalar function `f` of the pytree `x0`, seen as a function of one flat vector,
    with counted oracles. `fn` (the public function's name) prefixes every error."""

    def __init__(self, fn, f, x0):
        self.fn, self.f = fn, f
        self.x0, self.unravel = ravel_pytree(x0)
        if not np.issubdtype(self.x0.dtype, np.floating):
            raise TypeError(
                f"{fn}: x0 must hold floating-point arrays, got dtype {self.x0.dtype}; pass "
                "e.g. np.asarray(x0, dtype=float)."
            )
        self.nfev = self.nhev = self.nhvp = 0
        self._value_and_grad = value_and_grad(self.f_flat)
        self._hessian = hessian_transform(self.f_flat)

    def f_flat(self, x):
        out = self.f(self.unravel(x))
        shape = getattr(out, "shape", np.shape(out))
        if shape != ():
            raise TypeError(
                f"{self.fn}: f must return a scalar (the value to minimise), but it returned "
                f"shape {shape}; reduce it first, e.g. with wnp.sum."
            )
        return out

    def value_and_grad(self, x):
        """(f(x), the gradient at x as a vector of x's dtype)."""
        self.nfev += 1
        value, g = self._value_and_grad(x)
        return float(value), np.asarray(g, dtype=x.dtype)

    def with_hvp(self, x):
        """(f(x), gradient, hvp) where `hvp(v)` is the Hessian at x times v; f's gradient
        is recorded once here, and each product is one forward sweep through the record."""
        self.nfev += 1
        (value, g), tangent_map = linearize(self._value_and_grad, x)

        def hvp(v):
            self.nhvp += 1
            return np.asarray(tangent_map(v)[1], dtype=x.dtype)

        return float(value), np.asarray(g, dtype=x.dtype), hvp

    def hessian(self, x):
        """The dense Hessian at x (n x n)."""
        self.nhev += 1
        return np.asarray(self._hessian(x), dtype=x.dtype)

    def report(self, callback, nit, x, loss, g):
        """Call the user's `callback` (if any) with the progress after iteration `nit`."""
        if callback is not None:
            callback(NewtonProgress(nit, self.unravel(x), loss, float(np.linalg.norm(g)),
                                    self.nfev, self.nhev, self.nhvp))

    def result(self, x, loss, g, nit, converged):
        return OptimizeResult(self.unravel(x), loss, self.unravel(g), nit, self.nfev,
                              converged, self.nhev, self.nhvp)


def _to_boundary(z, d, radius):
    """The tau >= 0 with ||z + tau d|| = radius (z is inside the region)."""
    a, b, c = float(d @ d), 2.0 * float(z @ d), float(z @ z) - radius ** 2
    return (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)


def _steihaug_cg(g, hvp, radius, tol, max_cg):
    """Approximately minimise the model g.p + p.H.p / 2 over ||p|| <= radius by conjugate
    gradients, stopping at the boundary, at negative curvature, or when the model's gradient
    norm is below `tol`. Returns (p, H p, whether p is on the boundary).

    With radius=None there is no region (truncated Newton for a line search, Nocedal &
    Wright Algorithm 7.1): at negative curvature it returns the last iterate, or the
    steepest-descent direction -g if that comes first, so p is always a descent direction."""
    z = np.zeros_like(g)
    hz = np.zeros_like(g)
    r = g
    d = -r
    rr = float(r @ r)
    for j in range(max_cg):
        hd = hvp(d)
        dhd = float(d @ hd)
        if dhd <= 0 and radius is None:
            return (d, hd, False) if j == 0 else (z, hz, False)
        if dhd <= 0:  # negative curvature: go to the boundary along d
            tau = _to_boundary(z, d, radius)
            return z + tau * d, hz + tau * hd, True
        alpha = rr / dhd
        z_next = z + alpha * d
        if radius is not None and float(np.linalg.norm(z_next)) >= radius:
            tau = _to_boundary(z, d, radius)
            return z + tau * d, hz + tau * hd, True
        z, hz = z_next, hz + alpha * hd
        r = r + alpha * hd
        rr_next = float(r @ r)
        if math.sqrt(rr_next) < tol:
            break
        d = -r + (rr_next / rr) * d
        rr = rr_next
    return z, hz, False


def _forcing_tolerance(g_norm):
    """CG stops when the model's gradient norm is below min(0.5, sqrt|g|) |g|: loose far
    from the minimum, tightening fast enough near it for superlinear convergence."""
    return min(0.5, math.sqrt(g_norm)) * g_norm


def _trust_ncg_run(fun, x, state, hp, on_iteration=None):
    """Up to hp["max_iter"] trust-region Newton-CG iterations from the flat vector x.
    `fun(x) -> (loss, grad, hvp)` where `hvp(v)` is the Hessian at x times v. `state` (a dict,
    updated) carries the trust radius and counters across calls; `on_iteration(x, loss,
    grad)`, if given, is called after each iteration. Returns (x, loss, grad, converged)."""
    state.setdefault("radius", hp["initial_radius"])
    state.setdefault("n_iter", 0)
    state.setdefault("func_evals", 0)
    loss, g, hvp = fun(x)
    state["func_evals"] += 1
    converged = False
    for _ in range(hp["max_iter"]):
        g_norm = float(np.linalg.norm(g))
        if g_norm <= hp["tolerance_grad"]:
            converged = True
            break
        state["n_iter"] += 1
        p, hp_p, on_boundary = _steihaug_cg(g, hvp, state["radius"], _forcing_tolerance(g_norm),
                                            hp["max_cg"])
        predicted = -(float(g @ p) + 0.5 * float(p @ hp_p))
        trial = fun(x + p)
        state["func_evals"] += 1
        actual = loss - trial[0]
        rho = actual / predicted if predicted > 0 else -math.inf
        if rho < 0.25:
            state["radius"] *= 0.25
        elif rho > 0.75 and on_boundary:
            state["radius"] = min(2.0 * state["radius"], hp["max_radius"])
        if rho > hp["eta"]:
            x = x + p
            loss, g, hvp = trial
        elif state["radius"] < np.finfo(x.dtype).eps * (1.0 + float(np.linalg.norm(x))):
            break  # the region has shrunk below the resolution of x: no further progress
        if on_iteration is not None:
            on_iteration(x, loss, g)
    else:
        converged = float(np.linalg.norm(g)) <= hp["tolerance_grad"]
    return x, loss, g, converged


def _is_count(value, least):
    """Whether `value` is an integer (Python's or NumPy's, not a bool) of at least `least`."""
    return (isinstance(value, numbers.Integral) and not isinstance(value, bool)
            and value >= least)


def _common_hyper(fn, n, max_iter, tolerance_grad, max_cg):
    """The options every Newton variant shares, checked; max_cg=None means n (CG then solves
    the Newton system exactly, in exact arithmetic)."""
    if not _is_count(max_iter, 0):
        raise ValueError(f"{fn}: max_iter={max_iter!r} is invalid; pass an int >= 0.")
    if not (isinstance(tolerance_grad, numbers.Real) and 0 <= tolerance_grad < math.inf):
        raise ValueError(
            f"{fn}: tolerance_grad={tolerance_grad!r} is invalid; pass a finite number >= 0 "
            "(the gradient norm at which to stop, e.g. 1e-8)."
        )
    max_cg = max(n, 1) if max_cg is None else max_cg
    if not _is_count(max_cg, 1):
        raise ValueError(f"{fn}: max_cg={max_cg!r} is invalid; pass an int >= 1 or None.")
    return dict(max_iter=max_iter, tolerance_grad=float(tolerance_grad), max_cg=max_cg)


def _newton_hyper(fn, n, max_iter, tolerance_grad, initial_radius, max_radius, eta, max_cg):
    if not 0 < initial_radius <= max_radius:
        raise ValueError(
            f"{fn}: need 0 < initial_radius <= max_radius, got initial_radius="
            f"{initial_radius}, max_radius={max_radius}."
        )
    if not 0 <= eta < 0.25:
        raise ValueError(f"{fn}: eta={eta!r} is invalid; it must be in [0, 0.25).")
    return dict(_common_hyper(fn, n, max_iter, tolerance_grad, max_cg),
                initial_radius=initial_radius, max_radius=max_radius, eta=eta)


def newton_cg_minimize(f, x0, *, max_iter=200, tolerance_grad=1e-8, initial_radius=1.0,
                       max_radius=1000.0, eta=0.15, max_cg=None, callback=None):
    """Minimise the scalar function `f(x)` from the pytree `x0` by trust-region Newton-CG
    (Nocedal & Wright, Algorithms 4.1 and 7.2): each step solves the quadratic model within
    the trust radius by Steihaug's conjugate gradients, with Hessian-vector products (no
    Hessian is formed). Stops when ||grad||_2 <= tolerance_grad. `max_cg` caps CG iterations
    per step (default: the number of unknowns). `callback(progress)`, if given, is called
    after each iteration with a `NewtonProgress`. Returns an `OptimizeResult` (nfev counts
    evaluations of f with its gradient, nhvp the Hessian-vector products).

    >>> res = newton_cg_minimize(lambda x: ((x - 3.0) ** 2).sum(), np.zeros(2))
    >>> res.x  # array([3., 3.])
    """
    obj = _FlatObjective("newton_cg_minimize", f, x0)
    hp = _newton_hyper("newton_cg_minimize", obj.x0.size, max_iter, tolerance_grad,
                       initial_radius, max_radius, eta, max_cg)
    state = {}

    def on_iteration(x, loss, g):
        obj.report(callback, state["n_iter"], x, loss, g)

    x, loss, g, converged = _trust_ncg_run(obj.with_hvp, obj.x0, state, hp, on_iteration)
    return obj.result(x, loss, g, state["n_iter"], converged)


def _shifted_cholesky(h):
    """The Cholesky factor of H + tau I, with tau = 0 if that is positive definite, else
    the first of tau_0, 2 tau_0, 4 tau_0, ... that makes it so (tau_0 = beta - min H_ii,
    or beta if the diagonal is positive; beta = 1e-3 ||H||_F): the Newton direction where H
    is positive definite, a descent direction between Newton's and steepest descent's where
    it is not (Nocedal & Wright, Algorithm 3.3). Returns scipy.linalg.cho_factor's result."""
    min_diag = float(np.min(np.diag(h)))
    if min_diag > 0:
        try:
            return scipy.linalg.cho_factor(h, check_finite=False)
        except np.linalg.LinAlgError:
            pass
    beta = 1e-3 * float(np.linalg.norm(h)) or 1.0
    tau = beta if min_diag > 0 else beta - min_diag
    diagonal = np.diag_indices_from(h)
    while True:
        shifted = h.copy()
        shifted[diagonal] += tau
        try:
            return scipy.linalg.cho_factor(shifted, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            tau *= 2.0


def _sufficient_decrease(loss, g_norm, trial, t, slope, eps):
    """Armijo's test of a trial point `trial` = (loss, grad, ...) at step t. Near a minimum
    the decrease g.p is below f's rounding error (|f| eps), and f alone cannot rank the
    points: there a step that keeps f within its rounding error and shrinks the gradient is
    accepted. NaN fails both tests."""
    if trial[0] <= loss + ARMIJO_C1 * t * slope:
        return True
    return trial[0] <= loss + 100 * eps * abs(loss) and float(np.linalg.norm(trial[1])) < g_norm


def _line_search_newton_run(obj, evaluate, direction, hp, on_iteration):
    """Newton iterations from obj.x0 with a backtracking line search that tries the full
    step first, so that near a minimum with a positive definite Hessian the iteration is
    Newton's and converges quadratically. `evaluate(x) -> (loss, grad, hvp or None)`;
    `direction(x, g, hvp) -> p`, a descent direction. Returns (x, loss, grad, iterations,
    converged)."""
    x = obj.x0
    eps = float(np.finfo(x.dtype).eps)
    loss, g, hvp = evaluate(x)
    for nit in range(hp["max_iter"] + 1):
        g_norm = float(np.linalg.norm(g))
        if g_norm <= hp["tolerance_grad"]:
            return x, loss, g, nit, True
        if nit == hp["max_iter"]:
            break
        p = direction(x, g, hvp)
        slope = float(g @ p)
        t = 1.0
        for _ in range(MAX_BACKTRACKS):
            trial = evaluate(x + t * p)
            if _sufficient_decrease(loss, g_norm, trial, t, slope, eps):
                break
            t *= 0.5
        else:
            return x, loss, g, nit, False  # no progress along p at any resolvable step
        x = x + t * p
        loss, g, hvp = trial
        on_iteration(nit + 1, x, loss, g)
    return x, loss, g, hp["max_iter"], False


def newton_minimize(f, x0, *, hessian="dense", max_iter=200, tolerance_grad=1e-8, max_cg=None,
                    callback=None):
    """Minimise the scalar function `f(x)` from the pytree `x0` by Newton's method with a
    backtracking (Armijo) line search; stops when ||grad||_2 <= tolerance_grad.

    hessian="dense": the exact Hessian from `wg.hessian`, factorised by Cholesky; where it
    is not positive definite a multiple of the identity is added until it is (Nocedal &
    Wright, Algorithm 3.3), so every step descends. Costs O(n^2) memory and O(n^3) time
    per iteration: for up to a few thousand unknowns.
    hessian="hvp": line-search Newton-CG (truncated Newton, Nocedal & Wright Algorithm 7.1):
    the Newton system is solved approximately by conjugate gradients with Hessian-vector
    products, at most `max_cg` per iteration (default n), stopping at negative curvature.

    `callback(progress)`, if given, is called after each iteration with a `NewtonProgress`.
    Returns an `OptimizeResult`; nfev counts evaluations of f with its gradient, nhev the
    dense Hessians (one per iteration) and nhvp the Hessian-vector products.

    >>> res = newton_minimize(lambda x: wnp.sum((x - 3.0) ** 2), np.zeros(2))
    >>> res.x, res.nit  # (array([3., 3.]), 1)
    """
    fn = "newton_minimize"
    if hessian not in ("dense", "hvp"):
        raise ValueError(f"{fn}: hessian={hessian!r} is not supported; pass 'dense' (the exact "
                         "Hessian, factorised) or 'hvp' (conjugate gradients on Hessian-vector "
                         "products).")
    obj = _FlatObjective(fn, f, x0)
    hp = _common_hyper(fn, obj.x0.size, max_iter, tolerance_grad, max_cg)

    def evaluate_dense(x):
        return (*obj.value_and_grad(x), None)

    def dense_direction(x, g, hvp):
        h = obj.hessian(x)
        if not np.all(np.isfinite(h)):
            raise FloatingPointError(
                f"{fn}: the Hessian of f is not finite at an iterate where f and its gradient "
                "are; check f for operations whose second derivative overflows there."
            )
        return -scipy.linalg.cho_solve(_shifted_cholesky(h), g, check_finite=False)

    def cg_direction(x, g, hvp):
        return _steihaug_cg(g, hvp, None, _forcing_tolerance(float(np.linalg.norm(g))),
                            hp["max_cg"])[0]

    def on_iteration(nit, x, loss, g):
        obj.report(callback, nit, x, loss, g)

    if hessian == "dense":
        evaluate, direction = evaluate_dense, dense_direction
    else:
        evaluate, direction = obj.with_hvp, cg_direction
    x, loss, g, nit, converged = _line_search_newton_run(obj, evaluate, direction, hp,
                                                         on_iteration)
    return obj.result(x, loss, g, nit, converged)


class NewtonCG:
    """Trust-region Newton-CG for eager parameters: `opt.step(closure)` runs up to `max_iter`
    iterations. The closure computes and returns the loss from the parameters; it must NOT
    call `loss.backward()` (the optimiser differentiates the loss twice itself, for the
    gradient and for Hessian-vector products). Returns the loss at the end of the step.

    >>> opt = NewtonCG(model.parameters())
    >>> opt.step(lambda: loss_fn(model(x), y))
    """

    def __init__(self, params, max_iter=20, tolerance_grad=1e-8, initial_radius=1.0,
                 max_radius=1000.0, eta=0.15, max_cg=None):
        self.param_groups = _param_groups("NewtonCG", params, {})
        if len(self.param_groups) != 1:
            raise ValueError("NewtonCG: parameter groups are not supported; pass one list of "
                             "parameters.")
        self._params = self.param_groups[0]["params"]
        n = sum(p.primal.size for p in self._params)
        self.defaults = _newton_hyper("NewtonCG", n, max_iter, tolerance_grad, initial_radius,
                                      max_radius, eta, max_cg)
        self.state = {}

    def zero_grad(self, set_to_none=True):
        for p in self._params:
            p.grad = None if set_to_none or p.grad is None else Tensor(np.zeros_like(p.primal))

    def step(self, closure):
        """Run up to max_iter Newton-CG iterations; the parameters end at the last iterate."""
        params = self._params
        ends = np.cumsum([p.primal.size for p in params]).tolist()

        def fun(x):
            set_flat_params(params, x)
            with enable_grad():
                loss = closure()
                grads = autograd_grad(loss, params, create_graph=True, allow_unused=True)
            used = [i for i, g in enumerate(grads) if g is not None]

            def hvp(v):
                starts = [0] + ends
                pieces = [v[starts[i]:ends[i]].reshape(params[i].primal.shape) for i in used]
                with enable_grad():
                    hv = autograd_grad([grads[i] for i in used], [params[i] for i in used],
                                       grad_outputs=pieces, retain_graph=True,
                                       allow_unused=True)
                return _flatten_with_zeros(params, dict(zip(used, hv)))

            return float(loss), _flatten_with_zeros(params, dict(enumerate(grads))), hvp

        x, loss, _, _ = _trust_ncg_run(fun, get_flat_params(params), self.state,
                                       self.defaults)
        set_flat_params(params, x)
        return loss


def _flatten_with_zeros(params, values):
    """One vector of `values[i]` (tensors) for each parameter i, zeros where missing or None."""
    return np.concatenate([
        np.asarray(values[i].primal).ravel() if values.get(i) is not None
        else np.zeros(p.primal.size, p.primal.dtype) for i, p in enumerate(params)])
