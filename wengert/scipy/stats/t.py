"""Student's t distribution `t(df, loc, scale)`, as `scipy.stats.t`: differentiable with
respect to the point, `df`, `loc` and `scale`."""

import math

from ... import numpy as wnp
from ..special import gammaln
from ._common import as_array_if_sequence, log, standardize, weak


def logpdf(x, df, loc=0, scale=1):
    """Log of the Student's t density at `x` with `df` degrees of freedom."""
    df = as_array_if_sequence(df)
    z, log_scale = standardize(x, loc, scale)
    log_norm = (
        weak(gammaln, (df + 1) / 2, math.lgamma)
        - weak(gammaln, df / 2, math.lgamma)
        - 0.5 * log(df * math.pi)
    )
    return log_norm - log_scale - (df + 1) / 2 * wnp.log1p(z * z / df)


def pdf(x, df, loc=0, scale=1):
    """Student's t density at `x`."""
    return wnp.exp(logpdf(x, df, loc, scale))


__all__ = ["logpdf", "pdf"]
