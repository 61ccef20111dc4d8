"""Collocation points: where a physics-informed loss evaluates its residuals.

`sample_box(n, lower, upper, method=...)` draws n points in a box, uniformly at random, by
Latin hypercube sampling (each coordinate's n strata hit exactly once) or from a scrambled
Sobol sequence (low discrepancy); the last two come from `scipy.stats.qmc`.
`sample_boundary(n, lower, upper)` draws on the faces of a box, and `grid(...)` gives the
tensor grid used to evaluate and plot a solution.
"""

import numpy as np

SAMPLERS = ("uniform", "lhs", "sobol")


def _box(fname, lower, upper):
    lower, upper = np.asarray(lower, np.float64), np.asarray(upper, np.float64)
    if lower.ndim != 1 or lower.shape != upper.shape or np.any(upper <= lower):
        raise ValueError(
            f"{fname}: lower and upper must be 1-D sequences of the same length with "
            f"lower < upper in every coordinate, got {lower.tolist()} and {upper.tolist()}."
        )
    return lower, upper


def _count(fname, n):
    if int(n) != n or n < 1:
        raise ValueError(f"{fname}: n must be a positive integer, got {n!r}.")
    return int(n)


def sample_box(n, lower, upper, *, method="lhs", rng=None, dtype=np.float64):
    """n points in the box [lower, upper] (each a sequence of d bounds), shape (n, d).

    `method`: "uniform" (independent uniform draws), "lhs" (Latin hypercube, the default, as
    Raissi et al. 2019) or "sobol" (scrambled Sobol; n need not be a power of two, but the
    balance is best when it is). `rng`: a numpy Generator, an int seed or None.

    >>> X = sample_box(10_000, [-1.0, 0.0], [1.0, 1.0], rng=0)  # (x, t) points
    """
    fname = "sample_box"
    lower, upper = _box(fname, lower, upper)
    n = _count(fname, n)
    rng = np.random.default_rng(rng)
    d = lower.size
    if method == "uniform":
        unit = rng.random((n, d))
    elif method in ("lhs", "sobol"):
        import warnings

        from scipy.stats import qmc

        if method == "lhs":
            unit = qmc.LatinHypercube(d, rng=rng).random(n)
        else:
            with warnings.catch_warnings():  # the balance note for n not a power of two
                warnings.simplefilter("ignore", UserWarning)
                unit = qmc.Sobol(d, rng=rng).random(n)
    else:
        raise ValueError(f"{fname}: method={method!r} is not one of {SAMPLERS}.")
    return (lower + (upper - lower) * unit).astype(dtype)


def sample_boundary(n, lower, upper, *, faces=None, rng=None, dtype=np.float64):
    """n points drawn uniformly on the faces of the box [lower, upper], shape (n, d).

    `faces`: which faces, as (axis, side) pairs with side 0 (lower) or 1 (upper); default all
    2d faces. Each point picks a face with probability proportional to its area (for d = 1
    the two end points equally), then a uniform point on it.

    >>> sample_boundary(100, [0, 0], [1, 1], rng=0)  # the edges of the unit square
    """
    fname = "sample_boundary"
    lower, upper = _box(fname, lower, upper)
    n = _count(fname, n)
    d = lower.size
    faces = [(a, s) for a in range(d) for s in (0, 1)] if faces is None else list(faces)
    for axis, side in faces:
        if not (0 <= axis < d and side in (0, 1)):
            raise ValueError(
                f"{fname}: faces entry {(axis, side)!r} must be (axis in 0..{d - 1}, side 0 "
                "or 1)."
            )
    rng = np.random.default_rng(rng)
    width = upper - lower
    areas = np.array([np.prod(np.delete(width, axis)) for axis, _ in faces])
    which = rng.choice(len(faces), size=n, p=areas / areas.sum())
    X = lower + width * rng.random((n, d))
    for k, (axis, side) in enumerate(faces):
        X[which == k, axis] = upper[axis] if side else lower[axis]
    return X.astype(dtype)


def grid(*axes, dtype=np.float64):
    """The tensor grid of 1-D coordinate arrays as points of shape (prod of lengths, d), the
    first axis varying slowest (`np.meshgrid(..., indexing="ij")`), so
    `u.reshape(len(axes[0]), ...)` puts the solution back on the grid.

    >>> X = grid(np.linspace(0, 1, 100), np.linspace(-1, 1, 256))  # (t, x) -> (25600, 2)
    """
    mesh = np.meshgrid(*[np.asarray(a, np.float64) for a in axes], indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1).astype(dtype)


__all__ = ["grid", "sample_boundary", "sample_box"]
