"""Structured control flow (cond, switch, while_loop, fori_loop, scan): values and
derivatives (forward and reverse, order 2) eagerly and under jit, reverse mode through a
data-dependent while_loop against the implicit-function theorem, vmap with batched
predicates, checkpointing, and error messages."""

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert.testing import check_grads

rng = np.random.default_rng(0)
X = rng.standard_normal(3)
W = 0.5 * rng.standard_normal((3, 3))
XS = rng.standard_normal((4, 3))


def f_cond(x):
    return wg.cond(wnp.sum(x) > 0.0, lambda x: wnp.sin(x) * x, lambda x: wnp.cos(x) + x, x)


def f_cond_closure(x):
    w = wnp.exp(x[0])  # closed over by both branches: its derivative flows too
    return wg.cond(x[1] < 0.0, lambda y: y * w, lambda y: wnp.tanh(y) - w, x)


def f_switch(x):
    branches = [lambda y: y ** 2, lambda y: wnp.sin(y), lambda y: wnp.exp(-y) * y[0]]
    index = wnp.astype(wnp.sum(x) > 0.0, np.int64) + 1
    return wg.switch(index, branches, x)


def f_fori(x):
    return wg.fori_loop(0, 4, lambda i, c: wnp.tanh(W @ c + x) * (i + 1.0), x)


def f_scan(x):
    """An RNN: h' = tanh(W h + x_t), emitting h' * x."""
    def cell(h, x_t):
        h = wnp.tanh(W @ h + x_t * x)
        return h, wnp.sum(h * x)

    h, ys = wg.scan(cell, wnp.zeros(3), XS)
    return h, ys


def f_scan_reverse(x):
    return wg.scan(lambda c, t: (c * wnp.sin(t) + x, c[0] * t), x, XS, reverse=True)


def f_while(x):
    """Doubles x until its norm passes 5 (a data-dependent trip count)."""
    def body(state):
        i, v = state
        return i + 1, v * 1.5 + wnp.sin(v)

    return wg.while_loop(lambda s: wnp.sum(s[1] ** 2) < 25.0, body, (0, x))[1]


FUNCTIONS = {
    "cond": f_cond,
    "cond closure": f_cond_closure,
    "switch": f_switch,
    "fori_loop": f_fori,
    "scan rnn": f_scan,
    "scan reverse": f_scan_reverse,
    "while_loop": f_while,
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_check_grads_eager_and_jit(name):
    f = FUNCTIONS[name]
    for x in (X, -X):
        check_grads(f, (x,), order=2)
        check_grads(wg.jit(f), (x,), order=2)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_jit_equals_eager_and_composes_with_grad(name):
    f = FUNCTIONS[name]

    def loss(x):
        return sum(wnp.sum(leaf ** 2) for leaf in wg.tree_leaves(f(x)))

    for x in (X, -X):
        for a, b in zip(wg.tree_leaves(wg.jit(f)(x)), wg.tree_leaves(f(x))):
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-14)
        g = wg.grad(loss)(x)
        np.testing.assert_allclose(wg.grad(wg.jit(loss))(x), g, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(wg.jit(wg.grad(loss))(x), g, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(wg.jit(wg.hessian(loss))(x), wg.hessian(loss)(x),
                                   rtol=1e-9, atol=1e-10)


def newton_sqrt(a, checkpoint=False):
    """sqrt(a) by Newton's iteration, run to convergence (the trip count depends on a)."""
    def going(c):
        return wnp.abs(c * c - a) > 1e-13 * a

    return wg.while_loop(going, lambda c: 0.5 * (c + a / c), a + 1.0, checkpoint=checkpoint)


@pytest.mark.parametrize("checkpoint", [False, True])
def test_reverse_mode_through_data_dependent_while_loop(checkpoint):
    def f(a):
        return newton_sqrt(a, checkpoint)

    for a in (2.0, 9.0, 150.0):
        exact = 1.0 / (2.0 * np.sqrt(a))  # implicit-function theorem: d sqrt(a) / da
        numeric = wg.numerical_grad(f, np.array(a))
        for g in (wg.grad(f), wg.jit(wg.grad(f)), wg.grad(wg.jit(f))):
            value = g(np.array(a))
            np.testing.assert_allclose(value, exact, rtol=1e-10)
            np.testing.assert_allclose(value, numeric, rtol=1e-6)
        second = -0.25 * a ** -1.5
        np.testing.assert_allclose(wg.grad(wg.grad(wg.jit(f)))(np.array(a)), second, rtol=1e-7)
        np.testing.assert_allclose(wg.jit(wg.grad(wg.grad(f)))(np.array(a)), second, rtol=1e-7)


def test_checkpointed_while_matches_and_recomputes():
    def f(x, checkpoint):
        def body(s):
            return s[0] + 1, wnp.sin(s[1]) * 1.01 + 0.1 * x

        return wnp.sum(wg.while_loop(lambda s: s[0] < 30, body, (0, x),
                                     checkpoint=checkpoint)[1])

    plain = wg.grad(wg.jit(lambda x: f(x, False)))(X)
    for g in (wg.grad(lambda x: f(x, True)), wg.jit(wg.grad(lambda x: f(x, True)))):
        np.testing.assert_allclose(g(X), plain, rtol=1e-12)
    check_grads(lambda x: f(x, True), (X,), order=2)


def test_vmap_with_batched_predicates_and_carries():
    xs = np.stack([X, -X, 2 * X, -0.5 * X])
    for name, f in FUNCTIONS.items():
        expected = [f(x) for x in xs]
        for vf in (wg.vmap(f), wg.jit(wg.vmap(f)), wg.vmap(wg.jit(f))):
            out = vf(xs)
            for k, leaf in enumerate(wg.tree_leaves(out)):
                want = np.stack([wg.tree_leaves(e)[k] for e in expected])
                np.testing.assert_allclose(leaf, want, rtol=1e-12, atol=1e-13, err_msg=name)
    a = np.array([2.0, 9.0, 150.0])  # a different trip count for each example
    np.testing.assert_allclose(wg.vmap(newton_sqrt)(a), np.sqrt(a), rtol=1e-12)
    np.testing.assert_allclose(wg.vmap(wg.grad(newton_sqrt))(a), 0.5 / np.sqrt(a), rtol=1e-10)
    np.testing.assert_allclose(wg.vmap(wg.grad(wg.jit(newton_sqrt)))(a), 0.5 / np.sqrt(a),
                               rtol=1e-10)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_vmap_composes_with_grad_and_jit(name):
    f = FUNCTIONS[name]

    def loss(x):
        return sum(wnp.sum(leaf ** 2) for leaf in wg.tree_leaves(f(x)))

    def batch_loss(xs):
        return wnp.sum(wg.vmap(loss)(xs))

    xs = np.stack([X, -X, 2 * X])
    want = np.stack([wg.grad(loss)(x) for x in xs])
    for g in (wg.vmap(wg.grad(loss)), wg.vmap(wg.grad(wg.jit(loss))),
              wg.jit(wg.vmap(wg.grad(loss))), wg.grad(batch_loss), wg.grad(wg.jit(batch_loss))):
        np.testing.assert_allclose(g(xs), want, rtol=1e-10, atol=1e-12)
    check_grads(wg.jit(wg.vmap(f)), (xs,), order=1)


def test_python_values_and_eager_tensors():
    assert wg.cond(True, lambda x: x + 1, lambda x: x - 1, 1.0) == 2.0
    assert wg.switch(7, [lambda: 0, lambda: 1], ) == 1  # clamped to the last branch
    assert wg.while_loop(lambda x: x < 10.0, lambda x: 2.0 * x, 1.0) == 16.0
    assert wg.fori_loop(0, 3, lambda i, x: x * 2.0, 1.0) == 8.0
    carry, ys = wg.scan(lambda c, x: (c + x, c * x), 0.0, np.arange(3.0))
    assert carry == 3.0 and ys.tolist() == [0.0, 0.0, 2.0]
    t = wg.tensor(X, requires_grad=True)
    wnp.sum(f_while(t) ** 2).backward()
    np.testing.assert_allclose(t.grad.numpy(), wg.grad(lambda x: wnp.sum(f_while(x) ** 2))(X))


def test_float32_stays_float32_and_integer_carries():
    x32 = X.astype(np.float32)

    def rnn32(x):
        return wg.scan(lambda h, t: (wnp.tanh(h * t + x), h[0]), x, XS.astype(np.float32))

    for f in (f_cond, f_cond_closure, f_switch, f_while, rnn32):
        for leaf in wg.tree_leaves(wg.jit(f)(x32)) + wg.tree_leaves(wg.vmap(f)(x32[None])):
            assert leaf.dtype == np.float32
    g = wg.jit(wg.grad(lambda x: wnp.sum(f_while(x))))(x32)
    assert g.dtype == np.float32


def test_graph_holds_one_loop_operation():
    graph = wg.make_graph(f_scan, X)
    assert [e.prim.name for e in graph.eqns].count("scan") == 1
    assert "while" in [e.prim.name for e in wg.make_graph(newton_sqrt, np.array(2.0)).eqns]
    backward = [e.prim.name for e in wg.make_graph(wg.grad(newton_sqrt), np.array(2.0)).eqns]
    assert "while_vjp" in backward


def test_scan_gradient_reads_the_carries_the_forward_pass_stored():
    w = np.array([[0.5, -0.3], [0.2, 0.4]])
    xs = np.random.default_rng(3).normal(size=(6, 2))

    def loss(h0, w):
        def step(h, x):
            h = wnp.tanh(h @ w + x)
            return h, wnp.sin(h)

        h, ys = wg.scan(step, h0, xs)
        return wnp.sum(h ** 2) + wnp.sum(ys)

    h0 = np.array([0.1, -0.2])
    graph = wg.jit(wg.grad(loss, argnums=(0, 1))).graph(h0, w)
    scans = [e for e in graph.eqns if e.prim.name == "scan"]
    # One forward scan that also emits what the body's VJP reads (the carry it started
    # from, for w's cotangent; tanh's and sin's derivatives), one reverse scan of the VJP's
    # linear part: no rerun of the forward scan, no recomputation of the body.
    assert [e.params["n_res"] for e in scans] == [3, 0]
    linear = scans[1].params["body"].graph
    assert "tanh" not in [e.prim.name for e in linear.eqns]
    assert wg.jit(loss).graph(h0, w).eqns[0].params["n_res"] == 0  # nothing to store
    want = wg.grad(loss, argnums=(0, 1))(h0, w)  # eager: a Python loop
    for got in (wg.jit(wg.grad(loss, argnums=(0, 1)))(h0, w),
                wg.grad(wg.jit(loss), argnums=(0, 1))(h0, w)):  # a staged scan, rerun
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=1e-12)
    check_grads(wg.jit(loss), (h0, w), order=2)
    # Staged for w's gradient only, then differentiated with respect to xs: the cotangent
    # the linear part left out comes from the whole VJP.
    inner = wg.jit(wg.value_and_grad(lambda w, xs: loss(h0, w) * 0 + scan_xs(h0, w, xs)))
    got = wg.grad(lambda xs: inner(w, xs)[0])(xs)
    np.testing.assert_allclose(got, wg.grad(lambda xs: scan_xs(h0, w, xs))(xs), rtol=1e-12)
    got = wg.grad(lambda xs: wnp.sum(inner(w, xs)[1]))(xs)
    want = wg.grad(lambda xs: wnp.sum(wg.grad(lambda w: scan_xs(h0, w, xs))(w)))(xs)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_scan_stored_residuals_with_reverse_integer_carries_and_vmap():
    w = np.array([[0.5, -0.3], [0.2, 0.4]])
    xs = np.random.default_rng(4).normal(size=(5, 2))

    def loss(h0, w, xs, rev):
        def step(carry, x):
            h, k = carry
            h = wnp.tanh(h @ w + x) * (k + 1.0)
            return (h, k + 1), wnp.sin(h) * x

        (h, _), ys = wg.scan(step, (h0, np.int64(0)), xs, reverse=rev)
        return wnp.sum(h ** 2) + wnp.sum(ys * wnp.arange(5.0)[:, None])

    h0 = np.array([0.1, -0.2])
    for rev in (False, True):
        want = wg.grad(loss, argnums=(0, 1, 2))(h0, w, xs, rev)
        jitted = wg.jit(wg.grad(loss, argnums=(0, 1, 2)), static_argnums=3)
        for a, b in zip(jitted(h0, w, xs, rev), want):
            np.testing.assert_allclose(a, b, rtol=1e-12)
        batched = wg.vmap(jitted, in_axes=(0, None, None, None))(np.stack([h0, h0]), w, xs, rev)
        for a, b in zip(batched, want):
            np.testing.assert_allclose(a[1], b, rtol=1e-12)


def scan_xs(h0, w, xs):
    def step(h, x):
        return wnp.tanh(h @ w + x), None

    return wnp.sum(wg.scan(step, h0, xs)[0] ** 2)


def test_errors_name_the_function():
    def ones(x):
        return wnp.ones(2)

    def pair(x):
        return x, x

    with pytest.raises(TypeError, match=r"cond: false_fun \(ones\) and true_fun \(pair\) must"):
        wg.jit(lambda x: wg.cond(x[0] > 0, pair, ones, x))(X)
    with pytest.raises(TypeError, match=r"shapes and dtypes.*float32"):
        wg.jit(lambda x: wg.cond(x[0] > 0, lambda y: y, lambda y: y.astype(np.float32), x))(X)
    with pytest.raises(TypeError, match=r"switch: branch 0 \(ones\) and branch 1"):
        wg.vmap(lambda x: wg.switch(wnp.astype(x[0] > 0, int), [ones, wnp.sin], x))(XS)

    def grow(x):
        return wnp.concatenate([x, x])

    with pytest.raises(TypeError, match=r"while_loop: body_fun \(grow\) must return a carry"):
        wg.jit(lambda x: wg.while_loop(lambda y: wnp.sum(y) < 1.0, grow, x))(X)
    with pytest.raises(TypeError, match=r"while_loop: cond_fun .* must return one boolean"):
        wg.jit(lambda x: wg.while_loop(lambda y: y < 1.0, wnp.sin, x, checkpoint=True))(X)
    with pytest.raises(TypeError, match=r"scan: f \(bad\) must return \(carry, y\)"):
        def bad(c, x):
            return c[0], x

        wg.jit(lambda x: wg.scan(bad, x, XS))(X)
    with pytest.raises(TypeError, match="cond: pred must be a scalar"):
        wg.cond(X > 0, wnp.sin, wnp.cos, X)
    with pytest.raises(ValueError, match="scan: .*disagree"):
        wg.scan(lambda c, x: (c, x), 0.0, XS, length=5)
    with pytest.raises(wg.core.TracerValueError, match=r"wg\.cond"):
        wg.jit(lambda x: x if wnp.sum(x) > 0 else -x)(X)
