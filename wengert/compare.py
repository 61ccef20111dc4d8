"""`wengert compare`: numerical, symbolic and automatic differentiation, measured side by side.

For f: R^n -> R (`chain`, with an exact gradient) at n = 1 ... 10,000, it measures forward and
central differences (n + 1 and 2n evaluations of f), SymPy's symbolic gradient (build,
differentiate, simplify, lambdify, evaluate; skipped where infeasible, and the table says so),
forward-mode AD (n JVPs) and reverse-mode AD (one VJP): the error against the exact gradient,
the time, the peak memory (tracemalloc) and the cost relative to evaluating f. It also measures
the error of differences against the step size (truncation and round-off), expression swell of
symbolic derivatives, and the opposite shape g: R -> R^m, where one JVP beats m VJPs.

    from wengert.compare import run_comparison, format_table
    result = run_comparison(ns=(1, 10, 100))
    print(format_table(result["gradient"]))

SymPy and matplotlib are optional: without them the symbolic tables and the plots are skipped
with a note.
"""

import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import numpy as wnp
from .train.common import save_curves
from .transforms.api import jvp, vjp

EPS = float(np.finfo(np.float64).eps)
QUICK_NS = (1, 10, 100)


# The test functions and their exact derivatives ------------------------------------------

def chain(x):
    """f(x) = sum_i sin(x_i) x_{i+1} + sum_i exp(x_i) / n: every input interacts with its
    neighbours, and the exact gradient is cheap (`chain_grad`)."""
    n = x.shape[0]
    return wnp.sum(wnp.sin(x[:-1]) * x[1:]) + wnp.sum(wnp.exp(x)) / n


def chain_grad(x):
    """The exact gradient of `chain`, written by hand with NumPy."""
    g = np.exp(x) / x.shape[0]
    g[:-1] += np.cos(x[:-1]) * x[1:]
    g[1:] += np.sin(x[:-1])
    return g


def wave_rates(m):
    """The rates a of `wave`: m values spread over [0.5, 2]."""
    return np.linspace(0.5, 2.0, m)


def wave(t, a):
    """g(t) = sin(a t) exp(t / a), a map R -> R^m (one output per rate in `a`)."""
    return wnp.sin(a * t) * wnp.exp(t / a)


def wave_derivative(t, a):
    """The exact derivative dg/dt of `wave`."""
    return (a * np.cos(a * t) + np.sin(a * t) / a) * np.exp(t / a)


class Counted:
    """`fn` that counts its calls (evaluations of f, or backward sweeps of a pullback)."""

    def __init__(self, fn):
        self.fn = fn
        self.calls = 0

    def __call__(self, *args):
        self.calls += 1
        return self.fn(*args)


def relative_error(approx, exact):
    """Normwise relative error max_i |approx_i - exact_i| / max_i |exact_i| (componentwise
    relative errors blow up where a component of the exact derivative is near zero)."""
    approx, exact = np.asarray(approx, dtype=np.float64), np.asarray(exact, dtype=np.float64)
    return float(np.max(np.abs(approx - exact)) / np.max(np.abs(exact)))


# The differentiation methods: each returns (derivative, passes) ------------------------------

def forward_difference(f, x, h):
    """Gradient of scalar f by forward differences (f(x + h e_i) - f(x)) / h_i with
    h_i = h max(1, |x_i|): n + 1 evaluations."""
    f0 = float(f(x))
    g = np.empty_like(x)
    for i in range(x.shape[0]):
        step = h * max(1.0, abs(x[i]))
        xp = x.copy()
        xp[i] += step
        g[i] = (float(f(xp)) - f0) / step
    return g


def central_difference(f, x, h):
    """Gradient of scalar f by central differences (f(x + h e_i) - f(x - h e_i)) / 2h_i with
    h_i = h max(1, |x_i|): 2n evaluations."""
    g = np.empty_like(x)
    for i in range(x.shape[0]):
        step = h * max(1.0, abs(x[i]))
        xp, xm = x.copy(), x.copy()
        xp[i] += step
        xm[i] -= step
        g[i] = (float(f(xp)) - float(f(xm))) / (2 * step)
    return g


def _fd_forward(f, x):
    return forward_difference(f, x, np.sqrt(EPS)), f.calls


def _fd_central(f, x):
    return central_difference(f, x, np.cbrt(EPS)), f.calls


def _ad_forward(f, x):
    """n JVPs, one per basis vector: each runs f once on dual numbers."""
    g = np.empty_like(x)
    e = np.zeros_like(x)
    for i in range(x.shape[0]):
        e[i] = 1.0
        g[i] = jvp(f, (x,), (e,))[1]
        e[i] = 0.0
    return g, f.calls


def _ad_reverse(f, x):
    """One VJP: f recorded once, then one backward sweep (the count is of sweeps)."""
    _, pullback = vjp(f, x)
    pullback = Counted(pullback)
    (g,) = pullback(np.float64(1.0))
    return g, pullback.calls


def _column_forward_difference(g, t, a):
    h = np.sqrt(EPS) * max(1.0, abs(t))
    return (g(t + h, a) - g(t, a)) / h, g.calls


def _column_central_difference(g, t, a):
    h = np.cbrt(EPS) * max(1.0, abs(t))
    return (g(t + h, a) - g(t - h, a)) / (2 * h), g.calls


def _column_forward(g, t, a):
    """One JVP with tangent 1 gives the whole column dg/dt."""
    return jvp(lambda s: g(s, a), (t,), (np.float64(1.0),))[1], g.calls


def _column_reverse(g, t, a):
    """m VJPs (one per output, from one recording): each gives one entry of dg/dt."""
    _, pullback = vjp(lambda s: g(s, a), t)
    pullback = Counted(pullback)
    e = np.zeros_like(a)
    d = np.empty_like(a)
    for i in range(a.shape[0]):
        e[i] = 1.0
        (d[i],) = pullback(e)
        e[i] = 0.0
    return d, pullback.calls


GRADIENT_METHODS = [
    ("forward difference", "n + 1 evaluations", _fd_forward),
    ("central difference", "2n evaluations", _fd_central),
    ("forward-mode AD", "n JVPs", _ad_forward),
    ("reverse-mode AD", "1 VJP", _ad_reverse),
]
COLUMN_METHODS = [
    ("forward difference", "2 evaluations", _column_forward_difference),
    ("central difference", "2 evaluations", _column_central_difference),
    ("forward-mode AD", "1 JVP", _column_forward),
    ("reverse-mode AD", "m VJPs", _column_reverse),
]


# Measuring ---------------------------------------------------------------------------------

def _seconds(fn, min_total=0.2, max_repeats=5):
    """The best of a few timed runs of fn() (one run when it is slow)."""
    best, total, runs = np.inf, 0.0, 0
    while runs < max_repeats and (runs == 0 or total < min_total):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, total, runs = min(best, elapsed), total + elapsed, runs + 1
    return best


def _peak_bytes(fn):
    """Peak memory allocated while fn() runs, by tracemalloc (NumPy reports its buffers)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@dataclass
class Table:
    """A measured table: `columns` names, `rows` lists of cells, `notes` printed below."""

    title: str
    columns: list
    rows: list = field(default_factory=list)
    notes: list = field(default_factory=list)


def _fmt(value):
    if isinstance(value, str):
        return value
    if isinstance(value, (int, np.integer)):
        return f"{value:,}"
    if value == 0:
        return "0"
    return f"{value:.2e}" if abs(value) < 1e-2 or abs(value) >= 1e4 else f"{value:.3g}"


def _fmt_bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def format_table(table):
    """The Markdown text of a `Table`: a heading, the grid and its notes."""
    lines = [f"### {table.title}", "", "| " + " | ".join(table.columns) + " |",
             "|" + "|".join("---" for _ in table.columns) + "|"]
    lines += ["| " + " | ".join(_fmt(c) for c in row) + " |" for row in table.rows]
    lines += [""] + [f"- {note}" for note in table.notes]
    return "\n".join(lines).rstrip() + "\n"


def _method_row(label, passes_law, method, fn, args, exact, base_seconds, size):
    """One measured row: error, counted passes, time, cost relative to f, peak memory."""
    counted = Counted(fn)
    derivative, passes = method(counted, *args)
    seconds = _seconds(lambda: method(Counted(fn), *args))
    peak = _peak_bytes(lambda: method(Counted(fn), *args))
    return [size, label, f"{passes:,} ({passes_law})", relative_error(derivative, exact),
            seconds, seconds / base_seconds, _fmt_bytes(peak)], seconds, peak


COST_COLUMNS = ["passes", "max rel. error", "time (s)", "time / time(f)", "peak memory"]


def gradient_table(ns, seed=0, symbolic=None):
    """Measure every method of `GRADIENT_METHODS` on `chain` at each n of `ns`; with
    `symbolic` (the result of `symbolic_gradient_study`) its rows are merged in. Returns
    (Table, series) where series maps a method to its (n, time, error, peak) points."""
    table = Table("Gradient of f: R^n -> R, f(x) = sum sin(x_i) x_(i+1) + sum exp(x_i)/n",
                  ["n", "method"] + COST_COLUMNS)
    series = {}
    rng = np.random.default_rng(seed)
    sym_rows = {row["n"]: row for row in (symbolic or {}).get("rows", [])}
    for n in ns:
        x = rng.uniform(-1.0, 1.0, n)
        exact = chain_grad(x)
        base = _seconds(lambda x=x: chain(x))
        table.rows.append([n, "f itself", "1 evaluation", "-", base, 1.0,
                           _fmt_bytes(_peak_bytes(lambda x=x: chain(x)))])
        for label, law, method in GRADIENT_METHODS:
            row, seconds, peak = _method_row(label, law, method, chain, (x,), exact, base, n)
            table.rows.append(row)
            series.setdefault(label, []).append((n, seconds, row[3], peak))
        if symbolic is not None:
            table.rows.append(_symbolic_summary_row(n, sym_rows.get(n), symbolic, base))
    table.notes += [
        "passes: evaluations of f for differences, JVPs for forward mode (each one run of f "
        "on dual numbers), backward sweeps for reverse mode (after one recorded run of f); "
        "counted, not assumed.",
        "max rel. error: max_i |g_i - g*_i| / max_i |g*_i| against the exact gradient g*.",
        "steps: h = sqrt(eps) max(1, |x_i|) forward, cbrt(eps) max(1, |x_i|) central.",
        "time: best of up to 5 runs; peak memory: tracemalloc over one run.",
    ]
    return table, series


def column_table(ms, t=0.7):
    """Measure the derivative of g: R -> R^m (`wave`) at each m of `ms` with every method of
    `COLUMN_METHODS`. Returns (Table, series) as `gradient_table`."""
    table = Table("Derivative of g: R -> R^m, g(t) = sin(a t) exp(t / a)",
                  ["m", "method"] + COST_COLUMNS)
    series = {}
    t = np.float64(t)
    for m in ms:
        a = wave_rates(m)
        exact = wave_derivative(t, a)
        base = _seconds(lambda a=a: wave(t, a))
        table.rows.append([m, "g itself", "1 evaluation", "-", base, 1.0,
                           _fmt_bytes(_peak_bytes(lambda a=a: wave(t, a)))])
        for label, law, method in COLUMN_METHODS:
            row, seconds, peak = _method_row(label, law, method, wave, (t, a), exact, base, m)
            table.rows.append(row)
            series.setdefault(label, []).append((m, seconds, row[3], peak))
    table.notes.append("Here forward mode needs one pass for any m, reverse mode m: the mirror "
                       "image of the gradient table.")
    return table, series


# Error against step size -------------------------------------------------------------------

def fit_slope(hs, errors, lo, hi):
    """The least-squares slope of log(error) against log(h) over lo <= h <= hi."""
    hs, errors = np.asarray(hs), np.asarray(errors)
    keep = (hs >= lo) & (hs <= hi) & (errors > 0)
    return float(np.polyfit(np.log(hs[keep]), np.log(errors[keep]), 1)[0])


# The regimes where one error term dominates, for `chain` at points in [-1, 1].
TRUNCATION = {"forward": (1e-6, 1e-2), "central": (10**-3.5, 1e-1)}
ROUND_OFF = {"forward": (1e-14, 1e-10), "central": (1e-14, 1e-8)}


def step_size_study(n=100, seed=0, hs=None):
    """Error of forward and central differences of `chain` at one random point against the
    step h, with the fitted slopes of the truncation and round-off regimes and the best h.
    Returns (Table, study dict with "h", "forward", "central" error arrays)."""
    hs = 10.0 ** np.arange(-16, 0.01, 0.25) if hs is None else np.asarray(hs)
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, n)
    exact = chain_grad(x)
    study = {"h": hs, "n": n}
    table = Table(f"Error of differences against the step h (n = {n})",
                  ["method", "truncation slope (expected)", "round-off slope (expected)",
                   "best h", "best h predicted", "smallest error"])
    for name, diff, order, predicted in (("forward", forward_difference, 1, np.sqrt(EPS)),
                                         ("central", central_difference, 2, np.cbrt(EPS))):
        errors = np.array([relative_error(diff(chain, x, h), exact) for h in hs])
        study[name] = errors
        best = int(np.argmin(errors))
        study[name + "_slopes"] = (fit_slope(hs, errors, *TRUNCATION[name]),
                                   fit_slope(hs, errors, *ROUND_OFF[name]))
        table.rows.append([f"{name} difference", f"{study[name + '_slopes'][0]:.2f} ({order})",
                           f"{study[name + '_slopes'][1]:.2f} (-1)", hs[best],
                           f"{predicted:.1e} ({'sqrt' if order == 1 else 'cbrt'}(eps))",
                           errors[best]])
    table.notes += [
        "Truncation error ~ h (forward) or h^2 (central); round-off ~ eps / h. The error is "
        "smallest where they meet, near sqrt(eps) and cbrt(eps), and never reaches machine "
        "precision: about 1e-8 and 1e-11 at best.",
        "Slopes fitted over h in " + "; ".join(
            f"[{TRUNCATION[k][0]:.0e}, {TRUNCATION[k][1]:.0e}] (truncation) and "
            f"[{ROUND_OFF[k][0]:.0e}, {ROUND_OFF[k][1]:.0e}] (round-off) for {k}"
            for k in TRUNCATION) + ".",
    ]
    return table, study


# Symbolic differentiation ------------------------------------------------------------------

def _import_sympy():
    try:
        import sympy
    except ImportError:
        return None
    return sympy


def _chain_expression(sp, n):
    xs = sp.symbols(f"x0:{n}")
    return xs, sp.Add(*[sp.sin(xs[i]) * xs[i + 1] for i in range(n - 1)]) + \
        sp.Add(*[sp.exp(v) for v in xs]) / n


def _simplify_capped(sp, exprs, seconds):
    """simplify() each expression in turn until `seconds` have passed (simplify has no
    timeout of its own); the rest stay as they are. Returns (exprs, how many simplified)."""
    start, out = time.perf_counter(), list(exprs)
    for i, e in enumerate(exprs):
        if time.perf_counter() - start > seconds:
            return out, i
        out[i] = sp.simplify(e)
    return out, len(exprs)


def _symbolic_pipeline(sp, n, x, simplify_seconds):
    """Build, differentiate, simplify (capped), lambdify and evaluate; times per stage."""
    times = {}
    clock = time.perf_counter()
    xs, expr = _chain_expression(sp, n)
    times["build"], clock = time.perf_counter() - clock, time.perf_counter()
    derivative = [sp.diff(expr, v) for v in xs]
    times["differentiate"], clock = time.perf_counter() - clock, time.perf_counter()
    simplified, done = _simplify_capped(sp, derivative, simplify_seconds)
    times["simplify"], clock = time.perf_counter() - clock, time.perf_counter()
    fn = sp.lambdify(xs, derivative, "numpy")
    times["lambdify"], clock = time.perf_counter() - clock, time.perf_counter()
    value = np.array(fn(*x), dtype=np.float64)
    times["evaluate"] = time.perf_counter() - clock
    return expr, derivative, simplified, done, value, times


def symbolic_gradient_study(ns, budget=30.0, simplify_seconds=2.0, seed=0):
    """SymPy's gradient of `chain` at each n of `ns` (same points as `gradient_table`), until
    the time predicted for the next n (quadratic growth, as measured) exceeds `budget`
    seconds. Returns {"table": Table, "rows": [...], "stopped": (n, reason)} or None without
    SymPy."""
    sp = _import_sympy()
    if sp is None:
        return None
    table = Table("Symbolic gradient with SymPy (expression swell and cost)",
                  ["n", "ops(f)", "ops(grad f)", "swell", "ops simplified (done)", "build (s)",
                   "differentiate (s)", "simplify (s)", "lambdify (s)", "evaluate (s)",
                   "max rel. error"])
    rows, stopped, last = [], None, None
    rng = np.random.default_rng(seed)
    for n in ns:
        x = rng.uniform(-1.0, 1.0, n)
        if last is not None:
            # Differentiating each of n components of an O(n) expression: O(n^2).
            predicted = last[1] * (n / last[0]) ** 2 + simplify_seconds
            if predicted > budget:
                stopped = (n, f"stopped before n = {n:,}: about {predicted:.0f} s predicted "
                              f"(time grows as n^2) exceeds the {budget:.0f} s budget")
                table.rows.append([n] + ["not run (infeasible)"] + ["-"] * 9)
                break
        expr, derivative, simplified, done, value, times = _symbolic_pipeline(
            sp, n, x, simplify_seconds)
        peak = _peak_bytes(lambda n=n, x=x: _symbolic_pipeline(sp, n, x, 0.0)) \
            if sum(times.values()) < budget / 10 else None
        ops_f = int(sp.count_ops(expr))
        ops_g = sum(int(sp.count_ops(e)) for e in derivative)
        ops_s = sum(int(sp.count_ops(e)) for e in simplified[:done]) + \
            sum(int(sp.count_ops(e)) for e in derivative[done:])
        error = relative_error(value, chain_grad(x))
        total = sum(t for k, t in times.items() if k != "simplify")
        rows.append({"n": n, "ops_f": ops_f, "ops_grad": ops_g, "error": error, "total": total,
                     "peak": peak, "times": times})
        table.rows.append([n, ops_f, ops_g, f"{ops_g / max(ops_f, 1):.2f}",
                           f"{ops_s:,} ({done}/{n})", times["build"], times["differentiate"],
                           times["simplify"], times["lambdify"], times["evaluate"], error])
        last = (n, total)
    for n in ns[len(rows) + (stopped is not None):]:
        table.rows.append([n] + ["not run (infeasible)"] + ["-"] * 9)
    table.notes += [
        "ops: sympy.count_ops, summed over the n components of the gradient; swell = "
        "ops(grad f) / ops(f).",
        f"simplify: sympy.simplify on each component until {simplify_seconds:g} s have passed "
        "(it has no timeout); (done) counts the simplified components.",
    ]
    if stopped:
        table.notes.append(stopped[1] + ".")
    return {"table": table, "rows": rows, "stopped": stopped}


def _symbolic_summary_row(n, row, symbolic, base):
    if row is None:
        return [n, "symbolic (SymPy)", "-", "not run: infeasible (see the SymPy table)", "-",
                "-", "-"]
    peak = "-" if row["peak"] is None else _fmt_bytes(row["peak"])
    return [n, "symbolic (SymPy)", "build + diff + lambdify + evaluate", row["error"],
            row["total"], row["total"] / base, peak]


def swell_study(depths=range(1, 9)):
    """Expression swell on a nested composition f_1 = sin(x) x, f_k = sin(f_(k-1)) f_(k-1):
    the size (sympy.count_ops, as a tree) of f_k, of its derivative, and of the derivative
    after common-subexpression elimination (what AD's shared intermediate values amount to).
    Returns (Table, series) or (None, None) without SymPy."""
    sp = _import_sympy()
    if sp is None:
        return None, None
    table = Table("Expression swell: f_k(x) = sin(f_(k-1)(x)) f_(k-1)(x), f_0 = x",
                  ["k", "ops(f_k)", "ops(f_k')", "swell", "ops(cse(f_k'))", "diff (s)"])
    x = sp.Symbol("x")
    expr, series = x, []
    for k in depths:
        while len(series) + 1 < k:  # depths need not start at 1
            expr = sp.sin(expr) * expr
            series.append(None)
        expr = sp.sin(expr) * expr
        start = time.perf_counter()
        derivative = sp.diff(expr, x)
        seconds = time.perf_counter() - start
        replacements, reduced = sp.cse(derivative)
        ops_cse = sum(int(sp.count_ops(v)) for _, v in replacements) + \
            int(sp.count_ops(reduced[0]))
        ops_f, ops_d = int(sp.count_ops(expr)), int(sp.count_ops(derivative))
        series.append((k, ops_f, ops_d, ops_cse))
        table.rows.append([k, ops_f, ops_d, f"{ops_d / ops_f:.2f}", ops_cse, seconds])
    table.notes.append("ops(f_k) doubles with k and ops(f_k') grows faster still (the swell "
                       "rises with k), while the derivative with shared subexpressions grows "
                       "about linearly, like an AD trace.")
    return table, [s for s in series if s is not None]


# Plots -------------------------------------------------------------------------------------

_GUIDE_STYLE = {"color": "grey", "linestyle": ":", "marker": None}


def _save_loglog(path, panels, title):
    """Log-log panels through train.common.save_curves: each panel a dict with "xlabel",
    "ylabel", "series" [(label, xs, ys)] and optional "vlines" [(label, x)] and "guides"
    [(label, xs, ys)] drawn dotted, which do not stretch the axes beyond the measured
    values. Returns the path, or None without matplotlib."""
    plotted = []
    for panel in panels:
        measured = np.concatenate([np.ravel(ys) for _, _, ys in panel["series"]])
        guides = [(label, xs, ys, _GUIDE_STYLE) for label, xs, ys in panel.get("guides", ())]
        plotted.append({**panel, "series": list(panel["series"]) + guides, "logx": True,
                        "logy": True, "ylim": (np.nanmin(measured) / 3, np.nanmax(measured) * 3)})
    return save_curves(path, plotted, title)


def _cost_panels(series, size_label):
    def points(j):
        return [(label, [p[0] for p in pts], np.maximum([p[j] for p in pts], EPS / 100))
                for label, pts in series.items()]

    return [{"xlabel": size_label, "ylabel": "time (s)", "series": points(1)},
            {"xlabel": size_label, "ylabel": "max rel. error (floored at 2e-18)",
             "series": points(2)},
            {"xlabel": size_label, "ylabel": "peak memory (bytes)", "series": points(3)}]


def save_plots(result, out):
    """Write the PNGs of a `run_comparison` result into `out`; returns the paths written
    (empty without matplotlib)."""
    out = Path(out)
    study = result["step_study"]
    hs = study["h"]
    paths = [_save_loglog(out / "step_size.png", [{
        "xlabel": "step h", "ylabel": "max rel. error of the gradient",
        "series": [("forward difference", hs, study["forward"]),
                   ("central difference", hs, study["central"])],
        "guides": [("slope 1, 2, -1", hs, hs), ("", hs, hs ** 2), ("", hs, EPS / hs)],
        "vlines": [("sqrt(eps)", np.sqrt(EPS)), ("cbrt(eps)", np.cbrt(EPS))]}],
        f"Differences: truncation against round-off (n = {study['n']})")]
    gradient_series = dict(result["gradient_series"])
    if result["symbolic"] and result["symbolic"]["rows"]:
        gradient_series["symbolic (SymPy)"] = [
            (r["n"], r["total"], r["error"], r["peak"] or np.nan)
            for r in result["symbolic"]["rows"]]
    paths.append(_save_loglog(out / "gradient_cost.png", _cost_panels(gradient_series, "n"),
                              "Gradient of f: R^n -> R"))
    paths.append(_save_loglog(out / "column_cost.png",
                              _cost_panels(result["column_series"], "m"),
                              "Derivative of g: R -> R^m"))
    if result["swell_series"]:
        ks = [s[0] for s in result["swell_series"]]
        sym_rows = result["symbolic"]["rows"]
        paths.append(_save_loglog(out / "expression_swell.png", [
            {"xlabel": "depth k", "ylabel": "sympy.count_ops",
             "series": [(name, ks, [s[j] for s in result["swell_series"]])
                        for j, name in ((1, "f_k"), (2, "f_k'"), (3, "cse(f_k')"))]},
            {"xlabel": "n", "ylabel": "sympy.count_ops",
             "series": [("f", [r["n"] for r in sym_rows], [r["ops_f"] for r in sym_rows]),
                        ("grad f", [r["n"] for r in sym_rows],
                         [r["ops_grad"] for r in sym_rows])]}],
            "Expression swell of symbolic derivatives"))
    return [p for p in paths if p is not None]


# Running it all ----------------------------------------------------------------------------

def run_comparison(ns=(1, 10, 100, 1000, 10000), ms=None, step_n=100, symbolic_budget=30.0,
                   simplify_seconds=2.0, swell_depths=range(1, 9), seed=0, out=None):
    """Measure everything; returns a dict of `Table`s ("gradient", "column", "step_size",
    "symbolic", "swell"; the last two None without SymPy), the raw series and study, and
    "plots" (PNG paths written under `out`, if given and matplotlib is installed).

    ns: the input sizes n of f: R^n -> R; ms: the output sizes m of g: R -> R^m (default ns);
    step_n: the n of the error-against-step study; symbolic_budget: seconds beyond which
    SymPy is not tried at a larger n; simplify_seconds: the cap on simplify per n."""
    ns = tuple(sorted(ns))
    ms = ns if ms is None else tuple(sorted(ms))
    symbolic = symbolic_gradient_study(ns, symbolic_budget, simplify_seconds, seed)
    gradient, gradient_series = gradient_table(ns, seed, symbolic)
    if symbolic is None:
        gradient.notes.append("symbolic: SymPy is not installed (pip install sympy); skipped.")
    column, column_series = column_table(ms)
    step_table, step_study = step_size_study(step_n, seed)
    swell, swell_series = swell_study(swell_depths)
    result = {"gradient": gradient, "column": column, "step_size": step_table,
              "symbolic": symbolic, "swell": swell, "gradient_series": gradient_series,
              "column_series": column_series, "step_study": step_study,
              "swell_series": swell_series, "plots": []}
    if out is not None:
        result["plots"] = save_plots(result, out)
    return result


def main(args):
    """Run `wengert compare` with parsed `args` (max_n, out, quick); print the Markdown
    tables and the plot paths; return the exit status."""
    ns = QUICK_NS if args.quick else (1, 10, 100, 1000, 10000)
    if args.max_n is not None:  # a positive int: n = 1 always remains
        ns = tuple(n for n in ns if n <= args.max_n)
    options = ({"step_n": 10, "symbolic_budget": 5.0, "simplify_seconds": 0.5,
                "swell_depths": range(1, 6)} if args.quick else {})
    out = Path("runs") / "compare" if args.out is None else Path(args.out)
    result = run_comparison(ns, out=out, **options)
    for key in ("gradient", "symbolic", "column", "step_size", "swell"):
        table = result[key]["table"] if key == "symbolic" and result[key] else result[key]
        if table is not None:
            print(format_table(table))
    if result["symbolic"] is None:
        print("SymPy is not installed (pip install sympy): the symbolic tables are skipped.\n")
    if result["plots"]:
        print("Plots: " + ", ".join(str(p) for p in result["plots"]))
    else:
        print("matplotlib is not installed (pip install matplotlib): no plots written.")
    return 0
