"""Code generation: a Graph becomes a plain Python function over the primitives'
implementations, one line per equation, with each intermediate deleted after its last use
(so NumPy frees its buffer as early as the program allows). Where the graph's memory plan
(`wengert.ir.memory`) reuses a dead input's buffer, the equation gets it as `out=`."""

import functools
import re

from .graph import Literal

# Primitive names may hold characters that are not valid in a Python name (fused[sin,exp]).
_IDENTIFIER = re.compile(r"\W+")


def compile_graph(graph):
    """Return (function, source): `function(*inputs)` returns the tuple of outputs."""
    names = {}
    namespace = {}

    def name_of(v):
        if isinstance(v, Literal):
            key = f"lit{len(namespace)}"
            namespace[key] = v.value
            return key
        return names[id(v)]

    for i, v in enumerate(graph.invars):
        names[id(v)] = f"x{i}"
    for i, (v, c) in enumerate(zip(graph.constvars, graph.consts)):
        names[id(v)] = f"c{i}"
        namespace[f"c{i}"] = c

    last_use = {}
    for k, eqn in enumerate(graph.eqns):
        for x in eqn.inputs:
            if not isinstance(x, Literal):
                last_use[id(x)] = k
    keep = {id(v) for v in graph.outvars if not isinstance(v, Literal)}
    keep |= {id(v) for v in graph.constvars}

    reuse = graph.plan.reuse if graph.plan is not None else {}
    lines = [f"def compiled({', '.join(names[id(v)] for v in graph.invars)}):"]
    for k, eqn in enumerate(graph.eqns):
        fn = f"op{k}_{_IDENTIFIER.sub('_', eqn.prim.name).strip('_')}"
        namespace[fn] = functools.partial(eqn.prim.impl, **eqn.params) if eqn.params else (
            eqn.prim.impl)
        for j, v in enumerate(eqn.outputs):
            names[id(v)] = f"t{k}_{j}"
        outs = ", ".join(names[id(v)] for v in eqn.outputs)
        if eqn.prim.multiple_results:
            outs += "," if len(eqn.outputs) == 1 else ""
        args = ", ".join(name_of(x) for x in eqn.inputs)
        if k in reuse:
            args += f", out={name_of(eqn.inputs[reuse[k]])}"
        lines.append(f"    {outs} = {fn}({args})")
        dead = [
            names[id(x)] for x in dict.fromkeys(eqn.inputs)
            if not isinstance(x, Literal) and last_use.get(id(x)) == k and id(x) not in keep
        ]
        dead += [names[id(v)] for v in eqn.outputs if id(v) not in last_use and id(v) not in keep]
        if dead:
            lines.append(f"    del {', '.join(dead)}")
    outs = ", ".join(name_of(v) for v in graph.outvars)
    lines.append(f"    return ({outs}{',' if len(graph.outvars) == 1 else ''})")
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<wengert.jit>", "exec"), namespace)  # noqa: S102 - our own source
    return namespace["compiled"], source


def eval_graph(graph, inputs):
    """Run a Graph equation by equation through `bind`, so that enclosing transforms (grad,
    jvp, vmap, the eager tape) see and differentiate each operation."""
    env = {id(v): x for v, x in zip(graph.invars, inputs)}
    env.update((id(v), c) for v, c in zip(graph.constvars, graph.consts))

    def read(x):
        return x.value if isinstance(x, Literal) else env[id(x)]

    for eqn in graph.eqns:
        out = eqn.prim.bind(*[read(x) for x in eqn.inputs], **eqn.params)
        outs = out if eqn.prim.multiple_results else (out,)
        env.update((id(v), o) for v, o in zip(eqn.outputs, outs))
    return [read(v) for v in graph.outvars]
