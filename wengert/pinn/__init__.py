"""`wengert.pinn`: physics-informed neural networks, a small toolkit.

A physics-informed network u(X) is trained so that a PDE's residual vanishes at collocation
points and the initial and boundary conditions hold. The residual needs derivatives of the
network with respect to its inputs (u_x, u_t, u_xx ...) at every point; `derivatives`
computes them for all N points at once with nested wengert transforms (one JVP per
direction, its tangent the unit vector of that axis in every row), so a residual is an
ordinary wengert program that `wg.value_and_grad` differentiates again with respect to the
network's parameters and `wg.jit` compiles.

Usage (the Burgers equation u_t + u u_x = nu u_xx; see `wengert.pinn.burgers`)::

    import numpy as np
    from wengert import pinn

    X = pinn.sample_box(10_000, [-1, 0], [1, 1], method="lhs", rng=0)      # (x, t) rows
    X0 = np.stack([np.linspace(-1, 1, 100), np.zeros(100)], axis=1)         # t = 0
    net = pinn.MLP([2] + [20] * 8 + [1], lower=[-1, 0], upper=[1, 1], rng=0)

    def loss(net, points):
        d = pinn.derivatives(net, points["X"], ["t", "x", "xx"], variables="xt")
        r = d["t"] + d["u"] * d["x"] - 0.01 / np.pi * d["xx"]
        X0 = points["X0"]
        return pinn.mean_square(r) + pinn.condition_loss(net, X0, -np.sin(np.pi * X0[:, 0]))

    # Adam, then L-BFGS, on one jitted loss-and-gradient; the points travel as `data`.
    result = pinn.train(loss, net, {"X": X, "X0": X0}, adam_steps=500, lbfgs_iterations=5000)
    u = result.params(X)                         # the trained network, on any points

From the command line: `wengert pinn burgers` and `wengert pinn poisson` (`--quick` for a
short demonstration); the examples are in `wengert.pinn.examples`.

Modules: `derivatives` (input derivatives, Laplacian), `sampling` (uniform, Latin hypercube
and Sobol collocation points, box boundaries, grids), `network` (the tanh MLP), `losses`
(residual and condition losses), `training` (Adam then L-BFGS, jitted), `report` (relative
L2 error, the figure), `burgers` and `poisson` (the problems and their exact solutions).
"""

from . import burgers, poisson
from .derivatives import axis_tangent, derivatives, laplacian
from .losses import condition_loss, mean_square
from .network import MLP
from .report import relative_l2, save_figure
from .sampling import grid, sample_boundary, sample_box
from .training import TrainResult, train

__all__ = [
    "MLP",
    "TrainResult",
    "axis_tangent",
    "burgers",
    "condition_loss",
    "derivatives",
    "grid",
    "laplacian",
    "mean_square",
    "poisson",
    "relative_l2",
    "sample_boundary",
    "sample_box",
    "save_figure",
    "train",
]
