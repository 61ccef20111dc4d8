"""The eager, PyTorch-style Tensor: backward, .grad, hooks, no_grad, create_graph, errors,
memory and threads."""

import gc
import threading
import tracemalloc

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp


def test_survey_example_eager():
    x1 = wg.tensor(2.0, requires_grad=True)
    x2 = wg.tensor(5.0, requires_grad=True)
    y = wnp.log(x1) + x1 * x2 - wnp.sin(x2)
    y.backward()
    assert abs(y.item() - 11.652071455223084) < 1e-12
    assert abs(x1.grad.item() - 5.5) < 1e-12
    assert abs(x2.grad.item() - (2.0 - np.cos(5.0))) < 1e-12


def test_same_gradient_as_functional_api():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((3, 4))
    x = rng.standard_normal(4)

    def loss(W, x):
        return wnp.sum(wnp.tanh(W @ x) ** 2) + wnp.mean(W)

    gW, gx = wg.grad(loss, argnums=(0, 1))(W, x)
    Wt = wg.tensor(W, requires_grad=True)
    xt = wg.tensor(x, requires_grad=True)
    loss(Wt, xt).backward()
    np.testing.assert_allclose(Wt.grad.numpy(), gW, atol=1e-14)
    np.testing.assert_allclose(xt.grad.numpy(), gx, atol=1e-14)


def test_grad_accumulates_until_zeroed():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2 + 3, 4 + 3])
    x.grad.zero_()
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 3])
    x.grad = None
    x.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 1])


def test_broadcasting_in_eager_backward():
    a = wg.tensor(np.ones((3, 1)), requires_grad=True)
    b = wg.tensor(np.arange(4.0), requires_grad=True)
    (a * b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.full((3, 1), 6.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full(4, 3.0))


def test_backward_with_gradient_argument():
    x = wg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x ** 2
    y.backward(gradient=np.array([1.0, 0.5, 0.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, 0.0])


def test_create_graph_higher_order():
    x = wg.tensor([0.5, 1.5], requires_grad=True)
    y = (x ** 4).sum()
    (g,) = wg.autograd_grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 4 * x.detach().numpy() ** 3)
    (h,) = wg.autograd_grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(h.detach().numpy(), 12 * x.detach().numpy() ** 2)
    (t,) = wg.autograd_grad(h.sum(), x)
    np.testing.assert_allclose(t.numpy(), 24 * x.detach().numpy())
    # backward(create_graph=True) leaves a differentiable .grad
    z = wg.tensor(2.0, requires_grad=True)
    (z ** 3).backward(create_graph=True)
    gz = z.grad
    z.grad = None
    gz.backward()
    assert np.isclose(z.grad.item(), 12.0)


def test_autograd_grad_leaves_grad_fields_alone_and_unused_inputs():
    x = wg.tensor(1.0, requires_grad=True)
    y = wg.tensor(2.0, requires_grad=True)
    (gx,) = wg.autograd_grad(x * 3.0, [x])
    assert gx.item() == 3.0 and x.grad is None
    with pytest.raises(RuntimeError, match="inputs\\[1\\] was not used"):
        wg.autograd_grad(x * 3.0, [x, y])
    gx, gy = wg.autograd_grad(x * 3.0, [x, y], allow_unused=True)
    assert gy is None


def test_autograd_grad_wrt_intermediate():
    x = wg.tensor(3.0, requires_grad=True)
    h = x * x
    y = h * 2.0 + h
    (gh,) = wg.autograd_grad(y, h)
    assert gh.item() == 3.0


def test_no_grad_and_enable_grad():
    x = wg.tensor([1.0], requires_grad=True)
    with wg.no_grad():
        y = x * 2
        with wg.enable_grad():
            z = x * 2
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn == "multiply"

    @wg.no_grad()
    def f(t):
        return t * 3

    assert not f(x).requires_grad
    assert wg.is_grad_enabled()


def test_detach_numpy_item_requires_grad_():
    x = wg.tensor([1.0, 2.0])
    assert not x.requires_grad
    x.requires_grad_()
    y = (x * 2).detach()
    assert not y.requires_grad and y.is_leaf
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])
    assert (x.sum() * 1).item() == 3.0
    with pytest.raises(RuntimeError, match="detach\\(\\).numpy\\(\\)"):
        x.numpy()
    with pytest.raises(TypeError, match="only floating-point and complex tensors"):
        wg.tensor([1, 2], requires_grad=True)


def test_hooks_and_retain_grad():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x.register_hook(lambda g: seen.append(g.clone().numpy()))
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 10)  # replaces the gradient flowing on
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    np.testing.assert_allclose(y.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(seen[0], [30.0, 30.0])
    h.remove()
    (x * 1).sum().backward()
    assert len(seen) == 1


def test_second_backward_through_freed_graph():
    x = wg.tensor(2.0, requires_grad=True)
    y = wnp.exp(x) * x
    y.backward()
    with pytest.raises(RuntimeError, match="already freed.*retain_graph=True"):
        y.backward()
    z = wnp.exp(x) * x
    z.backward(retain_graph=True)
    z.backward()
    assert np.isclose(x.grad.item(), np.exp(2.0) * 3 * 3)


def test_in_place_mutation_of_saved_tensor():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = wnp.sin(a)  # its reverse rule reads a's value
    with wg.no_grad():
        a += 1
    with pytest.raises(RuntimeError, match="sin was modified by an in-place operation"):
        b.sum().backward()


def test_in_place_mutation_the_backward_pass_does_not_read():
    # exp's rule reads its output, add's and getitem's read only shapes: these are allowed.
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    a = x * 2
    b = wnp.exp(a)
    with wg.no_grad():
        a += 1
    b.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([2.0, 4.0]))
    z = wg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    w = z * 1.0
    w[0] += 1  # w.__getitem__, then w.__setitem__: the gather saved only w's shape
    (w * w).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), 2 * (np.arange(6.0).reshape(2, 3) + [[1], [0]]))


def test_in_place_on_leaf_requiring_grad():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="__iadd__: a leaf tensor that requires grad"):
        x += 1
    with pytest.raises(RuntimeError, match="__setitem__"):
        x[0] = 5.0


def test_in_place_updates_that_are_allowed():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    with wg.no_grad():
        x -= 0.5 * x.grad
    np.testing.assert_allclose(x.detach().numpy(), [0.0, 0.0])
    assert x.requires_grad and x.is_leaf
    # In-place on a non-leaf is recorded and differentiated.
    y = x * 1.0 + 1.0
    y *= 3.0
    y[0] = 7.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0 + 0.0, 4.0 + 3.0])


def test_non_scalar_backward_needs_gradient():
    x = wg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"backward: 'gradient' can be left out only.*\(2,\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        wg.tensor(1.0).backward()


def test_float32_tensor_stays_float32():
    x = wg.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    y = (wnp.exp(x) * 2.0).sum()
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_tensor_inside_functional_transforms():
    x = wg.tensor(1.5)
    assert np.isclose(wg.grad(lambda t: t ** 3)(x).item(), 3 * 1.5 ** 2)
    w = wg.tensor(2.0, requires_grad=True)
    # A gradient computed with grad() from a tensor that requires grad is itself
    # differentiable eagerly (the rules run on tensors).
    g = wg.grad(lambda t: t ** 3)(w)
    g.backward()
    assert np.isclose(w.grad.item(), 6 * 2.0)


def test_python_control_flow_eager():
    x = wg.tensor(2.0, requires_grad=True)
    y = x
    while y.item() < 100:
        y = y * y if y.item() > 1 else y + 1
    y.backward()  # y = x^8
    assert np.isclose(x.grad.item(), 8 * 2.0 ** 7)


def test_memory_stays_flat_over_many_steps():
    rng = np.random.default_rng(0)
    w = wg.tensor(rng.standard_normal((16, 16)), requires_grad=True)
    x = rng.standard_normal((8, 16))

    def step():
        loss = wnp.mean(wnp.tanh(x @ w) ** 2)
        loss.backward()
        with wg.no_grad():
            w.sub_(w.grad * 0.01)
            w.grad = None

    def grad_step(W):
        return wg.grad(lambda W: wnp.mean(wnp.tanh(x @ W) ** 2))(W)

    for _ in range(200):
        step()
        grad_step(w.detach().numpy())
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for _ in range(10_000):
        step()
        grad_step(w.detach().numpy())
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    assert grown < 200_000, f"memory grew by {grown} bytes over 10^4 steps"


def test_threads_do_not_interfere():
    errors = []

    def worker(seed):
        try:
            rng = np.random.default_rng(seed)
            for _ in range(200):
                x = rng.standard_normal(3)
                g = wg.grad(lambda x: wnp.sum(wnp.sin(x) * x))(x)
                np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), atol=1e-12)
                t = wg.tensor(x, requires_grad=True)
                with wg.no_grad() if seed % 2 else wg.enable_grad():
                    y = (t * t).sum()
                if seed % 2 == 0:
                    y.backward()
                    np.testing.assert_allclose(t.grad.numpy(), 2 * x)
                else:
                    assert not y.requires_grad
        except Exception as exc:  # noqa: BLE001 - report any failure from the thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_survey_example_forward_mode_on_tensors():
    # Forward mode through the same Tensors: jvp with Tensor primals.
    x1, x2 = wg.tensor(2.0), wg.tensor(5.0)
    value, tangent = wg.jvp(
        lambda a, b: wnp.log(a) + a * b - wnp.sin(b), (x1, x2), (wg.tensor(1.0), wg.tensor(0.0))
    )
    assert abs(value.item() - 11.652071455223084) < 1e-12
    assert abs(tangent.item() - 5.5) < 1e-12


def test_at_updates_on_plain_arrays_and_tensors():
    x = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(wnp.at(x)[[0, 0]].add(1.0), [3.0, 2.0, 3.0])
    t = wg.tensor(x, requires_grad=True)
    y = t.at[[0, 0]].add(t[1]) * t
    y.sum().backward()
    # y = [x0 + 2 x1, x1, x2] * x  ->  dy/dx = [2 x0 + 2 x1, 2 x0 + 2 x1, 2 x2]
    np.testing.assert_allclose(t.grad.numpy(), [6.0, 6.0, 6.0])
