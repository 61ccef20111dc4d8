"""The optimisation passes of wengert.ir: algebraic simplification, elementwise fusion and
memory planning, each shown before and after on the IR, and each checked to preserve results
bit for bit (and gradients) on random programs."""

import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import wengert as wg
import wengert.numpy as wnp
from wengert.ir import (
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_constants,
    fusion,
    inline_calls,
    make_graph,
    optimize,
)
from wengert.ir.codegen import compile_graph
from wengert.ir.fusion import FusedPrimitive, fuse_elementwise
from wengert.ir.memory import peak_bytes, plan_memory
from wengert.ir.simplify import simplify

SPECIAL = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.5, -2.0, 1e-300])


@pytest.fixture(autouse=True)
def fuse_small_arrays(monkeypatch):
    """These tests read the passes' effect on small graphs; by default values under
    FUSE_MIN_ELEMENTS stay unfused (see test_small_values_stay_unfused)."""
    monkeypatch.setattr(fusion, "FUSE_MIN_ELEMENTS", 1)


def names(graph):
    return [eqn.prim.name for eqn in graph.eqns]


def simplified(f, *args):
    return eliminate_dead_code(simplify(make_graph(f, *args)))


def run(graph, *args):
    return compile_graph(graph)[0](*args)


def assert_bitwise(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(np.signbit(a.real), np.signbit(b.real))


def gelu(x):
    return 0.5 * x * (1.0 + wnp.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)))


def softplus(x):
    return wnp.maximum(x, 0.0) + wnp.log1p(wnp.exp(-wnp.abs(x)))


# Simplification ------------------------------------------------------------------------


@pytest.mark.parametrize("f", [
    lambda x: x * 1, lambda x: 1 * x, lambda x: x * 1.0, lambda x: x / 1, lambda x: x - 0.0,
    lambda x: x + (-0.0), lambda x: -0.0 + x, lambda x: wnp.negative(wnp.negative(x)), wnp.positive,
    lambda x: wnp.broadcast_to(x, (8,)) * 1,
], ids=["x*1", "1*x", "x*1.0", "x/1", "x-0.0", "x+(-0.0)", "(-0.0)+x", "--x", "+x", "bcast"])
def test_simplify_removes_identities_and_keeps_nan_inf_and_signed_zero(f):
    graph = make_graph(f, SPECIAL)
    assert len(graph.eqns) >= 1
    after = simplified(f, SPECIAL)
    assert after.eqns == () and after.outvars == after.invars
    assert_bitwise(run(after, SPECIAL)[0], f(SPECIAL))


@pytest.mark.parametrize("f, dtype", [
    (lambda x: x + 0.0, np.float64),   # maps -0.0 to +0.0
    (lambda x: x - (-0.0), np.float64),  # x + 0.0 again
    (lambda x: x * 0, np.float64),     # NaN and inf times zero are NaN
    (lambda x: x * 1.0, np.int32),     # int32 * 1.0 is float64
    (lambda x: x / 1, np.int32),       # true division gives floats
    (lambda x: x + 0, np.bool_),       # bool + 0 is an integer
    (lambda x: x * 1, np.complex128),  # (inf+1j) * (1+0j) has a NaN part
    (lambda x: x + (-0.0), np.complex128),  # the imaginary -0.0 would become +0.0
    (lambda x: x * np.ones(3), np.float64),  # a constant array: not a literal one
], ids=["x+0.0", "x-(-0.0)", "x*0", "int*1.0", "int/1", "bool+0", "complex*1",
        "complex+(-0.0)", "x*ones"])
def test_simplify_leaves_what_could_change_a_value_dtype_or_shape(f, dtype):
    x = np.array([-0.0, np.nan, 2.0 + 1j * np.inf]) if dtype is np.complex128 else (
        np.array([-0.0, np.nan, 2.0]) if dtype is np.float64 else np.arange(3).astype(dtype))
    graph = make_graph(f, x)
    after = simplified(f, x)
    assert names(after) == names(graph)
    assert_bitwise(run(after, x)[0], f(x))


def test_simplify_integer_zero_and_shape_rules():
    xi = np.array([-3, 0, 7], np.int32)
    assert simplified(lambda x: x + 0, xi).eqns == ()
    assert simplified(lambda x: x - 0, xi).eqns == ()
    x = np.arange(24.0).reshape(2, 3, 4)
    f = lambda x: wnp.transpose(wnp.transpose(x, (1, 2, 0)), (2, 0, 1))  # noqa: E731
    assert names(make_graph(f, x)) == ["transpose", "transpose"]
    assert simplified(f, x).eqns == ()
    g = lambda x: wnp.transpose(wnp.transpose(x, (1, 2, 0)), (1, 0, 2))  # noqa: E731
    after = simplified(g, x)
    assert names(after) == ["transpose"] and after.eqns[0].params["axes"] == (2, 1, 0)
    assert_bitwise(run(after, x)[0], g(x))
    h = lambda x: wnp.reshape(wnp.reshape(x, (6, 4)), (4, 6))  # noqa: E731
    after = simplified(h, x)
    assert names(after) == ["reshape"] and after.eqns[0].inputs[0] is after.invars[0]
    assert_bitwise(run(after, x)[0], h(x))
    assert simplified(lambda x: wnp.reshape(wnp.reshape(x, (6, 4)), (2, 3, 4)), x).eqns == ()


def test_simplify_keeps_float32():
    x = np.array([1.0, -0.0, np.nan], np.float32)
    f = wg.jit(lambda x: (x * 1.0) / 1 - 0.0)
    assert f.graph(x).eqns == ()
    assert_bitwise(f(x), x)


# Fusion --------------------------------------------------------------------------------


def test_fusion_before_and_after_on_gelu():
    x = np.linspace(-3, 3, 16)
    graph = make_graph(gelu, x)
    assert names(graph) == ["multiply", "power", "multiply", "add", "multiply", "tanh", "add",
                            "multiply"]
    fused = fuse_elementwise(graph)
    assert len(fused.eqns) == 1 and isinstance(fused.eqns[0].prim, FusedPrimitive)
    assert "= fused[multiply,power,multiply,add,multiply,tanh,add,multiply] a" in str(fused)
    assert_bitwise(run(fused, x)[0], gelu(x))
    # One output buffer and one scratch buffer, reused by every step.
    source = fused.eqns[0].prim.source
    assert source.count(", out=b") == 6 and source.count(", out=out)") == 1
    assert fused.eqns[0].prim.scratch_bytes == x.nbytes


def test_fusion_stops_at_values_used_outside_and_at_non_elementwise_ops():
    x = np.linspace(-1, 1, 6)

    def f(x):
        s = wnp.sin(x) * 2.0
        total = wnp.sum(s)             # a reduction: not fused
        return wnp.exp(s) + total, s   # s is an output: the region stops there

    fused = fuse_elementwise(make_graph(f, x))
    assert names(fused) == ["fused[sin,multiply]", "sum", "fused[exp,add]"]
    for got, want in zip(run(fused, x), f(x)):
        assert_bitwise(got, want)
    # Scalars (0-d values) are left unfused: NumPy gives scalars, which `out=` cannot.
    assert names(fuse_elementwise(make_graph(lambda s: wnp.sin(s) * 2.0, 1.5))) == [
        "sin", "multiply"]


def test_fused_graph_under_transforms_and_float32():
    x = np.linspace(-3, 3, 7)
    for f in (gelu, softplus):
        loss = lambda x, f=f: wnp.sum(f(x))  # noqa: E731
        fused = wg.jit(loss, fuse=True)
        np.testing.assert_allclose(wg.grad(fused)(x), wg.grad(loss)(x), rtol=1e-15)
        np.testing.assert_allclose(wg.jit(wg.grad(loss), fuse=True)(x), wg.grad(loss)(x),
                                   rtol=1e-15)
        np.testing.assert_allclose(wg.vmap(wg.jit(f, fuse=True))(np.stack([x, -x])),
                                   [f(x), f(-x)])
        x32 = x.astype(np.float32)
        assert_bitwise(wg.jit(f, fuse=True)(x32), f(x32))
    assert any(isinstance(e.prim, FusedPrimitive) for e in wg.jit(gelu, fuse=True).graph(x).eqns)
    assert not any(isinstance(e.prim, FusedPrimitive) for e in wg.jit(gelu).graph(x).eqns)


# Memory planning -----------------------------------------------------------------------


def test_memory_plan_reuses_dead_buffers_and_reports_peak():
    x = np.linspace(-3, 3, 1000)
    graph = make_graph(gelu, x)
    planned = plan_memory(graph)
    # b = 0.5 a lives to the end; every later step writes over its dying argument.
    assert planned.plan.reuse == {2: 1, 3: 1, 4: 1, 5: 0, 6: 1, 7: 0}
    assert planned.peak_bytes == peak_bytes(planned) == 2 * x.nbytes
    assert peak_bytes(graph) == 3 * x.nbytes  # without reuse
    text = str(planned)
    assert text.splitlines()[-1] == (
        f"# planned peak of live intermediates: {2 * x.nbytes} bytes; 6 buffer(s) reused")
    source = compile_graph(planned)[1]
    assert "op3_add(x0, t2_0, out=t2_0)" in source
    x_before = x.copy()
    assert_bitwise(run(planned, x)[0], gelu(x))
    assert_bitwise(x, x_before)  # inputs are never written
    fused = plan_memory(fuse_elementwise(graph))
    assert fused.peak_bytes == 2 * x.nbytes  # the output and one scratch buffer


def test_memory_plan_never_reuses_inputs_outputs_or_viewed_buffers():
    x = np.arange(6.0).reshape(2, 3)

    def f(x):
        a = wnp.sin(x)
        view = a.T              # shares a's memory
        b = wnp.exp(a)          # a's last direct use, but its view is read below
        return b + view.T, wnp.cos(x)

    graph = make_graph(f, x)
    planned = plan_memory(graph)
    exp_index = names(graph).index("exp")
    assert exp_index not in planned.plan.reuse  # would overwrite what `view` shows
    assert names(graph).index("cos") not in planned.plan.reuse  # x is the caller's
    x_before = x.copy()
    for got, want in zip(run(planned, x), f(x)):
        assert_bitwise(got, want)
    assert_bitwise(x, x_before)
    # A graph output is never written over.
    g = make_graph(lambda x: (wnp.sin(x), wnp.sin(x) * 2.0), x)
    g = eliminate_common_subexpressions(g)
    assert plan_memory(g).plan.reuse == {}


def _traced_peak(fun, x):
    fun(x)  # warm up
    tracemalloc.start()
    tracemalloc.reset_peak()
    fun(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_fusion_reduces_measured_and_planned_peak_on_a_chain():
    x = np.linspace(-4, 4, 100_000)
    graph = make_graph(gelu, x)
    unfused = eliminate_dead_code(graph)
    fused = plan_memory(fuse_elementwise(unfused))
    assert fused.peak_bytes == plan_memory(unfused).peak_bytes == 2 * x.nbytes
    assert peak_bytes(unfused) == 3 * x.nbytes
    # tracemalloc sees NumPy's buffers: the plan is what the generated code really does.
    measured_unfused = _traced_peak(compile_graph(unfused)[0], x)
    measured_fused = _traced_peak(compile_graph(fused)[0], x)
    assert measured_fused <= 2 * x.nbytes + 4096 < 3 * x.nbytes <= measured_unfused


# Every pass preserves results and gradients on random programs ------------------------

UNARY = [wnp.sin, wnp.tanh, wnp.exp, wnp.negative, lambda v: v * 1, lambda v: v + (-0.0),
         lambda v: v - 0.0, lambda v: v / 1, lambda v: v * 0.5, lambda v: v ** 2,
         lambda v: wnp.negative(-v), lambda v: wnp.transpose(wnp.transpose(v)),
         lambda v: wnp.reshape(wnp.reshape(v, (4, 3)), (3, 4)),
         lambda v: wnp.broadcast_to(v[:1], (3, 4)) + v, lambda v: wnp.sum(v, axis=0) * v]
BINARY = [wnp.add, wnp.multiply, wnp.subtract, wnp.maximum,
          lambda a, b: wnp.where(a > b, a, b * 2.0)]

programs = st.lists(
    st.tuples(st.booleans(), st.integers(0, len(UNARY) - 1), st.integers(0, len(BINARY) - 1),
              st.integers(0, 50), st.integers(0, 50)),
    min_size=1, max_size=10,
)
elements = st.one_of(st.floats(-3, 3), st.sampled_from([0.0, -0.0, np.inf, -np.inf, np.nan]))
inputs = hnp.arrays(np.float64, (3, 4), elements=elements)


def build(ops):
    def program(x):
        values = [x]
        for unary, u, b, i, j in ops:
            a, c = values[i % len(values)], values[j % len(values)]
            values.append(UNARY[u](a) if unary else BINARY[b](a, c))
        return values[-1], values[len(values) // 2]

    return program


PASSES = {
    "fold": fold_constants, "simplify": simplify, "cse": eliminate_common_subexpressions,
    "dce": eliminate_dead_code, "fusion": fuse_elementwise,
    "memory": lambda g: plan_memory(fuse_elementwise(g)), "optimize": optimize,
}


@pytest.mark.parametrize("name", list(PASSES))
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(ops=programs, x=inputs)
def test_each_pass_preserves_values_and_gradients(name, ops, x):
    program = build(ops)
    with np.errstate(all="ignore"):
        graphs = [make_graph(program, x),
                  make_graph(wg.grad(lambda x: wnp.sum(program(x)[0])), x)]
        for graph in graphs:
            after = PASSES[name](graph).check()
            for got, want in zip(run(after, x), run(graph, x)):
                assert_bitwise(got, want)


def test_small_values_stay_unfused(monkeypatch):
    monkeypatch.setattr(fusion, "FUSE_MIN_ELEMENTS", 4096)

    def chain(x):
        return wnp.exp(wnp.sin(x) * 2.0) + 1.0

    small = optimize(make_graph(chain, np.ones(8)), fuse=True)
    large = optimize(make_graph(chain, np.ones(5000)), fuse=True)
    assert not any("fused" in e.prim.name for e in small.eqns)
    assert any("fused" in e.prim.name for e in large.eqns)


def test_inline_calls_opens_custom_rules_for_the_code_that_runs():
    @wg.custom_vjp
    def clip_gradient(x):
        return x

    clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (wnp.clip(g, -0.5, 0.5),))

    @wg.checkpoint
    def block(x):
        return wnp.sin(wnp.exp(x) * 3.0)

    # inline_calls traces at placeholder zeros, where inv fails: this call stays whole.
    opaque = wg.checkpoint(wnp.linalg.inv)

    def matrix(x):
        return 2.0 * wnp.eye(2) + 0.1 * x[:2, None] * x[None, 3:]

    def f(x):
        return wnp.sum(block(clip_gradient(x)) ** 2) + wnp.sum(opaque(matrix(x)))

    x = np.linspace(-1.0, 1.0, 5)
    graph = make_graph(wg.grad(f), x)
    calls = [e.prim.name for e in graph.eqns if e.prim.name.startswith("custom")]
    assert len(calls) == 3
    inlined = inline_calls(graph).check()
    names = [e.prim.name for e in inlined.eqns]
    assert names.count("custom_vjp_call") == 1  # the inverse stays one call
    assert "exp" in names and "sin" in names
    assert_bitwise(run(inlined, x)[0], run(graph, x)[0])
    # jit runs the inlined graph; transforms around it still see the custom rule.
    want = wg.grad(f)(x)
    np.testing.assert_allclose(wg.jit(wg.grad(f))(x), want, rtol=1e-12)
    np.testing.assert_allclose(wg.grad(wg.jit(f))(x), want, rtol=1e-12)
    unclipped = wg.grad(lambda x: wnp.sum(wnp.sin(wnp.exp(x) * 3.0) ** 2)
                        + wnp.sum(wnp.linalg.inv(matrix(x))))(x)
    assert np.abs(want - unclipped).max() > 0.1  # the clip acted


# Common subexpressions over equal constants -------------------------------------------------


def test_cse_merges_equal_constants_that_are_different_objects():
    w = np.random.default_rng(0).normal(size=(4, 3))
    a, b = np.linspace(-1, 1, 12).reshape(3, 4), np.linspace(-1, 1, 12).reshape(3, 4)
    zero, negative_zero = np.zeros(3), np.full(3, -0.0)

    def f(w):
        same = wnp.tanh(a @ w) + wnp.tanh(b @ w)  # a and b: equal values, two objects
        return same, w[0] * zero + w[1] * negative_zero  # -0.0 differs from 0.0 bitwise

    graph = optimize(make_graph(f, w))
    assert names(graph).count("tanh") == 1 and names(graph).count("matmul") == 1
    assert names(graph).count("multiply") == 2  # 0.0 and -0.0 stay two constants
    out = run(graph, w)
    assert_bitwise(out[0], np.tanh(a @ w) * 2)
    assert_bitwise(out[1], w[0] * zero + w[1] * negative_zero)
    # A symmetric matrix and its transpose hold the same values in another layout, on which
    # BLAS may round differently: they stay two constants, so jit matches eager bitwise.
    s = np.array([[2.0, 0.3], [0.3, 1.0]])
    graph = optimize(make_graph(lambda v: (s @ v, s.T @ v), np.ones(2)))
    assert names(graph).count("matmul") == 2


def test_cse_shares_the_primal_of_nested_jvps_of_a_captured_array():
    # Each nested JVP recomputes the primal of the captured X eagerly: a new array per nest.
    X = np.random.default_rng(1).uniform(-1, 1, size=(50, 2))
    w1, w2 = np.ones((2, 8)) / 3, np.ones((8, 1)) / 5

    def loss(w1):
        def u(X):
            return wnp.tanh((X * 2.0 - 1.0) @ w1) @ w2

        e_x, e_t = np.tile([1.0, 0.0], (50, 1)), np.tile([0.0, 1.0], (50, 1))
        u_x = wg.jvp(u, (X,), (e_x,))[1]
        u_xx = wg.jvp(lambda X: wg.jvp(u, (X,), (e_x,))[1], (X,), (e_x,))[1]
        u_t = wg.jvp(u, (X,), (e_t,))[1]
        return wnp.sum((u_t + u_x - u_xx) ** 2)

    graph = wg.jit(wg.value_and_grad(loss)).graph(w1)
    first_layer = [eqn for eqn in graph.eqns if eqn.prim.name == "matmul"
                   and eqn.inputs[1].aval.shape == (2, 8)]
    assert len(first_layer) == 1 + 2  # the primal's and two distinct tangents' products
