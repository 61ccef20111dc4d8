"""custom_jvp and custom_vjp: the user's rule is used, in both modes, at every order, in both
API styles."""

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert.scipy.special import expit


@wg.custom_jvp
def log1pexp(x):
    return wnp.log1p(wnp.exp(x))


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp(x), t * expit(x)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_custom_jvp_rule_is_used_in_both_modes():
    # The naive derivative exp(x)/(1+exp(x)) is nan at x = 1000 (inf/inf); the rule is exact.
    x = np.array([1000.0, 0.0, -5.0])
    expected = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(wg.jvp(log1pexp, (x,), (np.ones(3),))[1], expected)
    np.testing.assert_allclose(wg.grad(lambda x: wnp.sum(log1pexp(x)))(x), expected)
    naive = wg.grad(lambda x: wnp.sum(wnp.log1p(wnp.exp(x))))(x)
    assert np.isnan(naive[0])


def test_custom_jvp_higher_order_and_check_grads():
    x = np.array([0.3, -1.2, 2.0])
    wg.check_grads(log1pexp, (x,), order=3)
    second = wg.grad(wg.grad(lambda x: log1pexp(x)))(0.3)
    assert np.isclose(second, expit(0.3) * (1 - expit(0.3)))


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_custom_jvp_eager():
    t = wg.tensor([1000.0, 0.0], requires_grad=True)
    log1pexp(t).sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [1.0, 0.5])


@wg.custom_vjp
def scaled_sin(x, y):
    return wnp.sin(x) * y


def _scaled_sin_fwd(x, y):
    return scaled_sin(x, y), (wnp.cos(x), wnp.sin(x), y)


def _scaled_sin_bwd(residuals, g):
    cos_x, sin_x, y = residuals
    return g * cos_x * y, g * sin_x


scaled_sin.defvjp(_scaled_sin_fwd, _scaled_sin_bwd)


def test_custom_vjp_all_modes_to_order_three():
    x = np.array([0.5, 1.0])
    y = np.array([2.0, 3.0])
    wg.check_grads(scaled_sin, (x, y), order=3)


def test_custom_vjp_eager_first_and_second_order():
    x = np.array([0.5, 1.0])
    y = np.array([2.0, 3.0])
    t = wg.tensor(x, requires_grad=True)
    (g,) = wg.autograd_grad(scaled_sin(t, y).sum(), t, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), np.cos(x) * y)
    g.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), -np.sin(x) * y)


def test_custom_vjp_rule_really_replaces_the_derivative():
    @wg.custom_vjp
    def clip_gradient(x):
        return x

    clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (wnp.clip(g, -1.0, 1.0),))
    assert wg.grad(lambda x: wnp.sum(clip_gradient(x) * 10.0))(np.ones(2)).tolist() == [1.0, 1.0]
    # Without a tracer the function simply runs.
    assert clip_gradient(3.0) == 3.0


def test_custom_vjp_pytree_arguments_and_none_cotangent():
    @wg.custom_vjp
    def f(params, scale):
        return wnp.sum(params["w"] * params["b"]) * scale

    def f_fwd(params, scale):
        return f(params, scale), (params, scale)

    def f_bwd(res, g):
        params, scale = res
        return {"w": g * params["b"] * scale, "b": g * params["w"] * scale}, None

    f.defvjp(f_fwd, f_bwd)
    params = {"w": np.array([1.0, 2.0]), "b": np.array([3.0, 4.0])}
    g_params, g_scale = wg.grad(f, argnums=(0, 1))(params, 2.0)
    np.testing.assert_allclose(g_params["w"], [6.0, 8.0])
    assert g_scale == 0.0


def test_custom_rule_errors():
    @wg.custom_vjp
    def no_rule(x):
        return x

    with pytest.raises(TypeError, match="no_rule has no rule yet.*defvjp"):
        wg.grad(no_rule)(1.0)

    @wg.custom_vjp
    def wrong_arity(x, y):
        return x * y

    wrong_arity.defvjp(lambda x, y: (x * y, (x, y)), lambda res, g: (g,))
    with pytest.raises(TypeError, match="bwd of wrong_arity must return a tuple with one"):
        wg.grad(wrong_arity)(1.0, 2.0)
