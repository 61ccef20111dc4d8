"""Optimisation passes: each a pure Graph -> Graph function that preserves results.

* `eliminate_dead_code`: drop equations whose outputs nothing uses (primitives are pure).
* `eliminate_common_subexpressions`: reuse the output of an identical earlier equation (same
  primitive, inputs and parameters).
* `fold_constants`: evaluate equations whose inputs are all constants, once, at compile time.
* `inline_calls`: replace the call of a function with a custom derivative rule (custom_vjp,
  custom_jvp, so also `checkpoint`) by the equations of what it computes, so that the other
  passes and the memory planner see inside it. Only for the code that runs on arrays:
  transforms evaluating a graph need the call itself, to apply its rule.

No pass looks through an `optimization_barrier` (`wengert.ir.barrier`): it is never shared
between equations, folded or fused, so code computed from its outputs stays apart from the
same code computed from its inputs.

`optimize` runs these with the passes of their own modules: algebraic simplification
(`wengert.ir.simplify`), elementwise fusion (`wengert.ir.fusion`) and memory planning
(`wengert.ir.memory`).
"""

import hashlib

import numpy as np

from ..core import tree_flatten
from ..transforms.custom import custom_jvp_call_p, custom_vjp_call_p
from .barrier import optimization_barrier_p
from .graph import Eqn, Literal

# Folding a constant materialises it; past this many elements it is left to run time.
FOLD_MAX_ELEMENTS = 1 << 16


def eliminate_dead_code(graph):
    live = {id(v) for v in graph.outvars if not isinstance(v, Literal)}
    kept = []
    for eqn in reversed(graph.eqns):
        if any(id(v) in live for v in eqn.outputs):
            kept.append(eqn)
            live.update(id(x) for x in eqn.inputs if not isinstance(x, Literal))
    used = [(v, c) for v, c in zip(graph.constvars, graph.consts) if id(v) in live]
    return graph.replace(
        eqns=tuple(reversed(kept)),
        constvars=tuple(v for v, _ in used),
        consts=tuple(c for _, c in used),
    )


def _param_key(value):
    """A hashable stand-in for a parameter value (arrays by content)."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(_param_key(v) for v in value)
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    if isinstance(value, dict):
        return tuple(sorted((k, _param_key(v)) for k, v in value.items()))
    try:
        hash(value)
    except TypeError:
        return ("id", id(value))
    return (type(value).__name__, value)


def _equal_constants(graph):
    """{id(constvar): an earlier constvar with bitwise the same array, laid out the same way}.
    A captured array is one constant, but an array computed eagerly inside the trace (e.g. the
    primal of a JVP of a constant, recomputed in each nested transform) is a new object each
    time, and without this the work on it would be done once per object."""
    first, same = {}, {}
    for var, value in zip(graph.constvars, graph.consts):
        if type(value) is not np.ndarray or value.dtype.kind == "O":
            continue
        bits = np.ascontiguousarray(value.reshape(-1)).view(np.uint8)
        # The strides too: BLAS may sum in another order, and round differently, on a
        # transposed copy of the same values.
        key = (value.shape, value.dtype.str, value.strides,
               hashlib.blake2b(bits, digest_size=16).digest())
        earlier = first.setdefault(key, (var, bits))
        if earlier[0] is not var and np.array_equal(bits, earlier[1]):
            same[id(var)] = earlier[0]
    return same


def eliminate_common_subexpressions(graph):
    replace = _equal_constants(graph)
    seen = {}
    eqns = []

    def sub(x):
        return x if isinstance(x, Literal) else replace.get(id(x), x)

    def input_key(x):
        return ("lit", _param_key(x.value)) if isinstance(x, Literal) else ("var", id(x))

    for eqn in graph.eqns:
        inputs = tuple(sub(x) for x in eqn.inputs)
        key = (eqn.prim, tuple(input_key(x) for x in inputs),
               tuple(sorted((k, _param_key(v)) for k, v in eqn.params.items())))
        earlier = None if eqn.prim is optimization_barrier_p else seen.get(key)
        if earlier is not None:
            for old, new in zip(eqn.outputs, earlier.outputs):
                replace[id(old)] = new
            continue
        new_eqn = Eqn(eqn.prim, inputs, eqn.params, eqn.outputs)
        seen[key] = new_eqn
        eqns.append(new_eqn)
    return graph.replace(eqns=tuple(eqns), outvars=tuple(sub(v) for v in graph.outvars))


def fold_constants(graph):
    const_values = {id(v): c for v, c in zip(graph.constvars, graph.consts)}
    new_constvars, new_consts = list(graph.constvars), list(graph.consts)
    eqns = []
    for eqn in graph.eqns:
        known = all(isinstance(x, Literal) or id(x) in const_values for x in eqn.inputs)
        small = all(v.aval.size <= FOLD_MAX_ELEMENTS for v in eqn.outputs)
        if not (known and small and eqn.inputs) or eqn.prim is optimization_barrier_p:
            eqns.append(eqn)
            continue
        args = [x.value if isinstance(x, Literal) else const_values[id(x)] for x in eqn.inputs]
        out = eqn.prim.impl(*args, **eqn.params)
        outs = out if eqn.prim.multiple_results else (out,)
        for v, value in zip(eqn.outputs, outs):
            const_values[id(v)] = value
            new_constvars.append(v)
            new_consts.append(value)
    folded = graph.replace(eqns=tuple(eqns), constvars=tuple(new_constvars),
                           consts=tuple(new_consts))
    return eliminate_dead_code(folded)


# Calls whose implementation runs a user function that inline_calls traces.
CALL_PRIMITIVES = (custom_vjp_call_p, custom_jvp_call_p)


def _trace_call(eqn):
    """The Graph of `eqn`'s implementation at its input types, or None when the function
    does not trace (Python control flow on a value, or it fails on the placeholder zeros):
    then the call stays one equation, which is always correct."""
    from .staging import trace_to_graph

    examples = [np.zeros(x.aval.shape, x.aval.dtype) for x in eqn.inputs]
    in_tree = tree_flatten(tuple(range(len(examples))))[1]

    def call(*xs):
        return eqn.prim.impl(*xs, **eqn.params)

    try:
        with np.errstate(all="ignore"):
            body, _ = trace_to_graph(call, examples, in_tree)
    except Exception:  # noqa: BLE001 - any failure just leaves the call opaque
        return None
    same = len(body.outvars) == len(eqn.outputs) and all(
        tuple(b.aval.shape) == tuple(v.aval.shape) and np.dtype(b.aval.dtype) == np.dtype(
            v.aval.dtype) for b, v in zip(body.outvars, eqn.outputs))
    return body if same else None


def inline_calls(graph):
    """Replace each custom_vjp / custom_jvp call by the equations of its implementation (its
    `fwd`, or its function), recursively; see the module docstring for when this is valid."""
    if not any(eqn.prim in CALL_PRIMITIVES for eqn in graph.eqns):
        return graph
    replace = {}  # by id(var): the traced bodies stay referenced, so ids stay unique
    eqns, bodies = [], []
    constvars, consts = list(graph.constvars), list(graph.consts)

    def sub(x):
        return x if isinstance(x, Literal) else replace.get(id(x), x)

    for eqn in graph.eqns:
        inputs = [sub(x) for x in eqn.inputs]
        body = _trace_call(eqn) if eqn.prim in CALL_PRIMITIVES else None
        if body is None:
            eqns.append(Eqn(eqn.prim, inputs, eqn.params, eqn.outputs))
            continue
        body = inline_calls(body)
        bodies.append(body)
        replace.update((id(v), x) for v, x in zip(body.invars, inputs))
        constvars += body.constvars
        consts += body.consts
        eqns.extend(Eqn(e.prim, [sub(x) for x in e.inputs], e.params, e.outputs)
                    for e in body.eqns)
        replace.update((id(old), sub(new)) for old, new in zip(eqn.outputs, body.outvars))
    return graph.replace(eqns=tuple(eqns), constvars=tuple(constvars), consts=tuple(consts),
                         outvars=tuple(sub(v) for v in graph.outvars)).check()


def optimize(graph, fuse=False, inline=False):
    """The pipeline: fold constants, simplify algebraically, share common subexpressions,
    drop dead code, optionally fuse elementwise regions, then plan memory (buffer reuse and
    the planned peak bytes, `graph.peak_bytes`). Each step is a pure Graph -> Graph function;
    fusion comes after CSE and DCE so that it sees each value's real uses.

    Fusion is off by default, by measurement (benchmarks/bench_jit.py, part 6): the memory
    plan alone already removes the temporaries, and on gradient graphs the fused kernels
    ran ~9% slower with a higher peak; forward chains gained a few percent.

    `inline=True` first inlines custom-rule calls (`inline_calls`): jit does so for the
    code it runs, not for the graph that enclosing transforms evaluate."""
    from .fusion import fuse_elementwise
    from .memory import plan_memory
    from .simplify import simplify

    if inline:
        graph = inline_calls(graph)
    graph = fold_constants(graph)
    graph = simplify(graph)
    graph = eliminate_common_subexpressions(graph)
    graph = eliminate_dead_code(graph)
    if fuse:
        graph = fuse_elementwise(graph)
    return plan_memory(graph.check())


__all__ = [
    "eliminate_common_subexpressions",
    "eliminate_dead_code",
    "fold_constants",
    "inline_calls",
    "optimize",
]
