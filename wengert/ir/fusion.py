"""Elementwise fusion: a region of elementwise equations becomes one equation.

A region grows backwards from an elementwise equation (its root) through the producers of
its inputs, as long as a producer is elementwise and every use of its output lies inside
the region; so the region's intermediates are invisible outside it and the fused equation
computes exactly the root's output. Elementwise here means a primitive whose implementation
is a single-output NumPy ufunc, plus `power` (`np.power`) and `where`, with an output of
rank one or more (0-d ufunc results are NumPy scalars, which `out=` cannot produce).

Each region gets its own `FusedPrimitive`, printed `fused[sin,multiply,add]`. Its
implementation is generated Python that calls the same ufuncs with `out=` buffers,
allocating only when no dead buffer of the same shape and dtype is free (`where` allocates
its own result, which then joins the free buffers), so a chain of n operations on arrays of
one shape allocates one array instead of n. Results are bitwise those of the unfused
equations: the same ufunc loops run on the same values. numexpr is not used: it is not a
dependency, and its single loop computes transcendental functions with other kernels than
NumPy's (results to rounding, not bitwise).

Under a transform (grad, jvp, vmap, staging) a fused primitive evaluates its region
equation by equation through `bind`, so every transform sees the original operations.
"""

import numpy as np

from ..core import Primitive, Tracer
from ..numpy._elementwise import power_p, where_p
from .codegen import eval_graph
from .graph import Eqn, Graph, Literal

# Primitives with an `out=` form other than their own implementation.
_OUT_FORMS = {power_p: np.power}
# Elementwise primitives fused by calling their implementation (which allocates).
_CALL_ONLY = {where_p}


def _out_form(prim):
    """The ufunc that computes `prim` with an `out=` argument, or None."""
    if prim in _OUT_FORMS:
        return _OUT_FORMS[prim]
    impl = prim.impl
    if isinstance(impl, np.ufunc) and impl.nout == 1:
        return impl
    return None


# Below this many elements a ufunc call with `out=` costs more (about 0.6 against 0.3 us on
# one element) than the allocation it saves, so small values are left unfused.
FUSE_MIN_ELEMENTS = 4096


def _fusible(eqn):
    return (
        not eqn.prim.multiple_results
        and not eqn.params
        and len(eqn.outputs) == 1
        and eqn.outputs[0].aval.shape != ()
        and eqn.outputs[0].aval.size >= FUSE_MIN_ELEMENTS
        and (eqn.prim in _CALL_ONLY or _out_form(eqn.prim) is not None)
    )


def _key(aval):
    return tuple(aval.shape), np.dtype(aval.dtype)


class FusedPrimitive(Primitive):
    """The primitive of one fused region. `region` is the Graph of the fused equations (its
    inputs are the fused equation's inputs, its one output the root's output); `source` is
    the generated kernel; `out_inputs` are the input positions whose buffer may be passed as
    `out=` (the kernel reads them before it first writes its output buffer);
    `scratch_bytes` is what the kernel allocates besides its output."""

    __slots__ = ("region", "source", "out_inputs", "scratch_bytes")

    def __init__(self, region):
        name = f"fused[{','.join(eqn.prim.name for eqn in region.eqns)}]"
        kernel, self.source, self.out_inputs, self.scratch_bytes = _generate_kernel(region)
        super().__init__(name, kernel)
        self.region = region

    def bind(self, *args, **params):
        if any(isinstance(a, Tracer) for a in args):
            return eval_graph(self.region, args)[0]
        return self.impl(*args, **params)


def _generate_kernel(region):
    """Python source for the region. Buffers are assigned by a linear scan over the steps;
    a value's buffer is freed at its last use within the region, before the step's output
    is placed, so an operation may overwrite its own argument."""
    root = region.outvars[0]
    last_use = {}
    for k, eqn in enumerate(region.eqns):
        for x in eqn.inputs:
            if not isinstance(x, Literal):
                last_use[id(x)] = k
    namespace = {}
    buffer_of, buffer_keys, free, steps = {}, [], [], []
    for k, eqn in enumerate(region.eqns):
        v = eqn.outputs[0]
        for x in dict.fromkeys(eqn.inputs):
            if not isinstance(x, Literal) and id(x) in buffer_of and last_use[id(x)] == k:
                free.append(buffer_of[id(x)])
        out_form = None if eqn.prim in _CALL_ONLY else _out_form(eqn.prim)
        fn = f"f{k}_{eqn.prim.name}"
        namespace[fn] = out_form or eqn.prim.impl
        reuse = next((b for b in free if buffer_keys[b] == _key(v.aval)), None)
        new = out_form is None or reuse is None
        if new:
            buffer_of[id(v)] = len(buffer_keys)
            buffer_keys.append(_key(v.aval))
        else:
            free.remove(reuse)
            buffer_of[id(v)] = reuse
        steps.append((fn, eqn, out_form is not None, new))

    def arg(x):
        if isinstance(x, Literal):
            key = f"lit{len(namespace)}"
            namespace[key] = x.value
            return key
        return names[id(x)]

    # The root's buffer is the caller's `out` from its first write on, if that write is a
    # ufunc's: an input given as `out=` must be read for the last time no later than that.
    root_buffer = buffer_of[id(root)]
    first_write = next(k for k, (_, eqn, _, new) in enumerate(steps)
                       if new and buffer_of[id(eqn.outputs[0])] == root_buffer)
    takes_out = steps[first_write][2]
    lines = []
    names = {id(v): f"x{i}" for i, v in enumerate(region.invars)}
    for k, (fn, eqn, _, new) in enumerate(steps):
        b = f"b{buffer_of[id(eqn.outputs[0])]}"
        args = ", ".join(arg(x) for x in eqn.inputs)
        if not new:
            lines.append(f"    {fn}({args}, out={b})")
        elif k == first_write and takes_out:
            lines.append(f"    {b} = {fn}({args}, out=out)")
        else:
            lines.append(f"    {b} = {fn}({args})")
        names[id(eqn.outputs[0])] = b
    out_inputs = tuple(
        i for i, x in enumerate(region.invars)
        if takes_out and _key(x.aval) == _key(root.aval) and last_use[id(x)] <= first_write
    )
    scratch = sum(int(np.prod(shape)) * dtype.itemsize
                  for b, (shape, dtype) in enumerate(buffer_keys) if b != root_buffer)
    params = ", ".join(f"x{i}" for i in range(len(region.invars)))
    header = f"def kernel({params}{', ' if params else ''}out=None):"
    source = "\n".join([header, *lines, f"    return b{root_buffer}"]) + "\n"
    exec(compile(source, "<wengert.fused>", "exec"), namespace)  # noqa: S102 - our own source
    return namespace["kernel"], source, out_inputs, scratch


def _regions(graph):
    """Lists of equation indices, one per region of two or more equations, root last."""
    uses = {}
    for k, eqn in enumerate(graph.eqns):
        for x in eqn.inputs:
            if not isinstance(x, Literal):
                uses.setdefault(id(x), set()).add(k)
    outputs = {id(v) for v in graph.outvars if not isinstance(v, Literal)}
    producer = {id(v): k for k, eqn in enumerate(graph.eqns) for v in eqn.outputs}
    taken = set()
    regions = []
    for root in reversed(range(len(graph.eqns))):
        if root in taken or not _fusible(graph.eqns[root]):
            continue
        members = {root}
        frontier = [root]
        while frontier:
            for x in graph.eqns[frontier.pop()].inputs:
                k = None if isinstance(x, Literal) else producer.get(id(x))
                if (k is None or k in members or k in taken or id(x) in outputs
                        or not _fusible(graph.eqns[k]) or not uses[id(x)] <= members):
                    continue
                members.add(k)
                frontier.append(k)
        if len(members) > 1:
            taken |= members
            regions.append(sorted(members))
    return regions


def fuse_elementwise(graph):
    """Replace each maximal elementwise region (see the module docstring) by one equation
    of a new `FusedPrimitive`, placed where the region's root was (Graph -> Graph)."""
    regions = _regions(graph)
    if not regions:
        return graph
    fused_at, inside = {}, set()
    for members in regions:
        inside.update(members)
        eqns = [graph.eqns[k] for k in members]
        defined = {id(v) for eqn in eqns for v in eqn.outputs}
        invars = list(dict.fromkeys(
            x for eqn in eqns for x in eqn.inputs
            if not isinstance(x, Literal) and id(x) not in defined
        ))
        root = eqns[-1].outputs[0]
        region = Graph(invars, (), (), eqns, [root]).check()
        fused_at[members[-1]] = Eqn(FusedPrimitive(region), invars, {}, [root])
    new_eqns = [fused_at.get(k, eqn) for k, eqn in enumerate(graph.eqns)
                if k in fused_at or k not in inside]
    return graph.replace(eqns=tuple(new_eqns))


__all__ = ["FusedPrimitive", "fuse_elementwise"]
