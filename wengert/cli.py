"""The `wengert` command line: `wengert --version` and one subcommand per entry of
`SUBCOMMANDS`.

To add a subcommand, write `_add_<name>(subparsers)` that creates its parser and sets
`run=<function(args) -> exit status>` as a default, then append it to `SUBCOMMANDS`. Import
heavy modules inside the run function, so that `wengert --help` stays fast.
"""

import argparse
import sys
from pathlib import Path

from . import __version__
from .core.backend import keep_freed_memory


def _run_demo(args):
    from . import demo

    demo.main()
    return 0


def _add_demo(subparsers):
    p = subparsers.add_parser(
        "demo",
        help="a short tour: an evaluation trace, both API styles, a Hessian, gradient checks, "
        "a short training run",
        description="Print the evaluation trace of the worked example of Baydin et al. (2018) "
        "in forward and reverse mode, then the same gradient in the PyTorch and JAX styles, a "
        "Hessian, gradient checks, higher-order derivatives and a few seconds of training an MLP "
        "on handwritten digits (with scikit-learn installed). Takes a few seconds.",
    )
    p.set_defaults(run=_run_demo)


def _run_train(args):
    from .train.common import TrainingError, default_out

    out = default_out(args.task) if args.out is None else args.out
    try:
        if args.task == "digits":
            from .train import digits

            digits.train(args.model, args.epochs, args.batch_size, args.lr, args.seed, out,
                         args.resume)
        elif args.task == "cartpole":
            from .train import cartpole

            cartpole.train(args.algo, args.steps, args.envs, args.lr, args.seed, out)
        else:
            from .train import charlm

            charlm.train(args.text, args.steps, args.context, args.batch_size, args.lr,
                         args.seed, out, args.resume, args.sample_len, embed_dim=args.embed_dim,
                         num_heads=args.heads, num_layers=args.layers)
    except TrainingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        resume = ("" if args.task == "cartpole" else
                  f" The last checkpoint is in {out}; continue with the same options and --resume.")
        print(f"\nInterrupted.{resume}", file=sys.stderr)
        return 130
    return 0


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def _positive_float(text):
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return value


def _add_common_train_options(p, batch_size, lr):
    p.add_argument("--batch-size", type=_positive_int, default=batch_size, metavar="N",
                   help=f"examples per step (default {batch_size})")
    p.add_argument("--lr", type=_positive_float, default=lr, metavar="LR",
                   help="peak learning rate" + (f" (default {lr:g})" if lr else
                                                " (default: the model's tuned value)"))
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the initial weights and the batches (default 0)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="directory for the checkpoint, the final model (model.npz) and the "
                        "curves (curves.png); default ./runs/<task>")
    p.add_argument("--resume", action="store_true",
                   help="continue the run whose checkpoint is in --out (same options)")


def _add_train(subparsers):
    p = subparsers.add_parser(
        "train",
        help="train a network: a CNN on 8x8 digits, a character-level transformer or a "
        "CartPole policy",
        description="Train a neural network with wengert.nn and wengert.optim, showing a "
        "progress bar (tqdm, if installed) with the loss and the throughput, then a report; "
        "the checkpoint, the final model and PNG curves (matplotlib, if installed) go to "
        "--out. Stop with Ctrl-C and continue with --resume.",
    )
    tasks = p.add_subparsers(title="tasks", metavar="TASK", dest="task")

    def run_without_task(args):
        p.print_help()
        return 2

    p.set_defaults(run=run_without_task)

    d = tasks.add_parser(
        "digits", help="a small CNN (or MLP) on scikit-learn's 8x8 handwritten digits",
        description="Train a small CNN (two 3x3 convolutions, max pooling, two linear layers) "
        "or an MLP on the 1,797 8x8 digits bundled with scikit-learn (a fixed 80/20 "
        "train/test split); the CNN reaches about 99% test accuracy in under a minute. "
        "Needs scikit-learn.")
    d.add_argument("--model", choices=("cnn", "mlp"), default="cnn",
                   help="cnn (default) or mlp (64-256-256-10)")
    d.add_argument("--epochs", type=_positive_int, default=None, metavar="N",
                   help="passes over the training set (default: 40 for the CNN, 30 for the MLP)")
    _add_common_train_options(d, batch_size=64, lr=None)
    d.set_defaults(run=_run_train)

    c = tasks.add_parser(
        "charlm", help="a character-level transformer on the Python standard library's source",
        description="Train a small causal transformer to predict the next character of a "
        "text: by default the source of Python's standard library, or any UTF-8 file with "
        "--text. Prints the training and validation loss in nats per character next to the "
        "unigram entropy of the text, and a generated sample.")
    c.add_argument("--text", type=Path, default=None, metavar="PATH",
                   help="a UTF-8 text file (default: the standard library's .py files)")
    c.add_argument("--steps", type=_positive_int, default=1000, metavar="N",
                   help="optimisation steps (default 1000, about 2.5 minutes on 2 cores)")
    c.add_argument("--context", type=_positive_int, default=64, metavar="N",
                   help="characters the model sees (default 64)")
    c.add_argument("--sample-len", type=_positive_int, default=300, metavar="N",
                   help="characters to generate at the end (default 300)")
    c.add_argument("--embed-dim", type=_positive_int, default=128, metavar="N",
                   help="model width (default 128)")
    c.add_argument("--heads", type=_positive_int, default=4, metavar="N",
                   help="attention heads (default 4)")
    c.add_argument("--layers", type=_positive_int, default=2, metavar="N",
                   help="transformer blocks (default 2)")
    _add_common_train_options(c, batch_size=32, lr=3e-3)
    c.set_defaults(run=_run_train)

    r = tasks.add_parser(
        "cartpole", help="a policy gradient (PPO or REINFORCE) on Gymnasium's CartPole-v1",
        description="Train a policy for Gymnasium's CartPole-v1 with PPO (default) or "
        "REINFORCE with a learned baseline, stepping several environments at once, then "
        "evaluate the greedy policy on 100 new episodes (solved: a mean return of at least "
        "475 of 500). Either solves it in seconds on 2 cores. Needs gymnasium.")
    r.add_argument("--algo", choices=("ppo", "reinforce"), default="ppo",
                   help="ppo (default) or reinforce (with a learned baseline)")
    r.add_argument("--steps", type=_positive_int, default=None, metavar="N",
                   help="environment steps (default: 100000 for PPO, 200000 for REINFORCE)")
    r.add_argument("--envs", type=_positive_int, default=None, metavar="N",
                   help="environments stepped together (default: 8 for PPO, 16 for REINFORCE)")
    r.add_argument("--lr", type=_positive_float, default=None, metavar="LR",
                   help="Adam learning rate (default: 1e-3 for PPO, 3e-3 for REINFORCE)")
    r.add_argument("--seed", type=int, default=0,
                   help="seed of the initial weights, the environments and the sampled "
                        "actions (default 0)")
    r.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="directory for the final model (model.npz) and the return curve "
                        "(returns.png); default ./runs/cartpole")
    r.set_defaults(run=_run_train)


def _run_compare(args):
    from . import compare

    return compare.main(args)


def _add_compare(subparsers):
    p = subparsers.add_parser(
        "compare",
        help="numerical vs symbolic vs automatic differentiation, measured",
        description="Measure forward and central differences, SymPy's symbolic gradient (if "
        "installed), forward-mode AD (n JVPs) and reverse-mode AD (one VJP) on f: R^n -> R "
        "for n = 1 ... 10,000, and the opposite shape g: R -> R^m: error against the exact "
        "derivative, time, peak memory and cost relative to f, the error of differences "
        "against the step size, and SymPy's expression swell. Prints Markdown tables and "
        "saves log-log plots (matplotlib, if installed) to --out. About 30-40 s on 2 cores.",
    )
    p.add_argument("--max-n", type=_positive_int, default=None, metavar="N",
                   help="largest n (and m) of 1, 10, 100, 1000, 10000 to measure (default all)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="directory for the PNG plots (default ./runs/compare)")
    p.add_argument("--quick", action="store_true",
                   help="n up to 100, smaller studies: a few seconds")
    p.set_defaults(run=_run_compare)


def _nonnegative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not an integer >= 0")
    return value


def _print_now(text):
    print(text, flush=True)  # progress shows at once even when the output is redirected


def _run_pinn(args):
    from .pinn import examples

    options = examples.setting(args.problem, args.quick, points=args.points,
                               adam_steps=args.adam_steps,
                               lbfgs_iterations=args.lbfgs_iterations,
                               max_seconds=args.max_seconds)
    if args.quick:
        print("--quick: a short demonstration with a smaller problem; it may stop long before "
              "convergence, with a much larger error than the full run.")
    out = Path("runs") / "pinn" if args.out is None else args.out
    try:
        examples.run(args.problem, options, seed=args.seed, out=out, log=_print_now)
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    return 0


def _add_pinn(subparsers):
    p = subparsers.add_parser(
        "pinn",
        help="physics-informed networks: Burgers (Raissi et al. 2019) and Poisson",
        description="Train a physics-informed network (Adam, then L-BFGS, float64, jitted), "
        "print the relative L2 error against the exact solution and the wall time, and save "
        "a PNG of the solution, the error and the loss curve (matplotlib, if installed).",
    )
    problems = p.add_subparsers(title="problems", metavar="PROBLEM", dest="problem")

    def run_without_problem(args):
        p.print_help()
        return 2

    p.set_defaults(run=run_without_problem)
    helps = {
        "burgers": ("1-D viscous Burgers, u(0, x) = -sin(pi x), against the Cole-Hopf solution",
                    "10,000 collocation points, 9 layers of 20 tanh units; the full run is "
                    "capped at 15 minutes and aims at a relative L2 error of 1e-3."),
        "poisson": ("2-D Poisson on the unit square, exact solution sin(pi x) sin(pi y)",
                    "2,000 collocation and 400 boundary points, 5 layers of 20 tanh units; "
                    "about a minute for a relative L2 error below 1e-3."),
    }
    for name, (summary, detail) in helps.items():
        q = problems.add_parser(name, help=summary, description=f"{summary}: {detail}")
        q.add_argument("--quick", action="store_true",
                       help="a smaller network and problem, stopped after about 40 s (a "
                            "demonstration: the error is much larger)")
        q.add_argument("--seed", type=int, default=0,
                       help="seed of the points and the initial weights (default 0)")
        q.add_argument("--out", type=Path, default=None, metavar="DIR",
                       help=f"directory for {name}.png (default ./runs/pinn)")
        q.add_argument("--points", type=_positive_int, default=None, metavar="N",
                       help="collocation points (default: the example's setting, printed "
                            "when the run starts)")
        q.add_argument("--adam-steps", type=_nonnegative_int, default=None, metavar="N",
                       help="Adam steps before L-BFGS (default: the example's setting)")
        q.add_argument("--lbfgs-iterations", type=_nonnegative_int, default=None, metavar="N",
                       help="most L-BFGS iterations (default: the example's setting)")
        q.add_argument("--max-seconds", type=_positive_float, default=None, metavar="S",
                       help="stop training after S seconds (default: 870 for burgers, 900 for "
                            "poisson, 40 with --quick)")
        q.set_defaults(run=_run_pinn)


def _run_newton(args):
    from . import second_order

    return second_order.main(args)


def _add_newton(subparsers):
    p = subparsers.add_parser(
        "newton",
        help="Newton's method (exact Hessian, Hessian-vector products) against gradient "
        "descent and L-BFGS",
        description="Minimise the Rosenbrock function (n = 2 and n = 1000) and an "
        "L2-regularised logistic regression on scikit-learn's breast-cancer data (if "
        "installed) with gradient descent, L-BFGS, Newton's method with the exact Hessian and "
        "Newton-CG on Hessian-vector products (line search and trust region). Prints the "
        "iterations, evaluations and time to reach a gradient norm of 1e-10, the estimated "
        "order of convergence, and saves a plot of the gradient norm against the iteration "
        "(matplotlib, if installed) to --out. Two to four minutes on 2 cores, most of it in "
        "the dense Hessians of n = 1000.",
    )
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="directory for the plot convergence.png (default ./runs/second_order)")
    p.add_argument("--quick", action="store_true",
                   help="Rosenbrock n = 100 instead of 1000 and tighter limits: a few seconds")
    p.set_defaults(run=_run_newton)


def _run_sample(args):
    from .infer import examples

    try:
        examples.run(args.model, num_warmup=args.warmup, num_samples=args.samples,
                     chains=args.chains, seed=args.seed, mass=args.mass, kernel=args.kernel)
    except ImportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _add_sample(subparsers):
    p = subparsers.add_parser(
        "sample",
        help="NUTS (or HMC) on a model with a known answer: a 100-d Gaussian, logistic "
        "regression, Neal's funnel",
        description="Sample a model with wengert.infer (NUTS with Stan's warm-up, several "
        "chains) and print the posterior summary, the largest R-hat, the smallest bulk ESS, "
        "the ESS per gradient evaluation and the time, then check the posterior means "
        "against the exact values (gaussian: a 100-dimensional Gaussian with condition "
        "number 1e3, diagonal and dense mass matrices, about 2 minutes on 2 cores), a long "
        "reference run (logistic: Bayesian logistic regression on scikit-learn's "
        "breast-cancer data, about 30 s; needs scikit-learn) or N(0, 3^2) for v (funnel: "
        "Neal's funnel, non-centred, a few seconds).",
    )
    p.add_argument("model", choices=("gaussian", "logistic", "funnel"), help="the example")
    p.add_argument("--chains", type=_positive_int, default=4, metavar="N",
                   help="chains, run one after the other (default 4)")
    p.add_argument("--warmup", type=_positive_int, default=1000, metavar="N",
                   help="warm-up iterations per chain (default 1000)")
    p.add_argument("--samples", type=_positive_int, default=1000, metavar="N",
                   help="draws per chain after warm-up (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--mass", choices=("diag", "dense", "both"), default=None,
                   help="mass matrix adapted in warm-up (default: both for gaussian, diag "
                        "otherwise)")
    p.add_argument("--kernel", choices=("nuts", "hmc"), default="nuts",
                   help="nuts (default) or static HMC (16 leapfrog steps)")
    p.set_defaults(run=_run_sample)


SUBCOMMANDS = [_add_demo, _add_train, _add_compare, _add_pinn, _add_newton, _add_sample]


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
    keep_freed_memory()  # training loops reuse same-sized arrays: no page faults per step
    return args.run(args)
