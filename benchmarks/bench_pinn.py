"""One PINN training step for viscous Burgers: the loss mean((u_t + u u_x - nu u_xx)^2) at
10,000 collocation points and its gradient with respect to the weights of a 9-layer, 20-unit
tanh MLP (Raissi et al. 2019), float64. The ratio is to wengert's jitted step, the one
`wengert pinn burgers` runs.

wengert computes the input derivatives with `wengert.pinn.derivatives` in both of its
methods ("grad": first derivatives by one reverse pass, u_xx by a JVP of it; "jvp": nested
JVPs), eagerly and under `wg.jit`. PyTorch uses the classic double backward
(`torch.autograd.grad(..., create_graph=True)`); JAX the same construction as wengert's
"grad" method (a JVP of the gradient of sum(u) with respect to the inputs) under `jax.jit`.
All start from the same weights and points, and their losses and gradients are checked to
agree before timing.

    python benchmarks/bench_pinn.py [--points 10000] [--threads 1]
"""

import numpy as np

try:
    from . import common
except ImportError:  # run as a script
    import common

import wengert as wg
from wengert import pinn
from wengert.pinn import burgers
from wengert.train.common import as_arrays

NU = burgers.NU
POINTS = 10_000


def make_problem(points, seed=0):
    """The network (wengert module with plain arrays) and the collocation points (x, t)."""
    net = as_arrays(burgers.network(9, 20, rng=seed))
    X = burgers.make_problem(points, 2, rng=seed)["collocation"]
    return net, X


def layers(net):
    """[(W, b), ...] of the network, W of shape (out, in), in order."""
    linears = [m for m in net.net.layers if hasattr(m, "weight")]
    return [(np.asarray(m.weight), np.asarray(m.bias)) for m in linears]


def wengert_step(net, X, method, use_jit):
    def loss(net, X):
        return pinn.mean_square(burgers.residual(net, X, method=method))

    vg = wg.value_and_grad(loss)
    step = wg.jit(vg) if use_jit else vg

    def run():
        value, g = step(net, X)
        return float(value), [a for pair in layers(g) for a in pair]

    return run


def scaled(X, net):
    center, half = np.asarray(net.center), np.asarray(net.half_width)
    return (X - center) / half


def torch_step(net, X):
    torch = common.peer("torch")
    params = [torch.tensor(a, requires_grad=True) for pair in layers(net) for a in pair]
    Xs = torch.tensor(scaled(X, net))
    scale = torch.tensor(np.asarray(net.half_width))

    def mlp(Z):
        h = Z
        for k in range(0, len(params) - 2, 2):
            h = torch.tanh(h @ params[k].T + params[k + 1])
        return (h @ params[-2].T + params[-1])[:, 0]

    def run():
        for p in params:
            p.grad = None
        Z = Xs.clone().requires_grad_(True)
        u = mlp(Z)
        (du,) = torch.autograd.grad(u.sum(), Z, create_graph=True)
        du = du / scale  # back from the scaled inputs to (x, t)
        u_x, u_t = du[:, 0], du[:, 1]
        (du_x,) = torch.autograd.grad(u_x.sum(), Z, create_graph=True)
        u_xx = du_x[:, 0] / scale[0]
        r = u_t + u * u_x - NU * u_xx
        loss = (r * r).mean()
        loss.backward()
        return loss.item(), [p.grad.numpy() for p in params]

    return run


def jax_step(net, X):
    jax = common.peer("jax")
    import jax.numpy as jnp

    params = [tuple(jnp.asarray(a) for a in pair) for pair in layers(net)]
    Xs = jnp.asarray(scaled(X, net))
    scale = jnp.asarray(np.asarray(net.half_width))
    e_x = jnp.zeros_like(Xs).at[:, 0].set(1.0)

    def mlp(params, Z):
        h = Z
        for W, b in params[:-1]:
            h = jnp.tanh(h @ W.T + b)
        W, b = params[-1]
        return (h @ W.T + b)[:, 0]

    def loss(params, Z):
        def value_and_input_grad(Z):
            u, pullback = jax.vjp(lambda Z: mlp(params, Z), Z)
            return u, pullback(jnp.ones_like(u))[0] / scale

        (u, du), (_, ddu) = jax.jvp(value_and_input_grad, (Z,), (e_x,))
        r = du[:, 1] + u * du[:, 0] - NU * ddu[:, 0] / scale[0]
        return jnp.mean(r * r)

    step = jax.jit(jax.value_and_grad(loss))

    def run():
        value, g = jax.block_until_ready(step(params, Xs))
        return float(value), [np.asarray(a) for pair in g for a in pair]

    return run


def implementations(net, X):
    impls = {}
    for method in ("grad", "jvp"):
        impls[f"wengert jit ({method})"] = wengert_step(net, X, method, True)
    for method in ("grad", "jvp"):
        impls[f"wengert eager ({method})"] = wengert_step(net, X, method, False)
    if common.peer("torch") is not None:
        impls["PyTorch eager (create_graph double backward)"] = torch_step(net, X)
    if common.peer("jax") is not None:
        impls["JAX jit (jvp of vjp)"] = jax_step(net, X)
    return impls


def check(impls):
    """Every implementation gives the same loss and gradient as wengert's jitted step."""
    ref_loss, ref_grad = impls["wengert jit (grad)"]()
    for name, fn in impls.items():
        value, g = fn()
        np.testing.assert_allclose(value, ref_loss, rtol=1e-10, err_msg=name)
        for a, b in zip(g, ref_grad):
            np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-12, err_msg=name)


def run(points):
    net, X = make_problem(points)
    impls = implementations(net, X)
    check(impls)
    times = common.measure_all({k: v for k, v in impls.items()})
    base = times["wengert jit (grad)"]
    rows = [[name, common.fmt_time(t), common.fmt_ratio(t / base)] for name, t in times.items()]
    notes = [
        f"Burgers residual u_t + u u_x - nu u_xx at {points} points (x, t), MLP 2-20x8-1 "
        "tanh, float64; loss value and gradient with respect to all 18 weight and bias "
        "arrays; median of repeats. All losses and gradients checked equal.",
        "BLAS: " + "; ".join(common.blas_info()),
        "JAX runs on XLA's own CPU thread pool (not visible to threadpoolctl).",
    ]
    notes += common.skipped_notes(["torch", "jax"])
    return common.Report("PINN training step (Burgers, loss + gradient; ratio to wengert jit)",
                         ["implementation", "step", "vs wengert jit"], rows, notes)


def main():
    def extra(parser):
        parser.add_argument("--points", type=int, default=POINTS,
                            help=f"collocation points (default {POINTS})")

    args = common.parse_args(__doc__, extra=extra)
    run(args.points).print()
    print("\n" + "\n".join(common.machine_info()))


if __name__ == "__main__":
    main()
