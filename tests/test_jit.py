"""jit and the graph IR: values and derivatives equal eager, caching, composition with the
other transforms, the passes' before/after graphs, printing and drawing, error messages."""

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert.core import TracerValueError
from wengert.ir import (
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_constants,
    make_graph,
)
from wengert.scipy.special import logsumexp

rng = np.random.default_rng(0)
X = rng.standard_normal((4, 3))
W = rng.standard_normal((3, 5))

FUNCTIONS = {
    "elementwise": lambda x: wnp.sum(wnp.exp(-x ** 2) * wnp.sin(x) + wnp.tanh(x) / 3.0),
    "matmul and logsumexp": lambda x: logsumexp(x @ W) + 0.5 * wnp.sum(x * x),
    "indexing and updates": lambda x: (
        wnp.sum(x[1:, ::2] ** 2) + wnp.sum(wnp.at(x)[0, 1].add(3.0) ** 2)
    ),
    "reductions": lambda x: wnp.sum(wnp.max(x, axis=1) * wnp.mean(x, axis=1)) + wnp.prod(x[0]),
    "relu and sort": lambda x: wnp.sum(wnp.maximum(x, 0.0) * wnp.sort(x, axis=1)),
    "linalg": lambda x: wnp.linalg.slogdet(x.T @ x + wnp.eye(3))[1],
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_jit_equals_eager_values_and_derivatives(name):
    f = FUNCTIONS[name]
    np.testing.assert_allclose(wg.jit(f)(X), f(X), rtol=1e-13)
    np.testing.assert_allclose(wg.jit(wg.grad(f))(X), wg.grad(f)(X), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wg.grad(wg.jit(f))(X), wg.grad(f)(X), rtol=1e-12, atol=1e-12)
    v = rng.standard_normal(X.shape)
    jvp_jit = wg.jit(lambda x, v: wg.jvp(f, (x,), (v,))[1])
    np.testing.assert_allclose(jvp_jit(X, v), wg.jvp(f, (X,), (v,))[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wg.hessian(wg.jit(f))(X), wg.hessian(f)(X), atol=1e-10)


def test_composition_with_vmap_eager_and_nesting():
    f = FUNCTIONS["matmul and logsumexp"]
    np.testing.assert_allclose(wg.jit(wg.vmap(f))(X[None] + X[:, None]),
                               wg.vmap(f)(X[None] + X[:, None]))
    np.testing.assert_allclose(wg.vmap(wg.jit(f))(np.stack([X, 2 * X])), [f(X), f(2 * X)])
    inner = wg.jit(lambda x: wnp.sin(x) * 2.0)
    outer = wg.jit(lambda x: wnp.sum(inner(x) ** 2))
    np.testing.assert_allclose(outer(X), np.sum((np.sin(X) * 2.0) ** 2))
    t = wg.tensor(X, requires_grad=True)
    wg.jit(f)(t).backward()
    np.testing.assert_allclose(t.grad.numpy(), wg.grad(f)(X), atol=1e-12)


def test_cache_retraces_on_new_shapes_dtypes_and_static_values():
    calls = []

    def f(x, n):
        calls.append(1)
        return x * n if n > 1 else -x

    jf = wg.jit(f, static_argnums=1)
    jf(np.ones(3), 2)
    jf(np.ones(3) * 5, 2)
    assert len(calls) == 1 and jf.cache_size() == 1
    jf(np.ones(4), 2)
    jf(np.ones(3, np.float32), 2)
    np.testing.assert_allclose(jf(np.ones(3), 1), -np.ones(3))
    assert len(calls) == 4 and jf.cache_size() == 4
    assert jf(np.ones(3, np.float32), 2).dtype == np.float32


def test_pytrees_and_keyword_arguments():
    @wg.jit
    def f(params, x, scale=1.0):
        return {"y": params["w"] @ x * scale, "n": wnp.sum(x)}

    out = f({"w": W.T}, X[0], scale=2.0)
    np.testing.assert_allclose(out["y"], W.T @ X[0] * 2.0)


def test_python_branch_on_traced_value_is_a_clear_error():
    def f(x):
        if wnp.sum(x) > 0:
            return x
        return -x

    with pytest.raises(TracerValueError, match=r"jit: a traced value .*wg\.cond"):
        wg.jit(f)(X)
    with pytest.raises(TracerValueError, match="static_argnums"):
        wg.jit(lambda x: float(x) * 2.0)(1.0)
    with pytest.raises(TypeError, match="static argument 1 .* must be hashable"):
        wg.jit(lambda x, shape: x, static_argnums=1)(1.0, [2, 3])


def test_graph_prints_and_draws_forward_and_backward():
    graph = make_graph(lambda x: wnp.sum(wnp.sin(x) * 2.0), np.ones(3))
    text = str(graph)
    assert "a:f64[3]" in text and "sin a" in text and "sum[axis=(0,), keepdims=False]" in text
    assert len(graph.eqns) == 3
    backward = make_graph(wg.grad(lambda x: wnp.sum(wnp.sin(x) * 2.0)), np.ones(3))
    names = [eqn.prim.name for eqn in backward.eqns]
    assert "cos" in names and "sin" in names  # the forward pass and its reverse rules
    dot = backward.to_dot()
    assert dot.startswith('digraph "graph"') and "cos" in dot and "->" in dot
    assert str(make_graph(lambda x: x.astype(np.float32) * 2, np.ones(2))).count("f32[2]") >= 2


def test_dead_code_elimination_before_and_after():
    def f(x):
        unused = wnp.exp(x)  # noqa: F841 - dead on purpose
        return wnp.sin(x)

    graph = make_graph(f, np.ones(2))
    assert [e.prim.name for e in graph.eqns] == ["exp", "sin"]
    assert [e.prim.name for e in eliminate_dead_code(graph).eqns] == ["sin"]


def test_common_subexpressions_before_and_after():
    graph = make_graph(lambda x: wnp.sin(x) * wnp.sin(x) + x[1:].sum() + x[1:].sum(), np.ones(3))
    names = [e.prim.name for e in graph.eqns]
    assert names.count("sin") == 2 and names.count("getitem") == 2
    after = eliminate_common_subexpressions(graph)
    names = [e.prim.name for e in eliminate_dead_code(after).eqns]
    assert names.count("sin") == 1 and names.count("getitem") == 1


def test_constant_folding_before_and_after():
    from wengert.core import ShapedArray
    from wengert.ir import Eqn, Graph, Var
    from wengert.numpy._elementwise import exp_p, multiply_p

    table = np.arange(4.0)
    # Tracing already evaluates operations on constants: only x's operations are staged.
    traced = make_graph(lambda x: x * wnp.exp(table) + wnp.sum(wnp.sqrt(table)), np.ones(4))
    assert [e.prim.name for e in traced.eqns] == ["multiply", "add"]
    # A graph with an equation on constants alone (as passes can leave behind) folds it.
    aval = ShapedArray((4,), np.dtype(np.float64))
    x, c, e, y = Var(aval), Var(aval), Var(aval), Var(aval)
    graph = Graph([x], [c], [table], [Eqn(exp_p, [c], {}, [e]), Eqn(multiply_p, [x, e], {}, [y])],
                  [y]).check()
    folded = fold_constants(graph)
    assert [eqn.prim.name for eqn in folded.eqns] == ["multiply"]
    np.testing.assert_allclose(folded.consts[-1], np.exp(table))
    from wengert.ir.codegen import compile_graph

    run, _ = compile_graph(folded)
    np.testing.assert_allclose(run(np.ones(4))[0], np.exp(table))


@pytest.mark.parametrize("seed", range(5))
def test_passes_preserve_results_on_random_programs(seed):
    """Random small programs over a few unary and binary primitives, with repeats (for CSE),
    constants (for folding) and unused values (for DCE)."""
    r = np.random.default_rng(seed)
    unary = [wnp.sin, wnp.cos, wnp.tanh, wnp.exp, lambda v: v * 0.5]
    binary = [wnp.add, wnp.multiply, wnp.subtract, wnp.maximum]
    const = r.standard_normal(3)
    ops = [(r.integers(2), r.integers(5), r.integers(4), r.integers(10)) for _ in range(12)]

    def program(x):
        values = [x, const]
        for kind, u, b, pick in ops:
            a = values[pick % len(values)]
            c = values[(pick * 7 + 1) % len(values)]
            values.append(unary[u](a) if kind == 0 else binary[b](a, c))
        return wnp.sum(values[-1]) + wnp.sum(values[len(values) // 2])

    x = r.standard_normal(3)
    np.testing.assert_allclose(wg.jit(program)(x), program(x), rtol=1e-12)
    np.testing.assert_allclose(wg.jit(wg.grad(program))(x), wg.grad(program)(x), rtol=1e-12)


def test_generated_code_frees_intermediates():
    source = wg.jit(lambda x: wnp.sum(wnp.exp(wnp.sin(x)))).source(np.ones(5000))
    assert "del " in source and "out=" in source  # freed at last use, buffers reused
    fused = wg.jit(lambda x: wnp.sum(wnp.exp(wnp.sin(x))), fuse=True).source(np.ones(5000))
    assert "fused" in fused


def test_closure_over_enclosing_tracer_is_reported():
    def f(x):
        return wg.jit(lambda y: x * y)(2.0)

    with pytest.raises(TypeError, match="closure over a tracer"):
        wg.grad(f)(1.0)


def test_the_fast_path_for_plain_arrays_shares_the_cache_with_the_general_path():
    from wengert.ir.jit import _positional_tree

    x = np.ones(3)
    assert _positional_tree(2) == wg.tree_structure(((x, x), {}))
    f = wg.jit(lambda x, y: x * y)
    np.testing.assert_array_equal(f(x, 2 * x), 2 * x)  # plain arrays: the fast path
    np.testing.assert_array_equal(f(x, y=2 * x), 2 * x)  # a keyword: the general path
    assert f.cache_size() == 2  # ((x, y), {}) and ((x,), {"y": y}) are different trees
    np.testing.assert_array_equal(f(x, 3 * x), 3 * x)
    assert f.cache_size() == 2
