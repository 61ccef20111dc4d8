"""wengert.infer: HMC and NUTS leave their target invariant (exact-start chi-square and
detailed-balance symmetry tests), recover a correlated Gaussian, adapt the step size to the
target acceptance; the diagnostics agree with straightforward re-computations and known cases;
constraint transforms carry the right log-Jacobians; runs are reproducible; errors are clear."""

import math

import numpy as np
import pytest
from scipy import special, stats

import wengert as wg
import wengert.numpy as wnp
from wengert import infer
from wengert.infer.adaptation import DualAveraging, slow_windows
from wengert.infer.hmc import HMC, DiagonalMetric, Point
from wengert.infer.nuts import NUTS

# A skewed 1-D target: x = log g with g ~ Gamma(2, 1); its CDF is gammainc(2, exp(x)).
SHAPE = 2.0


def log_gamma_logdensity(x):
    return wnp.sum(SHAPE * x - wnp.exp(x))


def log_gamma_cdf(x):
    return special.gammainc(SHAPE, np.exp(x))


def _potential(logdensity):
    value_and_grad = wg.jit(wg.value_and_grad(logdensity))

    def potential(q):
        logp, grad = value_and_grad(q)
        return float(logp), np.asarray(grad)

    return potential


@pytest.mark.parametrize("kernel_name, step", [("nuts", 0.5), ("nuts", 1.7), ("hmc", 0.5)])
def test_kernel_is_reversible_on_skewed_1d_target(kernel_name, step):
    # Start 3000 independent chains at exact draws x0 and make one transition each, at a
    # fixed step size (no adaptation). Invariance: x1 has the target's distribution (a
    # chi-square test on 8 equal-probability bins). Detailed balance: the joint table of
    # (bin of x0, bin of x1) is symmetric (Bowker's test). Both tests are exact here since the
    # pairs are independent; a kernel that always moves to the newest subtree, or samples
    # from subtrees that U-turned, fails them with p < 1e-4 at this size.
    potential = _potential(log_gamma_logdensity)
    kernel = NUTS(potential) if kernel_name == "nuts" else HMC(potential, num_steps=4)
    rng = np.random.default_rng(0)
    n, bins = 3000, 8
    x0 = np.log(rng.gamma(SHAPE, size=n))
    x1 = np.empty(n)
    metric = DiagonalMetric(np.ones(1))
    for i in range(n):
        logp, grad = potential(x0[i:i + 1])
        point, _ = kernel.step(Point(x0[i:i + 1], None, None, logp, grad), rng, step, metric)
        x1[i] = point.q[0]
    assert np.mean(x1 != x0) > 0.3  # it does move
    b0 = np.minimum((log_gamma_cdf(x0) * bins).astype(int), bins - 1)
    b1 = np.minimum((log_gamma_cdf(x1) * bins).astype(int), bins - 1)
    assert stats.chisquare(np.bincount(b1, minlength=bins)).pvalue > 1e-3
    table = np.zeros((bins, bins))
    np.add.at(table, (b0, b1), 1)
    upper = np.triu_indices(bins, 1)
    diff, total = table[upper] - table.T[upper], table[upper] + table.T[upper]
    bowker = np.sum(diff[total > 0] ** 2 / total[total > 0])
    assert stats.chi2.sf(bowker, np.count_nonzero(total)) > 1e-3


def test_nuts_chain_matches_skewed_target():
    result = infer.sample(log_gamma_logdensity, np.zeros(1), num_warmup=200, num_samples=1500,
                          chains=2, seed=3)
    x = result.draws[..., 0]
    mean_z = (x.mean() - special.digamma(SHAPE)) / infer.mcse_mean(x)
    assert abs(mean_z) < 4
    thinned = x[:, ::3].ravel()  # nearly independent draws for the KS test
    assert stats.kstest(log_gamma_cdf(thinned), "uniform").pvalue > 1e-3
    assert result.num_divergences == 0


def test_hmc_recovers_correlated_gaussian():
    mean = np.array([1.0, -2.0])
    cov = np.array([[1.0, 0.9], [0.9, 2.0]])
    precision = np.linalg.inv(cov)

    def logdensity(x):
        d = x - mean
        return -0.5 * (d @ (precision @ d))

    result = infer.sample(logdensity, np.zeros(2), num_warmup=300, num_samples=1000, chains=2,
                          seed=1, kernel="hmc", num_steps=8)
    draws = result.draws.reshape(-1, 2)
    ess = result.min_ess_bulk()
    assert result.max_rhat() < 1.02 and ess > 300
    assert np.all(np.abs(draws.mean(axis=0) - mean) < 4 * infer.mcse_mean(result.draws))
    # Standard error of a sample covariance entry: sqrt((S_ii S_jj + S_ij^2) / n_eff).
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2) / ess)
    assert np.all(np.abs(np.cov(draws.T) - cov) < 4 * se)
    assert result.stats["tree_depth"].max() == 0
    assert np.all(result.stats["n_leapfrog"] == 8)
    assert np.all(result.e_bfmi() > 0.3)


def test_divergences_are_detected_and_never_sampled():
    # sd 0.01 and a step size of 1: the first leapfrog step's energy error is about 1e4.
    def narrow(x):
        return -0.5 * wnp.sum((x / 0.01) ** 2)

    result = infer.sample(narrow, np.full(1, 0.005), num_warmup=0, num_samples=20, chains=1,
                          step_size=1.0, init_jitter=0.0)
    assert result.num_divergences == 20
    assert np.all(result.stats["n_leapfrog"] == 1) and np.all(result.stats["tree_depth"] == 0)
    assert np.all(result.draws == 0.005)
    assert np.all(result.stats["accept_stat"] < 1e-100)


def test_result_shapes_names_and_stats_for_dict_params():
    def logdensity(p):
        return -0.5 * (p["a"] ** 2 + wnp.sum(p["b"] ** 2))

    init = {"a": np.zeros(()), "b": np.zeros((2, 2), dtype=np.float32)}
    result = infer.sample(logdensity, init, num_warmup=50, num_samples=20, chains=3)
    assert result.samples["a"].shape == (3, 20)
    assert result.samples["b"].shape == (3, 20, 2, 2)
    assert result.samples["b"].dtype == np.float32
    assert result.names == ["a", "b[0,0]", "b[0,1]", "b[1,0]", "b[1,1]"]
    assert result.draws.shape == (3, 20, 5)
    for name in infer.sampler.STAT_NAMES:
        assert result.stats[name].shape == (3, 20)
        assert result.warmup_stats[name].shape == (3, 50)
    assert result.num_grad_evals > result.stats["n_leapfrog"].sum()
    assert "r_hat" in str(result.summary()) and "b[1,1]" in str(result.summary())


def test_seed_reproducibility():
    def run(seed):
        return infer.sample(log_gamma_logdensity, np.zeros(1), num_warmup=30, num_samples=30,
                            chains=2, seed=seed).draws

    assert np.array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


# Adaptation ---------------------------------------------------------------------------------

def test_dual_averaging_converges_to_target_of_known_acceptance_curve():
    # With acceptance exp(-step), the step size reaching acceptance 0.8 is -log(0.8).
    adapt = DualAveraging(1.0, target_accept=0.8)
    step = 1.0
    for _ in range(2000):
        step = adapt.update(math.exp(-step))
    assert adapt.final_step() == pytest.approx(-math.log(0.8), rel=0.02)


@pytest.mark.parametrize("target", [0.65, 0.9])
def test_warmup_reaches_target_acceptance(target):
    scales = np.linspace(0.5, 2.0, 20)

    def logdensity(x):
        return -0.5 * wnp.sum((x / scales) ** 2)

    result = infer.sample(logdensity, np.zeros(20), num_warmup=600, num_samples=10, chains=1,
                          target_accept=target, adapt_mass=False)
    assert result.warmup_stats["accept_stat"][0, 300:].mean() == pytest.approx(target, abs=0.03)


def test_warmup_schedule_is_stans():
    assert slow_windows(1000) == [(75, 100), (100, 150), (150, 250), (250, 450), (450, 950)]
    assert slow_windows(150) == [(75, 100)]
    assert slow_windows(100) == [(15, 90)]  # too short for the buffers: 15% / 75% / 10%
    assert slow_windows(19) == []


def test_mass_matrix_adapts_to_scales():
    scales = np.array([0.1, 1.0, 10.0])

    def logdensity(x):
        return -0.5 * wnp.sum((x / scales) ** 2)

    result = infer.sample(logdensity, np.zeros(3), num_warmup=500, num_samples=10, chains=1)
    np.testing.assert_allclose(result.inverse_mass[0], scales ** 2, rtol=0.35)


# Diagnostics against straightforward re-computations ----------------------------------------

def _halves(x):
    half = x.shape[1] // 2
    return [c[:half] for c in x] + [c[len(c) - half:] for c in x]


def _rhat_by_hand(chains):
    n = len(chains[0])
    means = [sum(c) / n for c in chains]
    within = sum(sum((v - m) ** 2 for v in c) / (n - 1) for c, m in zip(chains, means))
    within /= len(chains)
    grand = sum(means) / len(means)
    between_over_n = sum((m - grand) ** 2 for m in means) / (len(means) - 1)
    return math.sqrt(((n - 1) / n * within + between_over_n) / within)


def _ess_by_hand(chains):
    m, n = len(chains), len(chains[0])
    means = [sum(c) / n for c in chains]

    def acov(c, mu, t):  # biased autocovariance by a direct sum
        return sum((c[i] - mu) * (c[i + t] - mu) for i in range(n - t)) / n

    s2 = [acov(c, mu, 0) * n / (n - 1) for c, mu in zip(chains, means)]
    within = sum(s2) / m
    grand = sum(means) / m
    var_plus = (n - 1) / n * within + sum((mu - grand) ** 2 for mu in means) / (m - 1)
    rho = [1 - (within - sum(s * acov(c, mu, t) / acov(c, mu, 0)
                             for s, c, mu in zip(s2, chains, means)) / m) / var_plus
           for t in range(n)]
    pairs = []
    for k in range(n // 2):
        pair = rho[2 * k] + rho[2 * k + 1]
        if pair < 0:
            break
        pairs.append(min([pair] + pairs[-1:]))
    return m * n / max(-1 + 2 * sum(pairs), 1 / math.log10(m * n))


def _normal_scores_by_hand(values):
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)  # no ties in the fixtures
    return stats.norm.ppf((ranks - 0.375) / (len(values) + 0.25))


SMALL = np.array([
    [0.3, 1.2, -0.5, 0.8, 2.1, 0.4, -1.1, 0.9, 1.5],
    [1.9, 2.4, 0.7, 1.6, 2.8, 1.1, 2.2, 0.5, 1.75],
    [-0.2, 0.6, 1.3, -0.9, 0.1, 0.95, 1.45, -0.4, 0.25],
])


def test_split_rhat_classic_by_hand():
    assert infer.split_rhat(SMALL, method="classic") == pytest.approx(
        _rhat_by_hand(_halves(SMALL)), rel=1e-12)


def test_split_rhat_rank_by_hand():
    halves = np.array(_halves(SMALL))
    z = _normal_scores_by_hand(halves.ravel()).reshape(halves.shape)
    folded = np.abs(halves - np.median(halves))
    zf = _normal_scores_by_hand(folded.ravel()).reshape(halves.shape)
    expected = max(_rhat_by_hand(list(z)), _rhat_by_hand(list(zf)))
    assert infer.split_rhat(SMALL) == pytest.approx(expected, rel=1e-12)


def test_ess_and_mcse_by_hand():
    rng = np.random.default_rng(2)
    x = np.cumsum(rng.standard_normal((3, 40)), axis=1) * 0.3 + rng.standard_normal((3, 40))
    halves = _halves(x)
    assert infer.ess_mean(x) == pytest.approx(_ess_by_hand(halves), rel=1e-10)
    flat = np.array(halves)
    z = _normal_scores_by_hand(flat.ravel()).reshape(flat.shape)
    assert infer.ess_bulk(x) == pytest.approx(_ess_by_hand(list(z)), rel=1e-10)
    sd = np.std(x, ddof=1)
    assert infer.mcse_mean(x) == pytest.approx(sd / math.sqrt(_ess_by_hand(halves)), rel=1e-10)


def test_diagnostics_known_cases():
    rng = np.random.default_rng(0)
    iid = rng.standard_normal((4, 1000))
    assert abs(infer.split_rhat(iid) - 1) < 0.005
    assert infer.ess_bulk(iid) == pytest.approx(4000, rel=0.1)
    assert infer.ess_tail(iid) == pytest.approx(4000, rel=0.15)
    assert infer.mcse_mean(iid) == pytest.approx(1 / math.sqrt(4000), rel=0.1)
    shifted = iid + np.array([0.0, 0.0, 0.0, 1.0])[:, None]
    assert infer.split_rhat(shifted) > 1.1
    assert infer.split_rhat(shifted, method="classic") > 1.1
    trend = iid + np.linspace(0, 2, 1000)  # all chains agree but drift: split halves catch it
    assert infer.split_rhat(trend) > 1.1
    # AR(1) with coefficient phi: ESS = n (1 - phi) / (1 + phi).
    phi, ar = 0.5, np.zeros((4, 4000))
    noise = rng.standard_normal((4, 4000))
    ar[:, 0] = noise[:, 0] / math.sqrt(1 - phi ** 2)
    for t in range(1, 4000):
        ar[:, t] = phi * ar[:, t - 1] + noise[:, t]
    assert infer.ess_bulk(ar) == pytest.approx(16000 / 3, rel=0.15)
    # Elementwise over trailing axes.
    assert infer.split_rhat(np.stack([iid, shifted], axis=-1)).shape == (2,)


def test_summary_table():
    rng = np.random.default_rng(1)
    table = infer.summary(rng.standard_normal((2, 100, 3)), ["a", "b", "c"])
    assert table.mean.shape == (3,) and table.names == ["a", "b", "c"]
    assert len(str(table).splitlines()) == 4
    assert "1 more parameters" in table.table(max_rows=2)


# Constraints --------------------------------------------------------------------------------

@pytest.mark.parametrize("transform", [infer.positive, infer.unit_interval,
                                       infer.Interval(-2.0, 5.0)])
def test_log_det_jacobian_is_log_derivative(transform):
    z = np.array([-4.0, -0.7, 0.0, 0.3, 2.5])
    dx_dz = wg.grad(lambda z: wnp.sum(transform.forward(z)))(z)  # elementwise map
    np.testing.assert_allclose(transform.log_det_jacobian(z), np.log(np.abs(dx_dz)),
                               rtol=1e-12, atol=1e-12)
    h = 1e-6
    numeric = (transform.forward(z + h) - transform.forward(z - h)) / (2 * h)
    np.testing.assert_allclose(transform.log_det_jacobian(z), np.log(numeric), rtol=1e-6,
                               atol=1e-8)
    np.testing.assert_allclose(transform.inverse(transform.forward(z)), z, rtol=1e-9,
                               atol=1e-12)
    z32 = z.astype(np.float32)
    assert transform.forward(z32).dtype == np.float32
    assert transform.log_det_jacobian(z32).dtype == np.float32


def test_interval_transform_samples_beta_distribution():
    # Beta(2, 3) written on (0, 1) and sampled through the logit transform: its mean is 0.4.
    def logdensity(z):
        x = infer.unit_interval.forward(z)
        log_beta = wnp.log(x) + 2.0 * wnp.log1p(-x)
        return wnp.sum(log_beta + infer.unit_interval.log_det_jacobian(z))

    result = infer.sample(logdensity, np.zeros(1), num_warmup=200, num_samples=1000,
                          chains=2, seed=4)
    x = special.expit(result.draws[..., 0])
    assert abs(x.mean() - 0.4) < 4 * infer.mcse_mean(x)
    assert stats.kstest(x[:, ::3].ravel(), stats.beta(2, 3).cdf).pvalue > 1e-3


def test_interval_rejects_empty_interval():
    with pytest.raises(ValueError, match="Interval: lower must be below upper"):
        infer.Interval(1.0, 1.0)


# Errors -------------------------------------------------------------------------------------

def test_errors_name_function_and_argument():
    def vector_logdensity(x):
        return -0.5 * x ** 2

    with pytest.raises(ValueError, match="sample: logdensity vector_logdensity must return a "
                                         "scalar"):
        infer.sample(vector_logdensity, np.zeros(2), num_warmup=10, num_samples=10)
    with pytest.raises(ValueError, match="sample: num_samples must be an integer >= 4"):
        infer.sample(log_gamma_logdensity, np.zeros(1), num_samples=0)
    with pytest.raises(ValueError, match="sample: init contains NaN"):
        infer.sample(log_gamma_logdensity, np.array([np.nan]))
    with pytest.raises(ValueError, match="sample: kernel must be"):
        infer.sample(log_gamma_logdensity, np.zeros(1), kernel="mala")
    with pytest.raises(TypeError, match="init leaf 0 has dtype int64"):
        infer.sample(log_gamma_logdensity, np.zeros(1, dtype=np.int64))
    with pytest.raises(ValueError, match="not finite at init"):
        infer.sample(lambda x: wnp.sum(wnp.log(x)), -np.ones(1), init_jitter=0.0)
    with pytest.raises(ValueError, match="split_rhat: x must be shaped"):
        infer.split_rhat(np.zeros(10))
