"""The normal distribution `norm(loc, scale)`, as `scipy.stats.norm`: every function is
differentiable with respect to its point and to `loc` and `scale`."""

import math

from ... import numpy as wnp
from ..special import log_ndtr, ndtr, ndtri
from ._common import as_array_if_sequence, standardize

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def logpdf(x, loc=0, scale=1):
    """Log of the normal density at `x`."""
    z, log_scale = standardize(x, loc, scale)
    return -0.5 * z * z - _HALF_LOG_2PI - log_scale


def pdf(x, loc=0, scale=1):
    """Normal density at `x`."""
    return wnp.exp(logpdf(x, loc, scale))


def cdf(x, loc=0, scale=1):
    """Normal cumulative distribution function P(X <= x)."""
    return ndtr(standardize(x, loc, scale)[0])


def logcdf(x, loc=0, scale=1):
    """Log of the normal CDF, accurate far into the lower tail."""
    return log_ndtr(standardize(x, loc, scale)[0])


def sf(x, loc=0, scale=1):
    """Normal survival function P(X > x) = 1 - cdf, accurate in the upper tail."""
    return ndtr(-standardize(x, loc, scale)[0])


def logsf(x, loc=0, scale=1):
    """Log of the normal survival function, accurate far into the upper tail."""
    return log_ndtr(-standardize(x, loc, scale)[0])


def ppf(q, loc=0, scale=1):
    """Normal quantile function, the inverse of `cdf`."""
    q, loc, scale = (as_array_if_sequence(v) for v in (q, loc, scale))
    return loc + scale * ndtri(q)


def isf(q, loc=0, scale=1):
    """Inverse of the normal survival function."""
    q, loc, scale = (as_array_if_sequence(v) for v in (q, loc, scale))
    return loc - scale * ndtri(q)


__all__ = ["cdf", "isf", "logcdf", "logpdf", "logsf", "pdf", "ppf", "sf"]
