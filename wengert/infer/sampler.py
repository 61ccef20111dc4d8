"""`sample`: run several chains of NUTS or static HMC on a log density of unconstrained
parameters, with Stan's warm-up, and collect draws, sampler statistics and diagnostics.

The model is any Python function `logdensity(params) -> scalar` over a pytree of float arrays;
the samplers move a flat float64 vector, and `_Flattener` maps between the two. Gradients come
from `jit(value_and_grad(...))`: for small models the jitted gradient is 4-5 times faster than
the eager one (about 10-20 us against 40-100 us per call for the models of
wengert.infer.examples), and the gradient is most of a leapfrog step's cost.
"""

import math
import time

import numpy as np

from ..core import tree_flatten
from ..ir import jit as jit_transform
from ..optim._flat import ravel_pytree
from ..transforms.api import value_and_grad
from .adaptation import WindowedAdaptation
from .diagnostics import ess_bulk, split_rhat, summary
from .hmc import HMC, Point, initial_step_size, make_metric
from .nuts import NUTS

STAT_NAMES = ("step_size", "tree_depth", "n_leapfrog", "diverging", "accept_stat", "energy",
              "logp")


class _Flattener:
    """Between a pytree of float arrays (the user's parameters) and one flat float64 vector:
    `ravel_pytree`, whose `unflatten` also takes stacks of draws (..., size), plus a name per
    scalar parameter."""

    def __init__(self, tree):
        leaves = [np.asarray(x) for x in tree_flatten(tree)[0]]
        for k, leaf in enumerate(leaves):
            if not np.issubdtype(leaf.dtype, np.floating):
                raise TypeError(
                    f"sample: init leaf {k} has dtype {leaf.dtype}; parameters must be float "
                    f"arrays (HMC moves them continuously); write it as a float, e.g. 1.0.")
        flat, self.unflatten = ravel_pytree(tree)
        self.size = flat.size
        self.names = _leaf_names(tree, [x.shape for x in leaves])

    @staticmethod
    def flatten(tree):
        return ravel_pytree(tree)[0].astype(np.float64)


def _leaf_paths(tree, prefix):
    """Names of the leaves in tree_flatten's order, for dicts, lists and tuples of arrays."""
    if isinstance(tree, dict):
        return [p for key in sorted(tree) for p in _leaf_paths(tree[key], f"{prefix}.{key}")]
    if isinstance(tree, (list, tuple)):
        return [p for k, item in enumerate(tree) for p in _leaf_paths(item, f"{prefix}[{k}]")]
    return [prefix]


def _leaf_names(tree, shapes):
    """One name per scalar parameter: sigma, beta[0], beta[1], w[0,1], ..."""
    paths = _leaf_paths(tree, "")
    if len(paths) != len(shapes):  # a custom pytree node: fall back to generic names
        paths = [f".theta{k}" for k in range(len(shapes))]
    paths = [p.lstrip(".") or "x" for p in paths]
    names = []
    for path, shape in zip(paths, shapes):
        names += [path] if shape == () else [
            f"{path}[{','.join(map(str, idx))}]" for idx in np.ndindex(*shape)]
    return names


class _Potential:
    """`potential(q) -> (logp, grad)` on the flat vector, counting gradient evaluations."""

    def __init__(self, logdensity, flattener, use_jit):
        def flat_logdensity(q):
            return logdensity(flattener.unflatten(q))

        self.fn = value_and_grad(flat_logdensity)
        if use_jit:
            self.fn = jit_transform(self.fn)
        self.use_jit = use_jit
        self.count = 0

    def __call__(self, q):
        self.count += 1
        logp, grad = self.fn(q)
        return float(logp), np.asarray(grad, dtype=np.float64)

    def first_call(self, q):
        """The first evaluation, turning a failure to compile into advice."""
        if not self.use_jit:
            return self(q)
        try:
            return self(q)
        except Exception as e:
            raise RuntimeError(
                f"sample: jit(value_and_grad(logdensity)) failed ({type(e).__name__}: {e}); "
                f"if logdensity branches on parameter values in Python, pass jit=False (or "
                f"use wg.cond / wg.where).") from e


class SampleResult:
    """Draws and statistics of `sample`.

    Attributes:
        samples: the parameters' pytree with each leaf shaped (chains, draws, *leaf shape).
        draws: all parameters flattened, shaped (chains, draws, n_params); `names` labels them.
        stats: dict of (chains, draws) arrays per sampling iteration: step_size, tree_depth,
            n_leapfrog (gradient evaluations), diverging, accept_stat, energy, logp.
        warmup_stats: the same for the warm-up iterations.
        step_size: (chains,) adapted step sizes; inverse_mass: per chain, the adapted
            diagonal (vector) or dense (matrix) inverse mass matrix.
        num_grad_evals: all gradient evaluations, warm-up and step-size searches included.
        time_warmup, time_sampling: seconds, summed over chains.
    """

    def __init__(self, flattener, draws, stats, warmup_stats, step_size, inverse_mass,
                 num_grad_evals, time_warmup, time_sampling):
        self.names = flattener.names
        self.draws = draws
        self.samples = flattener.unflatten(draws)
        self.stats, self.warmup_stats = stats, warmup_stats
        self.step_size, self.inverse_mass = step_size, inverse_mass
        self.num_grad_evals = num_grad_evals
        self.time_warmup, self.time_sampling = time_warmup, time_sampling

    @property
    def num_divergences(self):
        """Divergent transitions after warm-up (any is a warning sign of bias)."""
        return int(self.stats["diverging"].sum())

    def e_bfmi(self):
        """Energy Bayesian fraction of missing information per chain (Betancourt 2016):
        mean squared energy change over the energy variance; below 0.3 the momentum
        resampling moves too little between energy levels (heavy tails, bad metric)."""
        energy = self.stats["energy"]
        return (np.diff(energy, axis=1) ** 2).mean(axis=1) / energy.var(axis=1)

    def summary(self):
        """A diagnostics.Summary of every scalar parameter (print it for a table)."""
        return summary(self.draws, self.names)

    def max_rhat(self):
        return float(np.max(split_rhat(self.draws)))

    def min_ess_bulk(self):
        return float(np.min(ess_bulk(self.draws)))

    def ess_per_grad(self):
        """The smallest bulk ESS per gradient evaluation of the sampling phase (the cost
        measure that does not depend on the speed of the machine)."""
        return self.min_ess_bulk() / float(self.stats["n_leapfrog"].sum())


def _check_count(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"sample: {name} must be an integer >= {minimum}, got {value!r}")


def _initial_position(q0, rng, jitter, logp):
    """A chain's start: q0 moved by uniform(-jitter, jitter) noise, redrawn (up to 100 times)
    until the log density is finite there."""
    for _ in range(100):
        q = q0 + rng.uniform(-jitter, jitter, size=q0.shape) if jitter else q0
        if math.isfinite(logp(q)):
            return q
    raise ValueError(
        "sample: logdensity is not finite at init"
        + (f" nor at 100 random points within +-{jitter} of it" if jitter else "")
        + "; give an init inside the support (or a smaller init_jitter).")


def _validate_init(logdensity, init, flattener):
    """Clear errors for what would otherwise fail deep inside the sampler; returns init as
    a flat vector."""
    q = flattener.flatten(init)
    bad = ~np.isfinite(q)
    if bad.any():
        raise ValueError(f"sample: init contains NaN or inf (at {flattener.names[np.argmax(bad)]}"
                         "); give finite starting values.")
    with np.errstate(all="ignore"):  # a non-finite value gets its own error below
        out = logdensity(init)
    if np.ndim(out) != 0:
        fname = getattr(logdensity, "__name__", "logdensity")
        raise ValueError(
            f"sample: logdensity {fname} must return a scalar log density, got an array of "
            f"shape {np.shape(out)}; sum the terms, e.g. wnp.sum(log_likelihoods).")
    return q


def _run_chain(kernel, potential, q, rng, num_warmup, num_samples, step_size, inv_mass,
               target_accept, adapt_mass):
    """Warm-up then sampling for one chain; returns (draws, stats, warmup_stats, step size,
    inverse mass, seconds of warm-up, seconds of sampling)."""
    logp, grad = potential(q)
    point = Point(q, None, None, logp, grad)
    metric = make_metric(inv_mass)
    if step_size is None:
        step_size = initial_step_size(q, logp, grad, rng, 1.0, metric, potential)
    adaptation = (WindowedAdaptation(num_warmup, step_size, inv_mass, target_accept,
                                     adapt_mass) if num_warmup else None)
    total = num_warmup + num_samples
    draws = np.empty((num_samples, q.shape[0]))
    stats = {name: np.empty(total) for name in STAT_NAMES}
    step = step_size
    start = switch = time.perf_counter()
    for i in range(total):
        if i == num_warmup:
            switch = time.perf_counter()
        point, info = kernel.step(point, rng, step, metric)
        stats["step_size"][i] = step
        stats["tree_depth"][i], stats["n_leapfrog"][i] = info.tree_depth, info.n_leapfrog
        stats["diverging"][i], stats["accept_stat"][i] = info.diverging, info.accept_stat
        stats["energy"][i], stats["logp"][i] = info.energy, point.logp
        if i < num_warmup:
            step, new_metric = adaptation.update(i, point.q, info.accept_stat)
            if new_metric is not None:
                metric = new_metric
                step = initial_step_size(point.q, point.logp, point.grad, rng, step, metric,
                                         potential)
                adaptation.restart(step)
        else:
            draws[i - num_warmup] = point.q
    end = time.perf_counter()
    types = {"tree_depth": np.int64, "n_leapfrog": np.int64, "diverging": bool}
    stats = {k: v.astype(types.get(k, np.float64)) for k, v in stats.items()}
    warmup_stats = {k: v[:num_warmup] for k, v in stats.items()}
    stats = {k: v[num_warmup:] for k, v in stats.items()}
    return draws, stats, warmup_stats, step, metric.inv_mass, switch - start, end - switch


def sample(logdensity, init, *, num_warmup=1000, num_samples=1000, chains=4, seed=0,
           kernel="nuts", target_accept=0.8, dense_mass=False, max_tree_depth=10,
           num_steps=16, step_size=None, inverse_mass=None, adapt_mass=True, init_jitter=2.0,
           jit=True):
    """Draw from exp(logdensity) with NUTS (or static HMC), several chains, Stan's warm-up.

    Args:
        logdensity: `logdensity(params) -> scalar`, the log density (up to a constant) of
            unconstrained parameters, written with wengert.numpy (see
            wengert.infer.constraints for positive and interval parameters).
        init: the parameters' pytree (an array, or a dict/list of arrays) to start from.
        num_warmup, num_samples: iterations of warm-up (adaptation; discarded) and of
            sampling, per chain.
        chains: number of chains (run one after the other); seed: the chains' generators are
            numpy Generators spawned from SeedSequence(seed), so results are reproducible.
        kernel: "nuts" (default) or "hmc" (static HMC, `num_steps` leapfrog steps).
        target_accept: the mean acceptance statistic the step size adapts to (0.8; raise it
            towards 0.95 when there are divergences).
        dense_mass: adapt a dense inverse mass matrix instead of a diagonal one (worth it when
            parameters are strongly correlated and not too many).
        max_tree_depth: NUTS trajectories stop at 2**max_tree_depth leapfrog steps.
        step_size: the first step size (default: Stan's search); with num_warmup=0 it is the
            step size used throughout.
        inverse_mass: the initial inverse mass matrix (vector: diagonal; matrix: dense),
            default the identity; adapt_mass=False keeps it.
        init_jitter: each chain starts at init + uniform(-init_jitter, init_jitter) noise (so
            that R-hat can see chains that do not meet); 0 to start exactly at init.
        jit: compile the gradient with wg.jit (much faster for small models); False for a
            log density with Python branches on parameter values.

    Returns:
        A SampleResult: `.samples` (leaves shaped (chains, draws, ...)), `.stats`,
        `.summary()`, `.max_rhat()`, `.min_ess_bulk()`, `.ess_per_grad()`.

    >>> import wengert.numpy as wnp
    >>> result = sample(lambda x: -0.5 * wnp.sum(x ** 2), np.zeros(3), num_warmup=200,
    ...                 num_samples=200, chains=2)
    >>> result.samples.shape
    (2, 200, 3)
    """
    _check_count(num_warmup, "num_warmup", 0)
    _check_count(num_samples, "num_samples", 4)
    _check_count(chains, "chains", 1)
    _check_count(max_tree_depth, "max_tree_depth", 1)
    if kernel not in ("nuts", "hmc"):
        raise ValueError(f"sample: kernel must be 'nuts' or 'hmc', got {kernel!r}")
    if not 0.0 < target_accept < 1.0:
        raise ValueError(f"sample: target_accept must be in (0, 1), got {target_accept!r}")
    if step_size is not None and not step_size > 0:
        raise ValueError(f"sample: step_size must be positive, got {step_size!r}")
    flattener = _Flattener(init)
    q0 = _validate_init(logdensity, init, flattener)
    dim = flattener.size
    if inverse_mass is None:
        inverse_mass = np.eye(dim) if dense_mass else np.ones(dim)
    elif np.shape(inverse_mass) not in ((dim,), (dim, dim)):
        raise ValueError(
            f"sample: inverse_mass must have shape ({dim},) or ({dim}, {dim}) for {dim} "
            f"parameters, got {np.shape(inverse_mass)}")

    potential = _Potential(logdensity, flattener, jit)
    seeds = np.random.SeedSequence(seed).spawn(chains)
    rngs = [np.random.default_rng(s) for s in seeds]
    with np.errstate(all="ignore"):  # divergent trajectories overflow; they are rejected
        potential.first_call(q0)
        starts = [_initial_position(q0, rng, init_jitter, lambda q: potential(q)[0])
                  for rng in rngs]
        step_kernel = (NUTS(potential, max_tree_depth) if kernel == "nuts"
                       else HMC(potential, num_steps))
        runs = [_run_chain(step_kernel, potential, starts[c], rngs[c], num_warmup,
                           num_samples, step_size, inverse_mass, target_accept, adapt_mass)
                for c in range(chains)]
    draws, stats, warmup_stats, steps, inv_masses, t_warm, t_samp = zip(*runs)
    return SampleResult(
        flattener, np.stack(draws), {k: np.stack([s[k] for s in stats]) for k in STAT_NAMES},
        {k: np.stack([s[k] for s in warmup_stats]) for k in STAT_NAMES}, np.array(steps),
        list(inv_masses), potential.count, sum(t_warm), sum(t_samp))
