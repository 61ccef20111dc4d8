"""The gamma distribution `gamma(a, loc, scale)`, as `scipy.stats.gamma`: differentiable with
respect to the point, the shape `a`, `loc` and `scale`."""

import math

from ... import numpy as wnp
from ..special import gammaln, xlogy
from ._common import as_array_if_sequence, standardize, weak


def logpdf(x, a, loc=0, scale=1):
    """Log of the gamma density at `x` with shape `a`; -inf below the support."""
    a = as_array_if_sequence(a)
    y, log_scale = standardize(x, loc, scale)
    outside = wnp.less(y, 0)
    # A safe point outside the support keeps the discarded branch's derivative finite.
    y = wnp.where(outside, 1, y)
    inside = xlogy(a - 1, y) - y - weak(gammaln, a, math.lgamma) - log_scale
    return wnp.where(outside, -math.inf, inside)


def pdf(x, a, loc=0, scale=1):
    """Gamma density at `x`."""
    return wnp.exp(logpdf(x, a, loc, scale))


__all__ = ["logpdf", "pdf"]
