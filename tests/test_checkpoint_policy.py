"""Checkpointing under jit: the optimisation barrier keeps a recomputation apart from the
forward pass, policies choose what is stored (nothing, matrix products, everything, a
memory budget) and the memory planner counts it; and scan_revolve, binomial checkpointing
of a scan. Gradients always equal the plain ones to rounding."""

import tracemalloc

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert import nn, revolve
from wengert.checkpoint import checkpoint_policies as policies

RNG = np.random.default_rng(7)
DEPTH, WIDTH, BATCH = 6, 32, 16
WS = [RNG.normal(size=(WIDTH, WIDTH)) / np.sqrt(WIDTH) for _ in range(DEPTH)]
X = RNG.normal(size=(BATCH, WIDTH))


def layer(w, h):
    return wnp.tanh(h @ w) * wnp.sin(h) + 0.5 * h


def mlp_loss(ws, x, policy="plain"):
    step = layer if policy == "plain" else wg.checkpoint(layer, policy=policy)
    for w in ws:
        x = step(w, x)
    return wnp.sum(x ** 2)


def _close(got, want, rtol=1e-12):
    for a, b in zip(wg.tree_leaves(got), wg.tree_leaves(want)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13)


def _graph(policy):
    return wg.jit(wg.grad(mlp_loss), static_argnums=2).graph(WS, X, policy)


def _count(graph, name):
    return sum(eqn.prim.name == name for eqn in graph.eqns)


# ---------------------------------------------------------------------------------------
# the optimisation barrier


def test_barrier_is_an_identity_for_values_derivatives_and_vmap():
    x, y = RNG.normal(size=3), RNG.normal(size=(2, 3))
    a, b = wg.optimization_barrier(x, y)
    assert a is x and b is y

    def f(x, y):
        a, b = wg.optimization_barrier(wnp.sin(x), y)
        return wnp.sum(a * b) ** 2

    wg.check_grads(f, (x, y), order=2)
    pair = wg.optimization_barrier
    batched = wg.vmap(lambda v: pair(v, x)[0] * pair(v, x)[1])(y)
    np.testing.assert_array_equal(batched, y * x)
    assert wg.jit(lambda v: wg.optimization_barrier(v * 2.0)[0])(x).tolist() == (x * 2).tolist()


def test_barrier_is_never_shared_or_seen_through():
    def f(x):
        a = wg.optimization_barrier(x)[0]
        b = wg.optimization_barrier(x)[0]
        return wnp.sin(a) + wnp.sin(b) + wnp.sin(x)

    graph = wg.jit(f).graph(np.ones(3))
    assert _count(graph, "optimization_barrier") == 2
    assert _count(graph, "sin") == 3  # the same sin on three names: nothing merged
    np.testing.assert_allclose(wg.jit(f)(X[0, :3]), 3 * np.sin(X[0, :3]))


def test_jit_keeps_the_recomputation_and_lowers_the_planned_peak():
    plain, ck = _graph("plain"), _graph(policies.nothing_saveable)
    # Without the barrier CSE merged the recomputed layers into the forward ones and
    # the two graphs were the same. Now each checkpointed layer is computed twice (its
    # forward, its recomputation): one matmul more per layer than the plain gradient's
    # three (less the first layer's input cotangent, which nobody asked for).
    assert _count(plain, "matmul") == 3 * DEPTH - 1
    assert _count(ck, "matmul") == 4 * DEPTH - 1
    assert len(ck.eqns) >= len(plain.eqns) + 4 * DEPTH
    assert ck.peak_bytes < 0.8 * plain.peak_bytes, (ck.peak_bytes, plain.peak_bytes)
    want = wg.grad(mlp_loss)(WS, X)
    _close(wg.jit(wg.grad(mlp_loss), static_argnums=2)(WS, X, policies.nothing_saveable), want)


# ---------------------------------------------------------------------------------------
# policies


POLICIES = [policies.nothing_saveable, policies.dots_saveable, policies.everything_saveable,
            policies.save_under_budget(X.nbytes)]


@pytest.mark.parametrize("policy", POLICIES, ids=repr)
def test_policy_gradients_equal_plain_ones_in_every_mode(policy):
    want = wg.grad(mlp_loss)(WS, X)
    _close(wg.grad(mlp_loss)(WS, X, policy), want)
    _close(wg.jit(wg.grad(mlp_loss), static_argnums=2)(WS, X, policy), want)
    ws = [wg.tensor(w, requires_grad=True) for w in WS]
    mlp_loss(ws, wg.tensor(X), policy).backward()
    _close([w.grad.numpy() for w in ws], want)
    batched = wg.vmap(wg.grad(lambda x: mlp_loss(WS[:2], x, policy)))(X[:3, None])
    for k in range(3):
        _close(batched[k], wg.grad(lambda x: mlp_loss(WS[:2], x))(X[k:k + 1]))


@pytest.mark.parametrize("policy", POLICIES[1:], ids=repr)
def test_policy_order_2(policy):
    w, x = WS[0][:3, :3], X[:2, :3]
    wg.check_grads(lambda w, x: mlp_loss([w, w * 0.5], x, policy), (w, x), order=2)
    hess = wg.hessian(lambda w: mlp_loss([w, w], x, policy))(w)
    np.testing.assert_allclose(hess, wg.hessian(lambda w: mlp_loss([w, w], x))(w), rtol=1e-10)


def test_planned_peak_is_ordered_by_what_the_policy_stores():
    nothing, dots, everything = (_graph(p) for p in POLICIES[:3])
    assert nothing.peak_bytes < dots.peak_bytes < everything.peak_bytes
    # dots_saveable stores the products: none is recomputed, as without checkpointing;
    # nothing_saveable recomputes each one.
    assert _count(dots, "matmul") == 3 * DEPTH - 1
    assert _count(nothing, "matmul") == 4 * DEPTH - 1


def test_a_function_policy_and_bad_policies():
    def only_tanh(intermediate):
        return intermediate.primitive == "tanh"

    _close(wg.grad(mlp_loss)(WS, X, only_tanh), wg.grad(mlp_loss)(WS, X))
    with pytest.raises(TypeError, match="policy"):
        wg.checkpoint(layer, policy="dots")
    with pytest.raises(ValueError, match="nbytes"):
        policies.save_under_budget(-1)


def test_budget_policy_stores_within_its_budget():
    want = wg.grad(mlp_loss)(WS, X)
    peak = {p: _graph(p).peak_bytes for p in POLICIES[:3]}
    layer_bytes = X.nbytes  # each layer's intermediates have the activations' shape
    chosen = []
    for budget in (0, layer_bytes - 1, layer_bytes, 2 * layer_bytes, 100 * layer_bytes):
        policy = policies.save_under_budget(budget)
        _close(wg.grad(mlp_loss)(WS, X, policy), want)
        graph = _graph(policy)
        _close(wg.jit(wg.grad(mlp_loss), static_argnums=2)(WS, X, policy), want)
        # Each checkpointed layer holds at most `budget` more bytes than storing nothing.
        assert graph.peak_bytes <= peak[policies.nothing_saveable] + DEPTH * budget
        chosen.append((graph.peak_bytes, _count(graph, "matmul")))
    assert chosen[0] == chosen[1] == (peak[policies.nothing_saveable], 4 * DEPTH - 1)
    # One activation's worth: the matmul output, the most work per byte, and no recompute.
    assert chosen[2][1] == 3 * DEPTH - 1
    assert chosen[-1][0] == peak[policies.everything_saveable]


def test_checkpoint_sequential_and_modules_take_a_policy():
    fns = [lambda h, w=w: layer(w, h) for w in WS]
    seq = wg.checkpoint_sequential(fns, 3, policy=policies.dots_saveable)
    want = wg.grad(lambda x: mlp_loss(WS, x))(X)
    _close(wg.grad(lambda x: wnp.sum(seq(x) ** 2))(X), want)
    model = nn.Sequential(nn.Linear(WIDTH, WIDTH), nn.Tanh(), nn.Linear(WIDTH, 3))
    wrapped = wg.checkpoint(model, policy=policies.dots_saveable)

    def loss(m, x):
        return wnp.sum(m(x) ** 2)

    _close(wg.grad(loss)(wrapped, X), wg.grad(loss)(model, X))
    loss(model, X).backward()
    want = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    loss(wrapped, X).backward()
    _close([p.grad.numpy() for p in model.parameters()], want)


def test_policy_recomputation_must_repeat_the_forward_pass():
    coin = iter([True, False])

    def moody(w, h):  # a different operation when recomputed
        return wnp.tanh(h @ w) if next(coin) else wnp.sin(h @ w)

    ck = wg.checkpoint(moody, policy=policies.everything_saveable)
    with pytest.raises(RuntimeError, match="moody computed sin where its forward pass"):
        wg.grad(lambda w: wnp.sum(ck(w, X)))(WS[0])


# ---------------------------------------------------------------------------------------
# revolve for scan


H0 = RNG.normal(size=4)
WR = RNG.normal(size=(4, 4)) * 0.5
XS = RNG.normal(size=(12, 4))


def rnn_step(carry, x):
    h, w = carry
    h = wnp.tanh(h @ w + x)
    return (h, w), wnp.sin(h)


def scan_loss(h0, w, xs, snapshots=None, reverse=False):
    if snapshots is None:
        (h, _), ys = wg.scan(rnn_step, (h0, w), xs, reverse=reverse)
    else:
        (h, _), ys = wg.scan_revolve(rnn_step, (h0, w), xs, snapshots=snapshots,
                                     reverse=reverse)
    return wnp.sum(h ** 2) + wnp.sum(ys * wnp.arange(1.0, len(xs) + 1.0)[:, None])


@pytest.mark.parametrize("steps,snaps,reverse", [(1, 1, False), (12, 1, False), (12, 3, False),
                                                 (12, 3, True), (7, 20, False)])
def test_scan_revolve_gradients_equal_scan(steps, snaps, reverse):
    args = (H0, WR, XS[:steps])
    want = wg.grad(scan_loss, argnums=(0, 1, 2))(*args, None, reverse)
    _close(wg.grad(scan_loss, argnums=(0, 1, 2))(*args, snaps, reverse), want, rtol=1e-11)
    values = wg.scan_revolve(rnn_step, (H0, WR), XS[:steps], snapshots=snaps, reverse=reverse)
    _close(values, wg.scan(rnn_step, (H0, WR), XS[:steps], reverse=reverse))


def test_scan_revolve_order_2_jit_vmap_eager():
    wg.check_grads(lambda h, w, xs: scan_loss(h, w, xs, 2), (H0, WR, XS[:5]), order=2)
    want = wg.grad(scan_loss, argnums=(0, 1, 2))(H0, WR, XS)
    got = wg.jit(wg.grad(lambda h, w, xs: scan_loss(h, w, xs, 3), argnums=(0, 1, 2)))(H0, WR, XS)
    _close(got, want, rtol=1e-11)
    batched = wg.vmap(wg.grad(lambda h: scan_loss(h, WR, XS, 3)))(XS[:3])
    for k in range(3):
        _close(batched[k], wg.grad(lambda h: scan_loss(h, WR, XS))(XS[k]), rtol=1e-11)
    h, w, xs = (wg.tensor(v, requires_grad=True) for v in (H0, WR, XS))
    scan_loss(h, w, xs, 3).backward()
    _close([h.grad.numpy(), w.grad.numpy(), xs.grad.numpy()], want, rtol=1e-11)


def test_scan_revolve_recomputes_the_optimal_number_of_steps():
    calls = {"n": 0}

    def counted(carry, x):
        calls["n"] += 1
        return rnn_step(carry, x)

    def loss(h, xs, snaps):
        return wnp.sum(wg.scan_revolve(counted, (h, WR), xs, snapshots=snaps)[1])

    for steps, snaps in ((12, 3), (30, 4), (10, 1)):
        calls["n"] = 0
        wg.grad(loss)(H0, XS.repeat(3, 0)[:steps], snaps)
        # The first sweep (steps - 1 advances and the output step), the schedule's other
        # advances, and one taped evaluation per step.
        assert calls["n"] == revolve.min_advances(steps, snaps) + 1 + steps


def test_scan_revolve_with_no_xs_and_bad_arguments():
    def double(c, _):
        return c * 2.0, c

    carry, ys = wg.scan_revolve(double, 1.0, None, length=4, snapshots=2)
    assert float(carry) == 16.0 and ys.tolist() == [1.0, 2.0, 4.0, 8.0]
    assert wg.grad(lambda c: wg.scan_revolve(double, c, length=4, snapshots=2)[0])(1.0) == 16.0
    with pytest.raises(ValueError, match="length"):
        wg.scan_revolve(double, 1.0, np.ones((3, 2)), length=4, snapshots=2)
    with pytest.raises(ValueError, match="snapshots"):
        wg.grad(lambda c: wg.scan_revolve(double, c, length=4, snapshots=0)[0])(1.0)


def _peak(fn, *args):
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak


def test_scan_revolve_lowers_peak_memory():
    xs = RNG.normal(size=(150, 5000))

    def step(h, x):
        return wnp.sin(h * 0.9 + x), None

    def loss(h, snapshots):
        run = wg.scan if snapshots is None else (
            lambda *a: wg.scan_revolve(*a, snapshots=snapshots))
        return wnp.sum(run(step, h, xs)[0] ** 2)

    h = RNG.normal(size=5000)
    np.testing.assert_allclose(wg.grad(loss)(h, 5), wg.grad(loss)(h, None), rtol=1e-12)
    plain, rev = _peak(wg.grad(loss), h, None), _peak(wg.grad(loss), h, 5)
    assert rev * 3 < plain, (rev, plain)
    # Under jit the schedule is unrolled; the barriers keep its recomputations apart from
    # the first sweep, so the planner sees the snapshots' memory, not every step's.
    jitted = wg.jit(wg.grad(loss), static_argnums=1)
    h, xs = h[:500], xs[:40, :500]
    np.testing.assert_allclose(jitted(h, 4), wg.grad(loss)(h, None), rtol=1e-12)
    assert jitted.graph(h, 4).peak_bytes * 3 < jitted.graph(h, None).peak_bytes
