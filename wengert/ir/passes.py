"""Optimisation passes: each a pure Graph -> Graph function that preserves results.

* `eliminate_dead_code`: drop equations whose outputs nothing uses (primitives are pure).
* `eliminate_common_subexpressions`: reuse the output of an identical earlier equation (same
  primitive, inputs and parameters).
* `fold_constants`: evaluate equations whose inputs are all constants, once, at compile time.

`optimize` runs these with the passes of their own modules: algebraic simplification
(`wengert.ir.simplify`), elementwise fusion (`wengert.ir.fusion`) and memory planning
(`wengert.ir.memory`).
"""

import numpy as np

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


def eliminate_common_subexpressions(graph):
    replace = {}
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
        earlier = seen.get(key)
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
        if not (known and small and eqn.inputs):
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


def optimize(graph, fuse=False):
    """The pipeline: fold constants, simplify algebraically, share common subexpressions,
    drop dead code, optionally fuse elementwise regions, then plan memory (buffer reuse and
    the planned peak bytes, `graph.peak_bytes`). Each step is a pure Graph -> Graph function;
    fusion comes after CSE and DCE so that it sees each value's real uses.

    Fusion is off by default, by measurement (benchmarks/bench_jit.py, part 6): the memory
    plan alone already removes the temporaries, and on gradient graphs the fused kernels
    ran ~9% slower with a higher peak; forward chains gained a few percent."""
    from .fusion import fuse_elementwise
    from .memory import plan_memory
    from .simplify import simplify

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
    "optimize",
]
