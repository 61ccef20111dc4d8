"""Mixture of experts: forward + backward time and backward matmul work of the sparse-dispatch
`nn.MixtureOfExperts` (each expert runs on its own tokens only) versus the dense reference
(every expert on every token, masked by the top-k gates), for E = 4 ... 64 experts at k = 2
with a fixed batch of tokens. With sparse dispatch the work per step follows the N * k routed
token rows, so its time should stay roughly flat in E; the dense reference grows linearly.

Columns: wengert's sparse layer through `wg.value_and_grad` (functional) and eagerly
(`loss.backward()`), the dense reference (functional), and PyTorch running the same sparse
dispatch (index_select, per-expert MLP, index_add_) where it is installed. Backward matmul
counts and FLOPs come from the traced graphs (`nn.moe.backward_matmul_work`, routing held
fixed). A last note shows the matmul count when the routing uses only a few of the experts.

    python benchmarks/bench_moe.py [--tokens 2048 --dim 128 --hidden 256]
"""

import numpy as np

try:
    from . import common
except ImportError:  # run as a script
    import common

import wengert as wg
import wengert.numpy as wnp
from wengert import nn
from wengert.nn.moe import backward_matmul_work, moe_dense_reference

EXPERTS = (4, 8, 16, 32, 64)
K = 2
BALANCE_WEIGHT = 0.01


def _loss(y, aux):
    return wnp.mean(y * y) + BALANCE_WEIGHT * aux.balance_loss


def sparse_loss(model, x, routing=None):
    return _loss(*model(x, routing=routing, return_aux=True))


def dense_loss(model, x, routing=None):
    return _loss(*moe_dense_reference(model, x, routing, return_aux=True))


def eager_step(model, x):
    model.zero_grad()
    loss = sparse_loss(model, x)
    loss.backward()
    return loss


def torch_moe(torch, model, k):
    """The same layer in PyTorch (weights copied): top-k routing, per-expert gather, MLP and
    one index_add_ of the gate-weighted outputs. Returns (params, loss function of x)."""
    def param(p):
        return torch.tensor(np.asarray(p.primal), requires_grad=True)

    router = param(model.router.weight)
    experts = [[param(p) for p in (lin1.weight, lin1.bias, lin2.weight, lin2.bias)]
               for lin1, _, lin2 in (e.layers for e in model.experts)]
    num_experts = len(experts)

    def loss_fn(x):
        logits = x @ router.T
        top, idx = logits.topk(k, dim=1)
        gates = torch.softmax(top, dim=1).reshape(-1)
        flat = idx.reshape(-1)
        order = torch.argsort(flat, stable=True)
        counts = torch.bincount(flat, minlength=num_experts).tolist()
        outs, kept, start = [], [], 0
        for e, count in enumerate(counts):
            if count:
                assigned = order[start:start + count]
                w1, b1, w2, b2 = experts[e]
                h = torch.nn.functional.gelu(x.index_select(0, assigned // k) @ w1.T + b1)
                outs.append(h @ w2.T + b2)
                kept.append(assigned)
            start += count
        kept = torch.cat(kept)
        y = torch.zeros_like(x).index_add_(0, kept // k, torch.cat(outs) * gates[kept, None])
        fraction = torch.tensor(counts, dtype=x.dtype) / flat.numel()
        balance = num_experts * (fraction * torch.softmax(logits, dim=1).mean(0)).sum()
        return (y * y).mean() + BALANCE_WEIGHT * balance

    return [router] + [p for e in experts for p in e], loss_fn


def torch_step(params, loss_fn, x):
    for p in params:
        p.grad = None
    loss = loss_fn(x)
    loss.backward()
    return loss


def run(tokens=2048, dim=128, hidden=256):
    torch = common.peer("torch")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((tokens, dim)).astype(np.float32)
    header = ["E", "experts with tokens", "sparse", "sparse eager", "dense", "PyTorch sparse",
              "dense / sparse", "sparse / PyTorch", "bwd matmuls sparse / dense",
              "bwd GFLOP sparse / dense"]
    fns, work, active = {}, {}, {}
    for num_experts in EXPERTS:
        model = nn.MixtureOfExperts(dim, hidden, num_experts, K, rng=num_experts)
        routing = model.route(x)
        active[num_experts] = len(np.unique(routing))
        fns["sparse", num_experts] = lambda m=model: wg.value_and_grad(sparse_loss)(m, x)
        fns["eager", num_experts] = lambda m=model: eager_step(m, x)
        fns["dense", num_experts] = lambda m=model: wg.value_and_grad(dense_loss)(m, x)
        if torch is not None:
            params, loss_fn = torch_moe(torch, model, K)
            x_torch = torch.from_numpy(x)
            ours = float(sparse_loss(model, x).primal)
            np.testing.assert_allclose(float(loss_fn(x_torch).detach()), ours, rtol=1e-4)
            fns["torch", num_experts] = lambda p=params, f=loss_fn, xt=x_torch: torch_step(
                p, f, xt)
        for name, f in (("sparse", sparse_loss), ("dense", dense_loss)):
            work[name, num_experts] = backward_matmul_work(
                lambda m, f=f, r=routing: f(m, x, r), model)
    # One interleaved measurement for every E, so that a change of machine load during the
    # run shifts all columns alike and the growth along E stays meaningful.
    times = common.measure_all(fns, min_repeats=3, max_repeats=3)
    rows = []
    for e in EXPERTS:
        torch_time = times.get(("torch", e))
        rows.append([
            e, active[e], common.fmt_time(times["sparse", e]), common.fmt_time(times["eager", e]),
            common.fmt_time(times["dense", e]),
            "-" if torch_time is None else common.fmt_time(torch_time),
            common.fmt_ratio(times["dense", e] / times["sparse", e]),
            common.fmt_ratio(None if torch_time is None else times["sparse", e] / torch_time),
            f"{work['sparse', e][0]} / {work['dense', e][0]}",
            f"{work['sparse', e][1] / 1e9:.2f} / {work['dense', e][1] / 1e9:.2f}",
        ])

    def growth(name):
        return common.fmt_ratio(times[name, EXPERTS[-1]] / times[name, EXPERTS[0]])

    notes = [
        f"{tokens:,} tokens, dim {dim}, hidden {hidden}, k={K}, float32; loss = mean(y^2) + "
        f"{BALANCE_WEIGHT} * load-balancing loss; times are one value_and_grad (or one eager "
        "forward + backward) each.",
        f"Time from E={EXPERTS[0]} to E={EXPERTS[-1]}: sparse {growth('sparse')}, eager "
        f"{growth('eager')}, dense {growth('dense')}"
        + (f", PyTorch sparse {growth('torch')}" if torch is not None else "")
        + f" (flat would be 1.00x; the dense work grows {EXPERTS[-1] // EXPERTS[0]}x).",
        skewed_note(tokens, dim, hidden, x),
        *common.skipped_notes(["torch"]),
    ]
    return common.Report(
        "Mixture of experts: sparse dispatch vs dense reference (forward + backward)",
        header, rows, notes)


def skewed_note(tokens, dim, hidden, x):
    """Backward matmul work when the fixed routing uses only 8 of 64 experts."""
    model = nn.MixtureOfExperts(dim, hidden, 64, K, rng=0)
    rows = np.arange(tokens)[:, None] + np.arange(K)
    routing = (rows % 8) * 8  # experts 0, 8, ..., 56
    few = backward_matmul_work(lambda m: sparse_loss(m, x, routing), model)
    full = backward_matmul_work(lambda m: sparse_loss(m, x, model.route(x)), model)
    return (f"Routing fixed to 8 of 64 experts: {few[0]} backward matmuls ({few[1] / 1e9:.2f} "
            f"GFLOP) against {full[0]} ({full[1] / 1e9:.2f} GFLOP) when all 64 get tokens: one "
            "for the router plus three per expert with tokens, none for the others.")


if __name__ == "__main__":
    common.main(run, __doc__)
