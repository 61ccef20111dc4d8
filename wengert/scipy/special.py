"""`wengert.scipy.special`: differentiable special functions with SciPy's names and signatures.

The elementwise functions are primitives whose values come from `scipy.special` and whose
derivative rules sit beside them, written with differentiable operations, so derivatives
nest to any order. `logsumexp`, `softmax` and `log_softmax` are compositions: shifted by a
maximum that carries no derivative, they are stable for large and infinite inputs and their
derivatives are exactly the softmax.
"""

import math

import numpy as np
import scipy.special as sc

from .. import numpy as wnp
from ..core import Primitive, def_elementwise, raw_value
from ..core.backend import array_module, is_inexact
from ..numpy._batching import batch_reduction

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2 * math.pi)
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

# ---------------------------------------------------------------------------------------
# Primitives (values from scipy.special, float32 loops included, so dtypes follow the input)

expit_p = Primitive("expit", sc.expit)
logit_p = Primitive("logit", sc.logit)
log_expit_p = Primitive("log_expit", sc.log_expit)
erf_p = Primitive("erf", sc.erf)
erfc_p = Primitive("erfc", sc.erfc)
erfinv_p = Primitive("erfinv", sc.erfinv)
gamma_p = Primitive("gamma", sc.gamma)
gammaln_p = Primitive("gammaln", sc.gammaln)
digamma_p = Primitive("digamma", sc.digamma)
ndtr_p = Primitive("ndtr", sc.ndtr)
log_ndtr_p = Primitive("log_ndtr", sc.log_ndtr)
ndtri_p = Primitive("ndtri", sc.ndtri)
i0_p = Primitive("i0", sc.i0)
i1_p = Primitive("i1", sc.i1)


def _weak_scalars(sc_fn):
    """`sc_fn` with Python-number arguments cast to NumPy's result dtype first. SciPy lists
    a binary ufunc's float64 loop before its float32 one, so a Python float paired with a
    float32 array would otherwise promote to float64 (NumPy treats it as weak)."""

    def impl(x, y):
        dtype = np.result_type(x, y)
        if is_inexact(dtype):
            x, y = (v if hasattr(v, "dtype") else np.asarray(v, dtype) for v in (x, y))
        return sc_fn(x, y)

    impl.__name__ = sc_fn.__name__
    return impl


betaln_p = Primitive("betaln", _weak_scalars(sc.betaln))
xlogy_p = Primitive("xlogy", _weak_scalars(sc.xlogy))
xlog1py_p = Primitive("xlog1py", _weak_scalars(sc.xlog1py))


def _polygamma_impl(x, n):
    # scipy.special.polygamma computes in float64; give the input's float dtype back.
    x = np.asarray(x) if not hasattr(x, "dtype") else x
    out = sc.polygamma(n, x)
    return out.astype(x.dtype) if is_inexact(x.dtype) else out


polygamma_p = Primitive("polygamma", _polygamma_impl)
iv_p = Primitive("iv", lambda x, v: sc.iv(v, x))


def expit(x):
    """Differentiable `scipy.special.expit`, the logistic sigmoid 1 / (1 + exp(-x))."""
    return expit_p.bind(x)


def logit(x):
    """Differentiable `scipy.special.logit`, log(x / (1 - x)), the inverse of `expit`."""
    return logit_p.bind(x)


def log_expit(x):
    """Differentiable `scipy.special.log_expit`, log(expit(x)), accurate for large |x|."""
    return log_expit_p.bind(x)


def erf(z):
    """Differentiable `scipy.special.erf`, the error function."""
    return erf_p.bind(z)


def erfc(x):
    """Differentiable `scipy.special.erfc`, 1 - erf(x), accurate for large x."""
    return erfc_p.bind(x)


def erfinv(y):
    """Differentiable `scipy.special.erfinv`, the inverse of `erf` on (-1, 1)."""
    return erfinv_p.bind(y)


def gamma(z):
    """Differentiable `scipy.special.gamma`."""
    return gamma_p.bind(z)


def gammaln(x):
    """Differentiable `scipy.special.gammaln`, log|Gamma(x)|; its derivative is digamma."""
    return gammaln_p.bind(x)


def digamma(z):
    """Differentiable `scipy.special.digamma` (psi); its derivative is polygamma(1, z)."""
    return digamma_p.bind(z)


psi = digamma


def polygamma(n, x):
    """Differentiable `scipy.special.polygamma`, the n-th derivative of digamma. `n` is a
    static non-negative integer; the derivative is taken with respect to `x`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise TypeError(
            f"polygamma: the order n must be a non-negative Python integer, got {n!r}; "
            "derivatives are taken only with respect to x"
        )
    return polygamma_p.bind(x, n=int(n))


def betaln(a, b):
    """Differentiable `scipy.special.betaln`, log|B(a, b)|, with respect to a and b."""
    return betaln_p.bind(a, b)


def xlogy(x, y):
    """Differentiable `scipy.special.xlogy`, x * log(y), taken as 0 where x == 0. The
    derivatives are finite there too: d/dx is 0 where x == 0 and y <= 0, and d/dy is 0
    where x == 0."""
    return xlogy_p.bind(x, y)


def xlog1py(x, y):
    """Differentiable `scipy.special.xlog1py`, x * log1p(y), taken as 0 where x == 0 (with
    the derivatives made finite there as in `xlogy`)."""
    return xlog1py_p.bind(x, y)


def ndtr(x):
    """Differentiable `scipy.special.ndtr`, the standard normal CDF."""
    return ndtr_p.bind(x)


def log_ndtr(x):
    """Differentiable `scipy.special.log_ndtr`, log of the standard normal CDF, accurate
    (with an accurate derivative) for very negative x."""
    return log_ndtr_p.bind(x)


def ndtri(y):
    """Differentiable `scipy.special.ndtri`, the inverse of `ndtr`."""
    return ndtri_p.bind(y)


def i0(x):
    """Differentiable `scipy.special.i0`, the modified Bessel function of order 0."""
    return i0_p.bind(x)


def i1(x):
    """Differentiable `scipy.special.i1`, the modified Bessel function of order 1."""
    return i1_p.bind(x)


def iv(v, z):
    """Differentiable `scipy.special.iv`, the modified Bessel function of the first kind of
    real order `v`. `v` is a static Python number; the derivative is taken with respect to
    `z`."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"iv: the order v must be a Python number, got {type(v).__name__}; derivatives "
            "are taken only with respect to z"
        )
    return iv_p.bind(z, v=v)


# ---------------------------------------------------------------------------------------
# Derivative rules: `rule(t, ans, *args)` is t * d ans / d arg.


def _replace_where(mask, x, value):
    """`x` with `value` where `mask` holds: a safe argument for a branch that `where`
    discards, so that its derivative is not 0 * inf."""
    return wnp.where(mask, value, x)


def _xlogy_x_rule(t, ans, x, y):
    undefined = wnp.logical_and(wnp.equal(x, 0), wnp.less_equal(y, 0))
    return t * wnp.where(undefined, 0, wnp.log(_replace_where(undefined, y, 1)))


def _xlogy_y_rule(t, ans, x, y):
    x_zero = wnp.equal(x, 0)
    return t * wnp.where(x_zero, 0, x / _replace_where(x_zero, y, 1))


def _xlog1py_x_rule(t, ans, x, y):
    undefined = wnp.logical_and(wnp.equal(x, 0), wnp.less_equal(y, -1))
    return t * wnp.where(undefined, 0, wnp.log1p(_replace_where(undefined, y, 0)))


def _xlog1py_y_rule(t, ans, x, y):
    x_zero = wnp.equal(x, 0)
    return t * wnp.where(x_zero, 0, x / (_replace_where(x_zero, y, 0) + 1))


def_elementwise(expit_p, lambda t, ans, x: t * ans * (1 - ans))
def_elementwise(logit_p, lambda t, ans, x: t / (x * (1 - x)))
def_elementwise(log_expit_p, lambda t, ans, x: t * expit(-x))
def_elementwise(erf_p, lambda t, ans, x: t * (2 / _SQRT_PI) * wnp.exp(-x * x))
def_elementwise(erfc_p, lambda t, ans, x: t * (-2 / _SQRT_PI) * wnp.exp(-x * x))
def_elementwise(erfinv_p, lambda t, ans, x: t * (_SQRT_PI / 2) * wnp.exp(ans * ans))
def_elementwise(gamma_p, lambda t, ans, x: t * ans * digamma(x))
def_elementwise(gammaln_p, lambda t, ans, x: t * digamma(x))
def_elementwise(digamma_p, lambda t, ans, x: t * polygamma(1, x))
def_elementwise(polygamma_p, lambda t, ans, x, n: t * polygamma(n + 1, x))
def_elementwise(
    betaln_p,
    lambda t, ans, a, b: t * (digamma(a) - digamma(a + b)),
    lambda t, ans, a, b: t * (digamma(b) - digamma(a + b)),
)
def_elementwise(xlogy_p, _xlogy_x_rule, _xlogy_y_rule)
def_elementwise(xlog1py_p, _xlog1py_x_rule, _xlog1py_y_rule)
def_elementwise(ndtr_p, lambda t, ans, x: t * wnp.exp(-0.5 * x * x) / _SQRT_2PI)
# pdf / cdf as exp(log pdf - log cdf): finite where the cdf underflows.
def_elementwise(log_ndtr_p, lambda t, ans, x: t * wnp.exp(-0.5 * x * x - _HALF_LOG_2PI - ans))
def_elementwise(ndtri_p, lambda t, ans, y: t * _SQRT_2PI * wnp.exp(0.5 * ans * ans))
def_elementwise(i0_p, lambda t, ans, x: t * i1(x))
# I_v' = (I_{v-1} + I_{v+1}) / 2 has no division by x, so it is exact at x == 0 to any order.
def_elementwise(i1_p, lambda t, ans, x: t * (i0(x) + iv(2, x)) / 2)
def_elementwise(iv_p, lambda t, ans, x, v: t * (iv(v - 1, x) + iv(v + 1, x)) / 2)

# ---------------------------------------------------------------------------------------
# Log-sum-exp and softmax


def _finite_max_impl(a, axis):
    """The maximum of the real part over `axis` (kept as length-1 axes), with infinite or
    empty maxima replaced by 0 so that subtracting it never gives inf - inf."""
    xp = array_module(a)
    m = xp.amax(xp.real(a), axis=axis, keepdims=True, initial=-xp.inf)
    return xp.where(xp.isfinite(m), m, 0)


# The shift only conditions the computation: log-sum-exp does not depend on it, so it
# carries no derivative and the derivative is exactly the softmax.
_finite_max_p = Primitive("logsumexp_shift", _finite_max_impl, differentiable=False)
_finite_max_p.batch = batch_reduction


def _normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(sorted(np.lib.array_utils.normalize_axis_tuple(axes, ndim, "axis")))


def _shifted(a, axis):
    """`a` as an inexact array, its normalised `axis` tuple, and `a` minus its finite maximum
    over those axes (kept as length-1 axes), with the maximum."""
    a = wnp.asarray(a)
    if not is_inexact(raw_value(a).dtype):
        a = wnp.astype(a, np.float64)
    axes = _normalize_axes(axis, np.ndim(raw_value(a)))
    shift = _finite_max_p.bind(a, axis=axes)
    return a - shift, shift, axes


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """Differentiable `scipy.special.logsumexp`: log(sum(b * exp(a))) over `axis`, with
    respect to `a` and `b`. Stable for large and infinite entries of `a`; its derivative
    with respect to `a` is exactly softmax(a) (scaled by b / sum). With
    `return_sign=True` returns (log|s|, sign(s)); otherwise a negative sum gives nan."""
    shifted, shift, axes = _shifted(a, axis)
    terms = wnp.exp(shifted)
    if b is not None:
        terms = wnp.asarray(b) * terms
    total = wnp.sum(terms, axis=axes, keepdims=True)
    if return_sign:
        sgn = wnp.sign(total)
        out = wnp.log(wnp.absolute(total)) + shift
    else:
        out = wnp.log(total) + shift
    if not keepdims:
        out = wnp.squeeze(out, axis=axes)
        if return_sign:
            sgn = wnp.squeeze(sgn, axis=axes)
    return (out, sgn) if return_sign else out


def softmax(x, axis=None):
    """Differentiable `scipy.special.softmax`: exp(x) / sum(exp(x)) over `axis` (all
    elements when None), computed stably."""
    return wnp.exp(log_softmax(x, axis=axis))


def log_softmax(x, axis=None):
    """Differentiable `scipy.special.log_softmax`: x - logsumexp(x) over `axis` (all
    elements when None), stable for large inputs and exact at the maximum."""
    shifted, _, axes = _shifted(x, axis)
    return shifted - wnp.log(wnp.sum(wnp.exp(shifted), axis=axes, keepdims=True))


__all__ = [
    "betaln", "digamma", "erf", "erfc", "erfinv", "expit", "gamma", "gammaln", "i0", "i1", "iv",
    "log_expit", "log_ndtr", "log_softmax", "logit", "logsumexp", "ndtr", "ndtri", "polygamma",
    "psi", "softmax", "xlog1py", "xlogy",
]
