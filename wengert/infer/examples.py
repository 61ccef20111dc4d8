"""Three models with known answers, for `wengert sample gaussian|logistic|funnel`:

- gaussian: a 100-dimensional Gaussian with condition number 1e3 (a random rotation of
  log-spaced eigenvalues), exact mean and covariance known;
- logistic: Bayesian logistic regression on scikit-learn's breast-cancer data (30
  standardised features and an intercept, N(0, 1) priors), checked against a long reference run
  stored in logistic_reference.npz (made by `python -m wengert.infer.examples reference`);
- funnel: Neal's funnel, v ~ N(0, 3^2), x_i | v ~ N(0, e^v) for 9 x's, in the non-centred
  parameterisation (v = 3 v_raw, x = e^(v/2) x_raw with standard normal v_raw, x_raw).

Each `*_model()` returns a Model (logdensity, init and what the answer is checked against);
`run(name, ...)` samples it and prints the summary and the checks.
"""

import sys
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from .. import numpy as wnp
from .diagnostics import mcse_mean
from .sampler import sample

REFERENCE = Path(__file__).with_name("logistic_reference.npz")
PRIOR_SD = 1.0  # of every logistic-regression coefficient


class Model(NamedTuple):
    logdensity: Callable
    init: object
    description: str


def gaussian_model(dim=100, condition=1e3, seed=0):
    """N(mean, cov) with cov = Q diag(lam) Q^T, Q a random rotation and lam log-spaced over
    [condition^-1/2, condition^1/2]. Returns (Model, mean, cov)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
    q = q * np.sign(np.diag(r))  # a uniformly distributed rotation (Haar measure)
    lam = np.logspace(-0.5, 0.5, dim) ** np.log10(condition)
    cov = (q * lam) @ q.T
    precision = (q / lam) @ q.T
    mean = rng.standard_normal(dim)

    def gaussian_logdensity(x):
        d = x - mean
        return -0.5 * (d @ (precision @ d))

    description = (f"{dim}-dimensional Gaussian, condition number {condition:g} (random "
                   f"rotation, eigenvalues log-spaced)")
    return Model(gaussian_logdensity, np.zeros(dim), description), mean, cov


def breast_cancer_data():
    """(X standardised, y) of scikit-learn's breast-cancer data (569 x 30; needs
    scikit-learn)."""
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        raise ImportError("the logistic example needs scikit-learn: pip install "
                          "scikit-learn") from None
    x, y = load_breast_cancer(return_X_y=True)
    return (x - x.mean(axis=0)) / x.std(axis=0), y.astype(np.float64)


def logistic_model():
    """Logistic regression y ~ Bernoulli(sigmoid(alpha + X beta)), alpha, beta_j ~ N(0, 1)."""
    x, y = breast_cancer_data()

    def logistic_logdensity(params):
        alpha, beta = params["alpha"], params["beta"]
        z = alpha + x @ beta
        log_lik = wnp.sum(y * z - wnp.logaddexp(0.0, z))
        return log_lik - 0.5 * (alpha ** 2 + wnp.sum(beta ** 2)) / PRIOR_SD ** 2

    init = {"alpha": np.zeros(()), "beta": np.zeros(x.shape[1])}
    description = (f"Bayesian logistic regression, breast-cancer data ({x.shape[0]} x "
                   f"{x.shape[1]} standardised, intercept, N(0, {PRIOR_SD:g}^2) priors)")
    return Model(logistic_logdensity, init, description)


def funnel_model(dim=10):
    """Neal's funnel in the non-centred parameterisation: standard normal v_raw and x_raw."""
    def funnel_logdensity(params):
        return -0.5 * (params["v_raw"] ** 2 + wnp.sum(params["x_raw"] ** 2))

    init = {"v_raw": np.zeros(()), "x_raw": np.zeros(dim - 1)}
    description = (f"Neal's funnel, {dim - 1} + 1 dimensions, non-centred (v = 3 v_raw, "
                   f"x = exp(v / 2) x_raw)")
    return Model(funnel_logdensity, init, description)


def _report(result, seconds, max_rows, out):
    summary = result.summary()
    print(summary.table(max_rows), file=out)
    grads = int(result.stats["n_leapfrog"].sum())
    print(f"R-hat max {summary.r_hat.max():.4f} | bulk ESS min {summary.ess_bulk.min():.0f} | "
          f"ESS per gradient {summary.ess_bulk.min() / grads:.4f} ({grads} gradients after "
          f"warm-up, {result.num_grad_evals} in all) | divergences {result.num_divergences} | "
          f"step size {np.mean(result.step_size):.3g} | mean tree depth "
          f"{result.stats['tree_depth'].mean():.2f} | {seconds:.1f} s "
          f"({result.num_grad_evals / seconds:.0f} gradients/s) | E-BFMI min "
          f"{result.e_bfmi().min():.2f}", file=out)


def _check_means(result, exact, label, out, reference_mcse=None):
    """Print how many posterior means lie within 3 standard errors of `exact`; the standard
    error combines our MCSE and, for a reference run, the reference's own."""
    se = mcse_mean(result.draws)
    if reference_mcse is not None:
        se = np.sqrt(se ** 2 + reference_mcse ** 2)
    z = (result.draws.mean(axis=(0, 1)) - exact) / se
    print(f"means vs {label}: {np.sum(np.abs(z) <= 3)}/{z.size} within 3 standard errors, "
          f"max |z| {np.abs(z).max():.2f} (|z| > 3 expected for {0.0027 * z.size:.2f} of "
          f"{z.size} by chance)", file=out)


def run(name, *, num_warmup=1000, num_samples=1000, chains=4, seed=0, mass=None,
        kernel="nuts", out=sys.stdout):
    """Sample the example `name` ("gaussian", "logistic" or "funnel") and print its summary,
    diagnostics and checks. mass: "diag", "dense" or "both" (default: both for the Gaussian,
    diag otherwise). Returns {mass: (SampleResult, seconds)}."""
    if name == "gaussian":
        model, mean, cov = gaussian_model()
    elif name == "logistic":
        model = logistic_model()
    elif name == "funnel":
        model = funnel_model()
    else:
        raise ValueError(f"run: name must be gaussian, logistic or funnel, got {name!r}")
    mass = mass or ("both" if name == "gaussian" else "diag")
    masses = ["diag", "dense"] if mass == "both" else [mass]
    print(f"{model.description}: {kernel.upper()}, {chains} chains x ({num_warmup} warm-up + "
          f"{num_samples} draws), seed {seed}", file=out)
    results = {}
    for m in masses:
        print(f"\n### {m} mass matrix\n", file=out)
        start = time.perf_counter()
        result = sample(model.logdensity, model.init, num_warmup=num_warmup,
                        num_samples=num_samples, chains=chains, seed=seed,
                        dense_mass=(m == "dense"), kernel=kernel)
        seconds = time.perf_counter() - start
        results[m] = (result, seconds)
        _report(result, seconds, 12 if name == "gaussian" else None, out)
        if name == "gaussian":
            _check_means(result, mean, "the exact mean", out)
            _check_variances(result, mean, cov, out)
        elif name == "logistic":
            _check_logistic(result, out)
        else:
            _check_funnel(result, out)
    return results


def _check_variances(result, mean, cov, out):
    """E[(x_i - mean_i)^2] = cov_ii, checked like the means (squared deviations have their
    own, smaller, ESS)."""
    squares = (result.draws - mean) ** 2
    z = (squares.mean(axis=(0, 1)) - np.diag(cov)) / mcse_mean(squares)
    rel = np.abs(squares.mean(axis=(0, 1)) / np.diag(cov) - 1).max()
    print(f"variances vs the exact covariance's diagonal: {np.sum(np.abs(z) <= 3)}/{z.size} "
          f"within 3 standard errors, max |z| {np.abs(z).max():.2f}, max relative error "
          f"{rel:.3f}", file=out)


def _check_logistic(result, out):
    if not REFERENCE.exists():
        print(f"no reference run at {REFERENCE}; make it with `python -m "
              f"wengert.infer.examples reference`", file=out)
        return
    ref = np.load(REFERENCE)
    _check_means(result, ref["mean"], f"the reference run ({ref['command']})", out,
                 reference_mcse=ref["mcse"])


def _check_funnel(result, out):
    """The implied centred v = 3 v_raw must be N(0, 3^2): mean, sd and quantiles."""
    from scipy import stats

    v = 3.0 * result.samples["v_raw"]
    mean_z = v.mean() / mcse_mean(v)
    qs = np.quantile(v, [0.05, 0.5, 0.95])
    exact = stats.norm.ppf([0.05, 0.5, 0.95], scale=3.0)
    x1 = np.exp(v / 2) * result.samples["x_raw"][..., 0]
    print(f"implied v: mean {v.mean():.3f} ({mean_z:+.2f} MCSE from 0), sd {v.std():.3f} "
          f"(exact 3), quantiles 5/50/95% {qs.round(2).tolist()} (exact "
          f"{exact.round(2).tolist()}); implied x_1: median |x_1| "
          f"{np.median(np.abs(x1)):.3f}", file=out)


def make_reference(path=REFERENCE, num_samples=25000, chains=4, seed=20240601):
    """The long reference run for the logistic example: static HMC (a different kernel from the
    NUTS runs it checks) with a dense mass matrix; stores the means, their MCSE and the command
    that made them."""
    model = logistic_model()
    result = sample(model.logdensity, model.init, num_warmup=2000, num_samples=num_samples,
                    chains=chains, seed=seed, kernel="hmc", dense_mass=True)
    summary = result.summary()
    command = "python -m wengert.infer.examples reference"
    np.savez(path, mean=summary.mean, mcse=summary.mcse, names=np.array(result.names),
             r_hat=summary.r_hat, ess_bulk=summary.ess_bulk, command=command,
             settings=f"hmc, dense mass, {chains} chains x (2000 + {num_samples}), seed {seed}")
    print(f"wrote {path}: R-hat max {summary.r_hat.max():.4f}, bulk ESS min "
          f"{summary.ess_bulk.min():.0f}")


if __name__ == "__main__":
    if sys.argv[1:] != ["reference"]:
        sys.exit("usage: python -m wengert.infer.examples reference")
    make_reference()
