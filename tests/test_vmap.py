"""vmap: a batched evaluation equals a Python loop, for every kind of primitive, in and
around every transform."""

import sys

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert.core import Primitive
from wengert.scipy.special import logsumexp

rng = np.random.default_rng(0)
X = rng.standard_normal((5, 3))
Y = rng.standard_normal((5, 4, 3, 2))
W = rng.standard_normal((4, 3))
SPD = np.stack([a @ a.T + 3 * np.eye(3) for a in rng.standard_normal((5, 3, 3))])


def loop(f, *xs):
    return np.stack([np.asarray(f(*row)) for row in zip(*xs)])


CASES = {
    "elementwise": (lambda x: wnp.sin(x) * 2.0 + wnp.exp(-x) / (1 + x ** 2), (X,)),
    "binary broadcast": (lambda x, v: x * v, (X, rng.standard_normal((5, 4, 1)))),
    "where and clip": (lambda x: wnp.where(x > 0, wnp.clip(x, -0.5, 0.5), x ** 3), (X,)),
    "reductions": (lambda x: wnp.sum(x) + wnp.max(x, axis=0) * wnp.mean(x), (X,)),
    "keepdims and var": (lambda x: wnp.var(x, axis=-1, keepdims=True) - x, (X,)),
    "cumsum and prod": (lambda x: wnp.cumsum(x) * wnp.prod(x), (X,)),
    "argmax and comparisons": (lambda x: wnp.argmax(x) + wnp.sum(x > 0), (X,)),
    "matmul matrix-vector": (lambda x: W @ x, (X,)),
    "matmul vector-matrix": (lambda x: x @ W.T, (X,)),
    "matmul vector-vector": (lambda x, y: x @ y, (X, X[::-1])),
    "matmul both batched matrices": (lambda a, b: a @ b, (Y[..., 0], np.swapaxes(Y[..., 1], 1, 2))),
    "einsum": (lambda x, w: wnp.einsum("i,ji->j", x, w), (X, np.stack([W] * 5))),
    "reshape and transpose": (lambda y: wnp.transpose(y.reshape(3, 4, 2), (2, 0, 1)), (Y,)),
    "broadcast_to and expand": (lambda x: wnp.broadcast_to(x[:, None], (3, 4)), (X,)),
    "concatenate and stack": (lambda x: wnp.concatenate([x, wnp.ones(2), x * 2]), (X,)),
    "pad": (lambda x: wnp.pad(x, (1, 2), mode="reflect"), (X,)),
    "basic indexing": (lambda y: y[1:, ::-1, 0] * y[0, 0, 1], (Y,)),
    "advanced indexing": (lambda x: x[[0, 0, 2]] * x, (X,)),
    "split advanced indexing": (lambda y: y[[0, 1], :, [1, 0]], (Y,)),
    "boolean mask constant": (lambda x: x[np.array([True, False, True])], (X,)),
    "index update": (lambda y: wnp.IndexUpdateHelper(y)[[0, 0], :, [1, 1]].add(1.0), (Y,)),
    "sort and take_along_axis": (lambda x: wnp.sort(x) * wnp.arange(3.0), (X,)),
    "linalg": (lambda a: wnp.linalg.slogdet(a)[1] + wnp.sum(wnp.linalg.inv(a)), (SPD,)),
    "solve vector": (lambda a, b: wnp.linalg.solve(a, b), (SPD, X)),
    "cholesky and eigh": (lambda a: wnp.linalg.cholesky(a) @ wnp.diag(wnp.linalg.eigh(a)[0]),
                          (SPD,)),
    "logsumexp": (lambda x: logsumexp(x) + wnp.sum(wnp.abs(x)), (X,)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_vmap_equals_loop(name):
    f, args = CASES[name]
    np.testing.assert_allclose(wg.vmap(f)(*args), loop(f, *args), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["elementwise", "matmul matrix-vector", "split advanced indexing",
                                  "sort and take_along_axis", "linalg", "index update"])
def test_grad_of_vmap_and_vmap_of_grad(name):
    f, args = CASES[name]

    def total(*xs):
        return wnp.sum(wg.vmap(f)(*xs) ** 2)

    def total_loop(*xs):
        return wnp.sum(wnp.stack([f(*row) for row in zip(*xs)]) ** 2)

    np.testing.assert_allclose(wg.grad(total)(*args), wg.grad(total_loop)(*args), atol=1e-10)

    def per_example(*row):
        return wnp.sum(f(*row) ** 2)

    batched = wg.vmap(wg.grad(per_example))(*args)
    np.testing.assert_allclose(batched, loop(wg.grad(per_example), *args), atol=1e-10)


def test_in_axes_out_axes_and_pytrees():
    f = wg.vmap(lambda p, x: p["w"] @ x + p["b"], in_axes=({"w": None, "b": None}, 1), out_axes=1)
    params = {"w": W, "b": np.arange(4.0)}
    out = f(params, X.T)
    np.testing.assert_allclose(out, (X @ W.T + np.arange(4.0)).T)
    g = wg.vmap(lambda x, y: (x + y, {"s": wnp.sum(x)}), in_axes=(0, None))(X, X[0])
    np.testing.assert_allclose(g[1]["s"], X.sum(1))


def test_nested_vmap_and_jvp():
    outer = wg.vmap(wg.vmap(lambda a, b: a * b + wnp.sin(a)), in_axes=(0, None))
    np.testing.assert_allclose(outer(X, X[0]), X * X[0] + np.sin(X))
    t = wg.vmap(lambda x: wg.jvp(wnp.tanh, (x,), (wnp.ones_like(x),))[1])(X)
    np.testing.assert_allclose(t, 1 - np.tanh(X) ** 2)


def test_vmap_of_hessian_and_jacobians():
    H = wg.vmap(wg.hessian(lambda x: wnp.sum(x ** 3) + x[0] * x[1]))(X)
    expected = np.stack([np.diag(6 * x) + np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]]) for x in X])
    np.testing.assert_allclose(H, expected, atol=1e-12)


def test_jacobians_fall_back_to_a_loop_without_batching_rules():
    from wengert.extend import Primitive, def_elementwise

    twice_p = Primitive("twice", lambda x: 2.0 * x)  # a user primitive with no batching rule
    def_elementwise(twice_p, lambda t, ans, x: 2.0 * t)
    twice_p.batch = None
    x = np.array([1.0, 2.0])
    np.testing.assert_allclose(wg.jacrev(twice_p.bind)(x), 2 * np.eye(2))
    np.testing.assert_allclose(wg.jacfwd(twice_p.bind)(x), 2 * np.eye(2))
    with pytest.raises(NotImplementedError, match="twice has no batching rule"):
        wg.vmap(twice_p.bind)(np.ones((3, 2)))


@wg.custom_vjp
def _scaled_sin(x, y):
    return wnp.sin(x) * y


_scaled_sin.defvjp(
    lambda x, y: (_scaled_sin(x, y), (wnp.cos(x), wnp.sin(x), y)),
    lambda res, g: (g * res[0] * res[2], g * res[1]),
)


@wg.custom_jvp
def _softplus(x):
    return wnp.log1p(wnp.exp(x))


@_softplus.defjvp
def _softplus_jvp(primals, tangents):
    return _softplus(primals[0]), tangents[0] / (1 + wnp.exp(-primals[0]))


def test_vmap_of_custom_rules_in_every_order():
    y = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(wg.vmap(_scaled_sin, in_axes=(0, None))(X, y), np.sin(X) * y)
    g_x, g_y = wg.grad(
        lambda X, y: wnp.sum(wg.vmap(_scaled_sin, in_axes=(0, None))(X, y)), argnums=(0, 1)
    )(X, y)
    np.testing.assert_allclose(g_x, np.cos(X) * y)
    np.testing.assert_allclose(g_y, np.sin(X).sum(0))  # an unbatched argument: summed
    per_example = wg.vmap(wg.grad(lambda x: wnp.sum(_scaled_sin(x, y))))(X)
    np.testing.assert_allclose(per_example, np.cos(X) * y)
    H = wg.hessian(lambda x: wnp.sum(_scaled_sin(x, y)))(X[0])
    np.testing.assert_allclose(H, np.diag(-np.sin(X[0]) * y), atol=1e-12)
    sig = 1 / (1 + np.exp(-X))
    np.testing.assert_allclose(wg.vmap(_softplus)(X), np.log1p(np.exp(X)))
    np.testing.assert_allclose(wg.grad(lambda X: wnp.sum(wg.vmap(_softplus)(X)))(X), sig)
    np.testing.assert_allclose(wg.vmap(wg.grad(lambda x: wnp.sum(_softplus(x))))(X), sig)
    np.testing.assert_allclose(wg.jacfwd(_softplus)(X[0]), np.diag(sig[0]))


def test_errors():
    with pytest.raises(ValueError, match="different sizes"):
        wg.vmap(lambda a, b: a + b)(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(TypeError, match="batched value .* where its elements are needed"):
        wg.vmap(lambda x: x if x[0] > 0 else -x)(X)
    with pytest.raises(NotImplementedError, match="nonzero"):
        wg.vmap(lambda x: wnp.nonzero(x > 0))(X)
    with pytest.raises(ValueError, match="maps no argument"):
        wg.vmap(lambda x: x, in_axes=None)(X)


def test_every_primitive_has_a_batching_rule():
    without = []
    for module in list(sys.modules.values()):
        if not getattr(module, "__name__", "").startswith("wengert"):
            continue
        for value in vars(module).values():
            if isinstance(value, Primitive) and value.batch is None:
                without.append(value.name)
    assert without == []
