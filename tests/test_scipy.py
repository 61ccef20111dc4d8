"""Tests of `wengert.scipy`: values equal SciPy's (extreme arguments included), derivatives
pass check_grads (forward and reverse, order 2) and match analytic formulas, dtypes follow
the input."""

import numpy as np
import pytest
import scipy.special as sc
import scipy.stats as ss

import wengert as wg
import wengert.numpy as wnp
from wengert.scipy import special as ws
from wengert.scipy.stats import gamma, norm, t
from wengert.testing import check_grads


def _uniform(low, high, shape=(3, 4), seed=0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


REALS = (-3.0, 3.0)
UNIT = (0.05, 0.95)
SYMMETRIC_UNIT = (-0.9, 0.9)
POSITIVE = (0.5, 3.0)

# (wengert function, SciPy function, domain of each argument)
ELEMENTWISE = [
    (ws.expit, sc.expit, [REALS]),
    (ws.logit, sc.logit, [UNIT]),
    (ws.log_expit, sc.log_expit, [REALS]),
    (ws.erf, sc.erf, [REALS]),
    (ws.erfc, sc.erfc, [REALS]),
    (ws.erfinv, sc.erfinv, [SYMMETRIC_UNIT]),
    (ws.gamma, sc.gamma, [POSITIVE]),
    (ws.gammaln, sc.gammaln, [POSITIVE]),
    (ws.digamma, sc.digamma, [POSITIVE]),
    (ws.betaln, sc.betaln, [POSITIVE, POSITIVE]),
    (ws.xlogy, sc.xlogy, [REALS, POSITIVE]),
    (ws.xlog1py, sc.xlog1py, [REALS, (-0.5, 2.0)]),
    (ws.ndtr, sc.ndtr, [REALS]),
    (ws.log_ndtr, sc.log_ndtr, [(-10.0, 5.0)]),
    (ws.ndtri, sc.ndtri, [UNIT]),
    (ws.i0, sc.i0, [REALS]),
    (ws.i1, sc.i1, [REALS]),
]
ELEMENTWISE_IDS = [fn.__name__ for fn, _, _ in ELEMENTWISE]


def _elementwise_args(domains, dtype=np.float64):
    # The second argument has a broadcasting shape, to exercise unbroadcasting.
    shapes = [(3, 4), (4,)]
    return tuple(
        _uniform(lo, hi, shapes[k], seed=k).astype(dtype) for k, (lo, hi) in enumerate(domains)
    )


@pytest.mark.parametrize("fn, reference, domains", ELEMENTWISE, ids=ELEMENTWISE_IDS)
def test_elementwise_values_and_grads(fn, reference, domains):
    args = _elementwise_args(domains)
    np.testing.assert_allclose(fn(*args), reference(*args), rtol=1e-14, atol=0)
    check_grads(fn, args, order=2)


@pytest.mark.parametrize("fn, reference, domains", ELEMENTWISE, ids=ELEMENTWISE_IDS)
def test_elementwise_float32_stays_float32(fn, reference, domains):
    args = _elementwise_args(domains, np.float32)
    out = fn(*args)
    assert out.dtype == np.float32
    grads = wg.grad(lambda *xs: wnp.sum(fn(*xs)), argnums=tuple(range(len(args))))(*args)
    assert all(g.dtype == np.float32 for g in grads)
    check_grads(fn, args, order=1)


def test_python_scalars_are_weak():
    y = np.array([0.5, 2.0], np.float32)
    for fn in (ws.xlogy, ws.xlog1py, ws.betaln):
        assert fn(1.5, y).dtype == np.float32, fn.__name__
        assert fn(y, 1.5).dtype == np.float32, fn.__name__
    assert ws.xlogy(0.0, 0.0) == 0.0
    assert ws.iv(2, y).dtype == np.float32


@pytest.mark.parametrize("n", [0, 1, 2])
def test_polygamma(n):
    x = _uniform(*POSITIVE)
    np.testing.assert_allclose(ws.polygamma(n, x), sc.polygamma(n, x), rtol=1e-14)
    check_grads(lambda x: ws.polygamma(n, x), (x,), order=2)
    assert ws.polygamma(n, x.astype(np.float32)).dtype == np.float32


def test_polygamma_rejects_non_integer_order():
    with pytest.raises(TypeError, match="polygamma: the order n"):
        ws.polygamma(1.5, np.array([1.0]))


def test_iv_values_and_grads():
    x = _uniform(0.1, 3.0)
    np.testing.assert_allclose(ws.iv(2.5, x), sc.iv(2.5, x), rtol=1e-14)
    check_grads(lambda x: ws.iv(2.5, x), (x,), order=2)


def test_i1_derivatives_exact_at_zero():
    # i1(x) = x/2 + x^3/16 + ...: i1'(0) = 1/2, i1''(0) = 0, i1'''(0) = 3/8.
    d1 = wg.grad(ws.i1)
    d2 = wg.grad(d1)
    d3 = wg.grad(d2)
    assert (d1(0.0), d2(0.0), d3(0.0)) == pytest.approx((0.5, 0.0, 0.375), abs=1e-12)


def test_analytic_derivatives():
    x = np.linspace(-4.0, 4.0, 9)
    s = sc.expit(x)
    np.testing.assert_allclose(wg.grad(lambda x: wnp.sum(ws.expit(x)))(x), s * (1 - s),
                               rtol=1e-12)
    y = np.linspace(-0.9, 0.9, 7)
    np.testing.assert_allclose(wg.grad(lambda y: wnp.sum(ws.erfinv(y)))(y),
                               np.sqrt(np.pi) / 2 * np.exp(sc.erfinv(y) ** 2), rtol=1e-12)
    z = np.linspace(0.5, 5.0, 7)
    np.testing.assert_allclose(wg.grad(lambda z: wnp.sum(ws.gammaln(z)))(z), sc.digamma(z),
                               rtol=1e-12)
    np.testing.assert_allclose(wg.grad(lambda z: wnp.sum(ws.digamma(z)))(z),
                               sc.polygamma(1, z), rtol=1e-12)


def test_xlogy_at_zero():
    x = np.array([0.0, 0.0, 2.0])
    y = np.array([0.0, 3.0, 3.0])
    np.testing.assert_array_equal(ws.xlogy(x, y), sc.xlogy(x, y))
    gx, gy = wg.grad(lambda x, y: wnp.sum(ws.xlogy(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gx, [0.0, np.log(3.0), np.log(3.0)], rtol=1e-15)
    np.testing.assert_allclose(gy, [0.0, 0.0, 2.0 / 3.0], rtol=1e-15)
    # Second derivatives stay finite too.
    hx = wg.hessian(lambda x: wnp.sum(ws.xlogy(x, y)))(x)
    hy = wg.hessian(lambda y: wnp.sum(ws.xlogy(x, y)))(y)
    assert np.all(np.isfinite(hx)) and np.all(np.isfinite(hy))
    gx1, gy1 = wg.grad(lambda x, y: wnp.sum(ws.xlog1py(x, y)), argnums=(0, 1))(
        x, np.array([-1.0, 2.0, 2.0]))
    np.testing.assert_allclose(gx1, [0.0, np.log(3.0), np.log(3.0)], rtol=1e-15)
    np.testing.assert_allclose(gy1, [0.0, 0.0, 2.0 / 3.0], rtol=1e-15)


def test_log_ndtr_far_tail():
    x = np.array([-40.0, -20.0, 0.0, 10.0])
    np.testing.assert_allclose(ws.log_ndtr(x), sc.log_ndtr(x), rtol=1e-14)
    g = wg.grad(lambda x: wnp.sum(ws.log_ndtr(x)))(x)
    expected = np.exp(ss.norm.logpdf(x) - sc.log_ndtr(x))
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    assert g[0] == pytest.approx(40.025, rel=1e-4)
    check_grads(ws.log_ndtr, (x,), order=2)


# ---------------------------------------------------------------------------------------
# logsumexp, softmax, log_softmax


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_values_and_grads(axis, keepdims):
    a = np.random.default_rng(1).standard_normal((2, 3, 4))
    out = ws.logsumexp(a, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out, sc.logsumexp(a, axis=axis, keepdims=keepdims), rtol=1e-14)
    check_grads(lambda a: ws.logsumexp(a, axis=axis, keepdims=keepdims), (a,), order=2)


def test_logsumexp_extremes():
    for a in ([1000.0, 1000.0], [-np.inf, 0.0], [-1000.0, -1000.0], [-np.inf, -np.inf],
              [np.inf, 0.0]):
        a = np.array(a)
        with np.errstate(divide="ignore"):
            np.testing.assert_array_equal(ws.logsumexp(a), sc.logsumexp(a))
    g = wg.grad(ws.logsumexp)(np.array([1000.0, 1000.0]))
    np.testing.assert_array_equal(g, [0.5, 0.5])
    g = wg.grad(ws.logsumexp)(np.array([-np.inf, 0.0, 1000.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])
    h = wg.hessian(ws.logsumexp)(np.array([-np.inf, 1000.0, 1000.0]))
    assert np.all(np.isfinite(h))
    np.testing.assert_allclose(h[1:, 1:], [[0.25, -0.25], [-0.25, 0.25]], rtol=1e-15)


def test_logsumexp_derivative_is_softmax():
    a = np.random.default_rng(2).standard_normal(6) * 10
    p = sc.softmax(a)
    np.testing.assert_allclose(wg.grad(ws.logsumexp)(a), p, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(wg.hessian(ws.logsumexp)(a), np.diag(p) - np.outer(p, p),
                               rtol=1e-12, atol=1e-15)


def test_logsumexp_with_b_and_return_sign():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 4))
    b = rng.uniform(0.5, 2.0, (4,))
    np.testing.assert_allclose(ws.logsumexp(a, axis=1, b=b), sc.logsumexp(a, axis=1, b=b),
                               rtol=1e-14)
    check_grads(lambda a, b: ws.logsumexp(a, axis=1, b=b), (a, b), order=2)
    b_signed = np.array([1.0, -3.0, 0.5, -0.2])
    out, sgn = ws.logsumexp(a, axis=1, b=b_signed, return_sign=True)
    ref_out, ref_sgn = sc.logsumexp(a, axis=1, b=b_signed, return_sign=True)
    np.testing.assert_allclose(out, ref_out, rtol=1e-13)
    np.testing.assert_array_equal(sgn, ref_sgn)
    check_grads(lambda a: ws.logsumexp(a, axis=1, b=b_signed, return_sign=True)[0], (a,),
                order=2)


def test_logsumexp_integer_and_float32_input():
    np.testing.assert_allclose(ws.logsumexp(np.array([1, 2, 3])), sc.logsumexp([1, 2, 3]))
    a = np.array([[1.0, 2.0], [3.0, 100.0]], np.float32)
    out = ws.logsumexp(a, axis=0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, sc.logsumexp(a, axis=0), rtol=1e-6)
    assert wg.grad(ws.logsumexp)(a).dtype == np.float32


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_softmax_and_log_softmax(axis):
    x = np.random.default_rng(4).standard_normal((3, 4)) * 5
    np.testing.assert_allclose(ws.softmax(x, axis=axis), sc.softmax(x, axis=axis), rtol=1e-13)
    np.testing.assert_allclose(ws.log_softmax(x, axis=axis), sc.log_softmax(x, axis=axis),
                               rtol=1e-13)
    check_grads(lambda x: ws.softmax(x, axis=axis), (x,), order=2)
    check_grads(lambda x: ws.log_softmax(x, axis=axis), (x,), order=2)


def test_log_softmax_large_inputs():
    x = np.array([1000.0, 0.0, -np.inf])
    np.testing.assert_array_equal(ws.log_softmax(x), [0.0, -1000.0, -np.inf])
    np.testing.assert_array_equal(ws.softmax(x), [1.0, 0.0, 0.0])
    g = wg.grad(lambda x: ws.log_softmax(x)[1])(x)
    np.testing.assert_array_equal(g, [-1.0, 1.0, 0.0])


# ---------------------------------------------------------------------------------------
# Eager Tensor


def test_tensor_sigmoid():
    x = wg.tensor([0.0], requires_grad=True)
    y = x.sigmoid()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.25])


def test_tensor_special_functions():
    x = wg.tensor([0.5, 1.5], requires_grad=True)
    ws.logsumexp(ws.gammaln(x)).backward()
    values = sc.gammaln([0.5, 1.5])
    expected = sc.softmax(values) * sc.digamma([0.5, 1.5])
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-13)


# ---------------------------------------------------------------------------------------
# Distributions

NORM_FUNCTIONS = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


@pytest.mark.parametrize("name", NORM_FUNCTIONS)
def test_norm_values_and_grads(name):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 4)) * 2
    loc = rng.standard_normal((4,))
    scale = rng.uniform(0.5, 2.0, (3, 1))
    fn = getattr(norm, name)
    out = fn(x, loc, scale)
    assert out.shape == (3, 4)
    np.testing.assert_allclose(out, getattr(ss.norm, name)(x, loc, scale), rtol=1e-13)
    np.testing.assert_allclose(fn(x), getattr(ss.norm, name)(x), rtol=1e-13)
    check_grads(fn, (x, loc, scale), order=2)


@pytest.mark.parametrize("name", ["ppf", "isf"])
def test_norm_quantiles(name):
    rng = np.random.default_rng(6)
    q = rng.uniform(0.05, 0.95, (3, 4))
    loc = rng.standard_normal((4,))
    scale = rng.uniform(0.5, 2.0, (3, 1))
    fn = getattr(norm, name)
    np.testing.assert_allclose(fn(q, loc, scale), getattr(ss.norm, name)(q, loc, scale),
                               rtol=1e-13)
    check_grads(fn, (q, loc, scale), order=2)


def test_norm_analytic_derivatives_and_tails():
    x, loc, scale = 1.3, 0.4, 2.0
    z = (x - loc) / scale
    gx, gloc, gscale = wg.grad(norm.logpdf, argnums=(0, 1, 2))(x, loc, scale)
    assert (gx, gloc, gscale) == pytest.approx((-z / scale, z / scale, (z * z - 1) / scale),
                                               rel=1e-14)
    assert norm.logcdf(-40.0) == pytest.approx(sc.log_ndtr(-40.0), rel=1e-14)
    assert norm.logsf(40.0) == pytest.approx(sc.log_ndtr(-40.0), rel=1e-14)


@pytest.mark.parametrize("name", NORM_FUNCTIONS)
def test_norm_float32_stays_float32(name):
    fn = getattr(norm, name)
    x32 = np.array([0.1, -2.0, 3.0], np.float32)
    out = fn(x32, 0.5, 2.0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, getattr(ss.norm, name)(x32, 0.5, 2.0), rtol=1e-5)
    g = wg.grad(lambda x: wnp.sum(fn(x, 0.5, 2.0)))(x32)
    assert g.dtype == np.float32
    check_grads(fn, (x32, np.float32(0.5), np.float32(2.0)), order=1)


def test_t_logpdf():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4)) * 2
    df = rng.uniform(1.0, 10.0, (4,))
    loc, scale = rng.standard_normal((3, 1)), rng.uniform(0.5, 2.0, (3, 1))
    np.testing.assert_allclose(t.logpdf(x, df, loc, scale), ss.t.logpdf(x, df, loc, scale),
                               rtol=1e-13)
    np.testing.assert_allclose(t.pdf(x, 3.0), ss.t.pdf(x, 3.0), rtol=1e-13)
    check_grads(t.logpdf, (x, df, loc, scale), order=2)
    assert t.logpdf(x.astype(np.float32), 3.0, 0.5, 2).dtype == np.float32


def test_gamma_logpdf():
    rng = np.random.default_rng(8)
    x = rng.uniform(0.2, 5.0, (3, 4))
    a = rng.uniform(0.5, 4.0, (4,))
    loc, scale = 0.1, rng.uniform(0.5, 2.0, (3, 1))
    np.testing.assert_allclose(gamma.logpdf(x, a, loc, scale),
                               ss.gamma.logpdf(x, a, loc, scale), rtol=1e-13)
    np.testing.assert_allclose(gamma.pdf(x, 2.5), ss.gamma.pdf(x, 2.5), rtol=1e-13)
    check_grads(gamma.logpdf, (x, a, loc, scale), order=2)
    # Below the support: -inf, with finite (zero) derivatives.
    xs = np.array([-1.0, 1.0])
    np.testing.assert_array_equal(gamma.logpdf(xs, 2.0), ss.gamma.logpdf(xs, 2.0))
    ga = wg.grad(lambda a: wnp.sum(gamma.logpdf(xs, a)))(2.0)
    assert np.isfinite(ga)
    np.testing.assert_array_equal(wg.grad(lambda x: wnp.sum(gamma.logpdf(x, 2.0)))(xs),
                                  [0.0, 0.0])
    assert gamma.logpdf(x.astype(np.float32), 2.0).dtype == np.float32
