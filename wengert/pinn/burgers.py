"""1-D viscous Burgers equation, the benchmark of Raissi, Perdikaris and Karniadakis (2019):

    u_t + u u_x = nu u_xx,   x in [-1, 1], t in [0, 1],   nu = 0.01 / pi,
    u(0, x) = -sin(pi x),    u(t, -1) = u(t, 1) = 0.

A shock forms at x = 0 near t = 0.4. The exact solution comes from the Cole-Hopf
transformation u = -2 nu phi_x / phi, phi solving the heat equation, which gives

    u(t, x) = - int sin(pi (x - e)) f(x - e) exp(-e^2 / (4 nu t)) de
                / int f(x - e) exp(-e^2 / (4 nu t)) de,      f(y) = exp(-cos(pi y) / (2 pi nu)),

evaluated by Gauss-Hermite quadrature (`cole_hopf`). The network's points are (x, t) rows.
"""

import numpy as np

from .derivatives import derivatives
from .losses import condition_loss, mean_square
from .network import MLP
from .sampling import grid, sample_box

NU = 0.01 / np.pi
LOWER, UPPER = (-1.0, 0.0), (1.0, 1.0)  # (x, t)


def residual(u, X, nu=NU, method="grad"):
    """u_t + u u_x - nu u_xx at the rows (x, t) of X, for a row-wise function `u` (a network,
    or an exact solution written with wengert.numpy)."""
    d = derivatives(u, X, ["t", "x", "xx"], variables="xt", method=method)
    return d["t"] + d["u"] * d["x"] - nu * d["xx"]


def cole_hopf(x, t, nu=NU, nodes=200):
    """The exact solution u(t, x) at the points (x, t) (arrays broadcast together), by
    `nodes`-point Gauss-Hermite quadrature of the Cole-Hopf integrals after the substitution
    e = sqrt(4 nu t) z. The integrands hold exp(-cos(pi y) / (2 pi nu)), about e^50 for the
    default nu, so the weights are shifted by their maximum (log-sum-exp) before exp.
    On the grid of Raissi et al., 100 nodes already agree with 200 to 1e-14; NumPy's
    `hermgauss` overflows beyond about 350 nodes, so at most 300 are allowed."""
    if not 1 <= nodes <= 300:
        raise ValueError(f"cole_hopf: nodes must be in 1..300, got {nodes!r}.")
    z, w = np.polynomial.hermite.hermgauss(nodes)
    x, t = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(t, np.float64))
    y = x[..., None] - np.sqrt(4 * nu * t)[..., None] * z
    with np.errstate(divide="ignore"):  # weights that underflow to 0 contribute nothing
        log_weight = np.log(w) - np.cos(np.pi * y) / (2 * np.pi * nu)
    weight = np.exp(log_weight - log_weight.max(axis=-1, keepdims=True))
    return -np.sum(np.sin(np.pi * y) * weight, axis=-1) / np.sum(weight, axis=-1)


def grid_axes(nx=256, nt=100):
    """(x, t): the evaluation grid of Raissi et al., x in [-1, 1] and t in [0, 0.99]."""
    return np.linspace(-1.0, 1.0, nx), np.linspace(0.0, 0.99, nt)


def exact_on_grid(nx=256, nt=100):
    """U with U[i, j] = u(t_i, x_j) on `grid_axes(nx, nt)`, shape (nt, nx)."""
    x, t = grid_axes(nx, nt)
    return cole_hopf(x[None, :], t[:, None])


def initial_value(X):
    """u(0, x) = -sin(pi x) at rows (x, t)."""
    return -np.sin(np.pi * X[:, 0])


def make_problem(n_collocation=10_000, n_data=100, *, rng=None, dtype=np.float64):
    """Collocation points (Latin hypercube in [-1, 1] x [0, 1]) and `n_data` initial and
    boundary points with their values (half at t = 0, half on x = +-1, as Raissi et al.)."""
    rng = np.random.default_rng(rng)
    collocation = sample_box(n_collocation, LOWER, UPPER, method="lhs", rng=rng, dtype=dtype)
    n_initial = n_data // 2
    initial = np.stack([rng.uniform(-1, 1, n_initial), np.zeros(n_initial)], axis=1)
    t_bound = rng.uniform(0, 1, n_data - n_initial)
    x_bound = np.where(rng.random(t_bound.size) < 0.5, -1.0, 1.0)
    boundary = np.stack([x_bound, t_bound], axis=1)
    data = np.concatenate([initial, boundary]).astype(dtype)
    values = np.concatenate([initial_value(initial), np.zeros(len(boundary))]).astype(dtype)
    return {"collocation": collocation, "data": data, "values": values}


def loss(net, problem, method="grad"):
    """The PINN loss: mean square of the residual at the collocation points plus the mean
    square misfit of the initial and boundary values (weight 1 each, as Raissi et al.)."""
    r = residual(net, problem["collocation"], method=method)
    return mean_square(r) + condition_loss(net, problem["data"], problem["values"])


def network(depth=9, width=20, *, rng=None, dtype=np.float64):
    """The MLP of Raissi et al.: `depth` Linear layers (depth - 1 hidden tanh layers of
    `width`), inputs (x, t) rescaled to [-1, 1]."""
    return MLP([2] + [width] * (depth - 1) + [1], LOWER, UPPER, rng=rng, dtype=dtype)


def prediction_grid(net, nx=256, nt=100):
    """The network's u on the grid of `exact_on_grid`, shaped (nt, nx)."""
    x, t = grid_axes(nx, nt)
    X = grid(t, x)[:, ::-1]  # rows (x, t), t varying slowest
    return np.asarray(net(np.ascontiguousarray(X))).reshape(nt, nx)


__all__ = ["NU", "cole_hopf", "exact_on_grid", "grid_axes", "loss", "make_problem", "network",
           "prediction_grid", "residual"]
