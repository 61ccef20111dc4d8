"""Convergence diagnostics for several chains (Vehtari, Gelman, Simpson, Carpenter and
Buerkner 2021, "Rank-normalization, folding, and localization: an improved R-hat"):
split R-hat (classic and rank-normalised), bulk and tail effective sample sizes, the Monte
Carlo standard error of the mean, and a summary table.

Every function takes draws shaped (chains, draws) or (chains, draws, *shape) and returns one
value per trailing element (a float for 2-D input).
"""

import numpy as np
import scipy.special
import scipy.stats


def _as_draws(x, fname):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim < 2 or x.shape[1] < 4:
        raise ValueError(
            f"{fname}: x must be shaped (chains, draws, ...) with at least 4 draws per chain, "
            f"got shape {x.shape}; add a chain axis with x[None] for a single chain.")
    return x


def _per_element(fn, x):
    """Apply fn to each (chains, draws) slice of x; a float for 2-D x."""
    flat = x.reshape(x.shape[:2] + (-1,))
    out = np.array([fn(flat[:, :, k]) for k in range(flat.shape[2])])
    return float(out[0]) if x.ndim == 2 else out.reshape(x.shape[2:])


def split_chains(x):
    """Each chain cut into its first and second half (the middle draw dropped when the
    length is odd), so that a trend within a chain shows up as disagreeing chains."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def rank_normalize(x):
    """Normal scores of the pooled ranks, Phi^-1((r - 3/8) / (S + 1/4)), ties averaged."""
    ranks = scipy.stats.rankdata(x, axis=None).reshape(x.shape)
    return scipy.special.ndtri((ranks - 0.375) / (x.size + 0.25))


def _rhat(chains):
    """Potential scale reduction of already split (chains, draws) draws:
    sqrt(((n - 1) / n W + B / n) / W)."""
    n = chains.shape[1]
    within = chains.var(axis=1, ddof=1).mean()
    between_over_n = chains.mean(axis=1).var(ddof=1)
    return float(np.sqrt(((n - 1) / n * within + between_over_n) / within))


def _rank_rhat(chains):
    split = split_chains(chains)
    folded = np.abs(split - np.median(split))
    return max(_rhat(rank_normalize(split)), _rhat(rank_normalize(folded)))


def split_rhat(x, method="rank"):
    """Split R-hat. method="rank" (default): the larger of the rank-normalised split R-hat
    and that of the folded draws |x - median| (Vehtari et al. 2021; detects differences in
    location and in scale, and works for heavy tails). method="classic": the split R-hat of
    Gelman et al., Bayesian Data Analysis (3rd edition). Values above 1.01 mean the chains
    disagree."""
    x = _as_draws(x, "split_rhat")
    if method == "rank":
        return _per_element(_rank_rhat, x)
    if method == "classic":
        return _per_element(lambda c: _rhat(split_chains(c)), x)
    raise ValueError(f"split_rhat: method must be 'rank' or 'classic', got {method!r}")


def _autocovariance(chains):
    """Biased autocovariances (divided by n) of each chain at lags 0 ... n - 1, by FFT."""
    n = chains.shape[1]
    centred = chains - chains.mean(axis=1, keepdims=True)
    size = 2 ** int(np.ceil(np.log2(2 * n)))  # zero padding: no circular wrap-around
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    return np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :n] / n


def _ess(chains):
    """Effective sample size of (chains, draws) draws, already split.

    rho_t = 1 - (W - mean_m s_m^2 rho_tm) / var_plus combines the chains' autocorrelations
    with the between-chain variance (so disagreeing chains lower the ESS); the sum of rho_t is
    truncated by Geyer's initial monotone sequence: pair sums P_k = rho_2k + rho_2k+1 are
    summed while positive, each capped by the previous one. ESS = M N / (-1 + 2 sum P_k),
    capped at M N log10(M N) as in Stan."""
    m, n = chains.shape
    acov = _autocovariance(chains)
    s2 = acov[:, 0] * n / (n - 1)
    within = s2.mean()
    var_plus = (n - 1) / n * within + chains.mean(axis=1).var(ddof=1)
    if not var_plus > 0:
        return np.nan
    # s_m^2 rho_tm = acov_tm n / (n - 1), written without dividing by a chain's variance
    # (which is 0 for a constant chain, e.g. an indicator in ess_tail).
    rho = 1.0 - (within - acov.mean(axis=0) * n / (n - 1)) / var_plus
    total, previous = 0.0, np.inf
    for k in range(n // 2):
        pair = rho[2 * k] + rho[2 * k + 1]
        if pair < 0:
            break
        previous = min(previous, pair)
        total += previous
    tau = max(-1.0 + 2.0 * total, 1.0 / np.log10(m * n))
    return m * n / tau


def ess_bulk(x):
    """Bulk effective sample size: the ESS of the rank-normalised split chains (Vehtari et
    al. 2021), a measure of how well the centre of the distribution is explored that also
    works for heavy tails."""
    x = _as_draws(x, "ess_bulk")
    return _per_element(lambda c: _ess(rank_normalize(split_chains(c))), x)


def _tail_ess(chains):
    split = split_chains(chains)
    lo, hi = np.quantile(split, [0.05, 0.95])
    return min(_ess((split <= lo).astype(np.float64)), _ess((split <= hi).astype(np.float64)))


def ess_tail(x):
    """Tail effective sample size: the smaller ESS of the indicators x <= q5% and x <= q95%
    (how well the 5% and 95% quantiles are estimated)."""
    x = _as_draws(x, "ess_tail")
    return _per_element(_tail_ess, x)


def ess_mean(x):
    """The ESS of the split chains themselves (no ranks): the one that governs the Monte
    Carlo error of the mean."""
    x = _as_draws(x, "ess_mean")
    return _per_element(lambda c: _ess(split_chains(c)), x)


def mcse_mean(x):
    """Monte Carlo standard error of the posterior mean: sd / sqrt(ess_mean)."""
    x = _as_draws(x, "mcse_mean")
    sd = x.reshape((-1,) + x.shape[2:]).std(axis=0, ddof=1)
    return sd / np.sqrt(ess_mean(x))


class Summary:
    """Posterior summary of every scalar parameter: mean, sd, MCSE of the mean, 5/50/95%
    quantiles, bulk and tail ESS and rank-normalised split R-hat. Columns are arrays
    (`summary.mean`, `summary.r_hat`, ...); `str(summary)` is a text table."""

    COLUMNS = ("mean", "sd", "mcse", "q5", "q50", "q95", "ess_bulk", "ess_tail", "r_hat")

    def __init__(self, names, draws):
        self.names = list(names)
        pooled = draws.reshape(-1, draws.shape[2])
        self.mean = pooled.mean(axis=0)
        self.sd = pooled.std(axis=0, ddof=1)
        self.mcse = mcse_mean(draws)
        self.q5, self.q50, self.q95 = np.quantile(pooled, [0.05, 0.5, 0.95], axis=0)
        self.ess_bulk = ess_bulk(draws)
        self.ess_tail = ess_tail(draws)
        self.r_hat = split_rhat(draws)

    def table(self, max_rows=None):
        """The summary as a text table; with max_rows, only the first rows and a count of
        the rest."""
        width = max(8, max(len(n) for n in self.names))
        lines = [f"{'':{width}}" + "".join(f"{c:>10}" for c in self.COLUMNS)]
        shown = len(self.names) if max_rows is None else min(max_rows, len(self.names))
        for k in range(shown):
            cells = []
            for column in self.COLUMNS:
                value = getattr(self, column)[k]
                cells.append(f"{value:10.0f}" if column.startswith("ess") else
                             f"{value:10.3f}" if column == "r_hat" else f"{value:10.3g}")
            lines.append(f"{self.names[k]:{width}}" + "".join(cells))
        if shown < len(self.names):
            lines.append(f"... {len(self.names) - shown} more parameters")
        return "\n".join(lines)

    def __str__(self):
        return self.table()


def summary(draws, names=None):
    """A Summary of draws shaped (chains, draws, n_params) (or (chains, draws) for one
    parameter); names default to x[0], x[1], ..."""
    draws = _as_draws(draws, "summary")
    if draws.ndim == 2:
        draws = draws[:, :, None]
    draws = draws.reshape(draws.shape[:2] + (-1,))
    if names is None:
        names = [f"x[{k}]" for k in range(draws.shape[2])]
    return Summary(names, draws)
