"""The gradient checker itself: it passes correct rules and catches wrong ones.

Each wrong rule is a throwaway `Primitive` whose derivative is off at one element (index 2)
only, so the test can also check that the error names that element."""

import numpy as np
import pytest

import wengert.numpy as wnp
from wengert.core import Primitive, def_jvp, def_vjp
from wengert.testing import GradientCheckError, check_grads, numerical_grad
from wengert.transforms.api import grad

X = np.array([0.3, -1.2, 0.8, 2.0])
# 1 everywhere but at index 2: multiplies a derivative to make it wrong there alone.
BUMP = np.array([1.0, 1.0, 1.5, 1.0])
WORST_AT_2 = r"Worst element at index \(2,\)"


def _unary(name, impl, jvp_rule, vjp_rule):
    prim = Primitive(name, impl)
    def_jvp(prim, jvp_rule)
    def_vjp(prim, vjp_rule)
    return prim.bind


# First derivatives: right, or wrong in one mode.
good_sin = _unary("good_sin", np.sin, lambda t, ans, x: t * wnp.cos(x),
                  lambda g, ans, x: g * wnp.cos(x))
sin_bad_jvp = _unary("sin_bad_jvp", np.sin, lambda t, ans, x: t * wnp.cos(x) * BUMP,
                     lambda g, ans, x: g * wnp.cos(x))
sin_bad_vjp = _unary("sin_bad_vjp", np.sin, lambda t, ans, x: t * wnp.cos(x),
                     lambda g, ans, x: g * wnp.cos(x) * BUMP)

# A cosine whose own derivative is wrong at index 2: a sine built on it has right first
# derivatives and a wrong second derivative.
cos_bad_derivative = _unary("cos_bad_derivative", np.cos,
                            lambda t, ans, x: -t * wnp.sin(x) * BUMP,
                            lambda g, ans, x: -g * wnp.sin(x) * BUMP)
sin_bad_second_jvp = _unary("sin_bad_second_jvp", np.sin,
                            lambda t, ans, x: t * cos_bad_derivative(x),
                            lambda g, ans, x: g * wnp.cos(x))
sin_bad_second_vjp = _unary("sin_bad_second_vjp", np.sin,
                            lambda t, ans, x: t * wnp.cos(x),
                            lambda g, ans, x: g * cos_bad_derivative(x))

# Complex exp with a conjugated VJP: right for real inputs, wrong for complex ones (the
# convention is JAX's: no conjugation for holomorphic functions).
exp_conjugated_vjp = _unary("exp_conjugated_vjp", np.exp, lambda t, ans, x: t * ans,
                            lambda g, ans, x: g * wnp.conj(ans))


def _mul_bad_y(x, y):
    return _mul_bad_y_p.bind(x, y)


_mul_bad_y_p = Primitive("mul_bad_y", np.multiply)
def_jvp(_mul_bad_y_p, lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t * BUMP)
def_vjp(_mul_bad_y_p, lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)


def test_passes_correct_rules():
    for order in (1, 2, 3):
        check_grads(good_sin, (X,), order=order)
    check_grads(good_sin, (X.astype(np.float32),), order=2)
    check_grads(lambda x, y: wnp.sin(x) * wnp.exp(y), (X, X[::-1]), order=2)
    check_grads(wnp.exp, (X + 0.5j * X[::-1],), order=2)
    # Pytrees of arguments and outputs.
    check_grads(lambda p: {"a": p["x"] * p["y"], "b": [wnp.sum(p["x"])]},
                ({"x": X, "y": X**2},), order=2)


@pytest.mark.parametrize("order", [1, 2])
def test_wrong_jvp_is_caught_and_located(order):
    with pytest.raises(GradientCheckError, match=WORST_AT_2):
        check_grads(sin_bad_jvp, (X,), order=order)
    # (The message's "order" is the order still to check at the level that failed.)
    with pytest.raises(GradientCheckError, match=rf"fwd, order {order}.*" + WORST_AT_2):
        check_grads(sin_bad_jvp, (X,), order=order, modes=("fwd",))
    check_grads(sin_bad_jvp, (X,), order=1, modes=("rev",))  # the VJP is right


@pytest.mark.parametrize("order", [1, 2])
def test_wrong_vjp_is_caught(order):
    # The reverse check compares <J^T u, v> with <u, J v>: one number, no element to name.
    with pytest.raises(GradientCheckError, match=rf"rev, order {order}"):
        check_grads(sin_bad_vjp, (X,), order=order)
    with pytest.raises(GradientCheckError, match=rf"rev, order {order}"):
        check_grads(sin_bad_vjp, (X,), order=order, modes=("rev",))
    check_grads(sin_bad_vjp, (X,), order=1, modes=("fwd",))  # the JVP is right


def test_wrong_derivative_of_the_second_argument_is_caught():
    y = X[::-1].copy()
    with pytest.raises(GradientCheckError, match=WORST_AT_2):
        check_grads(_mul_bad_y, (X, y), order=1, modes=("fwd",))
    check_grads(_mul_bad_y, (X, y), order=1, modes=("rev",))


def test_wrong_second_order_jvp_is_caught_only_at_order_2():
    check_grads(sin_bad_second_jvp, (X,), order=1)
    with pytest.raises(GradientCheckError, match=r"order 1.*" + WORST_AT_2):
        check_grads(sin_bad_second_jvp, (X,), order=2)
    with pytest.raises(GradientCheckError, match=WORST_AT_2):
        check_grads(sin_bad_second_jvp, (X,), order=2, modes=("fwd",))


def test_wrong_second_order_vjp_is_caught_only_at_order_2():
    check_grads(sin_bad_second_vjp, (X,), order=1)
    check_grads(sin_bad_second_vjp, (X,), order=2, modes=("fwd",))  # JVPs are right
    # The VJP as a function of x is checked by forward mode too, which names the element.
    with pytest.raises(GradientCheckError, match=WORST_AT_2):
        check_grads(sin_bad_second_vjp, (X,), order=2)
    with pytest.raises(GradientCheckError, match=r"rev, order 1"):
        check_grads(sin_bad_second_vjp, (X,), order=2, modes=("rev",))


def test_float32_tolerance_still_catches_wrong_rules():
    check_grads(good_sin, (X.astype(np.float32),), order=2)
    with pytest.raises(GradientCheckError, match=WORST_AT_2):
        check_grads(sin_bad_jvp, (X.astype(np.float32),), order=1)


def test_conjugated_vjp_of_a_holomorphic_function_is_caught():
    z = X + 0.5j * X[::-1]
    check_grads(exp_conjugated_vjp, (X,), order=1)  # real inputs cannot tell
    check_grads(exp_conjugated_vjp, (z,), order=1, modes=("fwd",))
    with pytest.raises(GradientCheckError, match=r"rev, order 1"):
        check_grads(exp_conjugated_vjp, (z,), order=1, modes=("rev",))


def test_numerical_grad_agrees_with_the_analytic_gradient():
    def f(x):
        return wnp.sum(wnp.sin(x) * x)

    expected = np.cos(X) * X + np.sin(X)
    np.testing.assert_allclose(numerical_grad(f, X), expected, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(numerical_grad(f, X), grad(f)(X), rtol=1e-8, atol=1e-8)
    # float32 input: evaluated in float64, so still accurate.
    x32 = X.astype(np.float32)
    np.testing.assert_allclose(numerical_grad(f, x32), expected, rtol=1e-6, atol=1e-6)
    matrix = np.arange(6.0).reshape(2, 3) / 4
    g = numerical_grad(lambda m: wnp.sum(m**3), matrix)
    assert g.shape == (2, 3)
    np.testing.assert_allclose(g, 3 * matrix**2, rtol=1e-8, atol=1e-8)
