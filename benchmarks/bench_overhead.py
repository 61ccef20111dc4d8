"""Per-op overhead: a chain of 1000 cheap operations on a 1-element float64 array.

999 elementwise operations (x * 1.0001, x + 0.0001, sin(x), repeated) and a final sum, so the
arithmetic is negligible and the time is the framework's bookkeeping per operation. Reported
in microseconds per operation for (a) the forward pass only and (b) value and gradient, with
the ratio to PyTorch eager.

    python benchmarks/bench_overhead.py
"""

import numpy as np

try:
    from . import common
except ImportError:  # run as a script
    import common

import wengert as wg
import wengert.numpy as wnp

N_CYCLES = 333  # three elementwise ops per cycle, plus the final sum: 1000 ops
N_OPS = 3 * N_CYCLES + 1
X0 = np.array([0.5])


def chain(x, sin, total):
    """The benchmarked function, written once for every array namespace."""
    for _ in range(N_CYCLES):
        x = x * 1.0001
        x = x + 0.0001
        x = sin(x)
    return total(x)


def numpy_value_and_grad(x):
    """Hand-written forward and backward pass: saves what the backward needs (the inputs of
    sin), then multiplies the local derivatives in reverse."""
    saved = []
    for _ in range(N_CYCLES):
        x = x * 1.0001
        x = x + 0.0001
        saved.append(x)
        x = np.sin(x)
    value = np.sum(x)
    g = np.ones_like(x)
    for s in reversed(saved):
        g = g * np.cos(s)
        g = g * 1.0001
    return value, g


def implementations():
    """(name, forward, value_and_grad) triples; each callable takes no argument and returns
    (value, gradient) for value_and_grad. Peers that are not installed are left out."""
    impls = [
        ("NumPy (hand-written backward)",
         lambda: chain(X0, np.sin, np.sum),
         lambda: numpy_value_and_grad(X0)),
    ]

    def wg_eager_forward():
        return chain(wg.tensor(X0), wnp.sin, wnp.sum)

    def wg_eager_vg():
        x = wg.tensor(X0, requires_grad=True)
        y = chain(x, wnp.sin, wnp.sum)
        y.backward()
        return y.detach().numpy(), x.grad.numpy()

    def wg_loss(x):
        return chain(x, wnp.sin, wnp.sum)

    wg_vg = wg.value_and_grad(wg_loss)
    impls += [
        ("wengert Tensor (eager)", wg_eager_forward, wg_eager_vg),
        # Forward on plain ndarrays: wnp functions without any trace (the operators are
        # NumPy's own), which is what calling the user's function costs.
        ("wengert functional", lambda: wg_loss(X0), lambda: wg_vg(X0)),
    ]

    torch = common.peer("torch")
    if torch is not None:
        x_t = torch.tensor(X0)

        def torch_forward():
            return chain(x_t, torch.sin, torch.sum)

        def torch_vg():
            x = x_t.clone().requires_grad_(True)
            y = chain(x, torch.sin, torch.sum)
            y.backward()
            return y.item(), x.grad.numpy()

        impls.append(("PyTorch eager", torch_forward, torch_vg))

    autograd = common.peer("autograd")
    if autograd is not None:
        import autograd.numpy as anp

        def ag_loss(x):
            return chain(x, anp.sin, anp.sum)

        impls.append(("autograd (HIPS)", lambda: ag_loss(X0),
                      lambda: autograd.value_and_grad(ag_loss)(X0)))

    jax = common.peer("jax")
    if jax is not None:
        import jax.numpy as jnp

        x_j = jnp.asarray(X0)

        def jax_loss(x):
            return chain(x, jnp.sin, jnp.sum)

        jax_vg = jax.value_and_grad(jax_loss)

        def jax_vg_call():
            value, g = jax_vg(x_j)
            return value.block_until_ready(), g.block_until_ready()

        impls.append(("JAX (no jit)", lambda: jax_loss(x_j).block_until_ready(), jax_vg_call))
    return impls


def check(impls):
    """Every implementation computes the same value and gradient as hand-written NumPy."""
    ref_value, ref_grad = numpy_value_and_grad(X0)
    for name, _, vg in impls:
        value, g = vg()
        np.testing.assert_allclose(np.asarray(value), ref_value, rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(np.asarray(g), ref_grad, rtol=1e-10, err_msg=name)


def run():
    impls = implementations()
    check(impls)
    fwd = common.measure_all({name: f for name, f, _ in impls})
    vg = common.measure_all({name: g for name, _, g in impls})
    results = {name: (fwd[name] / N_OPS, vg[name] / N_OPS) for name, _, _ in impls}
    base = results.get("PyTorch eager")
    rows = []
    for name, (t_fwd, t_vg) in results.items():
        rows.append([
            name,
            f"{t_fwd * 1e6:.2f}", common.fmt_ratio(t_fwd / base[0]) if base else "-",
            f"{t_vg * 1e6:.2f}", common.fmt_ratio(t_vg / base[1]) if base else "-",
        ])
    notes = [
        f"A chain of {N_OPS} ops (x*1.0001, x+0.0001, sin, repeated; then sum) on a "
        "1-element float64 array; times are per op, median of repeats.",
        "Forward: PyTorch, wengert Tensor and JAX on their own arrays without recording; "
        "the wengert functional (wg.value_and_grad) and autograd rows call the same function "
        "on plain ndarrays (so only sin and sum go through the library).",
    ]
    notes += common.skipped_notes(["torch", "autograd", "jax"])
    return common.Report(
        "Per-op overhead (µs per op, 1-element float64)",
        ["implementation", "forward µs/op", "vs PyTorch", "value+grad µs/op", "vs PyTorch"],
        rows, notes)


if __name__ == "__main__":
    common.main(run, __doc__)
