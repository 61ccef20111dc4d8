"""The `wengert` command line: `wengert --version` and one subcommand per entry of
`SUBCOMMANDS`.

To add a subcommand, write `_add_<name>(subparsers)` that creates its parser and sets
`run=<function(args) -> exit status>` as a default, then append it to `SUBCOMMANDS`. Import
heavy modules inside the run function, so that `wengert --help` stays fast.
"""

import argparse

from . import __version__


def _run_demo(args):
    from . import demo

    demo.main()
    return 0


def _add_demo(subparsers):
    p = subparsers.add_parser(
        "demo",
        help="a short tour: an evaluation trace, both API styles, a Hessian, gradient checks",
        description="Print the evaluation trace of the worked example of Baydin et al. (2018) "
        "in forward and reverse mode, then the same gradient in the PyTorch and JAX styles, a "
        "Hessian, gradient checks and higher-order derivatives. Takes a few seconds.",
    )
    p.set_defaults(run=_run_demo)


SUBCOMMANDS = [_add_demo]


def build_parser():
    """The argument parser of the `wengert` command, with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="wengert",
        description="wengert: automatic differentiation of NumPy programs.",
    )
    parser.add_argument("--version", action="version", version=f"wengert {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(subparsers)
    return parser


def main(argv=None):
    """Run the `wengert` command with `argv` (default: sys.argv[1:]); return the exit status.
    With no command, print the help and return 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    return args.run(args)
