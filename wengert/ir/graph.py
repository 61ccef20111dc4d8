"""The IR: a Wengert list in SSA form.

A `Graph` has input variables, constant variables (arrays the traced function closed over),
equations (primitive, inputs, static parameters, outputs) and output variables. Every
variable is assigned once; each carries its shape and dtype. Graphs are immutable: passes
build new ones. `Graph.check()` validates the SSA invariants, `str(graph)` prints one
equation per line, `graph.to_dot()` gives Graphviz source. A graph that went through the
memory planner (`wengert.ir.memory.plan_memory`) carries its `plan` (planned peak bytes,
buffers to reuse), printed as a closing comment line.
"""

import numpy as np

from ..core import ShapedArray


class Var:
    """An SSA variable with a shape and dtype."""

    __slots__ = ("aval", "name")

    def __init__(self, aval, name=None):
        self.aval = aval
        self.name = name

    def __repr__(self):
        return self.name or f"v{id(self) % 10000}"


class Literal:
    """A constant written into an equation (a Python scalar or a 0-d array)."""

    __slots__ = ("value", "aval")

    def __init__(self, value):
        self.value = value
        self.aval = ShapedArray(np.shape(value), np.result_type(value))

    def __repr__(self):
        v = self.value
        return repr(v.item() if isinstance(v, np.ndarray) else v)


class Eqn:
    """`outputs = prim(*inputs, **params)`."""

    __slots__ = ("prim", "inputs", "params", "outputs")

    def __init__(self, prim, inputs, params, outputs):
        self.prim = prim
        self.inputs = tuple(inputs)
        self.params = params
        self.outputs = tuple(outputs)


def _type_str(aval):
    dtype = np.dtype(aval.dtype)
    short = {"f": "f", "c": "c", "i": "i", "u": "u", "b": "bool"}[dtype.kind]
    bits = "" if dtype.kind == "b" else str(dtype.itemsize * 8)
    return f"{short}{bits}[{','.join(str(d) for d in aval.shape)}]"


def _dot_escape(text):
    return str(text).replace("\\", "\\\\").replace('"', '\\"')


def _param_str(value):
    if isinstance(value, np.ndarray):
        return f"array{list(value.shape)}" if value.size > 4 else np.array2string(value)
    if isinstance(value, tuple) and any(isinstance(v, np.ndarray) for v in value):
        return "(" + ", ".join(_param_str(v) for v in value) + ")"
    return repr(value)


class Graph:
    """An immutable traced program. `consts` are the values of `constvars`; `plan` is the
    memory plan of these exact equations (a `wengert.ir.memory.MemoryPlan`) or None."""

    __slots__ = ("invars", "constvars", "consts", "eqns", "outvars", "plan")

    def __init__(self, invars, constvars, consts, eqns, outvars, plan=None):
        self.invars = tuple(invars)
        self.constvars = tuple(constvars)
        self.consts = tuple(consts)
        self.eqns = tuple(eqns)
        self.outvars = tuple(outvars)
        self.plan = plan

    def replace(self, **fields):
        """A copy with `fields` changed. A plan describes one list of equations, so it is
        dropped unless given again."""
        values = {name: getattr(self, name) for name in Graph.__slots__}
        values["plan"] = None
        values.update(fields)
        return Graph(**values)

    @property
    def peak_bytes(self):
        """The planned peak bytes of live intermediates (None before memory planning)."""
        return None if self.plan is None else self.plan.peak_bytes

    # Checking --------------------------------------------------------------------------
    def check(self):
        """Raise AssertionError unless every variable is defined once, before its uses."""
        defined = set()
        for v in self.invars + self.constvars:
            assert id(v) not in defined, f"{v} defined twice"
            defined.add(id(v))
        for eqn in self.eqns:
            for x in eqn.inputs:
                assert isinstance(x, Literal) or id(x) in defined, (
                    f"{eqn.prim.name} reads {x} before it is defined"
                )
            for v in eqn.outputs:
                assert id(v) not in defined, f"{v} defined twice"
                defined.add(id(v))
        for v in self.outvars:
            assert isinstance(v, Literal) or id(v) in defined, f"output {v} is not defined"
        return self

    # Printing -------------------------------------------------------------------------
    def _names(self):
        names = {}
        counter = [0]

        def name(v):
            if isinstance(v, Literal):
                return repr(v)
            if id(v) not in names:
                i = counter[0]
                counter[0] += 1
                letters = ""
                while True:
                    letters = chr(ord("a") + i % 26) + letters
                    i = i // 26 - 1
                    if i < 0:
                        break
                names[id(v)] = letters
            return names[id(v)]

        return name

    def __str__(self):
        name = self._names()

        def decl(v):
            return f"{name(v)}:{_type_str(v.aval)}"

        consts = ", ".join(decl(v) for v in self.constvars)
        ins = ", ".join(decl(v) for v in self.invars)
        lines = [f"{{ lambda {consts + ' ; ' if consts else ''}{ins} ."]
        for i, eqn in enumerate(self.eqns):
            outs = " ".join(decl(v) for v in eqn.outputs)
            args = " ".join(name(x) for x in eqn.inputs)
            params = ", ".join(f"{k}={_param_str(v)}" for k, v in eqn.params.items())
            params = f"[{params}]" if params else ""
            lines.append(f"  {'let' if i == 0 else '   '} {outs} = {eqn.prim.name}{params} {args}")
        outs = ", ".join(name(v) for v in self.outvars)
        lines.append(f"  in ({outs}) }}")
        if self.plan is not None:
            lines.append(f"# {self.plan}")
        return "\n".join(lines)

    __repr__ = __str__

    def to_dot(self, title="graph"):
        """Graphviz DOT source: one box per equation, edges along the data flow. Values are
        named as in the printed listing."""
        name = self._names()
        for v in self.constvars:  # the listing names constants first
            name(v)
        lines = [f'digraph "{_dot_escape(title)}" {{', "  rankdir=TB;",
                 '  node [fontname="monospace"];']
        producer = {}
        for v in self.constvars:
            lines.append(f'  "{name(v)}" [shape=note, label="{name(v)}: const '
                         f'{_type_str(v.aval)}"];')
            producer[id(v)] = f'"{name(v)}"'
        for v in self.invars:
            lines.append(f'  "{name(v)}" [shape=ellipse, label="{name(v)}: '
                         f'{_type_str(v.aval)}", style=filled, fillcolor="#dde8f5"];')
            producer[id(v)] = f'"{name(v)}"'
        for i, eqn in enumerate(self.eqns):
            node = f'"eqn{i}"'
            outs = ", ".join(f"{name(v)}: {_type_str(v.aval)}" for v in eqn.outputs)
            lines.append(f'  {node} [shape=box, label="{eqn.prim.name}\\n{outs}"];')
            for x in eqn.inputs:
                if isinstance(x, Literal):
                    lit = f'"lit{i}_{id(x)}"'
                    lines.append(f'  {lit} [shape=plaintext, label="{_dot_escape(repr(x))}"];')
                    lines.append(f"  {lit} -> {node};")
                else:
                    lines.append(f"  {producer[id(x)]} -> {node};")
            for v in eqn.outputs:
                producer[id(v)] = node
        for k, v in enumerate(self.outvars):
            lines.append(f'  "out{k}" [shape=ellipse, style=filled, fillcolor="#f5e6dd", '
                         f'label="output {k}"];')
            src = f'"{_dot_escape(repr(v))}"' if isinstance(v, Literal) else producer[id(v)]
            lines.append(f'  {src} -> "out{k}";')
        lines.append("}")
        return "\n".join(lines)

    def render(self, path, format="svg"):  # noqa: A002 - graphviz's own word
        """Write the graph drawn by Graphviz (the `viz` extra) to `path` (svg or png)."""
        try:
            import graphviz
        except ImportError as exc:
            raise ImportError(
                "Graph.render: drawing needs the graphviz package (pip install "
                "'wengert[viz]') and the Graphviz programs; Graph.to_dot() works without them."
            ) from exc
        path = str(path)
        if "." not in path.rsplit("/", 1)[-1]:
            path = f"{path}.{format}"
        source = graphviz.Source(self.to_dot())
        return source.render(outfile=path, format=format, cleanup=True)
