"""Newton-CG with a trust region (Steihaug-Toint truncated conjugate gradients), using only
Hessian-vector products: no Hessian is ever formed.

`_trust_ncg_run` does the iterations on a flat vector, given `fun(x) -> (loss, grad, hvp)`;
the functional `newton_cg_minimize` builds `hvp` with `wg.hvp` (forward-over-reverse), the
eager `NewtonCG` with a double backward pass through the closure's graph
(`wg.autograd_grad(..., create_graph=True)`).
"""

import math

import numpy as np

from ..tensor import Tensor, autograd_grad, enable_grad
from ..transforms.api import hvp as hvp_transform
from ..transforms.api import value_and_grad
from ._flat import get_flat_params, ravel_pytree, set_flat_params
from .base import _param_groups
from .lbfgs import OptimizeResult


def _to_boundary(z, d, radius):
    """The tau >= 0 with ||z + tau d|| = radius (z is inside the region)."""
    a, b, c = float(d @ d), 2.0 * float(z @ d), float(z @ z) - radius ** 2
    return (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)


def _steihaug_cg(g, hvp, radius, tol, max_cg):
    """Approximately minimise the model g.p + p.H.p / 2 over ||p|| <= radius by conjugate
    gradients, stopping at the boundary, at negative curvature, or when the model's gradient
    norm is below `tol`. Returns (p, H p, whether p is on the boundary)."""
    z = np.zeros_like(g)
    hz = np.zeros_like(g)
    r = g
    d = -r
    rr = float(r @ r)
    for _ in range(max_cg):
        hd = hvp(d)
        dhd = float(d @ hd)
        if dhd <= 0:  # negative curvature: go to the boundary along d
            tau = _to_boundary(z, d, radius)
            return z + tau * d, hz + tau * hd, True
        alpha = rr / dhd
        z_next = z + alpha * d
        if float(np.linalg.norm(z_next)) >= radius:
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


def _trust_ncg_run(fun, x, state, hp):
    """Up to hp["max_iter"] trust-region Newton-CG iterations from the flat vector x.
    `fun(x) -> (loss, grad, hvp)` where `hvp(v)` is the Hessian at x times v. `state` (a dict,
    updated) carries the trust radius and counters across calls. Returns (x, loss, grad,
    converged)."""
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
        # Forcing sequence min(0.5, sqrt|g|) |g|: superlinear convergence near the minimum.
        tol = min(0.5, math.sqrt(g_norm)) * g_norm
        p, hp_p, on_boundary = _steihaug_cg(g, hvp, state["radius"], tol, hp["max_cg"])
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
    else:
        converged = float(np.linalg.norm(g)) <= hp["tolerance_grad"]
    return x, loss, g, converged


def _newton_hyper(fn, max_iter, tolerance_grad, initial_radius, max_radius, eta, max_cg):
    if not 0 < initial_radius <= max_radius:
        raise ValueError(
            f"{fn}: need 0 < initial_radius <= max_radius, got initial_radius="
            f"{initial_radius}, max_radius={max_radius}."
        )
    if not 0 <= eta < 0.25:
        raise ValueError(f"{fn}: eta={eta!r} is invalid; it must be in [0, 0.25).")
    return dict(max_iter=max_iter, tolerance_grad=tolerance_grad,
                initial_radius=initial_radius, max_radius=max_radius, eta=eta, max_cg=max_cg)


def newton_cg_minimize(f, x0, *, max_iter=200, tolerance_grad=1e-8, initial_radius=1.0,
                       max_radius=1000.0, eta=0.15, max_cg=None):
    """Minimise the scalar function `f(x)` from the pytree `x0` by trust-region Newton-CG
    (Nocedal & Wright, Algorithms 4.1 and 7.2): each step solves the quadratic model within
    the trust radius by Steihaug's conjugate gradients, with Hessian-vector products from
    `wg.hvp`. Stops when ||grad|| <= tolerance_grad. `max_cg` caps CG iterations per step
    (default: the number of unknowns). Returns an `OptimizeResult`.

    >>> res = newton_cg_minimize(lambda x: ((x - 3.0) ** 2).sum(), np.zeros(2))
    >>> res.x  # array([3., 3.])
    """
    flat0, unravel = ravel_pytree(x0)
    hp = _newton_hyper("newton_cg_minimize", max_iter, tolerance_grad, initial_radius,
                       max_radius, eta, flat0.size if max_cg is None else max_cg)
    value_and_grad_f = value_and_grad(f)

    def f_flat(x):
        return f(unravel(x))

    def fun(x):
        value, g = value_and_grad_f(unravel(x))

        def hvp(v):
            return np.asarray(hvp_transform(f_flat, (x,), (v,))[0])

        return float(value), ravel_pytree(g)[0].astype(x.dtype, copy=False), hvp

    state = {}
    x, loss, g, converged = _trust_ncg_run(fun, flat0, state, hp)
    return OptimizeResult(unravel(x), loss, unravel(g), state["n_iter"], state["func_evals"],
                          converged)


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
        self.defaults = _newton_hyper("NewtonCG", max_iter, tolerance_grad, initial_radius,
                                      max_radius, eta, n if max_cg is None else max_cg)
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
