"""Memory planning: liveness of intermediates, their planned peak bytes, and buffer reuse.

The generated code deletes each intermediate after its last use, so NumPy frees it then.
`plan_memory` goes one step further: an elementwise equation (a ufunc, or a fused region
that accepts `out=`) whose input dies at that equation, and has the output's shape and
dtype, writes its result into that input's buffer instead of allocating a new one.

A buffer is only reused when it is certainly the program's own and nothing else can see
it: it was allocated by a ufunc or fused equation of this graph (not an input, constant or
view), it is not a graph output, and no value that may share its memory (the output of any
equation that is not a ufunc or fused one may be a view of its inputs) is read later.

The planned peak is the largest sum of the bytes of intermediates alive at once, counting
at each equation its inputs, its outputs and a fused kernel's scratch buffers. Outputs of
view operations (`VIEW_PRIMITIVES`) share their operand's buffer and count nothing, and so
does each output of an `optimization_barrier` (the same array as the matching input);
inputs and constants belong to the caller and count nothing.
"""

import numpy as np

from ..numpy._elementwise import power_p, where_p
from . import fusion
from .barrier import optimization_barrier_p
from .fusion import FusedPrimitive
from .graph import Literal

# Primitives whose output is (usually) a view of their first operand.
VIEW_PRIMITIVES = frozenset({"reshape", "transpose", "broadcast_to", "getitem", "squeeze",
                             "expand_dims", "real", "imag"})
# Elementwise primitives that are not ufuncs but return a fresh array for rank >= 1.
_FRESH = frozenset({power_p, where_p})


class MemoryPlan:
    """`peak_bytes`: the planned peak of live intermediates; `reuse`: {equation index: input
    position} for equations that write into that input's buffer."""

    __slots__ = ("peak_bytes", "reuse")

    def __init__(self, peak_bytes, reuse):
        self.peak_bytes = peak_bytes
        self.reuse = dict(reuse)

    def __repr__(self):
        return (f"planned peak of live intermediates: {self.peak_bytes} bytes; "
                f"{len(self.reuse)} buffer(s) reused")


def _nbytes(v):
    return v.aval.size * np.dtype(v.aval.dtype).itemsize


def _is_ufunc(eqn):
    impl = eqn.prim.impl
    return (isinstance(impl, np.ufunc) and impl.nout == 1 and not eqn.prim.multiple_results
            and not eqn.params and eqn.outputs[0].aval.shape != ())


def _allocates(eqn):
    """Whether `eqn` returns a fresh array (of rank >= 1) that no other value shares."""
    return (isinstance(eqn.prim, FusedPrimitive) or _is_ufunc(eqn)
            or (eqn.prim in _FRESH and eqn.outputs[0].aval.shape != ()))


def _out_positions(eqn):
    """Input positions whose buffer `eqn` could take as `out=`."""
    if isinstance(eqn.prim, FusedPrimitive):
        return eqn.prim.out_inputs
    return tuple(range(len(eqn.inputs))) if _is_ufunc(eqn) else ()


def _last_uses(graph):
    """{id(var): index of the last equation reading it}; graph outputs live to the end."""
    last = {}
    for k, eqn in enumerate(graph.eqns):
        for x in eqn.inputs:
            if not isinstance(x, Literal):
                last[id(x)] = k
    for v in graph.outvars:
        if not isinstance(v, Literal):
            last[id(v)] = len(graph.eqns)
    return last


def peak_bytes(graph, reuse=None):
    """The planned peak bytes of live intermediates of `graph` (see the module docstring),
    with the buffer reuse `reuse` ({equation index: input position}) if given."""
    reuse = graph.plan.reuse if reuse is None and graph.plan is not None else reuse or {}
    last = _last_uses(graph)
    storage = {}  # id(var) -> storage number; None for the caller's arrays
    sizes, ends = [], []
    for v in graph.invars + graph.constvars:
        storage[id(v)] = None
    live, peak = 0, 0
    for k, eqn in enumerate(graph.eqns):
        born = []
        for j, v in enumerate(eqn.outputs):
            if j == 0 and k in reuse:
                s = storage[id(eqn.inputs[reuse[k]])]
            elif eqn.prim is optimization_barrier_p:
                x = eqn.inputs[j]
                s = None if isinstance(x, Literal) else storage[id(x)]
            elif eqn.prim.name in VIEW_PRIMITIVES and not isinstance(eqn.inputs[0], Literal):
                s = storage[id(eqn.inputs[0])]
            else:
                s = len(sizes)
                sizes.append(_nbytes(v))
                ends.append(k)
                born.append(s)
            storage[id(v)] = s
            if s is not None:
                ends[s] = max(ends[s], last.get(id(v), k))
        live += sum(sizes[s] for s in born)
        scratch = eqn.prim.scratch_bytes if isinstance(eqn.prim, FusedPrimitive) else 0
        peak = max(peak, live + scratch)
        live -= sum(sizes[s] for s in set(storage[id(x)] for x in eqn.inputs + eqn.outputs
                                          if not isinstance(x, Literal))
                    if s is not None and ends[s] == k)
    return peak


def _plan_reuse(graph):
    """{equation index: input position} for the buffers that can be reused safely."""
    last = _last_uses(graph)
    aliases = {}  # id(var) -> ids of the owned values whose memory it may share
    end = {}  # id(owned value) -> last equation reading it or a value that may share it
    reuse = {}
    for k, eqn in enumerate(graph.eqns):
        inputs = [x for x in eqn.inputs if not isinstance(x, Literal)]
        out = eqn.outputs[0] if eqn.outputs else None
        for p in _out_positions(eqn):
            x = eqn.inputs[p]
            if (not isinstance(x, Literal) and end.get(id(x)) == k
                    and out.aval.size >= fusion.FUSE_MIN_ELEMENTS  # out= slows tiny ufunc calls
                    and x.aval.shape == out.aval.shape and x.aval.dtype == out.aval.dtype
                    and not any(id(x) in aliases.get(id(y), ()) for y in inputs if y is not x)):
                reuse[k] = p
                break
        if _allocates(eqn):
            for v in eqn.outputs:
                aliases[id(v)] = {id(v)}
                end[id(v)] = last.get(id(v), k)
            continue
        shared = set().union(*(aliases.get(id(x), ()) for x in inputs))
        for v in eqn.outputs:
            aliases[id(v)] = shared
            for a in shared:
                end[a] = max(end[a], last.get(id(v), k))
    return reuse


def plan_memory(graph):
    """Attach a `MemoryPlan` to `graph` (Graph -> Graph): which equations write into a dead
    input's buffer, and the planned peak bytes of live intermediates with that reuse. Code
    generation (`compile_graph`) emits the reuse as `out=` arguments."""
    reuse = _plan_reuse(graph)
    return graph.replace(plan=MemoryPlan(peak_bytes(graph, reuse), reuse))


__all__ = ["MemoryPlan", "VIEW_PRIMITIVES", "peak_bytes", "plan_memory"]
