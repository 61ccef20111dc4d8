"""Drawing the graph IR: `Graph.to_dot()` is valid Graphviz DOT with one node per input,
constant, equation, literal and output and one edge per use, and `Graph.render()` writes SVG
and PNG when the graphviz package and the `dot` program are installed (skipped otherwise).

The structure is checked by a small parser of the DOT subset that `to_dot` writes, so the
test means something without Graphviz; with it, `dot` itself parses the source as well."""

import json
import re
import shutil
import sys

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert.ir import Literal, make_graph

rng = np.random.default_rng(0)
W = rng.standard_normal((2, 3))


def layer(x, params):
    """Inputs, a closed-over constant, literals, a reused value and a pytree of outputs."""
    h = wnp.tanh(x @ W + params["b"])
    return {"loss": wnp.sum(h * h) * 0.5, "h": h * 2.0}


def graphs():
    x, params = rng.standard_normal((4, 2)), {"b": np.zeros(3)}
    return {
        "layer": make_graph(layer, x, params),
        "gradient": make_graph(wg.grad(lambda x, p: layer(x, p)["loss"]), x, params),
        "optimized float32": make_graph(
            lambda x: wnp.sum(wnp.exp(-x ** 2) * wnp.sin(x)), np.ones(5, np.float32),
            optimize=True),
    }


# A parser for the DOT that to_dot writes: `digraph "t" { stmt; ... }`, where a statement is
# `a=b`, `node [..]`, `"id" [..]` or `"id" -> "id"`.
_TOKEN = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(->)|([A-Za-z_][A-Za-z_0-9]*|-?[0-9.]+)'
                    r"|([{}\[\]=;,]))")


def _tokens(text):
    pos, out = 0, []
    while pos < len(text.rstrip()):
        m = _TOKEN.match(text, pos)
        assert m is not None, f"not DOT at {text[pos:pos + 40]!r}"
        quoted, arrow, word, punct = m.groups()
        out.append(quoted[1:-1] if quoted else arrow or word or punct)
        pos = m.end()
    return out


def parse_dot(text):
    """(title, {node: attributes}, [(tail, head)]) of a DOT digraph; asserts its syntax."""
    toks = _tokens(text)
    assert toks[0] == "digraph" and toks[2] == "{" and toks[-1] == "}", toks[:3]
    body, k = toks[3:-1], 0
    nodes, edges = {}, []

    def attrs(k):
        found = {}
        assert body[k] == "[", body[k:k + 3]
        k += 1
        while body[k] != "]":
            key, eq, value = body[k:k + 3]
            assert eq == "=", body[k:k + 3]
            found[key] = value
            k += 3
            if body[k] == ",":
                k += 1
        return found, k + 1

    while k < len(body):
        first = body[k]
        if body[k + 1] == "=":
            k += 3
        elif body[k + 1] == "->":
            edges.append((first, body[k + 2]))
            k += 3
        elif first in ("node", "edge", "graph"):
            k = attrs(k + 1)[1]
        else:
            nodes[first], k = attrs(k + 1)
        assert body[k] == ";", f"statement not ended by ';' at {body[k:k + 3]}"
        k += 1
    return toks[1], nodes, edges


def expected_counts(graph):
    """Nodes: inputs, constants, equations, one per literal use, outputs; edges: one per
    equation input and one per output."""
    uses = sum(len(e.inputs) for e in graph.eqns)
    literals = sum(isinstance(x, Literal) for e in graph.eqns for x in e.inputs)
    n_nodes = (len(graph.invars) + len(graph.constvars) + len(graph.eqns) + literals
               + len(graph.outvars))
    return n_nodes, uses + len(graph.outvars)


@pytest.mark.parametrize("name", ["layer", "gradient", "optimized float32"])
def test_to_dot_is_well_formed_dot_with_a_node_per_value_and_an_edge_per_use(name):
    graph = graphs()[name]
    title, nodes, edges = parse_dot(graph.to_dot(title="my function"))
    assert title == "my function"
    n_nodes, n_edges = expected_counts(graph)
    assert (len(nodes), len(edges)) == (n_nodes, n_edges)
    assert all(a in nodes and b in nodes for a, b in edges), "an edge to an undeclared node"
    labels = [nodes[f"eqn{i}"]["label"] for i in range(len(graph.eqns))]
    assert [label.split("\\n")[0] for label in labels] == [e.prim.name for e in graph.eqns]
    # Each equation box has one incoming edge per input, in order of the inputs.
    for i, eqn in enumerate(graph.eqns):
        assert sum(b == f"eqn{i}" for _, b in edges) == len(eqn.inputs)
    outputs = [n for n in nodes if n.startswith("out")]
    assert len(outputs) == len(graph.outvars)
    assert all(nodes[n]["shape"] == "ellipse" for n in outputs)


def test_to_dot_shows_shapes_dtypes_and_constants():
    dot = graphs()["layer"].to_dot()
    assert 'label="matmul\\n' in dot and "f64[4,3]" in dot
    assert "shape=note" in dot and "const f64[2,3]" in dot  # W, closed over
    assert 'label="2.0"' in dot and 'label="0.5"' in dot  # literals
    assert "f32[5]" in graphs()["optimized float32"].to_dot()


def test_drawing_and_listing_use_the_same_names():
    graph = graphs()["layer"]
    _, nodes, _ = parse_dot(graph.to_dot())
    header = str(graph).splitlines()[0]  # "{ lambda consts ; inputs ."
    consts, inputs = header.removeprefix("{ lambda ").removesuffix(" .").split(" ; ")
    drawn_consts = [n for n, a in nodes.items() if a.get("shape") == "note"]
    drawn_inputs = [n for n, a in nodes.items() if a.get("fillcolor") == "#dde8f5"]
    assert drawn_consts == [d.split(":")[0] for d in consts.split(", ")]
    assert drawn_inputs == [d.split(":")[0] for d in inputs.split(", ")]


def test_title_with_quotes_is_escaped():
    title, _, _ = parse_dot(graphs()["layer"].to_dot(title='f "x"'))
    assert title == 'f \\"x\\"'


def test_render_without_graphviz_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz raises ImportError
    with pytest.raises(ImportError, match=r"Graph\.render: .*wengert\[viz\].*to_dot"):
        graphs()["layer"].render(tmp_path / "g.svg")


def _dot_program():
    graphviz = pytest.importorskip("graphviz")
    if shutil.which("dot") is None:
        pytest.skip("the Graphviz `dot` program is not installed")
    return graphviz


@pytest.mark.parametrize("name", ["layer", "gradient"])
def test_dot_program_parses_to_dot(name):
    graphviz = _dot_program()
    graph = graphs()[name]
    layout = json.loads(graphviz.Source(graph.to_dot()).pipe(format="json", encoding="utf-8"))
    assert (len(layout["objects"]), len(layout["edges"])) == expected_counts(graph)


def test_render_svg_and_png(tmp_path):
    _dot_program()
    graph = graphs()["gradient"]
    svg = graph.render(tmp_path / "grad.svg", format="svg")
    text = (tmp_path / "grad.svg").read_text()
    assert str(svg).endswith("grad.svg") and "<svg" in text
    assert all(e.prim.name in text for e in graph.eqns)
    graph.render(tmp_path / "grad.png", format="png")
    assert (tmp_path / "grad.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grad.png", "grad.svg"]  # cleaned up
