"""Row-sparse embedding gradients: gradient memory and step time, sparse against dense, side
by side in one process (and PyTorch's nn.Embedding(sparse=True) where installed).

The model: a bag-of-embeddings classifier. A 1,000,000 x 64 float32 table, batches of 100
bags of 10 indices (1,000 lookups), mean pooling, a linear layer to 10 classes, cross-entropy.
Each implementation runs it dense and sparse:

* wengert eager: `nn.Embedding(n, d, sparse=...)`, `loss.backward()`, `opt.step()`;
* wengert functional: `wg.value_and_grad(loss, sparse=...)`, `opt.update(...)` (a pure
  update returns a new table each step, so it copies the table even when sparse);
* PyTorch: `torch.nn.Embedding(n, d, sparse=...)`; sparse Adam is `SparseAdam` for the table.

Columns: the tracemalloc peak of the backward pass (eager: `backward()`; functional: the
`value_and_grad` call), the bytes of the table's gradient object, and the time of one
training step (forward, backward, optimiser step) with SGD and with Adam (sparse: lazy
Adam, `Adam(lazy=True)`). PyTorch's allocations are invisible to tracemalloc.

    python benchmarks/bench_embedding.py [--rows 1000000 --dim 64 --bags 100 --bag-size 10]
"""

import itertools
import tracemalloc

import common
from common import np

import wengert as wg
import wengert.numpy as wnp
from wengert import nn, optim
from wengert.core.rowsparse import RowSparse
from wengert.nn import functional as F

N_BATCHES = 4  # distinct batches, cycled


class Bag(nn.Module):
    """Mean-pooled bag of embeddings -> linear."""

    def __init__(self, rows, dim, classes, sparse):
        self.emb = nn.Embedding(rows, dim, sparse=sparse, rng=0)
        self.out = nn.Linear(dim, classes, rng=1)

    def forward(self, idx):
        return self.out(wnp.mean(self.emb(idx), axis=1))


def _bytes(g):
    return g.nbytes if isinstance(g, RowSparse) else np.asarray(g).nbytes


def _peak(fn):
    """Peak bytes that tracemalloc sees above the starting level while `fn()` runs."""
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def wengert_eager(model, batches):
    """Step functions for SGD and Adam, the backward peak and the table gradient's bytes."""
    params = list(model.parameters())
    opts = {"SGD": optim.SGD(params, lr=0.1), "Adam": optim.Adam(params, lr=1e-3, lazy=True)}
    cycle = itertools.cycle(batches)

    def step(opt):
        idx, labels = next(cycle)
        opt.zero_grad()
        F.cross_entropy(model(idx), labels).backward()
        opt.step()

    idx, labels = batches[0]
    loss = F.cross_entropy(model(idx), labels)
    peak = _peak(loss.backward)
    grad_bytes = _bytes(model.emb.weight.grad)
    steps = {name: (lambda opt=opt: step(opt)) for name, opt in opts.items()}
    return steps, peak, grad_bytes


def wengert_functional(table, batches, sparse):
    rng = np.random.default_rng(1)
    params = {"table": table.copy(),
              "w": (rng.normal(size=(table.shape[1], 10)) * 0.1).astype(np.float32),
              "b": np.zeros(10, np.float32)}

    def loss(p, idx, labels):
        bags = wnp.mean(wnp.take(p["table"], idx, axis=0), axis=1)
        return F.cross_entropy(bags @ p["w"] + p["b"], labels)

    vg = wg.value_and_grad(loss, sparse=sparse)
    opts = {"SGD": optim.SGD(lr=0.1), "Adam": optim.Adam(lr=1e-3, lazy=True)}
    states = {name: [params, opt.init(params)] for name, opt in opts.items()}
    cycle = itertools.cycle(batches)

    def step(name):
        idx, labels = next(cycle)
        current = states[name]
        _, grads = vg(current[0], idx, labels)
        current[:] = opts[name].update(grads, current[1], current[0])

    grads = []
    peak = _peak(lambda: grads.append(vg(params, *batches[0])[1]))
    steps = {name: (lambda name=name: step(name)) for name in opts}
    return steps, peak, _bytes(grads[0]["table"])


def torch_steps(torch, table, batches, sparse):
    emb = torch.nn.Embedding.from_pretrained(torch.from_numpy(table.copy()), freeze=False,
                                             sparse=sparse)
    out = torch.nn.Linear(table.shape[1], 10)
    if sparse:
        adam = [torch.optim.SparseAdam(emb.parameters(), lr=1e-3),
                torch.optim.Adam(out.parameters(), lr=1e-3)]
    else:
        adam = [torch.optim.Adam(list(emb.parameters()) + list(out.parameters()), lr=1e-3)]
    opts = {"SGD": [torch.optim.SGD(list(emb.parameters()) + list(out.parameters()), lr=0.1)],
            "Adam": adam}
    data = [(torch.from_numpy(i), torch.from_numpy(y)) for i, y in batches]
    cycle = itertools.cycle(data)

    def step(name):
        idx, labels = next(cycle)
        for opt in opts[name]:
            opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(out(emb(idx).mean(dim=1)), labels)
        loss.backward()
        for opt in opts[name]:
            opt.step()

    idx, labels = data[0]
    torch.nn.functional.cross_entropy(out(emb(idx).mean(dim=1)), labels).backward()
    g = emb.weight.grad
    grad_bytes = (g._values().nbytes + g._indices().nbytes) if g.is_sparse else g.nbytes
    return {name: (lambda name=name: step(name)) for name in opts}, None, grad_bytes


def _mib(n):
    return "-" if n is None else f"{n / 2**20:.3g} MiB"


def run(args):
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, args.rows, size=(args.bags, args.bag_size)),
                rng.integers(0, 10, size=args.bags)) for _ in range(N_BATCHES)]
    models = {sparse: Bag(args.rows, args.dim, 10, sparse) for sparse in (False, True)}
    table = models[False].emb.weight.detach().numpy()  # the same initial table for all
    makers = {"wengert eager": lambda sparse: wengert_eager(models[sparse], batches),
              "wengert functional": lambda sparse: wengert_functional(table, batches, sparse)}
    torch = common.peer("torch")
    if torch is not None:
        torch.manual_seed(0)
        makers["PyTorch"] = lambda sparse: torch_steps(torch, table, batches, sparse)
    fns, memory = {}, {}
    for impl, make in makers.items():
        for sparse in (False, True):
            key = f"{impl}, {'sparse' if sparse else 'dense'}"
            steps, peak, grad_bytes = make(sparse)
            memory[key] = (peak, grad_bytes)
            for opt_name, fn in steps.items():
                fns[(key, opt_name)] = fn
    times = common.measure_all(fns, min_repeats=3, max_repeats=5)
    rows = []
    for key, (peak, grad_bytes) in memory.items():
        rows.append([key, _mib(peak), _mib(grad_bytes),
                     common.fmt_time(times[(key, "SGD")]),
                     common.fmt_time(times[(key, "Adam")])])
    main = common.Report(
        f"Embedding {args.rows:,} x {args.dim} float32, {args.bags} bags of {args.bag_size} "
        "indices: sparse vs dense gradients",
        ["implementation", "backward peak", "table gradient", "SGD step", "Adam step"], rows,
        notes=["Adam step: dense Adam for dense gradients; lazy Adam (wengert Adam(lazy=True), "
               "PyTorch SparseAdam for the table) for sparse ones.",
               "backward peak: tracemalloc (PyTorch's allocator is not traced); functional: "
               "the value_and_grad call, forward included."] + common.skipped_notes(["torch"]))
    main.print()
    ratio_rows = []
    for impl in makers:
        dense, sparse = f"{impl}, dense", f"{impl}, sparse"
        ratio_rows.append([
            f"{impl}: dense / sparse",
            "-" if memory[dense][0] is None else common.fmt_ratio(
                memory[dense][0] / memory[sparse][0]),
            common.fmt_ratio(memory[dense][1] / memory[sparse][1]),
            common.fmt_ratio(times[(dense, "SGD")] / times[(sparse, "SGD")]),
            common.fmt_ratio(times[(dense, "Adam")] / times[(sparse, "Adam")])])
    if torch is not None:
        for impl in ("wengert eager", "wengert functional"):
            ratio_rows.append([
                f"{impl} sparse / PyTorch sparse", "-",
                common.fmt_ratio(memory[f"{impl}, sparse"][1] / memory["PyTorch, sparse"][1]),
                common.fmt_ratio(times[(f"{impl}, sparse", "SGD")]
                                 / times[("PyTorch, sparse", "SGD")]),
                common.fmt_ratio(times[(f"{impl}, sparse", "Adam")]
                                 / times[("PyTorch, sparse", "Adam")])])
    return common.Report("Ratios", ["comparison", "backward peak", "table gradient",
                                    "SGD step", "Adam step"], ratio_rows)


def main():
    def extra(parser):
        parser.add_argument("--rows", type=int, default=1_000_000)
        parser.add_argument("--dim", type=int, default=64)
        parser.add_argument("--bags", type=int, default=100)
        parser.add_argument("--bag-size", type=int, default=10)

    args = common.parse_args(__doc__.splitlines()[0], extra=extra)
    run(args).print()
    print("\n" + "\n".join(common.machine_info()))


if __name__ == "__main__":
    main()
