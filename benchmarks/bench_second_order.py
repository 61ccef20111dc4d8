"""Second-order minimisation of the chained Rosenbrock function, wengert against SciPy in one
process, and the cost of one Hessian and one Hessian-vector product against SciPy's
analytic ones, PyTorch (torch.func) and JAX (jit), where installed.

1. Minimisers on Rosenbrock n = 2 from (-1.2, 1) and n = 1000 from (-1.2, 1, -1.2, ...),
   each pair of methods alike, with SciPy fed the analytic derivatives (rosen_der,
   rosen_hess, rosen_hess_prod) and wengert differentiating `rosenbrock` itself:
   Newton with the exact Hessian / trust-exact, line-search Newton-CG / Newton-CG,
   trust-region Newton-CG / trust-ncg, L-BFGS / L-BFGS-B (both keeping 10 pairs). All run
   to ||grad|| <= 1e-10 (SciPy's L-BFGS-B and wengert's L-BFGS test the largest component),
   except the dense methods at n = 1000, which take over a thousand O(n^3) iterations from
   this start: both run 50 iterations, and the ratio is of the time per iteration.
2. One dense Hessian and one HVP of Rosenbrock n = 1000, each checked against SciPy's
   analytic values before timing; times as ratios to wengert's.

    python benchmarks/bench_second_order.py [--threads 1]
"""

import time

import numpy as np
from scipy.optimize import minimize, rosen, rosen_der, rosen_hess, rosen_hess_prod

try:
    from . import common
except ImportError:  # run as a script
    import common

import wengert as wg
from wengert.optim import lbfgs_minimize, newton_cg_minimize, newton_minimize
from wengert.second_order import rosenbrock, rosenbrock_start

TOL = 1e-10
DENSE_ITERATIONS = 50  # for the dense-Hessian methods at n = 1000
HISTORY = 10  # L-BFGS pairs, SciPy's default


def _timed(fn, repeats):
    """(result of the last call, median seconds of `repeats` calls)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, float(np.median(times))


def minimiser_pairs(n, capped):
    """(name, wengert run, SciPy name, SciPy run) with zero-argument callables that return
    (iterations, f & gradient evaluations, x)."""
    x0 = rosenbrock_start(n)
    dense_iter = DENSE_ITERATIONS if capped else 10000

    def ours(minimiser, **options):
        def run():
            res = minimiser(rosenbrock, x0, **options)
            return res.nit, res.nfev, res.x
        return run

    def scipy(method, **options):
        def run():
            res = minimize(rosen, x0, jac=rosen_der, method=method, **options)
            return res.nit, res.nfev, res.x
        return run

    return [
        ("Newton, exact Hessian",
         ours(newton_minimize, tolerance_grad=0.0 if capped else TOL, max_iter=dense_iter),
         "trust-exact",
         scipy("trust-exact", hess=rosen_hess,
               options={"gtol": 0.0 if capped else TOL, "maxiter": dense_iter})),
        ("Newton-CG, line search", ours(newton_minimize, hessian="hvp", tolerance_grad=TOL,
                                        max_iter=10000),
         "Newton-CG", scipy("Newton-CG", hessp=rosen_hess_prod,
                            options={"xtol": 1e-14, "maxiter": 10000})),
        ("Newton-CG, trust region", ours(newton_cg_minimize, tolerance_grad=TOL,
                                         max_iter=10000),
         "trust-ncg", scipy("trust-ncg", hessp=rosen_hess_prod,
                            options={"gtol": TOL, "maxiter": 10000})),
        ("L-BFGS", ours(lbfgs_minimize, tolerance_grad=TOL, tolerance_change=1e-30,
                        max_iter=20000, max_eval=40000, history_size=HISTORY),
         "L-BFGS-B", scipy("L-BFGS-B", options={"gtol": TOL, "ftol": 0.0, "maxiter": 20000,
                                                "maxfun": 40000, "maxcor": HISTORY})),
    ]


def _cells(result, seconds, per_iteration):
    nit, nfev, x = result
    time_cell = (f"{common.fmt_time(seconds / max(nit, 1))}/it" if per_iteration
                 else common.fmt_time(seconds))
    return [f"{nit:,}", f"{nfev:,}", f"{np.linalg.norm(rosen_der(x)):.1e}",
            f"{rosen(x):.3g}", time_cell]


def minimiser_report():
    rows = []
    for n in (2, 1000):
        for name, ours, scipy_name, theirs in minimiser_pairs(n, capped=n > 2):
            per_iteration = n > 2 and name.startswith("Newton, exact")
            repeats = 5 if n == 2 else 1
            ours_result, ours_s = _timed(ours, repeats)
            ref_result, ref_s = _timed(theirs, repeats)
            ratio = ((ours_s / max(ours_result[0], 1)) / (ref_s / max(ref_result[0], 1))
                     if per_iteration else ours_s / ref_s)
            rows.append([n, f"{name} / {scipy_name}"]
                        + [f"{a} / {b}" for a, b in zip(_cells(ours_result, ours_s,
                                                                per_iteration),
                                                         _cells(ref_result, ref_s,
                                                                per_iteration))]
                        + [common.fmt_ratio(ratio)])
    notes = [
        "Cells are wengert / SciPy. SciPy gets the analytic derivatives; wengert "
        "differentiates the Python function (wg.hessian, HVPs from wg.linearize).",
        f"n = 1000, exact Hessian: both run {DENSE_ITERATIONS} iterations (from this start "
        "they need over 1,400 and reach the local minimum f = 3.99 near x1 = -1); time per "
        "iteration.",
        "SciPy's trust-exact and trust-ncg may stop early with 'a bad approximation' when "
        "rounding limits the model; SciPy's Newton-CG stops on the step size (xtol=1e-14).",
        f"L-BFGS: wengert's lbfgs_minimize and L-BFGS-B, both with {HISTORY} pairs and "
        "strong-Wolfe line searches of different designs, stop on max |grad| <= 1e-10.",
        "ratio: wengert's time over SciPy's (1 run each at n = 1000, median of 5 at n = 2).",
    ]
    return common.Report("Minimising Rosenbrock to ||grad|| <= 1e-10: wengert / SciPy",
                         ["n", "methods", "iterations", "f & grad evals", "final ||grad||",
                          "final f", "time", "time ratio"], rows, notes)


def derivative_implementations(x, v):
    """(name, Hessian, HVP) zero-argument callables for Rosenbrock at x (n = 1000)."""
    hessian = wg.hessian(rosenbrock)
    _, tangent_map = wg.linearize(wg.grad(rosenbrock), x)
    impls = [
        ("wengert", lambda: hessian(x), lambda: wg.hvp(rosenbrock, (x,), (v,))[0]),
        ("wengert, HVP from one linearize", None, lambda: tangent_map(v)),
        ("SciPy analytic (rosen_hess, rosen_hess_prod)", lambda: rosen_hess(x),
         lambda: rosen_hess_prod(x, v)),
    ]
    torch = common.peer("torch")
    if torch is not None:
        import torch.func

        x_t, v_t = torch.tensor(x), torch.tensor(v)

        def torch_f(z):
            return torch.sum(100.0 * (z[1:] - z[:-1] ** 2) ** 2 + (1.0 - z[:-1]) ** 2)

        torch_hessian, torch_grad = torch.func.hessian(torch_f), torch.func.grad(torch_f)
        impls.append(("PyTorch torch.func", lambda: torch_hessian(x_t),
                      lambda: torch.func.jvp(torch_grad, (x_t,), (v_t,))[1]))
    jax = common.peer("jax")
    if jax is not None:
        import jax.numpy as jnp

        x_j, v_j = jnp.asarray(x), jnp.asarray(v)

        def jax_f(z):
            return jnp.sum(100.0 * (z[1:] - z[:-1] ** 2) ** 2 + (1.0 - z[:-1]) ** 2)

        jax_hessian = jax.jit(jax.hessian(jax_f))
        jax_hvp = jax.jit(lambda z, t: jax.jvp(jax.grad(jax_f), (z,), (t,))[1])
        impls.append(("JAX (jit)", lambda: jax_hessian(x_j).block_until_ready(),
                      lambda: jax_hvp(x_j, v_j).block_until_ready()))
    return impls


def derivative_report(n=1000):
    x = rosenbrock_start(n) + np.random.default_rng(0).uniform(-0.1, 0.1, n)
    v = np.random.default_rng(1).standard_normal(n)
    impls = derivative_implementations(x, v)
    for name, hess, hvp in impls:
        if hess is not None:
            np.testing.assert_allclose(np.asarray(hess()), rosen_hess(x), rtol=1e-12,
                                       atol=1e-9, err_msg=name)
        np.testing.assert_allclose(np.asarray(hvp()), rosen_hess_prod(x, v), rtol=1e-12,
                                   atol=1e-9, err_msg=name)
    t_hess = common.measure_all({name: h for name, h, _ in impls if h is not None})
    t_hvp = common.measure_all({name: p for name, _, p in impls})
    base_h, base_p = t_hess["wengert"], t_hvp["wengert"]
    rows = []
    for name, hess, _ in impls:
        hess_cells = (["-", "-"] if hess is None else
                      [common.fmt_time(t_hess[name]), common.fmt_ratio(t_hess[name] / base_h)])
        rows.append([name] + hess_cells
                    + [common.fmt_time(t_hvp[name]), common.fmt_ratio(t_hvp[name] / base_p)])
    notes = [
        f"Rosenbrock n = {n} near the standard start; every Hessian and HVP checked against "
        "SciPy's analytic values before timing; median of interleaved repeats.",
        "wengert: wg.hessian = jacfwd(jacrev(f)), one vmapped forward sweep over n tangents; "
        "wg.hvp = jvp of grad. 'HVP from one linearize': the product through a gradient "
        "recorded once (what the Newton-CG minimisers do per iterate), the recording not timed.",
        "ratios: time / wengert's time.",
    ] + common.skipped_notes(["torch", "jax"])
    return common.Report(f"One Hessian and one HVP of Rosenbrock n = {n}",
                         ["implementation", "Hessian", "vs wengert", "HVP", "vs wengert"],
                         rows, notes)


if __name__ == "__main__":
    common.parse_args(__doc__)
    for report in (minimiser_report(), derivative_report()):
        report.print()
    print("\n" + "\n".join(common.machine_info()))
