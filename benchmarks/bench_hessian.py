"""Second derivatives: the full Hessian and one Hessian-vector product of

    f(x) = logsumexp(A @ x) + 0.5 * |x|^2,    A: 400 x 200 float64,

whose Hessian is A^T (diag(p) - p p^T) A + I with p = softmax(A @ x). Every implementation's
Hessian and HVP are checked against that formula before timing. Reported: the times, and each
as a ratio to the time of f in the same framework (an HVP should cost a small constant
times f).

    python benchmarks/bench_hessian.py
"""

import numpy as np

try:
    from . import common
except ImportError:  # run as a script
    import common

import wengert as wg
import wengert.numpy as wnp
from wengert.scipy.special import logsumexp

M, N = 400, 200


def make_problem(seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((M, N)) / np.sqrt(N)
    return A, rng.standard_normal(N), rng.standard_normal(N)


def numpy_f(A, x):
    z = A @ x
    m = z.max()
    return m + np.log(np.sum(np.exp(z - m))) + 0.5 * (x @ x)


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def numpy_hessian(A, x):
    """Analytic Hessian A^T (diag(p) - p p^T) A + I, without forming diag(p)."""
    p = _softmax(A @ x)
    Atp = A.T @ p
    H = (A.T * p) @ A
    H -= np.outer(Atp, Atp)
    H[np.diag_indices(N)] += 1
    return H


def numpy_hvp(A, x, v):
    """Analytic Hessian-vector product A^T (p * Av - p (p . Av)) + v."""
    p = _softmax(A @ x)
    Av = A @ v
    return A.T @ (p * (Av - p @ Av)) + v


def implementations(A, x, v):
    """(name, f, hessian, hvp) tuples of zero-argument callables."""
    impls = [("NumPy (analytic)", lambda: numpy_f(A, x), lambda: numpy_hessian(A, x),
              lambda: numpy_hvp(A, x, v))]

    def wg_f(x):
        return logsumexp(A @ x) + 0.5 * wnp.sum(x ** 2)

    wg_hess = wg.hessian(wg_f)
    impls.append(("wengert", lambda: wg_f(x), lambda: wg_hess(x),
                  lambda: wg.hvp(wg_f, (x,), (v,))[0]))

    torch = common.peer("torch")
    if torch is not None:
        import torch.func

        A_t, x_t, v_t = torch.tensor(A), torch.tensor(x), torch.tensor(v)

        def torch_f(x):
            return torch.logsumexp(A_t @ x, 0) + 0.5 * torch.sum(x ** 2)

        torch_hess = torch.func.hessian(torch_f)
        torch_grad = torch.func.grad(torch_f)
        impls.append(("PyTorch torch.func", lambda: torch_f(x_t), lambda: torch_hess(x_t),
                      lambda: torch.func.jvp(torch_grad, (x_t,), (v_t,))[1]))

    autograd = common.peer("autograd")
    if autograd is not None:
        import autograd.numpy as anp
        from autograd.scipy.special import logsumexp as ag_logsumexp

        def ag_f(x):
            return ag_logsumexp(anp.dot(A, x)) + 0.5 * anp.sum(x ** 2)

        ag_hess = autograd.hessian(ag_f)
        ag_hvp = autograd.hessian_vector_product(ag_f)
        impls.append(("autograd (HIPS)", lambda: ag_f(x), lambda: ag_hess(x),
                      lambda: ag_hvp(x, v)))

    jax = common.peer("jax")
    if jax is not None:
        import jax.numpy as jnp

        A_j, x_j, v_j = jnp.asarray(A), jnp.asarray(x), jnp.asarray(v)

        def jax_f(x):
            return jax.nn.logsumexp(A_j @ x) + 0.5 * jnp.sum(x ** 2)

        jax_hess = jax.hessian(jax_f)
        jax_grad = jax.grad(jax_f)
        impls.append(("JAX (no jit)", lambda: jax_f(x_j).block_until_ready(),
                      lambda: jax_hess(x_j).block_until_ready(),
                      lambda: jax.jvp(jax_grad, (x_j,), (v_j,))[1].block_until_ready()))
    return impls


def check(impls, A, x, v):
    """wengert's Hessian (and every peer's) equals the analytic Hessian; likewise the HVP."""
    ref_f, ref_h, ref_hvp = numpy_f(A, x), numpy_hessian(A, x), numpy_hvp(A, x, v)
    for name, f, hess, hvp in impls:
        np.testing.assert_allclose(float(f()), ref_f, rtol=1e-12, err_msg=name)
        np.testing.assert_allclose(np.asarray(hess()), ref_h, rtol=1e-9, atol=1e-12,
                                   err_msg=f"{name}: Hessian")
        np.testing.assert_allclose(np.asarray(hvp()), ref_hvp, rtol=1e-9, atol=1e-12,
                                   err_msg=f"{name}: HVP")


def run():
    A, x, v = make_problem()
    impls = implementations(A, x, v)
    check(impls, A, x, v)
    t_f = common.measure_all({name: f for name, f, _, _ in impls})
    t_h = common.measure_all({name: h for name, _, h, _ in impls})
    t_hvp = common.measure_all({name: p for name, _, _, p in impls})
    base_h = t_h["NumPy (analytic)"]
    rows = [[name, common.fmt_time(t_f[name]),
             common.fmt_time(t_h[name]), common.fmt_ratio(t_h[name] / t_f[name]),
             common.fmt_ratio(t_h[name] / base_h),
             common.fmt_time(t_hvp[name]), common.fmt_ratio(t_hvp[name] / t_f[name])]
            for name, _, _, _ in impls]
    notes = [
        f"f(x) = logsumexp(A @ x) + 0.5 |x|^2, A {M}x{N} float64; every Hessian and HVP "
        "checked against the analytic formula before timing; median of repeats.",
        "wengert: hessian = jacfwd(jacrev(f)); hvp = jvp of grad; "
        "wengert.scipy.special.logsumexp.",
        "PyTorch: torch.func.hessian and jvp(grad); autograd: hessian (reverse over reverse, "
        "one pass per row) and hessian_vector_product; JAX: jax.hessian and jvp(grad), no jit.",
    ]
    notes += common.skipped_notes(["torch", "autograd", "jax"])
    return common.Report(
        f"Hessian and HVP of logsumexp(A x) + |x|^2 / 2, A {M}x{N}",
        ["implementation", "f", "Hessian", "Hessian / f", "Hessian vs NumPy", "HVP",
         "HVP / f"],
        rows, notes)


if __name__ == "__main__":
    common.main(run, __doc__)
