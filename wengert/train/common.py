"""What every `wengert train` task shares: a progress bar with loss and throughput, the
history of a run and its PNG curves, and checkpoints that resume a run exactly.

Training is functional (JAX style): the parameters are a `Module` holding plain arrays, the
optimiser state is the pytree of `opt.init(params)`, and one step is
`params, state = opt.update(grad(loss)(params, ...), state, params)`. So a checkpoint is just
those two pytrees, a few counters and the history, stored in one `.npz` file of plain arrays
(loading it never unpickles, so a checkpoint from someone else cannot run code).
"""

import os
import sys
import time
from pathlib import Path

import numpy as np

from ..core import tree_flatten, tree_unflatten

CHECKPOINT = "checkpoint.npz"


class TrainingError(ValueError):
    """A problem with the user's request (a missing optional package or checkpoint, options
    that do not match a checkpoint); the command line prints it without a traceback."""


# Progress bar ------------------------------------------------------------------------------

class Progress:
    """A progress bar over `total` items (samples, characters) with the running loss and the
    throughput in items per second: tqdm's bar when tqdm is installed, else a plain line
    printed at most every `interval` seconds and once at the end. It goes to `file`
    (default: standard error, so that the report on standard output can be redirected).

    >>> with Progress(1000, "train", unit="sample") as bar:
    ...     bar.update(64, loss=2.30)
    """

    def __init__(self, total, desc, unit="sample", *, file=None, use_tqdm=None, interval=2.0,
                 initial=0):
        self.total, self.desc, self.unit = total, desc, unit
        self.file = sys.stderr if file is None else file
        self.count = initial
        self.interval = interval
        self.postfix = {}
        self._start = self._last_print = time.perf_counter()
        self._initial = initial
        self._bar = None
        if use_tqdm is None or use_tqdm:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                if use_tqdm:
                    raise
            else:
                self._bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True,
                                 initial=initial, file=self.file, dynamic_ncols=True,
                                 mininterval=0.25, smoothing=0.1)

    @property
    def rate(self):
        """Items per second since the bar started (not counting `initial`)."""
        return (self.count - self._initial) / max(time.perf_counter() - self._start, 1e-9)

    def update(self, n, **postfix):
        """Advance by `n` items and show `postfix` (e.g. loss=0.42; floats print with 4
        significant digits)."""
        self.count += n
        self.postfix.update({k: _fmt(v) for k, v in postfix.items()})
        if self._bar is not None:
            self._bar.set_postfix(self.postfix, refresh=False)
            self._bar.update(n)
        elif time.perf_counter() - self._last_print >= self.interval:
            self._print_line()

    def close(self):
        if self._bar is not None:
            self._bar.close()
        else:
            self._print_line()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _print_line(self):
        self._last_print = time.perf_counter()
        pct = 100.0 * self.count / self.total if self.total else 100.0
        extra = "".join(f", {k} {v}" for k, v in self.postfix.items())
        print(f"{self.desc}: {pct:3.0f}% {self.count}/{self.total} {self.unit}s, "
              f"{format_rate(self.rate, self.unit)}{extra}", file=self.file, flush=True)


def _fmt(value):
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else value


def format_rate(rate, unit):
    """Items per second, e.g. '12.3k samples/s'."""
    for scale, prefix in ((1e6, "M"), (1e3, "k")):
        if rate >= scale:
            return f"{rate / scale:.3g}{prefix} {unit}s/s"
    return f"{rate:.3g} {unit}s/s"


def format_seconds(seconds):
    """'42.1 s' or '3 min 05 s'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs:02d} s"


# History and plots -------------------------------------------------------------------------

class History:
    """Named series of numbers recorded during a run (e.g. "step", "train_loss"); saved in
    checkpoints, so curves continue across `--resume`."""

    def __init__(self, series=None):
        self.series = {k: list(v) for k, v in (series or {}).items()}

    def add(self, **values):
        for key, value in values.items():
            self.series.setdefault(key, []).append(float(value))

    def __getitem__(self, key):
        return self.series.get(key, [])

    def last(self, key):
        return self.series[key][-1]


def save_outputs(result, out, params, panels, title, checkpoint=None, plot="curves.png"):
    """Write a finished run's model (`model.npz`) and curves (when matplotlib is installed)
    under `out`, and record them (and the checkpoint, if any) in `result.files`."""
    if checkpoint is not None:
        result.files["checkpoint"] = checkpoint
    out.mkdir(parents=True, exist_ok=True)
    result.files["model"] = out / "model.npz"
    params.save(result.files["model"])
    written = save_curves(out / plot, panels, title=title)
    if written is not None:
        result.files["curves"] = written


def report_files(result, log):
    """Print the files a run wrote, and why the curves are missing if they are."""
    for name, path in result.files.items():
        log(f"{name + ':':<12}{path}")
    if result.out is not None and "curves" not in result.files:
        log("curves:     not plotted: matplotlib is not installed (pip install matplotlib)")


def save_curves(path, panels, title=""):
    """Plot `panels` side by side into the PNG `path` with matplotlib, if it is installed.

    Each panel is a dict with "ylabel", "xlabel", "series" (a list of `(label, xs, ys)` or
    `(label, xs, ys, style)`, style a dict of matplotlib line options), and optionally
    "hlines" / "vlines" (lists of `(label, y)` / `(label, x)` reference lines), "logx",
    "logy" and "ylim". Returns the path written, or None when matplotlib is missing (the
    caller prints a note)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    # A bare Figure (no pyplot): no GUI backend is chosen and no global state changes.
    fig = Figure(figsize=(5.0 * len(panels), 3.8), layout="constrained")
    for k, panel in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        for label, xs, ys, *style in panel["series"]:
            if len(xs):
                marker = "." if len(xs) < 60 else None
                ax.plot(xs, ys, label=label, **{"marker": marker, **dict(*style)})
        for label, y in panel.get("hlines", ()):
            ax.axhline(y, color="grey", linestyle="--", linewidth=1, label=label)
        for label, x in panel.get("vlines", ()):
            ax.axvline(x, color="grey", linestyle="--", linewidth=1, label=label)
        if panel.get("logx"):
            ax.set_xscale("log")
        if panel.get("logy"):
            ax.set_yscale("log")
        if panel.get("ylim"):
            ax.set_ylim(*panel["ylim"])
        ax.set_xlabel(panel["xlabel"])
        ax.set_ylabel(panel["ylabel"])
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


PER_BATCH_STYLE = {"alpha": 0.35, "linewidth": 0.8}  # noisy per-batch losses, drawn faintly


# Checkpoints -------------------------------------------------------------------------------

def save_checkpoint(path, params, opt_state, *, config, counters, history):
    """Write a checkpoint to `path` atomically (a crash mid-write leaves the previous one).

    Stores the parameter module's `state_dict()` under "params/<name>", the leaves of the
    optimiser state pytree under "opt/<i>", `counters` (ints: epoch, step) under
    "counter/<name>", `config` (strings: the options that fix the model's shape) under
    "config/<name>" and the `history` series under "history/<name>"."""
    arrays = {f"params/{k}": v for k, v in params.state_dict().items()}
    leaves, _ = tree_flatten(opt_state)
    arrays.update({f"opt/{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)})
    arrays.update({f"counter/{k}": np.asarray(int(v)) for k, v in counters.items()})
    arrays.update({f"config/{k}": np.asarray(str(v)) for k, v in config.items()})
    arrays.update({f"history/{k}": np.asarray(v, dtype=np.float64)
                   for k, v in history.series.items()})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def load_checkpoint(path, params, opt_state, *, config):
    """Read a checkpoint written by `save_checkpoint` into copies shaped like `params` (a
    module) and `opt_state` (the pytree of `opt.init(params)`).

    Raises ValueError if the checkpoint was written with another `config` (a different
    model) or its optimiser state does not match. Returns `(params, opt_state, counters,
    history)`."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as data:
        entries = {k: data[k] for k in data.files}
    group = _split_groups(entries)
    saved = {k: str(v) for k, v in group["config"].items()}
    differ = {k: (saved.get(k), str(v)) for k, v in config.items() if saved.get(k) != str(v)}
    if differ:
        detail = ", ".join(f"{k}: {a!r} in the checkpoint, {b!r} now"
                           for k, (a, b) in differ.items())
        raise TrainingError(
            f"load_checkpoint: {path} was written by a different run ({detail}); pass the "
            "same options to resume it, or choose another --out directory to start afresh."
        )
    params.load_state_dict(group["params"])
    leaves, treedef = tree_flatten(opt_state)
    saved_leaves = [group["opt"].get(str(i)) for i in range(len(leaves))]
    if len(group["opt"]) != len(leaves) or any(
            s is None or s.shape != np.shape(t) for s, t in zip(saved_leaves, leaves)):
        raise TrainingError(
            f"load_checkpoint: the optimiser state in {path} does not match this optimiser "
            f"({len(group['opt'])} arrays saved, {len(leaves)} expected); resume with the "
            "same options, or choose another --out directory."
        )
    leaves = [_like(s, t) for s, t in zip(saved_leaves, leaves)]
    counters = {k: int(v) for k, v in group["counter"].items()}
    history = History({k: v.tolist() for k, v in group["history"].items()})
    return params, tree_unflatten(treedef, leaves), counters, history


def _split_groups(entries):
    group = {"params": {}, "opt": {}, "counter": {}, "config": {}, "history": {}}
    for key, value in entries.items():
        prefix, _, name = key.partition("/")
        if prefix not in group:
            raise TrainingError(f"load_checkpoint: unexpected entry {key!r}; not a wengert "
                             "training checkpoint.")
        group[prefix][name] = value
    return group


def _like(saved, template):
    """A saved leaf converted back to the type of the fresh state's leaf (Python int step
    counters stay ints, arrays keep their dtype)."""
    if isinstance(template, (int, float, bool)):
        return type(template)(saved.item())
    return saved.astype(np.asarray(template).dtype)


def as_arrays(module):
    """A copy of `module` whose parameters are plain arrays (the functional parameters)."""
    leaves, treedef = tree_flatten(module)
    return tree_unflatten(treedef, [np.array(leaf) for leaf in leaves])


def count_parameters(params):
    return sum(int(np.size(leaf)) for leaf in tree_flatten(params)[0])


def default_out(task):
    """The default output directory of a task, ./runs/<task>."""
    return Path("runs") / task
