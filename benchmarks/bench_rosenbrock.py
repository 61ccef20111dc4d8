"""The cheap-gradient principle on large arrays: the vectorised Rosenbrock function of
n = 1e6 float64 variables,

    f(x) = sum(100 * (x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2),

timed as time(value_and_grad) / time(f) for each implementation (the design target is at or
under 3), and the gradient's time against a hand-written NumPy gradient.

    python benchmarks/bench_rosenbrock.py
"""

import numpy as np

try:
    from . import common
except ImportError:  # run as a script
    import common

import wengert as wg
import wengert.numpy as wnp

N = 1_000_000


def rosenbrock(x, total):
    """The benchmarked function, written once for every array namespace."""
    return total(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def numpy_value_and_grad(x):
    """Hand-written value and gradient, sharing the forward temporaries."""
    a = x[:-1]
    d = x[1:] - a * a
    e = 1 - a
    value = np.sum(100 * d * d + e * e)
    g = np.empty_like(x)
    g[:-1] = -400 * a * d - 2 * e
    g[-1] = 0
    g[1:] += 200 * d
    return value, g


def implementations(x):
    """(name, f, value_and_grad) triples of zero-argument callables; value_and_grad returns
    (value, gradient)."""
    impls = [("NumPy (hand-written gradient)", lambda: rosenbrock(x, np.sum),
              lambda: numpy_value_and_grad(x))]

    def wg_f(x):
        return rosenbrock(x, wnp.sum)

    wg_vg = wg.value_and_grad(wg_f)
    impls.append(("wengert functional", lambda: wg_f(x), lambda: wg_vg(x)))

    x_wg = wg.tensor(x)

    def wg_eager_vg():
        xt = wg.tensor(x, requires_grad=True)
        y = wg_f(xt)
        y.backward()
        return y.detach().numpy(), xt.grad.numpy()

    impls.append(("wengert Tensor (eager)", lambda: wg_f(x_wg), wg_eager_vg))

    torch = common.peer("torch")
    if torch is not None:
        x_t = torch.tensor(x)

        def torch_vg():
            xt = x_t.detach().requires_grad_(True)
            y = rosenbrock(xt, torch.sum)
            y.backward()
            return y.item(), xt.grad.numpy()

        impls.append(("PyTorch eager", lambda: rosenbrock(x_t, torch.sum), torch_vg))

    autograd = common.peer("autograd")
    if autograd is not None:
        import autograd.numpy as anp

        def ag_f(x):
            return rosenbrock(x, anp.sum)

        ag_vg = autograd.value_and_grad(ag_f)
        impls.append(("autograd (HIPS)", lambda: ag_f(x), lambda: ag_vg(x)))

    jax = common.peer("jax")
    if jax is not None:
        import jax.numpy as jnp

        x_j = jnp.asarray(x)

        def jax_f(x):
            return rosenbrock(x, jnp.sum)

        jax_vg = jax.value_and_grad(jax_f)
        impls.append(("JAX (no jit)", lambda: jax_f(x_j).block_until_ready(),
                      lambda: jax.block_until_ready(jax_vg(x_j))))
    return impls


def check(impls, x):
    ref_value, ref_grad = numpy_value_and_grad(x)
    for name, _, vg in impls:
        value, g = vg()
        np.testing.assert_allclose(float(value), ref_value, rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(np.asarray(g), ref_grad, rtol=1e-10, atol=1e-8,
                                   err_msg=name)


def run():
    x = np.random.default_rng(0).uniform(-2, 2, N)
    impls = implementations(x)
    check(impls, x)
    t_f = common.measure_all({name: f for name, f, _ in impls})
    t_vg = common.measure_all({name: vg for name, _, vg in impls})
    base = t_vg["NumPy (hand-written gradient)"]
    rows = [[name, common.fmt_time(t_f[name]), common.fmt_time(t_vg[name]),
             common.fmt_ratio(t_vg[name] / t_f[name]), common.fmt_ratio(t_vg[name] / base)]
            for name, _, _ in impls]
    notes = [
        f"Rosenbrock, n = {N:.0e} float64; f alone and value_and_grad, median of repeats; "
        "the design target for wengert is value+grad / f <= 3.",
        "f for wengert functional and autograd is the same function called on a plain "
        "ndarray; for the eager engines it runs on a tensor that does not record.",
    ]
    notes += common.skipped_notes(["torch", "autograd", "jax"])
    return common.Report(
        "Rosenbrock n = 1e6: cost of the gradient",
        ["implementation", "f", "value+grad", "value+grad / f", "vs NumPy gradient"],
        rows, notes)


if __name__ == "__main__":
    common.main(run, __doc__)
