"""Shared helpers for the benchmarks: timing, optional peer frameworks, machine description
and Markdown tables.

Every benchmark times wengert side by side with its baselines in one process and reports
ratios, never absolute claims. Peers (PyTorch, HIPS autograd, JAX) are optional: a peer that
cannot be imported is reported as skipped.
"""

import gc
import importlib
import os
import platform
import statistics
import sys
import time
from pathlib import Path

# Run as a script (`python benchmarks/bench_x.py`) or as a module: make `wengert` importable
# from the repository root either way.
_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import numpy as np  # noqa: E402

# Timing budget per implementation and mode, in seconds (`--budget` on every script).
BUDGET = float(os.environ.get("WENGERT_BENCH_BUDGET", "1.0"))


def set_budget(seconds):
    """Set the per-measurement time budget (seconds) used by `measure_all`."""
    global BUDGET
    BUDGET = float(seconds)


def measure_all(fns, budget=None, min_repeats=3, max_repeats=7):
    """Median seconds per call of each `fns[name]()`, timed side by side.

    Each function is warmed up first (caches, JAX's per-op compilation, allocator pools).
    The repeats are interleaved (one repeat of every function per round), so a change of
    machine load during the run affects all implementations alike and the ratios stay
    meaningful. Each repeat makes enough calls to last about `budget / max_repeats` seconds;
    slow functions get `min_repeats` repeats of one call.

    The garbage collector stays enabled, as in real use (tape-based engines allocate Python
    objects), but the objects alive before timing are frozen (`gc.freeze`): importing JAX
    and PyTorch adds about 200,000 tracked objects, which would make every full collection
    triggered by a Python-level tape cost ~100 ms instead of ~5 ms in a wengert-only process.
    """
    budget = BUDGET if budget is None else budget
    number, rounds = {}, max_repeats
    for name, fn in fns.items():
        fn()
        start = time.perf_counter()
        fn()
        first = max(time.perf_counter() - start, 1e-9)
        number[name] = max(1, int(budget / max_repeats / first))
        rounds = min(rounds, max(min_repeats, int(budget / (first * number[name]))))
    gc.collect()
    gc.freeze()
    times = {name: [] for name in fns}
    try:
        for _ in range(rounds):
            for name, fn in fns.items():
                n = number[name]
                start = time.perf_counter()
                for _ in range(n):
                    fn()
                times[name].append((time.perf_counter() - start) / n)
    finally:
        gc.unfreeze()
    return {name: statistics.median(t) for name, t in times.items()}


# Optional peers ---------------------------------------------------------------------------

_PEERS = {}


def peer(name):
    """Import an optional peer ("torch", "autograd", "jax") or return None if it is absent.
    JAX is configured for float64 (x64) since several benchmarks are float64; float32
    arrays stay float32."""
    if name not in _PEERS:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            mod = None
        if name == "jax" and mod is not None:
            mod.config.update("jax_enable_x64", True)
        _PEERS[name] = mod
    return _PEERS[name]


def skipped(names):
    """The peers among `names` that are not importable (for a "skipped" note)."""
    return [n for n in names if peer(n) is None]


def skipped_notes(names):
    """A one-line note naming the peers among `names` that are not installed (or none)."""
    missing = skipped(names)
    return ["Skipped (not installed): " + ", ".join(missing)] if missing else []


_THREAD_LIMITS = []  # keeps threadpoolctl's limits in force for the whole process
_THREADS = []  # the --threads value, for the machine description


def limit_threads(n):
    """Limit NumPy's and SciPy's BLAS, PyTorch and OpenMP to `n` threads, for runs on a
    shared machine where threads of one library wait for cores taken by other processes.
    XLA (JAX) keeps its own thread pool: no flag of current jaxlib limits it reliably."""
    _THREADS.append(n)
    # Load every library with its own thread pool first (PyTorch's OpenMP, SciPy's OpenBLAS,
    # used by wengert.scipy and autograd.scipy): threadpoolctl limits only loaded pools.
    try:
        import scipy.linalg  # noqa: F401
    except ImportError:
        pass
    torch = peer("torch")
    if torch is not None:
        torch.set_num_threads(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        print("limit_threads: threadpoolctl is not installed; NumPy's BLAS threads unchanged")
        return
    _THREAD_LIMITS.append(threadpool_limits(limits=n))


# Machine description ----------------------------------------------------------------------

def _cpu_model():
    """Model name, family/model numbers and the widest vector extension, from /proc/cpuinfo
    (the first processor)."""
    try:
        text = Path("/proc/cpuinfo").read_text().split("\n\n")[0]
    except OSError:
        return platform.processor() or platform.machine()
    info = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    info = {k.strip(): v.strip() for k, v in info.items()}
    flags = info.get("flags", "").split()
    vector = next((v for v in ("avx512f", "avx2", "avx", "neon") if v in flags), "none found")
    return (f"{info.get('model name', platform.machine())} (family {info.get('cpu family', '?')}"
            f", model {info.get('model', '?')}, widest SIMD: {vector})")


def _version(name):
    mod = peer(name)
    if mod is None:
        return "not installed"
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # metadata missing: fall back to the module attribute
        return getattr(mod, "__version__", "?")


def blas_info():
    """One line per thread pool (BLAS / OpenMP) from threadpoolctl, or a note if absent."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed: BLAS kernel and threads unknown"]
    lines = []
    for pool in threadpool_info():
        arch = pool.get("architecture") or "-"
        lines.append(
            f"{pool['internal_api']} {pool.get('version') or ''} ({pool['prefix']}): "
            f"{pool['num_threads']} threads, kernel {arch}"
        )
    return lines


def _wengert_revision():
    """wengert's version and git commit, flagged when the wengert/ tree has uncommitted
    changes (the numbers then describe the working tree, not the commit)."""
    import subprocess

    import wengert

    def git(*args):
        return subprocess.run(["git", *args], cwd=_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD") or "unknown"
        dirty = bool(git("status", "--porcelain", "--", "wengert"))
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "unknown", False
    return (f"wengert {wengert.__version__}, commit {commit}"
            + (" with uncommitted changes in wengert/" if dirty else ""))


def machine_info():
    """A list of `key: value` lines describing the machine and library versions."""
    env = {k: v for k, v in os.environ.items()
           if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "XLA_")) and k != "OPENBLAS_VERBOSE"}
    try:
        load = "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        load = "?"
    torch = peer("torch")
    lines = [
        f"CPU: {_cpu_model()}, {os.cpu_count()} logical cores (load average {load})",
        f"Python {platform.python_version()}, NumPy {np.__version__}, "
        f"PyTorch {_version('torch')}, JAX {_version('jax')}, autograd {_version('autograd')}",
        _wengert_revision(),
        "BLAS/thread pools: " + "; ".join(blas_info()),
        "Environment: " + (", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "none"),
    ]
    lines.append("Thread limit: " + (f"{_THREADS[-1]} (--threads)" if _THREADS else
                                      "none (libraries' defaults)"))
    if torch is not None:
        lines.append(
            f"PyTorch threads: {torch.get_num_threads()} intra-op, "
            f"MKL {'yes' if torch.backends.mkl.is_available() else 'no'}"
        )
    return lines


# Tables ------------------------------------------------------------------------------------

class Report:
    """The result of one benchmark: a title, a Markdown table and notes."""

    def __init__(self, title, header, rows, notes=()):
        self.title = title
        self.header = list(header)
        self.rows = [list(r) for r in rows]
        self.notes = list(notes)

    def markdown(self):
        widths = [max(len(str(c)) for c in col) for col in zip(self.header, *self.rows)]

        def line(cells):
            return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

        out = [line(self.header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
        out += [line(r) for r in self.rows]
        if self.notes:
            out.append("")
            out += [f"- {n}" for n in self.notes]
        return "\n".join(out)

    def print(self):
        print(f"\n## {self.title}\n")
        print(self.markdown())


def fmt_time(seconds):
    """A time in the unit that suits it (ns/µs/ms/s), three significant digits."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}x" if x < 10 else f"{x:.1f}x" if x < 100 else f"{x:.0f}x"


def parse_args(description, argv=None, extra=None):
    """Parse the options shared by every script: --threads and --budget (and `extra`, a
    function adding more options to the parser). Applies them before any peer is loaded."""
    import argparse

    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--threads", type=int, default=None,
        help="limit NumPy's BLAS, OpenMP (threadpoolctl) and PyTorch (set_num_threads) to "
             "this many threads; JAX keeps its own pool; default: as found")
    parser.add_argument("--budget", type=float, default=None,
                        help=f"seconds of timing per implementation and mode (default {BUDGET})")
    if extra is not None:
        extra(parser)
    args = parser.parse_args(argv)
    if args.budget is not None:
        set_budget(args.budget)
    if args.threads is not None:
        limit_threads(args.threads)
    return args


def main(run, description=None):
    """Entry point of a benchmark script: parse the options, run it and print its table and
    the machine."""
    parse_args(description)
    report = run()
    report.print()
    print("\n" + "\n".join(machine_info()))
