"""Staging: trace a function into a Graph.

A staging tracer stands for an SSA variable. Each operation on staging tracers appends an
equation. To learn output shapes and dtypes, the tracer also carries an example value (the
first call's arguments) that the primitive's implementation runs on; the example is never
visible to the traced program: `raw_value` of a staging tracer is a ShapedArray, so Python
control flow on a traced value raises a clear error instead of baking in one branch.
"""

import numpy as np

from ..core import ShapedArray, Trace, Tracer, raw_value, tree_flatten, tree_unflatten
from ..numpy._array_methods import ArrayMethods
from ..transforms.batching import BatchTracer
from .graph import Eqn, Graph, Literal, Var


class StagingTracer(Tracer, ArrayMethods):
    __slots__ = ("var",)
    _hides_shape = True

    def __init__(self, trace, example, var):
        self._trace = trace
        self.primal = example
        self.var = var

    def shaped(self):
        return ShapedArray(self.var.aval.shape, self.var.aval.dtype, context="jit")

    def __repr__(self):
        return f"StagingTracer({self.shaped()})"


def _aval(value):
    return ShapedArray(np.shape(value), np.result_type(value), context="jit")


class StagingTrace(Trace):
    __slots__ = ("eqns", "constvars", "consts", "_const_ids")

    def __init__(self):
        super().__init__()
        self.eqns = []
        self.constvars = []
        self.consts = []
        self._const_ids = {}

    def _input(self, a):
        if isinstance(a, StagingTracer) and a._trace is self:
            return a.primal, a.var
        if isinstance(a, Tracer):
            raise TypeError(
                "jit: the traced function uses a value of an enclosing transform (a closure "
                "over a tracer of grad/jvp/vmap). Pass that value to the jitted function as an "
                "argument instead."
            )
        if np.ndim(a) == 0 and not isinstance(a, np.ndarray):
            return a, Literal(a)
        key = id(a)  # a captured array becomes one constant variable, however often used
        if key not in self._const_ids:
            var = Var(_aval(a))
            self._const_ids[key] = var
            self.constvars.append(var)
            self.consts.append(a)
        return a, self._const_ids[key]

    def process(self, prim, args, params):
        vals, inputs = zip(*[self._input(a) for a in args]) if args else ((), ())
        ans = prim.impl(*vals, **params)
        if prim.multiple_results:
            outs = [Var(_aval(a)) for a in ans]
            self.eqns.append(Eqn(prim, inputs, params, outs))
            return tuple(StagingTracer(self, a, v) for a, v in zip(ans, outs))
        out = Var(_aval(ans))
        self.eqns.append(Eqn(prim, inputs, params, [out]))
        return StagingTracer(self, ans, out)

    # Under staging every operation is recorded, derivative or not.
    process_constant = process


def example_value(x):
    """A concrete value with the shape and dtype `x` has at this level: the raw value, with
    one example taken along each vmap batch axis."""
    batch_axes = 0
    while isinstance(x, Tracer):
        if isinstance(x, BatchTracer):
            batch_axes += 1
        x = x.primal
    return x[(0,) * batch_axes] if batch_axes else x


def trace_to_graph(f, flat_examples, in_tree):
    """Trace `f(*tree_unflatten(in_tree, inputs))` into a Graph; returns (graph, out_tree)."""
    with StagingTrace() as trace:
        invars = [Var(_aval(x)) for x in flat_examples]
        tracers = [StagingTracer(trace, x, v) for x, v in zip(flat_examples, invars)]
        out = f(*tree_unflatten(in_tree, tracers))
        out_flat, out_tree = tree_flatten(out)
        outvars = [trace._input(o)[1] for o in out_flat]
    graph = Graph(invars, trace.constvars, trace.consts, trace.eqns, outvars)
    return graph.check(), out_tree


def make_graph(f, *args, optimize=False, **kwargs):
    """The Graph (IR) of `f` at arguments shaped like `args` (pytrees of arrays): print it,
    draw it (`.to_dot()`, `.render(path)`), or optimise it. `make_graph(grad(f), x)` is the
    graph of the gradient: forward and backward pass.

    >>> print(make_graph(lambda x: wnp.sin(x) * 2.0, np.ones(3)))
    """
    flat, in_tree = tree_flatten((args, kwargs))
    flat = [example_value(x) if isinstance(x, Tracer) else np.asarray(x) if not hasattr(
        raw_value(x), "dtype") else x for x in flat]

    def call(packed):
        a, k = packed
        return f(*a, **k)

    graph, _ = trace_to_graph(lambda *p: call(p[0]), flat, _packed_tree(in_tree))
    if optimize:
        from .passes import optimize as run_passes

        graph = run_passes(graph)
    return graph


def _packed_tree(tree):
    """The tree of a 1-tuple holding `tree` (trace_to_graph unflattens into positional args)."""
    from ..core.pytree import PyTreeDef

    return PyTreeDef(tuple, None, (tree,))
