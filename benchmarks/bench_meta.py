"""Cost of one MAML meta-gradient (wengert.meta): second-order MAML, which differentiates
through the inner gradient steps, against first-order MAML, which stops the gradient there.

Sinusoid regression, 1-40-40-1 ReLU network, float32, a meta-batch of 25 tasks with 10 support
and 10 query points each, inner step size 0.01; the time of the outer loss and its
meta-gradient (no optimiser step), for 1 and 5 inner steps. PyTorch, when installed, runs the
same computation with plain `torch.autograd.grad` (create_graph=True for second order; no
torch.func); its meta-gradients are checked against wengert's before timing.

    python benchmarks/bench_meta.py
"""

import numpy as np

try:
    from . import common
except ImportError:  # run as a script
    import common

import wengert as wg
from wengert import meta

META_BATCH, K_SHOT, ALPHA = 25, 10, 0.01
INNER_STEPS = (1, 5)


def wengert_step(params, tasks, steps, first_order):
    step = wg.value_and_grad(meta.maml_loss)

    def run():
        return step(params, tasks, ALPHA, steps, first_order=first_order)

    return run


def torch_step(params, tasks, steps, first_order):
    """MAML's outer loss and meta-gradient with torch.autograd.grad, batched over tasks the
    same way as wengert.meta (per-task copies made by expand)."""
    torch = common.peer("torch")
    leaves = [torch.tensor(p, requires_grad=True) for p in wg.tree_leaves(params)]
    xs, ys, xq, yq = (torch.tensor(a) for a in tasks[:4])

    def forward(ps, x):
        # wg.tree_leaves orders each layer's dict by key: b before w.
        for i in range(0, len(ps), 2):
            x = x @ ps[i + 1] + ps[i]
            if i + 2 < len(ps):
                x = torch.relu(x)
        return x

    def losses(ps, x, y):
        return ((forward(ps, x) - y) ** 2).mean(dim=(-2, -1))

    def run():
        ps = [p.expand((META_BATCH,) + p.shape) for p in leaves]
        for _ in range(steps):
            gs = torch.autograd.grad(losses(ps, xs, ys).sum(), ps, create_graph=not first_order)
            ps = [p - ALPHA * g for p, g in zip(ps, gs)]
        loss = losses(ps, xq, yq).mean()
        return loss, torch.autograd.grad(loss, leaves)

    return run


def implementations(params, tasks):
    """(name, inner steps, order, zero-argument meta-gradient function) tuples."""
    impls = []
    for steps in INNER_STEPS:
        for order in (2, 1):
            impls.append(("wengert", steps, order,
                          wengert_step(params, tasks, steps, order == 1)))
            if common.peer("torch") is not None:
                impls.append(("PyTorch autograd.grad", steps, order,
                              torch_step(params, tasks, steps, order == 1)))
    return impls


def _numpy(x):
    return np.asarray(x.detach() if hasattr(x, "detach") else x)


def check(impls):
    """Every implementation's loss and meta-gradient equals wengert's for the same setting."""
    reference = {}
    for name, steps, order, fn in impls:
        loss, g = fn()
        loss, g = _numpy(loss), [_numpy(x) for x in wg.tree_leaves(g)]
        ref = reference.setdefault((steps, order), (float(loss), g))
        np.testing.assert_allclose(float(loss), ref[0], rtol=1e-4, err_msg=name)
        for a, b in zip(g, ref[1]):
            np.testing.assert_allclose(a, b, rtol=2e-3, atol=1e-4, err_msg=f"{name} {steps}")
    # The settings really differ: second order is not first order in disguise.
    for steps in INNER_STEPS:
        g2, g1 = reference[(steps, 2)][1], reference[(steps, 1)][1]
        assert max(np.max(np.abs(a - b)) for a, b in zip(g2, g1)) > 1e-4


def run():
    rng = np.random.default_rng(0)
    params = meta.init_mlp(rng=rng)
    tasks = meta.sample_tasks(rng, META_BATCH, K_SHOT, K_SHOT)
    impls = implementations(params, tasks)
    check(impls)
    times = common.measure_all({(n, s, o): fn for n, s, o, fn in impls})
    rows = []
    for name, steps, order, _ in impls:
        t = times[(name, steps, order)]
        vs_first = t / times[(name, steps, 1)]
        torch_key = ("PyTorch autograd.grad", steps, order)
        vs_torch = t / times[torch_key] if torch_key in times else None
        rows.append([name, steps, "second" if order == 2 else "first", common.fmt_time(t),
                     common.fmt_ratio(vs_first), common.fmt_ratio(vs_torch)])
    notes = [
        f"Sinusoid MAML, 1-40-40-1 ReLU MLP, float32, meta-batch {META_BATCH} tasks x "
        f"{K_SHOT} support + {K_SHOT} query points, inner alpha {ALPHA}; time of the outer "
        "loss and its meta-gradient; median of repeats.",
        "wengert: value_and_grad(wengert.meta.maml_loss), tasks batched on a leading axis; "
        "first order wraps the inner gradients in wg.stop_gradient.",
        "PyTorch: torch.autograd.grad with create_graph=True (second order) or False (first "
        "order); loss and meta-gradients checked against wengert's before timing.",
    ]
    notes += common.skipped_notes(["torch"])
    return common.Report(
        "MAML meta-gradient: second vs first order",
        ["implementation", "inner steps", "order", "time / meta-step", "vs first order",
         "vs PyTorch"],
        rows, notes)


if __name__ == "__main__":
    common.main(run, __doc__)
