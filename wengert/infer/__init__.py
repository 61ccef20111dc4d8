"""`wengert.infer`: Hamiltonian Monte Carlo and the No-U-Turn Sampler on log densities written
with wengert.numpy, with Stan's warm-up (dual-averaging step size, windowed diagonal or dense
mass matrix), convergence diagnostics (split R-hat, bulk/tail ESS, MCSE) and transforms for
constrained parameters.

    import wengert.infer as infer
    result = infer.sample(logdensity, init, num_warmup=1000, num_samples=1000, chains=4)
    print(result.summary())
"""

from .constraints import Interval, Positive, positive, unit_interval
from .diagnostics import (
    Summary,
    ess_bulk,
    ess_mean,
    ess_tail,
    mcse_mean,
    rank_normalize,
    split_chains,
    split_rhat,
    summary,
)
from .sampler import SampleResult, sample

__all__ = [
    "sample", "SampleResult",
    "split_rhat", "ess_bulk", "ess_tail", "ess_mean", "mcse_mean", "summary", "Summary",
    "split_chains", "rank_normalize",
    "Positive", "Interval", "positive", "unit_interval",
]
