"""A banded Jacobian (half-bandwidth 2, bandwidth 5) of the 1-D stencil

    f(x)_i = x_{i-2} - 2 x_{i-1} x_i + x_{i+1} x_{i+2} + sin(x_i),   zero-padded at the ends,

computed by `wg.jacobian_sparse` (sparsity detected through the IR, 5 colours, 5 JVPs)
versus dense `wg.jacfwd` (one JVP per column). The sparse result is checked against jacfwd
(n = 2,000) before timing. Dense jacfwd at n = 10,000 (an 800 MB matrix, 10,000 JVPs) is
not run: it is timed at n = 2,000 and 4,000 and extrapolated quadratically (work and memory
both grow as n^2), and the table says so.

    python benchmarks/bench_sparse_jacobian.py
"""

import time

import numpy as np

try:
    from . import common
except ImportError:  # run as a script
    import common

import wengert as wg
import wengert.numpy as wnp
from wengert.sparse_jacobian import color_columns, jacobian_sparsity

N = 10_000
DENSE_SIZES = (2_000, 4_000)


def stencil(x):
    x_pad = wnp.pad(x, 2)
    return (x_pad[:-4] - 2.0 * x_pad[1:-3] * x_pad[2:-2] + x_pad[3:-1] * x_pad[4:]
            + wnp.sin(x))


def _time(fn):
    return common.measure_all({"fn": fn}, min_repeats=1, max_repeats=3)["fn"]


def run():
    rng = np.random.default_rng(0)
    x_check = rng.standard_normal(DENSE_SIZES[0])
    jac, info = wg.jacobian_sparse(stencil, x_check, return_info=True)
    np.testing.assert_allclose(jac.toarray(), wg.jacfwd(stencil)(x_check), rtol=1e-12)

    x = rng.standard_normal(N)
    start = time.perf_counter()
    pattern = jacobian_sparsity(stencil, x)
    detect = time.perf_counter() - start
    start = time.perf_counter()
    colors = color_columns(pattern)
    color = time.perf_counter() - start
    jac, info = wg.jacobian_sparse(stencil, x, return_info=True)
    sparse_time = _time(lambda: wg.jacobian_sparse(stencil, x))

    rows = [[f"{N:,}", "wg.jacobian_sparse", f"{info['colors']} JVPs ({info['mode']})",
             common.fmt_time(sparse_time), "measured"]]
    dense = {}
    for n in DENSE_SIZES:
        x_n = rng.standard_normal(n)
        jac_fn = wg.jacfwd(stencil)
        dense[n] = _time(lambda f=jac_fn, x=x_n: f(x))
        rows.append([f"{n:,}", "wg.jacfwd (dense)", f"{n:,} JVPs", common.fmt_time(dense[n]),
                     "measured"])
    n_big = DENSE_SIZES[-1]
    dense_big = dense[n_big] * (N / n_big) ** 2
    rows.append([f"{N:,}", "wg.jacfwd (dense)", f"{N:,} JVPs", common.fmt_time(dense_big),
                 f"extrapolated from n={n_big:,} as n^2"])
    notes = [
        f"Pattern: {pattern.nnz:,} nonzeros, detected through the IR in "
        f"{common.fmt_time(detect)}; greedy colouring in {common.fmt_time(color)} "
        f"({colors.max() + 1} colours, the optimum 2b+1 for half-bandwidth b=2).",
        f"Speed-up at n={N:,}: {common.fmt_ratio(dense_big / sparse_time)} "
        "(against the extrapolated dense time).",
        f"Dense scaling measured: {common.fmt_ratio(dense[DENSE_SIZES[1]] / dense[DENSE_SIZES[0]])}"
        f" from n={DENSE_SIZES[0]:,} to {DENSE_SIZES[1]:,} (n^2 predicts 4x).",
        "Sparse time includes detection, colouring, one linearisation and the JVPs.",
    ]
    return common.Report(
        f"Sparse Jacobian: banded {N:,} x {N:,} (bandwidth 5)",
        ["n", "method", "passes", "time", "how"], rows, notes)


if __name__ == "__main__":
    common.main(run, __doc__)
