"""Gradient checkpointing: peak memory (tracemalloc) and time of a backward pass, with and
without checkpointing, side by side in one process.

1. A deep tanh MLP: value_and_grad plain vs `checkpoint_sequential` (sqrt(depth) segments).
2. A long loop: `fori_loop` (every carry taped) vs `fori_loop_revolve` with few snapshots.

    python benchmarks/bench_checkpoint.py [--depth 64 --width 1024 --batch 256 --steps 1000]
"""

import argparse
import time
import tracemalloc

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
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x, fns = mlp(args.depth, args.width, args.batch, rng)
    report(f"MLP: {args.depth} tanh layers, width {args.width}, batch {args.batch}, float32 "
           f"(sqrt(depth) = {np.sqrt(args.depth):.0f})", x, fns, x.nbytes)
    init, fns = loop(args.steps, args.snapshots, args.size, rng)
    report(f"Loop: {args.steps} steps, carry of {args.size} float64", init, fns,
           init[0].nbytes)


if __name__ == "__main__":
    main()
