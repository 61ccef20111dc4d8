"""`wengert demo`: a short tour of the library, starting from the evaluation trace (the Wengert
list) of the worked example in Baydin et al. (2018), "Automatic differentiation in machine
learning: a survey", generated from the reverse-mode tape that the library actually records.

`evaluation_trace(f, *args)` is reusable: it records `f` once and returns one `TraceRow` per
input and per recorded operation, with the primal value, the forward-mode tangent and the
reverse-mode adjoint of each.
"""

import importlib.util
import inspect
import sys
import unicodedata
from dataclasses import dataclass

import numpy as np

import wengert as wg
import wengert.numpy as wnp
from wengert.core import raw_value
from wengert.testing import check_grads
from wengert.transforms.forward import fit_tangent
from wengert.transforms.reverse import (
    Node,
    ReverseTrace,
    ReverseTracer,
    backward_pass,
    functional_rule_inputs,
)

# How a primitive is written in the trace: infix symbols for arithmetic, the survey's "ln".
_INFIX = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/", "power": "**",
          "matmul": "@"}
_PREFIX = {"log": "ln", "negative": "-"}


@dataclass(frozen=True)
class TraceRow:
    """One line of an evaluation trace: `name = expression`, its primal `value`, its
    forward-mode `tangent` (v-dot) and its reverse-mode `adjoint` (v-bar)."""

    name: str
    expression: str
    value: object
    tangent: object
    adjoint: object


class _RecordingTrace(ReverseTrace):
    """The reverse-mode trace, also keeping its nodes in the order they were evaluated (any
    topological order is valid; this one numbers the variables as the survey does)."""

    def __init__(self):
        super().__init__()
        self.nodes = []

    def process(self, prim, args, params):
        out = super().process(prim, args, params)
        self.nodes.append(out[0].node if prim.multiple_results else out.node)
        return out


def _input_names(f, n):
    try:
        names = list(inspect.signature(f).parameters)[:n]
    except (TypeError, ValueError):
        names = []
    return names if len(names) == n else [f"x{i + 1}" for i in range(n)]


def _expression(node, names):
    """How node's operation reads in the trace, e.g. 'v_-1 * v_0', 'ln v_-1', 'sum(v_2, axis=0)'."""
    traced = {argnum: parent for argnum, parent, _ in node.parents}
    args = [names[traced[i]] if i in traced else format_value(a) for i, a in enumerate(node.args)]
    name = node.prim.name
    if node.params:
        return f"{name}({', '.join(args + [f'{k}={v!r}' for k, v in node.params.items()])})"
    if len(args) == 2 and name in _INFIX:
        return f"{args[0]} {_INFIX[name]} {args[1]}"
    if len(args) == 1:
        return f"{_PREFIX.get(name, name)} {args[0]}"
    return f"{name}({', '.join(args)})"


def evaluation_trace(f, *args, tangents=None, cotangent=1.0):
    """Record `f(*args)` and return its evaluation trace as a list of `TraceRow`s.

    The inputs are named v_{1-n} .. v_0 and the recorded operations v_1, v_2, ... in
    evaluation order. Tangents are pushed forward through each primitive's JVP rule from
    `tangents` (default: 1 for the first input, 0 for the others); adjoints are pulled back
    from `cotangent` on the output by the reverse-mode engine's backward pass. `f` must
    return one traced array and use single-output primitives.

    >>> rows = evaluation_trace(lambda x1, x2: wnp.log(x1) + x1 * x2 - wnp.sin(x2), 2.0, 5.0)
    >>> rows[-1].value, rows[-1].adjoint  # y = v_5 = 11.652, v_5-bar = 1
    """
    inputs = [np.asarray(a) for a in args]
    inputs = [x if x.dtype.kind in "fc" else x.astype(float) for x in inputs]
    if tangents is None:
        tangents = [np.ones_like(inputs[0])] + [np.zeros_like(x) for x in inputs[1:]]
    tangents = [np.asarray(t, dtype=x.dtype) for t, x in zip(tangents, inputs)]
    with _RecordingTrace() as trace:
        leaves = [Node.new_leaf() for _ in inputs]
        out = f(*[ReverseTracer(trace, x, leaf) for x, leaf in zip(inputs, leaves)])
    if not (type(out) is ReverseTracer and out._trace is trace):
        raise TypeError(
            "evaluation_trace: the function must return one value computed from its inputs "
            f"with wengert.numpy operations, but it returned {type(out).__name__}."
        )
    for node in trace.nodes:
        if node.prim.multiple_results:
            raise NotImplementedError(
                f"evaluation_trace: {node.prim.name} has several outputs, which the trace "
                "table does not show; trace a function of single-output operations."
            )

    names = {leaf: f"v_{i + 1 - len(leaves)}" for i, leaf in enumerate(leaves)}
    names.update({node: f"v_{i + 1}" for i, node in enumerate(trace.nodes)})

    # Forward mode: one JVP rule call per node, in evaluation order.
    tan = dict(zip(leaves, tangents))
    for node in trace.nodes:
        ts = [None] * len(node.args)
        for argnum, parent, _ in node.parents:
            ts[argnum] = tan.get(parent)
        t_out = node.prim.jvp(ts, node.ans, *node.args, **node.params)
        tan[node] = None if t_out is None else fit_tangent(t_out, node.ans)

    # Reverse mode: the engine's own backward pass, asked to report every node's adjoint.
    seed = np.asarray(cotangent, dtype=raw_value(out.primal).dtype)
    adjoints = backward_pass([(out.node, None, seed)], functional_rule_inputs,
                             capture=dict.fromkeys(trace.nodes))

    def zero_if_none(v, like):
        return np.zeros_like(raw_value(like)) if v is None else raw_value(v)

    param_names = _input_names(f, len(inputs))
    rows = [TraceRow(names[leaf], param_names[i], x, tangents[i],
                     zero_if_none(adjoints.get(leaf), x))
            for i, (leaf, x) in enumerate(zip(leaves, inputs))]
    rows += [TraceRow(names[node], _expression(node, names), raw_value(node.ans),
                      zero_if_none(tan.get(node), node.ans),
                      zero_if_none(adjoints.get(node), node.ans))
             for node in trace.nodes]
    return rows


def format_value(x, digits=3):
    """A value as the survey prints it: 3 decimals, trailing zeros dropped, no '-0'."""
    x = np.asarray(raw_value(x))
    if x.ndim:
        return np.array2string(x, precision=digits, suppress_small=True)
    s = f"{float(np.real(x)) + 0.0:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


def _width(text):
    """Printed width: combining accents (the dot of v-dot, the bar of v-bar) take no column."""
    return sum(not unicodedata.combining(c) for c in text)


def _pad(text, width):
    return text + " " * (width - _width(text))


def _table(title, header, rows):
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    if title:
        print(f"\n{title}")
    line = "  ".join(_pad(h, w) for h, w in zip(header, widths)).rstrip()
    print(f"  {line}\n  {'-' * _width(line)}")
    for r in rows:
        print("  " + "  ".join(_pad(c, w) for c, w in zip(r, widths)).rstrip())


def _can_print(text):
    try:
        text.encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _dot(name):
    """v_1 -> v-dot_1 (the tangent), spelt 'vdot_1' where the terminal cannot show accents."""
    return name[0] + ("\u0307" if _can_print("\u0307") else "dot") + name[1:]


def _bar(name):
    """v_1 -> v-bar_1 (the adjoint), spelt 'vbar_1' where the terminal cannot show accents."""
    return name[0] + ("\u0304" if _can_print("\u0304") else "bar") + name[1:]


def _heading(text):
    print(f"\n{text}\n{'=' * len(text)}")


def baydin_example(x1, x2):
    """f(x1, x2) = ln(x1) + x1 x2 - sin(x2), the survey's worked example."""
    # Evaluated in the survey's order (sin before the sum), so the recorded trace numbers its
    # variables v_1 .. v_5 as the survey's tables do.
    v1 = wnp.log(x1)
    v2 = x1 * x2
    v3 = wnp.sin(x2)
    return v1 + v2 - v3


def _show_trace():
    _heading("1. The evaluation trace of f(x1, x2) = ln(x1) + x1*x2 - sin(x2) at (2, 5)")
    print("Generated from the tape that wengert records; compare Baydin et al. (2018),\n"
          "'Automatic differentiation in machine learning: a survey', Tables 2 and 3.")
    rows = evaluation_trace(baydin_example, 2.0, 5.0)
    inputs, y = rows[:2], rows[-1]
    _table("Forward primal trace", ["variable", "", "operation", "", "value"],
           [(r.name, "=", r.expression, "=", format_value(r.value)) for r in rows]
           + [("y", "=", y.name, "=", format_value(y.value))])
    _table(f"Forward tangent trace, seeded with {_dot('x1')} = 1 and {_dot('x2')} = 0",
           ["tangent", "", "value", "  of"],
           [(_dot(r.name), "=", format_value(r.tangent), f"  {r.name} = {r.expression}")
            for r in rows]
           + [(_dot("y"), "=", format_value(y.tangent), "")])
    _table(f"Reverse adjoint trace, seeded with {_bar('y')} = 1, in reverse order",
           ["adjoint", "", "value", "  of"],
           [(_bar(r.name), "=", format_value(r.adjoint), f"  {r.name} = {r.expression}")
            for r in rows[::-1]]
           + [(_bar(r.expression), "=", format_value(r.adjoint), "") for r in inputs])
    print(f"\nOne forward pass gives df/dx1 = {format_value(y.tangent)}; one reverse pass "
          f"gives the whole\ngradient (df/dx1, df/dx2) = ({format_value(inputs[0].adjoint)}, "
          f"{format_value(inputs[1].adjoint)}).")
    return rows


def _show_two_styles():
    _heading("2. The same gradient in both API styles")
    x1 = wg.tensor(2.0, requires_grad=True)
    x2 = wg.tensor(5.0, requires_grad=True)
    y = baydin_example(x1, x2)
    y.backward()
    torch_style = (x1.grad.numpy(), x2.grad.numpy())
    jax_style = wg.grad(baydin_example, argnums=(0, 1))(2.0, 5.0)
    _table("", ["", "PyTorch style: y.backward(); x.grad", "JAX style: wg.grad(f, (0, 1))"],
           [("df/dx1", format_value(torch_style[0], 12), format_value(jax_style[0], 12)),
            ("df/dx2", format_value(torch_style[1], 12), format_value(jax_style[1], 12))])
    np.testing.assert_allclose(torch_style, jax_style, rtol=0, atol=0)
    print("  identical: one engine, one set of derivative rules.")


def rosenbrock(p):
    """The Rosenbrock function (1 - x)^2 + 100 (y - x^2)^2 of p = (x, y)."""
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def _rosenbrock_hessian(p):
    x, y = p
    return np.array([[2 - 400 * (y - x**2) + 800 * x**2, -400 * x], [-400 * x, 200.0]])


def _show_hessian():
    _heading("3. A Hessian: wg.hessian(rosenbrock) at (x, y) = (1.5, 2)")
    p = np.array([1.5, 2.0])
    h = np.asarray(wg.hessian(rosenbrock)(p))
    exact = _rosenbrock_hessian(p)
    print(f"  wengert:\n    {np.array2string(h, prefix='    ')}")
    print(f"  analytic:\n    {np.array2string(exact, prefix='    ')}")
    err = np.max(np.abs(h - exact))
    print(f"  max abs difference: {err:.1e}")
    assert err < 1e-9, err


def _show_check_grads():
    _heading("4. wengert.testing.check_grads (forward and reverse mode, to order 2)")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 4))
    cases = [
        ("baydin_example(x1, x2)", baydin_example, (2.0, 5.0)),
        ("sum(tanh(A @ x))", lambda x: wnp.sum(wnp.tanh(a @ x)), (rng.standard_normal(4),)),
        ("rosenbrock(p)", rosenbrock, (np.array([1.5, 2.0]),)),
    ]
    for label, f, args in cases:
        check_grads(f, args, order=2, modes=("fwd", "rev"))
        print(f"  {label:<24} passed")


def _show_higher_order():
    _heading("5. Higher order: d^k/dx^k sin(x) at x = 0 by nesting wg.grad")
    d = wnp.sin
    expected = [1.0, 0.0, -1.0, 0.0]  # cos 0, -sin 0, -cos 0, sin 0
    for k, exact in enumerate(expected, start=1):
        d = wg.grad(d)
        value = float(d(0.0))
        print(f"  k = {k}: {format_value(value, 6):>9}   (analytic {format_value(exact)})")
        assert abs(value - exact) < 1e-12


def _show_training():
    _heading("6. Training a network: a small CNN on 8x8 handwritten digits")
    if importlib.util.find_spec("sklearn") is None:
        print("  skipped: the digits come with scikit-learn, which is not installed\n"
              "  (pip install scikit-learn, or pip install 'wengert[examples]').")
        return
    from .train import digits

    print("Ten epochs of `wengert train digits` (wg.value_and_grad of the cross-entropy and\n"
          "optim.Adam on a two-convolution nn.Module); its default 40 reach about 99%.")
    result = digits.train("cnn", epochs=10, log=_indented)
    assert result.test_accuracy > 0.9, result.test_accuracy


def _indented(text):
    print("\n".join("  " + line if line else line for line in text.split("\n")))


def main():
    """Run the tour; raises AssertionError if any result disagrees with its analytic value."""
    print(f"wengert {wg.__version__}: automatic differentiation of NumPy programs")
    _show_trace()
    _show_two_styles()
    _show_hessian()
    _show_check_grads()
    _show_higher_order()
    _show_training()
    print("\nDone.")


if __name__ == "__main__":
    main()
