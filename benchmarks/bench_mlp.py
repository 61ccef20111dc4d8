"""MLP 784-1024-1024-10, batch 256, float32, relu, softmax cross-entropy: the time of one
value-and-gradient (with respect to all weights and biases), as a ratio to a hand-written
NumPy forward and backward pass.

The matrix products dominate, so this measures what the engine adds around BLAS: extra
copies, dtype promotions, unneeded cotangents. Every implementation runs on the BLAS it ships
with (NumPy's OpenBLAS; PyTorch's own; XLA's Eigen), with the thread settings as found.

    python benchmarks/bench_mlp.py
"""

import numpy as np

try:
    from . import common
except ImportError:  # run as a script
    import common

import wengert as wg
import wengert.numpy as wnp
from wengert.scipy.special import logsumexp

SIZES = (784, 1024, 1024, 10)
BATCH = 256
NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")


def make_problem(seed=0):
    """float32 parameters (He-initialised), inputs and one-hot labels."""
    rng = np.random.default_rng(seed)
    params = {}
    for k, (n_in, n_out) in enumerate(zip(SIZES[:-1], SIZES[1:]), start=1):
        params[f"W{k}"] = (rng.standard_normal((n_in, n_out)) * np.sqrt(2 / n_in)).astype(
            np.float32)
        params[f"b{k}"] = (0.01 * rng.standard_normal(n_out)).astype(np.float32)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    onehot = np.eye(SIZES[-1], dtype=np.float32)[rng.integers(0, SIZES[-1], BATCH)]
    return params, x, onehot


def mlp_loss(p, x, onehot, relu, logsumexp_rows, total):
    """Mean softmax cross-entropy of the MLP, written once for every array namespace."""
    h = relu(x @ p["W1"] + p["b1"])
    h = relu(h @ p["W2"] + p["b2"])
    logits = h @ p["W3"] + p["b3"]
    return -total(onehot * (logits - logsumexp_rows(logits))) / BATCH


def numpy_value_and_grad(p, x, onehot):
    """Hand-written forward and backward pass, in place where it can be (the bar to meet)."""
    a1 = x @ p["W1"]
    a1 += p["b1"]
    np.maximum(a1, 0, out=a1)
    a2 = a1 @ p["W2"]
    a2 += p["b2"]
    np.maximum(a2, 0, out=a2)
    z = a2 @ p["W3"]
    z += p["b3"]
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = -(onehot * (z - np.log(s))).sum() / BATCH
    dz = e
    dz /= s
    dz -= onehot
    dz *= 1 / BATCH
    g = {"W3": a2.T @ dz, "b3": dz.sum(axis=0)}
    da2 = dz @ p["W3"].T
    da2 *= a2 > 0
    g["W2"], g["b2"] = a1.T @ da2, da2.sum(axis=0)
    da1 = da2 @ p["W2"].T
    da1 *= a1 > 0
    g["W1"], g["b1"] = x.T @ da1, da1.sum(axis=0)
    return loss, g


def wengert_logsumexp_rows(z):
    return logsumexp(z, axis=1, keepdims=True)


def wengert_relu(h):
    return wnp.maximum(h, 0)


def implementations(params, x, onehot):
    """(name, value_and_grad) pairs; each callable returns (loss, {name: gradient})."""
    impls = [("NumPy (hand-written backward)", lambda: numpy_value_and_grad(params, x, onehot))]

    def wg_loss(p):
        return mlp_loss(p, x, onehot, wengert_relu, wengert_logsumexp_rows, wnp.sum)

    wg_vg = wg.value_and_grad(wg_loss)
    impls.append(("wengert functional", lambda: wg_vg(params)))

    wg_params = {k: wg.tensor(v, requires_grad=True) for k, v in params.items()}

    def wg_eager_vg():
        for t in wg_params.values():
            t.grad = None
        loss = wg_loss(wg_params)
        loss.backward()
        return loss.detach().numpy(), {k: t.grad.numpy() for k, t in wg_params.items()}

    impls.append(("wengert Tensor (eager)", wg_eager_vg))

    torch = common.peer("torch")
    if torch is not None:
        t_params = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        t_x, t_onehot = torch.tensor(x), torch.tensor(onehot)

        def torch_lse(z):
            return torch.logsumexp(z, 1, keepdim=True)

        def torch_vg():
            for t in t_params.values():
                t.grad = None
            loss = mlp_loss(t_params, t_x, t_onehot, torch.relu, torch_lse, torch.sum)
            loss.backward()
            return loss.item(), {k: t.grad.numpy() for k, t in t_params.items()}

        impls.append(("PyTorch eager", torch_vg))

    autograd = common.peer("autograd")
    if autograd is not None:
        import autograd.numpy as anp
        from autograd.scipy.special import logsumexp as ag_logsumexp

        def ag_loss(p):
            return mlp_loss(p, x, onehot, lambda h: anp.maximum(h, 0),
                            lambda z: ag_logsumexp(z, axis=1, keepdims=True), anp.sum)

        ag_vg = autograd.value_and_grad(ag_loss)
        impls.append(("autograd (HIPS)", lambda: ag_vg(params)))

    jax = common.peer("jax")
    if jax is not None:
        import jax.numpy as jnp

        j_params = {k: jnp.asarray(v) for k, v in params.items()}
        j_x, j_onehot = jnp.asarray(x), jnp.asarray(onehot)

        def jax_loss(p, x, onehot):
            return mlp_loss(p, x, onehot, jax.nn.relu,
                            lambda z: jax.nn.logsumexp(z, axis=1, keepdims=True), jnp.sum)

        jax_vg = jax.value_and_grad(jax_loss)
        jax_vg_jit = jax.jit(jax_vg)
        impls.append(("JAX (no jit)",
                      lambda: jax.block_until_ready(jax_vg(j_params, j_x, j_onehot))))
        impls.append(("JAX jit (reference)",
                      lambda: jax.block_until_ready(jax_vg_jit(j_params, j_x, j_onehot))))
    return impls


def check(impls, params, x, onehot):
    """Every implementation agrees with hand-written NumPy, and every gradient is float32."""
    ref_loss, ref_grad = numpy_value_and_grad(params, x, onehot)
    for name, vg in impls:
        loss, g = vg()
        np.testing.assert_allclose(float(loss), ref_loss, rtol=1e-4, err_msg=name)
        for k in NAMES:
            gk = np.asarray(g[k])
            assert gk.dtype == np.float32, f"{name}: gradient {k} is {gk.dtype}, not float32"
            np.testing.assert_allclose(gk, ref_grad[k], rtol=1e-3, atol=1e-5,
                                       err_msg=f"{name}: {k}")


def run():
    params, x, onehot = make_problem()
    impls = implementations(params, x, onehot)
    check(impls, params, x, onehot)
    times = common.measure_all(dict(impls))
    base = times["NumPy (hand-written backward)"]
    rows = [[name, common.fmt_time(t), common.fmt_ratio(t / base)] for name, t in times.items()]
    notes = [
        f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, float32, relu, softmax "
        "cross-entropy; value and gradient with respect to all six parameters (not the "
        "inputs); median of repeats. All gradients checked float32 and equal to NumPy's.",
        "BLAS: " + "; ".join(common.blas_info()),
        "JAX runs on XLA's own CPU thread pool (not visible to threadpoolctl); "
        "jit is an extra reference, not a peer of eager execution.",
    ]
    notes += common.skipped_notes(["torch", "autograd", "jax"])
    return common.Report("MLP value and gradient (ratio to hand-written NumPy)",
                         ["implementation", "value+grad", "vs NumPy"], rows, notes)


if __name__ == "__main__":
    common.main(run, __doc__)
