"""Run every benchmark in one process, print the tables, and optionally append a dated
section with the machine description to benchmarks/RESULTS.md.

    python benchmarks/run_all.py                       # print only
    python benchmarks/run_all.py --append --label "after fusing the eager path"
    python benchmarks/run_all.py --only overhead,mlp --threads 1 --budget 0.5
"""

import datetime
import importlib
import shlex
import sys
import time
from pathlib import Path

try:
    from . import common
except ImportError:  # run as a script
    import common

BENCHMARKS = ("overhead", "mlp", "rosenbrock", "hessian", "training", "jit", "sparse_jacobian",
              "meta", "rl")
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _options(parser):
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    parser.add_argument("--append", action="store_true",
                        help=f"append a dated section to {RESULTS.name}")
    parser.add_argument("--label", default="",
                        help="a few words on what this run measures (e.g. the commit's change)")
    parser.add_argument("--date", default=datetime.date.today().isoformat(),
                        help="date of the section (default: today)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="file to append to")


def _load(name):
    # As a script, benchmarks/ itself is on sys.path; as a module (-m), import from the package.
    prefix = f"{__package__}." if __package__ else ""
    return importlib.import_module(f"{prefix}bench_{name}")


def section(args, reports, seconds):
    """The Markdown section appended to RESULTS.md for this run."""
    title = f"## {args.date}" + (f": {args.label}" if args.label else "")
    command = shlex.join(["python", "benchmarks/run_all.py", *sys.argv[1:]])
    lines = [title, ""]
    lines += [f"- {line}" for line in common.machine_info()]
    lines += [f"- Command: `{command}` ({seconds:.0f} s)", ""]
    for report in reports:
        lines += [f"### {report.title}", "", report.markdown(), ""]
    return "\n".join(lines)


def main(argv=None):
    args = common.parse_args(__doc__, argv, extra=_options)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        raise SystemExit(f"run_all: unknown benchmark(s) {unknown}; choose from {BENCHMARKS}")
    start = time.perf_counter()
    reports = []
    for name in names:
        report = _load(name).run()
        report.print()
        reports.append(report)
    seconds = time.perf_counter() - start
    print("\n" + "\n".join(common.machine_info()))
    if args.append:
        text = section(args, reports, seconds)
        with open(args.results, "a", encoding="utf-8") as out:
            out.write("\n" + text)
        print(f"\nAppended to {args.results}")


if __name__ == "__main__":
    main()
