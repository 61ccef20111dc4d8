"""Gradient checkpointing: peak memory (tracemalloc) and time of a backward pass, with and
without checkpointing, side by side in one process.

1. A deep tanh MLP: value_and_grad plain vs `checkpoint_sequential` (sqrt(depth) segments).
2. A long loop: `fori_loop` (every carry taped) vs `fori_loop_revolve` with few snapshots.
3. A long scan (carry, per-step xs and stacked ys): `scan` vs `scan_revolve`.
4. Policies under jit: jit(grad) of an MLP whose layers are checkpointed with each policy of
   `wg.checkpoint_policies`: the memory planner's planned peak and the time per call.

    python benchmarks/bench_checkpoint.py [--depth 64 --width 1024 --batch 256 --steps 1000]
        [--policy-depth 16 --policy-width 256 --policy-batch 1024]
"""

import argparse
import functools
import time
import tracemalloc

import common
from common import np  # noqa: F401  (common puts the repository on sys.path)

import wengert as wg
import wengert.numpy as wnp
from wengert.checkpoint import fori_loop_revolve


def peak_and_time(fn, *args):
    """(peak bytes above the starting level, seconds): the peak under tracemalloc, the time
    of a separate run without it (tracemalloc slows allocation)."""
    fn(*args)  # warm up
    start = time.perf_counter()
    fn(*args)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak, seconds


def mlp(depth, width, batch, rng):
    ws = [(rng.normal(size=(width, width)) / np.sqrt(width)).astype(np.float32)
          for _ in range(depth)]
    x = rng.normal(size=(batch, width)).astype(np.float32)
    layers = [lambda h, w=w: wnp.tanh(h @ w) for w in ws]
    seq = wg.checkpoint_sequential(layers)

    def plain(x):
        for f in layers:
            x = f(x)
        return wnp.sum(x)

    def ck(x):
        return wnp.sum(seq(x))

    return x, {"plain": wg.value_and_grad(plain), "checkpoint_sequential": wg.value_and_grad(ck)}


def loop(steps, snapshots, size, rng):
    init = (rng.normal(size=size), np.array(0.9))

    def body(i, carry):
        x, w = carry
        return wnp.sin(x * w) + 0.5 * x, w

    def store_all(init):
        return wnp.sum(wg.fori_loop(0, steps, body, init)[0] ** 2)

    def rev(init):
        return wnp.sum(fori_loop_revolve(0, steps, body, init, snapshots=snapshots)[0] ** 2)

    return init, {"store all": wg.grad(store_all), f"revolve({snapshots})": wg.grad(rev)}


def scan_loop(steps, snapshots, size, rng):
    init = (rng.normal(size=size), np.array(0.9))
    xs = rng.normal(size=steps) * 0.1

    def step(carry, x):
        h, w = carry
        h = wnp.sin(h * w + x) + 0.5 * h
        return (h, w), wnp.mean(h)

    def plain(init):
        (h, _), ys = wg.scan(step, init, xs)
        return wnp.sum(h ** 2) + wnp.sum(ys)

    def rev(init):
        (h, _), ys = wg.scan_revolve(step, init, xs, snapshots=snapshots)
        return wnp.sum(h ** 2) + wnp.sum(ys)

    return init, {"scan": wg.grad(plain), f"scan_revolve({snapshots})": wg.grad(rev)}


def policy_table(depth, width, batch, rng):
    """jit(grad) of an MLP with each layer checkpointed under each policy: planned peak bytes
    (wengert.ir.memory) and time per call."""
    ws = [(rng.normal(size=(width, width)) / np.sqrt(width)).astype(np.float32)
          for _ in range(depth)]
    x = rng.normal(size=(batch, width)).astype(np.float32)

    def layer(w, h):
        return wnp.tanh(h @ w) * wnp.sin(h) + h

    def loss_with(step):
        def loss(ws, x):
            for w in ws:
                x = step(w, x)
            return wnp.sum(x ** 2)

        return loss

    P = wg.checkpoint_policies
    variants = {"no checkpoint": layer}
    for name in ("nothing_saveable", "dots_saveable", "everything_saveable"):
        variants[name] = wg.checkpoint(layer, policy=getattr(P, name))
    fns = {name: wg.jit(wg.grad(loss_with(step))) for name, step in variants.items()}
    peaks = {name: fn.graph(ws, x).peak_bytes for name, fn in fns.items()}
    # The budget is per checkpointed call: two activations' worth per layer.
    budget = 2 * x.nbytes
    name = f"save_under_budget({budget}) (2 activations a layer)"
    fns[name] = wg.jit(wg.grad(loss_with(wg.checkpoint(layer, policy=P.save_under_budget(
        budget)))))
    peaks[name] = fns[name].graph(ws, x).peak_bytes
    print(f"\nPolicies under jit: {depth} layers tanh(h @ w) * sin(h) + h, width {width}, "
          f"batch {batch}, float32; jit(grad), each layer checkpointed\n")
    print("| policy | planned peak MiB | peak / plain | time s | time / plain |")
    print("|---|---|---|---|---|")
    times = common.measure_all({name: functools.partial(fn, ws, x) for name, fn in fns.items()})
    base_peak, base_time = peaks["no checkpoint"], times["no checkpoint"]
    for name, seconds in times.items():
        print(f"| {name} | {peaks[name] / 2**20:.2f} | {peaks[name] / base_peak:.2f} | "
              f"{seconds:.3f} | {seconds / base_time:.2f} |")


def report(title, arg, fns, unit_bytes):
    print(f"\n{title}\n")
    print("| variant | peak MiB | peak / activation | time s | time ratio |")
    print("|---|---|---|---|---|")
    rows = {name: peak_and_time(fn, arg) for name, fn in fns.items()}
    base_peak, base_time = next(iter(rows.values()))
    for name, (peak, seconds) in rows.items():
        print(f"| {name} | {peak / 2**20:.1f} | {peak / unit_bytes:.1f} | {seconds:.3f} | "
              f"{seconds / base_time:.2f} (peak {peak / base_peak:.2f}) |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--snapshots", type=int, default=10)
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--policy-depth", type=int, default=16)
    parser.add_argument("--policy-width", type=int, default=256)
    parser.add_argument("--policy-batch", type=int, default=1024)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x, fns = mlp(args.depth, args.width, args.batch, rng)
    report(f"MLP: {args.depth} tanh layers, width {args.width}, batch {args.batch}, float32 "
           f"(sqrt(depth) = {np.sqrt(args.depth):.0f})", x, fns, x.nbytes)
    init, fns = loop(args.steps, args.snapshots, args.size, rng)
    report(f"Loop: {args.steps} steps, carry of {args.size} float64", init, fns,
           init[0].nbytes)
    init, fns = scan_loop(args.steps, args.snapshots, args.size, rng)
    report(f"Scan: {args.steps} steps, carry of {args.size} float64, scalar xs and ys", init,
           fns, init[0].nbytes)
    policy_table(args.policy_depth, args.policy_width, args.policy_batch, rng)


if __name__ == "__main__":
    main()
