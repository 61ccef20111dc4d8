"""The pieces of a physics-informed loss: the mean square of a residual over collocation
points, and the misfit to prescribed values (initial and boundary conditions, data)."""

import numpy as np

from .. import numpy as wnp


def mean_square(residual):
    """mean(residual^2): the loss of a PDE residual over its collocation points."""
    return wnp.mean(residual * residual)


def condition_loss(u, X, values):
    """mean((u(X) - values)^2): how far the function `u` misses prescribed `values` at the
    points `X` (Dirichlet boundary values, initial values, measurements). `values` is an
    array with one entry per row of X, or a function of X giving it.

    >>> condition_loss(net, X0, -np.sin(np.pi * X0[:, 0]))  # u(0, x) = -sin(pi x)
    """
    target = values(X) if callable(values) else values
    pred = u(X)
    if np.shape(target) != np.shape(pred):
        raise ValueError(
            f"condition_loss: values has shape {np.shape(target)} but u(X) has shape "
            f"{np.shape(pred)}; give one value per point (row of X)."
        )
    return mean_square(pred - target)


__all__ = ["condition_loss", "mean_square"]
