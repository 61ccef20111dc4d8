"""NUTS in wengert.infer against NumPyro and BlackJAX (where installed) on the same models:
gradient evaluations per second and bulk effective samples per gradient evaluation.

Models (from wengert.infer.examples): the 100-dimensional Gaussian with condition number 1e3,
and Bayesian logistic regression on the breast-cancer data. Every sampler runs NUTS with a
diagonal mass matrix adapted by Stan-style windowed warm-up, target acceptance 0.8, the same
number of chains (run one after the other), warm-up and draws; ESS is computed for all of them
with wengert.infer.diagnostics (the smallest bulk ESS over the parameters), gradients are the
leapfrog steps after warm-up. The JAX samplers run a second time with the same shapes so that
their times exclude compilation.

    python benchmarks/bench_infer.py [--chains 2 --warmup 500 --samples 500]
"""

import time

import common
from common import np

from wengert.infer import ess_bulk, examples, sample

MARGINAL = []  # NumPyro's marginal gradients per second, one per model


def wengert_nuts(logdensity, init, args, jit=True):
    """(draws, gradients after warm-up, all gradients, seconds) of one run, like the peers."""
    start = time.perf_counter()
    result = sample(logdensity, init, num_warmup=args.warmup, num_samples=args.samples,
                    chains=args.chains, seed=args.seed, jit=jit)
    seconds = time.perf_counter() - start
    return result.draws, int(result.stats["n_leapfrog"].sum()), result.num_grad_evals, seconds


def _jax_models():
    """The two models in jax.numpy, as (name, logdensity of a flat vector, dimension)."""
    jnp = common.peer("jax").numpy
    gauss, mean, cov = examples.gaussian_model()
    precision = np.linalg.inv(cov)
    x, y = examples.breast_cancer_data()

    def gaussian(q):
        d = q - mean
        return -0.5 * d @ (precision @ d)

    def logistic(q):
        z = q[0] + x @ q[1:]
        log_lik = jnp.sum(y * z - jnp.logaddexp(0.0, z))
        return log_lik - 0.5 * jnp.sum(q ** 2) / examples.PRIOR_SD ** 2

    return {"gaussian": (gaussian, mean.size), "logistic": (logistic, x.shape[1] + 1)}


def numpyro_nuts(logdensity, dim, args):
    """NumPyro traces and compiles anew on every run (about 2-3 s here), so besides the run
    this also reports the marginal rate of gradients: extra gradients over extra time of a
    run with 4 times the draws."""
    jax = common.peer("jax")
    from numpyro.infer import MCMC, NUTS

    init = jax.numpy.zeros((args.chains, dim))
    key = jax.random.PRNGKey(args.seed)

    def run(num_samples):
        mcmc = MCMC(NUTS(potential_fn=lambda q: -logdensity(q), target_accept_prob=0.8),
                    num_warmup=args.warmup, num_samples=num_samples, num_chains=args.chains,
                    chain_method="sequential", progress_bar=False)
        start = time.perf_counter()
        mcmc.warmup(key, init_params=init, extra_fields=("num_steps",), collect_warmup=True)
        warmup_grads = int(np.sum(mcmc.get_extra_fields()["num_steps"]))
        mcmc.run(mcmc.post_warmup_state.rng_key, extra_fields=("num_steps",))
        draws = np.asarray(mcmc.get_samples(group_by_chain=True))
        seconds = time.perf_counter() - start
        grads = int(np.sum(mcmc.get_extra_fields()["num_steps"]))
        return draws, grads, warmup_grads + grads, seconds

    run(args.samples)  # warm JAX's caches
    result = run(args.samples)
    longer = run(4 * args.samples)
    MARGINAL.append((longer[2] - result[2]) / (longer[3] - result[3]))
    return result


def blackjax_nuts(logdensity, dim, args):
    jax = common.peer("jax")
    import blackjax

    def one_chain(key):
        warm_key, sample_key = jax.random.split(key)
        adapt = blackjax.window_adaptation(blackjax.nuts, logdensity, target_acceptance_rate=0.8)
        (state, params), warm_info = adapt.run(warm_key, jax.numpy.zeros(dim),
                                               num_steps=args.warmup)
        kernel = blackjax.nuts(logdensity, **params).step

        def body(state, key):
            state, info = kernel(key, state)
            return state, (state.position, info.num_integration_steps)

        _, (positions, steps) = jax.lax.scan(body, state,
                                             jax.random.split(sample_key, args.samples))
        return positions, steps, warm_info.info.num_integration_steps

    keys = jax.random.split(jax.random.PRNGKey(args.seed), args.chains)
    compiled = jax.jit(one_chain)

    def run():
        out = [compiled(k) for k in keys]
        jax.block_until_ready(out)
        return out

    run()  # compile
    start = time.perf_counter()
    out = run()
    seconds = time.perf_counter() - start
    draws = np.stack([np.asarray(p) for p, _, _ in out])
    grads = int(sum(np.sum(s) for _, s, _ in out))
    return draws, grads, grads + int(sum(np.sum(w) for _, _, w in out)), seconds


def main():
    def extra(parser):
        parser.add_argument("--chains", type=int, default=2)
        parser.add_argument("--warmup", type=int, default=500)
        parser.add_argument("--samples", type=int, default=500)
        parser.add_argument("--seed", type=int, default=0)

    args = common.parse_args(__doc__.splitlines()[0], extra=extra)
    gauss, _, _ = examples.gaussian_model()
    models = {"gaussian": (gauss.logdensity, gauss.init),
              "logistic": tuple(examples.logistic_model()[:2])}
    jax_models = _jax_models() if common.peer("jax") is not None else {}
    peers = {}
    for name, runner in (("numpyro", numpyro_nuts), ("blackjax", blackjax_nuts)):
        try:
            __import__(name)
            peers[name] = runner
        except ImportError:
            pass

    rows = []
    for model, (logdensity, init) in models.items():
        results = {"wengert": wengert_nuts(logdensity, init, args)}
        if model == "logistic":  # is jit worth it for a small model? (the same chains)
            results["wengert, jit=False"] = wengert_nuts(logdensity, init, args, jit=False)
        for peer, runner in peers.items():
            results[peer] = runner(*jax_models[model], args)
        base_rate = base_epg = None
        for impl, (draws, grads, all_grads, seconds) in results.items():
            ess = float(np.min(ess_bulk(draws)))
            rate, epg = all_grads / seconds, ess / grads
            base_rate, base_epg = base_rate or rate, base_epg or epg
            rows.append([model, impl, f"{ess:.0f}", all_grads, common.fmt_time(seconds),
                         f"{rate:.0f}", common.fmt_ratio(rate / base_rate), f"{epg:.4f}",
                         common.fmt_ratio(epg / base_epg)])
    notes = [f"NUTS, diagonal mass matrix, {args.chains} chains x ({args.warmup} warm-up + "
             f"{args.samples} draws), seed {args.seed}; gradients and time: the whole run, "
             "warm-up included (the JAX samplers' second, compiled, run); ESS/grad: the "
             "smallest bulk ESS over the gradients after warm-up",
             "ratios: the sampler's figure over wengert's (above 1: better than wengert)"]
    if MARGINAL:
        notes.append("NumPyro's marginal grads/s (compilation excluded): " + ", ".join(
            f"{model} {rate:.0f}" for model, rate in zip(models, MARGINAL)))
    missing = [n for n in ("numpyro", "blackjax") if n not in peers]
    if missing:
        notes.append("Skipped (not installed): " + ", ".join(missing))
    common.Report("NUTS: gradients per second and ESS per gradient",
                  ["model", "sampler", "min bulk ESS", "all gradients", "time", "grads/s",
                   "grads/s ratio", "ESS/grad", "ESS/grad ratio"], rows, notes).print()
    print("\n" + "\n".join(common.machine_info()))


if __name__ == "__main__":
    main()
