"""Gradient checkpointing: checkpoint, checkpoint_sequential and revolve loops give the plain
gradients (all modes, order 2, jit, vmap, eager), revolve's schedules are optimal, and
checkpointing lowers the peak memory of a backward pass."""

import tracemalloc
from functools import lru_cache

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert import nn, revolve
from wengert.checkpoint import fori_loop_revolve

RNG = np.random.default_rng(0)


def block(w, x):
    return wnp.tanh(x @ w) * wnp.sin(x)


def loss_plain(w, x):
    return wnp.sum(block(w, block(w, x)) ** 2)


ck_block = wg.checkpoint(block)


def loss_ck(w, x):
    return wnp.sum(ck_block(w, ck_block(w, x)) ** 2)


W = RNG.normal(size=(3, 3)) * 0.5
X = RNG.normal(size=(4, 3))


def test_checkpoint_grad_matches_plain():
    for argnums in (0, 1, (0, 1)):
        got = wg.grad(loss_ck, argnums=argnums)(W, X)
        want = wg.grad(loss_plain, argnums=argnums)(W, X)
        for a, b in zip(wg.tree_leaves(got), wg.tree_leaves(want)):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_checkpoint_check_grads_order_2():
    wg.check_grads(loss_ck, (W, X), order=2)
    wg.check_grads(ck_block, (W, X), order=2)


def test_checkpoint_hessian_matches_plain():
    np.testing.assert_allclose(wg.hessian(loss_ck)(W, X), wg.hessian(loss_plain)(W, X),
                               rtol=1e-10, atol=1e-12)


def test_checkpoint_eager_backward():
    grads = []
    for loss in (loss_plain, loss_ck):
        w = wg.tensor(W, requires_grad=True)
        x = wg.tensor(X, requires_grad=True)
        loss(w, x).backward()
        grads.append((w.grad.numpy(), x.grad.numpy()))
    for got, want in zip(*grads[::-1]):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_checkpoint_eager_create_graph():
    grads = []
    for loss in (loss_plain, loss_ck):
        w = wg.tensor(W, requires_grad=True)
        (g,) = wg.autograd_grad(loss(w, X), [w], create_graph=True)
        (g * g).sum().backward()
        grads.append(w.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-10)


def test_checkpoint_jit_and_vmap():
    want = wg.grad(loss_plain)(W, X)
    np.testing.assert_allclose(wg.jit(wg.grad(loss_ck))(W, X), want, rtol=1e-12)
    np.testing.assert_allclose(wg.grad(wg.jit(loss_ck))(W, X), want, rtol=1e-12)
    xs = RNG.normal(size=(5, 4, 3))
    per_example = wg.vmap(wg.grad(loss_ck), in_axes=(None, 0))(W, xs)
    for k in range(5):
        np.testing.assert_allclose(per_example[k], wg.grad(loss_plain)(W, xs[k]), rtol=1e-12)


def test_checkpoint_pytrees_and_static_arguments():
    @wg.checkpoint
    def f(params, x, n, name="tanh"):
        h = x
        for _ in range(n):
            h = getattr(wnp, name)(h @ params["w"] + params["b"])
        return {"h": h, "sq": h * h}

    def plain(params, x):
        h = x
        for _ in range(2):
            h = wnp.tanh(h @ params["w"] + params["b"])
        return wnp.sum(h) + wnp.sum(h * h)

    params = {"w": W, "b": RNG.normal(size=3)}
    got = wg.grad(lambda p, x: (lambda o: wnp.sum(o["h"]) + wnp.sum(o["sq"]))(f(p, x, 2)))(
        params, X)
    want = wg.grad(plain)(params, X)
    for k in params:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-12)


def test_checkpoint_float32_stays_float32():
    w, x = W.astype(np.float32), X.astype(np.float32)
    g = wg.grad(loss_ck)(w, x)
    assert g.dtype == np.float32


def test_checkpoint_closure_over_traced_value_is_an_error():
    def loss(w):
        return wnp.sum(wg.checkpoint(lambda x: x * w)(w * X))

    with pytest.raises(TypeError, match="checkpoint: .*closure"):
        wg.grad(loss)(1.5)


def test_checkpoint_module_both_styles():
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    wrapped = wg.checkpoint(model)

    def loss(m, x):
        return wnp.sum(m(x) ** 2)

    got = wg.grad(loss)(wrapped, X)
    want = wg.grad(loss)(model, X)
    got_leaves, want_leaves = wg.tree_leaves(got), wg.tree_leaves(want)
    assert len(got_leaves) == len(want_leaves) > 0
    for a, b in zip(got_leaves, want_leaves):
        np.testing.assert_allclose(a, b, rtol=1e-12)

    loss(model, X).backward()
    plain_grads = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    loss(wrapped, X).backward()
    assert [p is q for p, q in zip(wrapped.parameters(), model.parameters())]
    for p, want_g in zip(model.parameters(), plain_grads):
        np.testing.assert_allclose(p.grad.numpy(), want_g, rtol=1e-12)


def _layers(n, width, rng):
    return [RNG.normal(size=(width, width)) / np.sqrt(width) for _ in range(n)]


def _chain(ws):
    return [lambda h, w=w: wnp.tanh(h @ w) for w in ws]


@pytest.mark.parametrize("segments", [None, 1, 3, 7])
def test_checkpoint_sequential_matches_plain(segments):
    n = 7

    def loss(ws, x, seq):
        return wnp.sum(seq(_chain(ws))(x) ** 2)

    def plain_seq(fns):
        def run(x):
            for f in fns:
                x = f(x)
            return x
        return run

    def ck_seq(fns):
        return wg.checkpoint_sequential(fns, segments)

    ws = _layers(n, 3, RNG)
    # The layers close over the weights, so differentiate with respect to the input.
    got = wg.grad(loss, argnums=1)(ws, X, ck_seq)
    want = wg.grad(loss, argnums=1)(ws, X, plain_seq)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    wg.check_grads(lambda x: loss(ws, x, ck_seq), (X,), order=2)


def test_checkpoint_sequential_modules_both_styles():
    # Modules in fns are arguments of the checkpointed segments, so their parameters get
    # gradients (a function closing over a traced module would be refused).
    layers = [nn.Linear(3, 3) if k % 2 == 0 else nn.Tanh() for k in range(8)]

    def loss(mods, x, ck):
        h = wg.checkpoint_sequential(mods, 3)(x) if ck else nn.Sequential(*mods)(x)
        return wnp.sum(h ** 2)

    got = wg.grad(loss)(layers, X, True)
    want = wg.grad(loss)(layers, X, False)
    for a, b in zip(wg.tree_leaves(got), wg.tree_leaves(want)):
        np.testing.assert_allclose(a, b, rtol=1e-12)

    params = [p for m in layers for p in m.parameters()]
    loss(layers, X, False).backward()
    plain_grads = [p.grad.numpy().copy() for p in params]
    for p in params:
        p.grad = None
    loss(layers, X, True).backward()
    for p, want_g in zip(params, plain_grads):
        np.testing.assert_allclose(p.grad.numpy(), want_g, rtol=1e-12)


def test_checkpoint_sequential_bad_segments():
    with pytest.raises(ValueError, match="checkpoint_sequential: segments"):
        wg.checkpoint_sequential([wnp.sin, wnp.cos], 3)


# ---------------------------------------------------------------------------------------
# revolve


@lru_cache(maxsize=None)
def brute_force(steps, snaps):
    """The optimal count by dynamic programming over every first-snapshot position."""
    if steps <= 1:
        return 0
    if snaps == 1:
        return steps * (steps - 1) // 2
    return min(k + brute_force(steps - k, snaps - 1) + brute_force(k, snaps)
               for k in range(1, steps))


@pytest.mark.parametrize("snaps", [1, 2, 3, 4, 5])
def test_revolve_schedule_is_optimal(snaps):
    for steps in range(0, 40):
        actions = revolve.schedule(steps, snaps)
        assert revolve.count_advances(actions) == revolve.min_advances(steps, snaps)
        assert revolve.min_advances(steps, snaps) == brute_force(steps, snaps)
        assert revolve.max_snapshots(actions) <= snaps
        assert [a[1] for a in actions if a[0] == revolve.REVERSE] == list(range(steps))[::-1]


def test_revolve_known_counts():
    # t(T, s) = r T - beta(s + 1, r - 1) with r minimal such that beta(s, r) >= T.
    assert revolve.min_advances(10, 3) == 15  # r = 2: 20 - C(4+1, 4) = 15
    assert revolve.min_advances(10, 1) == 45  # one snapshot: 9 + 8 + ... + 1
    assert revolve.min_advances(10, 9) == 9  # enough memory: one sweep
    assert revolve.min_advances(1000, 10) == revolve.count_advances(revolve.schedule(1000, 10))


def _body(i, carry):
    x, w = carry
    return wnp.sin(x * w) + 0.1 * i * x, w


def _loop_loss(init, steps, snaps):
    if snaps is None:
        x, _ = wg.fori_loop(0, steps, _body, init)
    else:
        x, _ = fori_loop_revolve(0, steps, _body, init, snapshots=snaps)
    return wnp.sum(x ** 2)


INIT = (RNG.normal(size=3), np.array(0.9))


@pytest.mark.parametrize("steps,snaps", [(1, 1), (10, 1), (10, 3), (17, 4), (6, 10)])
def test_revolve_gradient_matches_plain_loop(steps, snaps):
    got = wg.grad(_loop_loss)(INIT, steps, snaps)
    want = wg.grad(_loop_loss)(INIT, steps, None)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_revolve_counts_body_evaluations():
    calls = {"n": 0}

    def body(i, carry):
        calls["n"] += 1
        return _body(i, carry)

    def loss(init):
        x, _ = fori_loop_revolve(0, 10, body, init, snapshots=3)
        return wnp.sum(x)

    wg.grad(loss)(INIT)
    # Untaped: the optimal schedule plus the output step; taped: one per iteration.
    assert calls["n"] == revolve.min_advances(10, 3) + 1 + 10


def test_revolve_order_2_jit_vmap_eager():
    wg.check_grads(lambda x: _loop_loss((x, INIT[1]), 6, 2), (INIT[0],), order=2)
    want = wg.grad(_loop_loss)(INIT, 8, None)
    got = wg.jit(wg.grad(lambda init: _loop_loss(init, 8, 3)))(INIT)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-11)
    xs = RNG.normal(size=(4, 3))
    batched = wg.vmap(wg.grad(lambda x: _loop_loss((x, INIT[1]), 8, 3)))(xs)
    for k in range(4):
        np.testing.assert_allclose(
            batched[k], wg.grad(lambda x: _loop_loss((x, INIT[1]), 8, None))(xs[k]), rtol=1e-11)
    x = wg.tensor(INIT[0], requires_grad=True)
    w = wg.tensor(INIT[1], requires_grad=True)
    _loop_loss((x, w), 8, 3).backward()
    np.testing.assert_allclose(x.grad.numpy(), want[0], rtol=1e-11)
    np.testing.assert_allclose(w.grad.numpy(), want[1], rtol=1e-11)


def test_revolve_bad_arguments():
    with pytest.raises(ValueError, match="snapshots"):
        fori_loop_revolve(0, 3, _body, INIT, snapshots=0)


# ---------------------------------------------------------------------------------------
# memory


def _peak_backward(fn, *args):
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def test_checkpoint_sequential_lowers_peak_memory():
    depth, width = 32, 64
    x = RNG.normal(size=(256, width))
    ws = _layers(depth, width, RNG)

    def plain(x):
        for f in _chain(ws):
            x = f(x)
        return wnp.sum(x)

    seq = wg.checkpoint_sequential(_chain(ws))

    def ck(x):
        return wnp.sum(seq(x))

    np.testing.assert_allclose(wg.grad(ck)(x), wg.grad(plain)(x), rtol=1e-12)
    plain_peak = _peak_backward(wg.grad(plain), x)
    ck_peak = _peak_backward(wg.grad(ck), x)
    assert ck_peak * 2 < plain_peak, (ck_peak, plain_peak)


def test_revolve_lowers_peak_memory():
    x0 = RNG.normal(size=20000)
    init = (x0, np.array(0.5))
    plain_peak = _peak_backward(wg.grad(lambda i: _loop_loss(i, 100, None)), init)
    rev_peak = _peak_backward(wg.grad(lambda i: _loop_loss(i, 100, 5)), init)
    assert rev_peak * 3 < plain_peak, (rev_peak, plain_peak)
