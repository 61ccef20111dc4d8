"""The functional transforms: values, nesting, pytrees, Jacobians, Hessians, error paths."""

import collections

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert.testing import check_grads

rng = np.random.default_rng(0)


def survey_f(x1, x2):
    """Baydin et al. (2018), the worked example: ln(x1) + x1 x2 - sin(x2)."""
    return wnp.log(x1) + x1 * x2 - wnp.sin(x2)


SURVEY_F = np.log(2.0) + 10.0 - np.sin(5.0)
SURVEY_GRAD = (1 / 2.0 + 5.0, 2.0 - np.cos(5.0))


def test_survey_example_reverse():
    value, (g1, g2) = wg.value_and_grad(survey_f, argnums=(0, 1))(2.0, 5.0)
    assert abs(value - SURVEY_F) < 1e-12
    assert abs(value - 11.652071455223084) < 1e-12
    assert abs(g1 - 5.5) < 1e-12 and abs(g2 - SURVEY_GRAD[1]) < 1e-12
    assert abs(g2 - 1.7163378145367738) < 1e-12


def test_survey_example_forward():
    for tangent, expected in (((1.0, 0.0), SURVEY_GRAD[0]), ((0.0, 1.0), SURVEY_GRAD[1])):
        value, t_out = wg.jvp(survey_f, (2.0, 5.0), tangent)
        assert abs(value - SURVEY_F) < 1e-12
        assert abs(t_out - expected) < 1e-12


def test_perturbation_confusion():
    # d/dx [x * (d/dy (x + y))(y=1)] = 1 at any x, in every combination of modes.
    def inner_rev(x):
        return x * wg.grad(lambda y: x + y)(1.0)

    def inner_fwd(x):
        return x * wg.jvp(lambda y: x + y, (1.0,), (1.0,))[1]

    for inner in (inner_rev, inner_fwd):
        for x in (0.0, 3.0, -2.5):
            assert wg.grad(inner)(x) == 1.0
            assert wg.jvp(inner, (x,), (1.0,))[1] == 1.0


def test_nested_closure_over_outer_variable():
    # f(x) = x * grad(lambda y: x * y**2)(x) = x * 2 x^2 = 2 x^3; f' = 6 x^2.
    def f(x):
        return x * wg.grad(lambda y: x * y ** 2)(x)

    assert np.isclose(wg.grad(f)(1.5), 6 * 1.5 ** 2)
    assert np.isclose(wg.jvp(f, (1.5,), (1.0,))[1], 6 * 1.5 ** 2)


@pytest.mark.parametrize("order", [1, 2, 3, 4, 5])
def test_higher_order_sin(order):
    # d^k/dx^k sin = sin(x + k pi/2); alternate reverse and forward mode.
    x = 0.7
    f = wnp.sin
    for k in range(order):
        if k % 2:
            f = (lambda g: lambda x: wg.jvp(g, (x,), (1.0,))[1])(f)
        else:
            f = wg.grad(f)
    assert abs(f(x) - np.sin(x + order * np.pi / 2)) < 1e-12


def test_hessian_analytic():
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    H = wg.hessian(lambda x: x @ A @ x)(x)
    np.testing.assert_allclose(H, A + A.T, atol=1e-12)

    def rosen(x):
        return wnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)

    x = np.array([1.2, 0.8, -0.3])
    H = wg.hessian(rosen)(x)
    expected = np.array([
        [1200 * 1.2**2 - 400 * 0.8 + 2, -400 * 1.2, 0],
        [-400 * 1.2, 200 + 1200 * 0.8**2 - 400 * -0.3 + 2, -400 * 0.8],
        [0, -400 * 0.8, 200],
    ])
    np.testing.assert_allclose(H, expected, rtol=1e-12)


def test_jacobians_agree_and_have_jax_shapes():
    def f(x):
        return wnp.sin(x)[:, None] * wnp.cos(x)[None, :]

    x = rng.standard_normal(3)
    jf = wg.jacfwd(f)(x)
    jr = wg.jacrev(f)(x)
    assert jf.shape == jr.shape == (3, 3, 3)
    np.testing.assert_allclose(jf, jr, atol=1e-12)
    expected = np.zeros((3, 3, 3))
    for i in range(3):
        for j in range(3):
            expected[i, j, i] += np.cos(x[i]) * np.cos(x[j])
            expected[i, j, j] -= np.sin(x[i]) * np.sin(x[j])
    np.testing.assert_allclose(jf, expected, atol=1e-12)


def test_jacobian_pytrees_and_argnums():
    def f(p, x):
        return {"y": p["w"] * x, "s": wnp.sum(p["b"] * x)}

    p = {"w": rng.standard_normal(2), "b": rng.standard_normal(2)}
    x = rng.standard_normal(2)
    for jac in (wg.jacfwd, wg.jacrev):
        j = jac(f, argnums=(0, 1))(p, x)
        np.testing.assert_allclose(j["y"][0]["w"], np.diag(x), atol=1e-12)
        np.testing.assert_allclose(j["y"][1], np.diag(p["w"]), atol=1e-12)
        np.testing.assert_allclose(j["s"][0]["b"], x, atol=1e-12)
        assert j["s"][0]["w"].shape == (2,)


def test_hvp_forward_over_reverse():
    A = rng.standard_normal((5, 5))
    x = rng.standard_normal(5)
    v = rng.standard_normal(5)

    def f(x):
        return wnp.sum(wnp.tanh(A @ x) ** 2)

    (hv,) = wg.hvp(f, (x,), (v,))
    np.testing.assert_allclose(hv, wg.hessian(f)(x) @ v, atol=1e-10)


def test_linearize_matches_jvp_without_recomputing():
    calls = []

    def f(x):
        calls.append(1)
        return wnp.exp(x) * wnp.sin(x)

    x = rng.standard_normal(4)
    y, f_jvp = wg.linearize(f, x)
    assert len(calls) == 1
    for _ in range(3):
        v = rng.standard_normal(4)
        np.testing.assert_allclose(f_jvp(v), wg.jvp(f, (x,), (v,))[1], atol=1e-12)
    assert len(calls) == 4  # three jvp calls; linearize's f_jvp never reran f


def test_pytrees_in_and_out():
    Point = collections.namedtuple("Point", "x y")

    def f(params):
        return wnp.sum(params["a"][0] * params["a"][1]) + params["p"].x * params["p"].y

    params = {"a": [np.array([1.0, 2.0]), np.array([3.0, 4.0])], "p": Point(2.0, 3.0)}
    g = wg.grad(f)(params)
    assert isinstance(g["p"], Point)
    np.testing.assert_allclose(g["a"][0], [3.0, 4.0])
    np.testing.assert_allclose(g["a"][1], [1.0, 2.0])
    assert g["p"].x == 3.0 and g["p"].y == 2.0


def test_registered_pytree_class():
    class Pair:
        def __init__(self, a, b):
            self.a, self.b = a, b

    wg.register_pytree_node(Pair, lambda p: ([p.a, p.b], None), lambda _, c: Pair(*c))
    g = wg.grad(lambda p: p.a * p.b)(Pair(2.0, 5.0))
    assert isinstance(g, Pair) and g.a == 5.0 and g.b == 2.0


def test_has_aux():
    def f(x):
        return wnp.sum(x ** 2), {"mean": wnp.mean(x)}

    x = np.array([1.0, 2.0, 3.0])
    (value, aux), g = wg.value_and_grad(f, has_aux=True)(x)
    assert value == 14.0 and aux["mean"] == 2.0
    assert not isinstance(aux["mean"], wg.Tensor)
    np.testing.assert_allclose(g, 2 * x)
    g2, aux2 = wg.grad(f, has_aux=True)(x)
    np.testing.assert_allclose(g2, 2 * x)


def test_unused_input_gets_zero_gradient_of_its_shape():
    g = wg.grad(lambda x, y: wnp.sum(x * 2.0), argnums=(0, 1))(np.ones(3), np.ones((2, 2)))
    np.testing.assert_allclose(g[1], np.zeros((2, 2)))


def test_python_control_flow():
    def f(x, n):
        total = 0.0
        i = 0
        while i < n:
            if x > 0:
                total = total + x ** i
            else:
                total = total - x
            i += 1
        return total

    assert wg.grad(f)(2.0, 4) == 0 + 1 + 2 * 2 + 3 * 4
    assert wg.grad(f)(-1.0, 3) == -3.0
    assert wg.jvp(lambda x: f(x, 4), (2.0,), (1.0,))[1] == 17.0

    def fact(x, n):
        return x if n == 1 else x * fact(x, n - 1)

    assert wg.grad(fact)(1.5, 4) == 4 * 1.5 ** 3


def test_stop_gradient():
    g = wg.grad(lambda x: x * wg.stop_gradient(x))(3.0)
    assert g == 3.0
    assert wg.jvp(lambda x: x * wg.stop_gradient(x), (3.0,), (1.0,))[1] == 3.0


def test_float32_preserved_through_every_transform():
    x = np.array([0.5, 1.5], dtype=np.float32)

    def f(x):
        return wnp.sum(wnp.exp(x) * 2.0 + wnp.sin(x) / 3.0)

    v, g = wg.value_and_grad(f)(x)
    assert v.dtype == np.float32 and g.dtype == np.float32
    assert wg.jvp(f, (x,), (np.ones(2, np.float32),))[1].dtype == np.float32
    assert wg.hessian(f)(x).dtype == np.float32
    # Mixed precision: the gradient follows each input's own dtype.
    g32, g64 = wg.grad(lambda a, b: wnp.sum(a * b), argnums=(0, 1))(x, x.astype(np.float64))
    assert g32.dtype == np.float32 and g64.dtype == np.float64


def test_complex_convention():
    # For real f of complex z, grad(f)(z) = df/dx - i df/dy.
    z = 1.0 + 2.0j
    g = wg.grad(lambda z: wnp.abs(z) ** 2)(z)
    assert np.isclose(g, 2 * np.conj(z))
    g = wg.grad(lambda z: wnp.real(z * z))(z)
    assert np.isclose(g, 2 * z)  # holomorphic: the derivative itself, unconjugated
    check_grads(lambda z: wnp.exp(z) * wnp.conj(z), (np.array([0.3 + 0.1j, -1.0 + 2.0j]),))


def test_broadcasting_undone_at_order_two():
    x = rng.standard_normal((3, 1))
    y = rng.standard_normal((1, 4))
    check_grads(lambda x, y: wnp.sin(x * y) / (1 + y ** 2), (x, y), order=2)


def test_three_level_nesting_mixed_modes():
    # d^3/dx^3 of x^5 via rev(fwd(rev)).
    f = wg.grad(lambda x: wg.jvp(wg.grad(lambda y: y ** 5), (x,), (1.0,))[1])
    assert np.isclose(f(1.3), 60 * 1.3 ** 2)


# Error paths -------------------------------------------------------------------------------


def test_grad_of_non_scalar_output_names_function():
    def vector_valued(x):
        return x * 2

    with pytest.raises(TypeError, match=r"grad: vector_valued must return a scalar.*shape \(3,\)"):
        wg.grad(vector_valued)(np.ones(3))


def test_grad_with_respect_to_integer_input():
    def f(x, n):
        return x * n

    with pytest.raises(TypeError, match=r"grad: argument 1 \('n'\) of f has dtype int64"):
        wg.grad(f, argnums=1)(1.0, np.int64(3))
    with pytest.raises(TypeError, match="integer|int64"):
        wg.grad(lambda x: x * 2.0)(np.array([1, 2]))


def test_jvp_tangent_mismatch():
    with pytest.raises(ValueError, match=r"jvp: tangent 0 has shape \(2,\).*shape \(3,\)"):
        wg.jvp(wnp.sin, (np.ones(3),), (np.ones(2),))
    with pytest.raises(TypeError, match="jvp: tangent 0 has dtype float32"):
        wg.jvp(wnp.sin, (np.ones(3),), (np.ones(3, np.float32),))
    with pytest.raises(TypeError, match="tuples"):
        wg.jvp(wnp.sin, np.ones(3), np.ones(3))


def test_vjp_cotangent_mismatch():
    _, pullback = wg.vjp(wnp.sin, np.ones(3))
    with pytest.raises(ValueError, match=r"vjp: cotangent 0 has shape \(2,\)"):
        pullback(np.ones(2))


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums 2 is out of range"):
        wg.grad(lambda x: x, argnums=2)(1.0)


def test_op_without_rule_names_primitive():
    from wengert.core import Primitive

    mystery_p = Primitive("mystery", np.sinc)
    with pytest.raises(TypeError, match="mystery: no VJP"):
        wg.grad(lambda x: mystery_p.bind(x))(0.5)
    with pytest.raises(TypeError, match="mystery: no JVP"):
        wg.jvp(lambda x: mystery_p.bind(x), (0.5,), (1.0,))


def test_numpy_function_on_tracer_dispatches_or_fails_loudly():
    # A NumPy ufunc on a traced value is differentiated like the wengert.numpy one...
    assert np.isclose(wg.grad(lambda x: np.sin(x))(0.3), np.cos(0.3))
    # ...and conversion to a plain array (which would drop the derivative) is an error.
    with pytest.raises(TypeError, match="cannot convert a traced value"):
        wg.grad(lambda x: np.asarray(x).sum())(np.ones(2))


def test_escaped_tracer_is_reported():
    leaked = []

    def f(x):
        leaked.append(x)
        return x * 2

    wg.grad(f)(1.0)
    with pytest.raises(wg.EscapedTracerError, match="leaked"):
        wnp.sin(leaked[0])


def test_output_returned_twice_gets_both_cotangents():
    def twice(x):
        s = wnp.sin(x)
        return s, s

    _, pullback = wg.vjp(twice, 0.3)
    (g,) = pullback((1.0, 1.0))
    assert np.isclose(g, 2 * np.cos(0.3))


def test_numpy_linalg_on_tracer_dispatches():
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    g = wg.grad(lambda a: np.linalg.det(a))(a)
    np.testing.assert_allclose(g, np.linalg.det(a) * np.linalg.inv(a).T)
