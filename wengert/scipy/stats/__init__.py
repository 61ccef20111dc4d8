"""`wengert.scipy.stats`: log-densities and distribution functions of common distributions,
differentiable with respect to the point and every parameter. Each distribution is a module
with SciPy's method names, used as in SciPy (`norm.logpdf(x, loc, scale)`)."""

from . import gamma, norm, t  # noqa: F401

__all__ = ["gamma", "norm", "t"]
