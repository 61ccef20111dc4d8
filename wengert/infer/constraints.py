"""Transforms from unconstrained parameters (what the samplers move in) to constrained ones,
with the log-Jacobians that a log density must add when it is written in terms of the
constrained value:

    log p_z(z) = log p_x(forward(z)) + log_det_jacobian(z)

    def logdensity(params):
        sigma = positive.forward(params["log_sigma"])
        return (log_prior(sigma) + log_likelihood(sigma)
                + wnp.sum(positive.log_det_jacobian(params["log_sigma"])))

The transforms are written with differentiable ops, so they work inside value_and_grad and jit,
and on plain arrays of draws afterwards (`positive.forward(result.samples["log_sigma"])`).
"""

import numpy as np

from .. import numpy as wnp
from ..scipy import special


class Positive:
    """x = exp(z) in (0, inf); z = log x; log|dx/dz| = z."""

    def forward(self, z):
        return wnp.exp(z)

    def inverse(self, x):
        return wnp.log(x)

    def log_det_jacobian(self, z):
        """log|dx/dz| elementwise."""
        return z


class Interval:
    """x = lower + (upper - lower) sigmoid(z) in (lower, upper); z = logit of the rescaled x;
    log|dx/dz| = log(upper - lower) + log sigmoid(z) + log sigmoid(-z)."""

    def __init__(self, lower, upper):
        if not np.all(np.asarray(lower) < np.asarray(upper)):
            raise ValueError(
                f"Interval: lower must be below upper, got lower={lower!r}, upper={upper!r}")
        self.lower, self.upper = lower, upper
        log_width = np.log(np.asarray(upper, dtype=np.float64)
                           - np.asarray(lower, dtype=np.float64))
        # A Python float for scalar bounds: it keeps float32 parameters float32.
        self._log_width = float(log_width) if log_width.ndim == 0 else log_width

    def forward(self, z):
        return self.lower + (self.upper - self.lower) * special.expit(z)

    def inverse(self, x):
        return special.logit((x - self.lower) / (self.upper - self.lower))

    def log_det_jacobian(self, z):
        """log|dx/dz| elementwise (log sigmoid written stably for large |z|)."""
        return self._log_width + special.log_expit(z) + special.log_expit(-z)


positive = Positive()
unit_interval = Interval(0.0, 1.0)
