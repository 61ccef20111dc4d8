"""2-D Poisson equation on the unit square with a known solution:

    -(u_xx + u_yy) = 2 pi^2 sin(pi x) sin(pi y),   (x, y) in [0, 1]^2,   u = 0 on the boundary,

whose solution is u = sin(pi x) sin(pi y). The network's points are (x, y) rows.
"""

import numpy as np

from .. import numpy as wnp
from .derivatives import laplacian
from .losses import condition_loss, mean_square
from .network import MLP
from .sampling import grid, sample_boundary, sample_box

LOWER, UPPER = (0.0, 0.0), (1.0, 1.0)


def source(X):
    """The right-hand side f = 2 pi^2 sin(pi x) sin(pi y) at the rows (x, y) of X."""
    return 2 * np.pi ** 2 * wnp.sin(np.pi * X[:, 0]) * wnp.sin(np.pi * X[:, 1])


def exact(X):
    """The solution sin(pi x) sin(pi y) (written with wengert.numpy, so it differentiates)."""
    return wnp.sin(np.pi * X[:, 0]) * wnp.sin(np.pi * X[:, 1])


def residual(u, X, method="grad"):
    """-(u_xx + u_yy) - f at the rows (x, y) of X, for a row-wise function `u`."""
    _, lap = laplacian(u, X, variables="xy", method=method)
    return -lap - source(X)


def make_problem(n_collocation=2000, n_boundary=400, *, rng=None, dtype=np.float64):
    """Collocation points (Latin hypercube in the square) and boundary points (on its edges,
    where u = 0)."""
    rng = np.random.default_rng(rng)
    collocation = sample_box(n_collocation, LOWER, UPPER, method="lhs", rng=rng, dtype=dtype)
    boundary = sample_boundary(n_boundary, LOWER, UPPER, rng=rng, dtype=dtype)
    return {"collocation": collocation, "data": boundary,
            "values": np.zeros(n_boundary, dtype)}


def loss(net, problem, method="grad"):
    """Mean square residual plus mean square boundary misfit. The residual is divided by
    2 pi^2 (the size of f), so that both terms start on the same scale."""
    r = residual(net, problem["collocation"], method=method) / (2 * np.pi ** 2)
    return mean_square(r) + condition_loss(net, problem["data"], problem["values"])


def network(depth=5, width=20, *, rng=None, dtype=np.float64):
    """A tanh MLP with `depth` Linear layers of `width` units, inputs (x, y)."""
    return MLP([2] + [width] * (depth - 1) + [1], LOWER, UPPER, rng=rng, dtype=dtype)


def grid_axes(n=101):
    """(x, y): the evaluation grid, n points per side."""
    axis = np.linspace(0.0, 1.0, n)
    return axis, axis


def exact_on_grid(n=101):
    """U[i, j] = u(x_j, y_i), shape (n, n)."""
    x, y = grid_axes(n)
    return np.sin(np.pi * x[None, :]) * np.sin(np.pi * y[:, None])


def prediction_grid(net, n=101):
    """The network's u on the grid of `exact_on_grid`, shaped (n, n)."""
    x, y = grid_axes(n)
    X = np.ascontiguousarray(grid(y, x)[:, ::-1])  # rows (x, y), y varying slowest
    return np.asarray(net(X)).reshape(n, n)


__all__ = ["exact", "exact_on_grid", "grid_axes", "loss", "make_problem", "network",
           "prediction_grid", "residual", "source"]
