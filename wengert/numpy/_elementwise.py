"""Elementwise primitives (NumPy's ufuncs) and their derivative rules.

Each primitive is declared with the NumPy function that implements it, and its rules
follow at once: `def_elementwise(p, rule_per_argument...)` where a rule maps an incoming
tangent (or cotangent) `t` to `t * d ans / d arg`. Broadcasting is undone by the reverse
engine, so the rules are written as if the shapes matched.
"""

import numpy as np

from ..core import (
    Primitive,
    Tracer,
    batch_elementwise,
    def_elementwise,
    def_jvp,
    def_linear,
    def_vjp,
    raw_value,
)


def _wrap(prim, nin, np_fn):
    if nin == 1:

        def fn(x, /):
            return prim.bind(x)
    elif nin == 2:

        def fn(x1, x2, /):
            return prim.bind(x1, x2)
    else:

        def fn(*args):
            return prim.bind(*args)

    fn.__name__ = fn.__qualname__ = prim.name
    fn.__doc__ = f"Differentiable `numpy.{np_fn.__name__}`.\n\n" + (
        (np_fn.__doc__ or "").split("\n\n")[0]
    )
    return fn


def _ufunc(np_fn, nin=None, name=None, differentiable=True):
    nin = np_fn.nin if nin is None else nin
    prim = Primitive(name or np_fn.__name__, np_fn, differentiable=differentiable)
    prim.batch = batch_elementwise
    return prim, _wrap(prim, nin, np_fn)


# ---------------------------------------------------------------------------------------
# Arithmetic

add_p, add = _ufunc(np.add)
subtract_p, subtract = _ufunc(np.subtract)
multiply_p, multiply = _ufunc(np.multiply)
divide_p, divide = _ufunc(np.divide)
true_divide = divide
negative_p, negative = _ufunc(np.negative)
positive_p, positive = _ufunc(np.positive)
reciprocal_p, reciprocal = _ufunc(np.reciprocal)
def _power_impl(x, y):
    # ndarray.__pow__ turns small constant exponents (2, 0.5, -1...) into cheaper ufuncs.
    return x ** y if type(x) is np.ndarray else np.power(x, y)


power_p = Primitive("power", _power_impl)
power = _wrap(power_p, 2, np.power)
mod_p, mod = _ufunc(np.remainder, name="mod")
remainder = mod
fmod_p, fmod = _ufunc(np.fmod)
floor_divide_p, floor_divide = _ufunc(np.floor_divide, differentiable=False)

def_elementwise(add_p, lambda t, ans, x, y: t, lambda t, ans, x, y: t)
def_elementwise(subtract_p, lambda t, ans, x, y: t, lambda t, ans, x, y: -t)
def_elementwise(multiply_p, lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t)
def_elementwise(divide_p, lambda t, ans, x, y: t / y, lambda t, ans, x, y: -t * ans / y)
def_linear(negative_p, lambda g, ans, x: -g)
def_linear(positive_p, lambda g, ans, x: g)
def_elementwise(reciprocal_p, lambda t, ans, x: -t * ans * ans)


def _power_base_rule(t, ans, x, y):
    # y * x**(y-1); a constant exponent 0 gives 0 (not 0 * inf at x == 0), and 1 and 2 skip
    # the (slow) general power.
    if isinstance(y, (int, float, np.integer, np.floating)):
        if y == 0:
            return t * 0
        if y == 1:
            return t
        if y == 2:
            return t * (x * 2)
    return t * y * power(x, y - 1)


def _power_exponent_rule(t, ans, x, y):
    # d/dy x**y = log(x) x**y; taken as 0 where x == 0 (the limit from x > 0 when y > 0).
    x_is_zero = equal(x, 0)
    safe_x = where(x_is_zero, 1, x)
    return t * where(x_is_zero, 0, log(safe_x) * ans)


def_elementwise(power_p, _power_base_rule, _power_exponent_rule)
def_elementwise(mod_p, lambda t, ans, x, y: t, lambda t, ans, x, y: -t * floor_divide(x, y))
def_elementwise(fmod_p, lambda t, ans, x, y: t, lambda t, ans, x, y: -t * trunc(divide(x, y)))

# ---------------------------------------------------------------------------------------
# Exponentials, logarithms, powers

exp_p, exp = _ufunc(np.exp)
exp2_p, exp2 = _ufunc(np.exp2)
expm1_p, expm1 = _ufunc(np.expm1)
log_p, log = _ufunc(np.log)
log2_p, log2 = _ufunc(np.log2)
log10_p, log10 = _ufunc(np.log10)
log1p_p, log1p = _ufunc(np.log1p)
sqrt_p, sqrt = _ufunc(np.sqrt)
cbrt_p, cbrt = _ufunc(np.cbrt)
square_p, square = _ufunc(np.square)
logaddexp_p, logaddexp = _ufunc(np.logaddexp)
logaddexp2_p, logaddexp2 = _ufunc(np.logaddexp2)

_LN2 = float(np.log(2.0))
_LN10 = float(np.log(10.0))

def_elementwise(exp_p, lambda t, ans, x: t * ans)
def_elementwise(exp2_p, lambda t, ans, x: t * ans * _LN2)
def_elementwise(expm1_p, lambda t, ans, x: t * (ans + 1))
def_elementwise(log_p, lambda t, ans, x: t / x)
def_elementwise(log2_p, lambda t, ans, x: t / (x * _LN2))
def_elementwise(log10_p, lambda t, ans, x: t / (x * _LN10))
def_elementwise(log1p_p, lambda t, ans, x: t / (x + 1))
def_elementwise(sqrt_p, lambda t, ans, x: t / (ans * 2))
def_elementwise(cbrt_p, lambda t, ans, x: t / (ans * ans * 3))
def_elementwise(square_p, lambda t, ans, x: t * x * 2)
def_elementwise(
    logaddexp_p, lambda t, ans, x, y: t * exp(x - ans), lambda t, ans, x, y: t * exp(y - ans)
)
def_elementwise(
    logaddexp2_p,
    lambda t, ans, x, y: t * exp2(x - ans),
    lambda t, ans, x, y: t * exp2(y - ans),
)

# ---------------------------------------------------------------------------------------
# Trigonometric and hyperbolic

sin_p, sin = _ufunc(np.sin)
cos_p, cos = _ufunc(np.cos)
tan_p, tan = _ufunc(np.tan)
arcsin_p, arcsin = _ufunc(np.arcsin)
arccos_p, arccos = _ufunc(np.arccos)
arctan_p, arctan = _ufunc(np.arctan)
arctan2_p, arctan2 = _ufunc(np.arctan2)
hypot_p, hypot = _ufunc(np.hypot)
sinh_p, sinh = _ufunc(np.sinh)
cosh_p, cosh = _ufunc(np.cosh)
tanh_p, tanh = _ufunc(np.tanh)
arcsinh_p, arcsinh = _ufunc(np.arcsinh)
arccosh_p, arccosh = _ufunc(np.arccosh)
arctanh_p, arctanh = _ufunc(np.arctanh)
deg2rad_p, deg2rad = _ufunc(np.deg2rad)
rad2deg_p, rad2deg = _ufunc(np.rad2deg)
radians, degrees = deg2rad, rad2deg

def_elementwise(sin_p, lambda t, ans, x: t * cos(x))
def_elementwise(cos_p, lambda t, ans, x: -t * sin(x))
def_elementwise(tan_p, lambda t, ans, x: t * (ans * ans + 1))
def_elementwise(arcsin_p, lambda t, ans, x: t / sqrt(1 - x * x))
def_elementwise(arccos_p, lambda t, ans, x: -t / sqrt(1 - x * x))
def_elementwise(arctan_p, lambda t, ans, x: t / (x * x + 1))
def_elementwise(
    arctan2_p,
    lambda t, ans, y, x: t * x / (x * x + y * y),
    lambda t, ans, y, x: -t * y / (x * x + y * y),
)
def_elementwise(hypot_p, lambda t, ans, x, y: t * x / ans, lambda t, ans, x, y: t * y / ans)
def_elementwise(sinh_p, lambda t, ans, x: t * cosh(x))
def_elementwise(cosh_p, lambda t, ans, x: t * sinh(x))
def_elementwise(tanh_p, lambda t, ans, x: t * (1 - ans * ans))
def_elementwise(arcsinh_p, lambda t, ans, x: t / sqrt(x * x + 1))
def_elementwise(arccosh_p, lambda t, ans, x: t / sqrt(x * x - 1))
def_elementwise(arctanh_p, lambda t, ans, x: t / (1 - x * x))
def_linear(deg2rad_p, lambda g, ans, x: g * (np.pi / 180))
def_linear(rad2deg_p, lambda g, ans, x: g * (180 / np.pi))

# ---------------------------------------------------------------------------------------
# Complex parts. Convention: a VJP returns the cotangent c with Re(sum(c * v)) equal to
# Re(sum(g * J v)) for every tangent v (no conjugation, as in JAX); for real f of complex z,
# grad(f)(z) = df/dx - i df/dy.

real_p, real = _ufunc(np.real, nin=1)
imag_p, imag = _ufunc(np.imag, nin=1)
conj_p, conj = _ufunc(np.conjugate, name="conj")
conjugate = conj
abs_p, absolute = _ufunc(np.absolute, name="abs")
abs = absolute  # noqa: A001 - NumPy's own name

def_linear(real_p, lambda g, ans, x: g)
def_linear(imag_p, lambda g, ans, x: g * -1j)
def_linear(conj_p, lambda g, ans, x: conj(g))


def _abs_jvp(t, ans, x):
    if iscomplexobj(x):
        return real(conj(x) * t) / ans
    return t * sign(x)


def _abs_vjp(g, ans, x):
    if iscomplexobj(x):
        return g * conj(x) / ans
    return g * sign(x)


def iscomplexobj(x):
    """`numpy.iscomplexobj`."""
    return np.iscomplexobj(raw_value(x))


def isrealobj(x):
    """`numpy.isrealobj`."""
    return not iscomplexobj(x)


def_jvp(abs_p, _abs_jvp)
def_vjp(abs_p, _abs_vjp)

# ---------------------------------------------------------------------------------------
# Maxima and minima: ties share the derivative equally, as in JAX.

maximum_p, maximum = _ufunc(np.maximum)
minimum_p, minimum = _ufunc(np.minimum)
fmax_p, fmax = _ufunc(np.fmax)
fmin_p, fmin = _ufunc(np.fmin)


def _select_share(t, mine, tie):
    """t where this argument is the extremum, t/2 where it ties, 0 elsewhere. Without ties
    (checked when the values are concrete) it is one select; with them the share is built
    arithmetically, since a select between two arrays is slow with an irregular mask."""
    if not isinstance(tie, Tracer) and not np.any(tie):
        return where(mine, t, 0)
    from ._constructors import astype

    dtype = raw_value(t).dtype
    share = astype(mine, dtype) + astype(tie, dtype) * 0.5
    return where(logical_or(mine, tie), t * share, 0)


def_elementwise(
    maximum_p,
    lambda t, ans, x, y: _select_share(t, greater(x, y), equal(x, y)),
    lambda t, ans, x, y: _select_share(t, greater(y, x), equal(x, y)),
)
def_elementwise(
    minimum_p,
    lambda t, ans, x, y: _select_share(t, less(x, y), equal(x, y)),
    lambda t, ans, x, y: _select_share(t, less(y, x), equal(x, y)),
)
# fmax/fmin ignore a NaN operand: the other one receives the derivative.
def_elementwise(
    fmax_p,
    lambda t, ans, x, y: _select_share(t, greater(x, y) | isnan(y), equal(x, y)),
    lambda t, ans, x, y: _select_share(t, greater(y, x) | isnan(x), equal(x, y)),
)
def_elementwise(
    fmin_p,
    lambda t, ans, x, y: _select_share(t, less(x, y) | isnan(y), equal(x, y)),
    lambda t, ans, x, y: _select_share(t, less(y, x) | isnan(x), equal(x, y)),
)

clip_p = Primitive("clip", np.clip)


def clip(a, a_min=None, a_max=None):
    """Differentiable `numpy.clip`: the derivative passes where a_min <= a <= a_max."""
    if a_min is None and a_max is None:
        raise ValueError("clip: at least one of a_min and a_max must be given")
    if a_min is None:
        return minimum(a, a_max)
    if a_max is None:
        return maximum(a, a_min)
    return clip_p.bind(a, a_min, a_max)


# clip(x, lo, hi) is minimum(maximum(x, lo), hi), so where lo > hi the result is hi.
def_elementwise(
    clip_p,
    lambda t, ans, x, lo, hi: where(logical_and(x >= lo, x <= hi), t, 0),
    lambda t, ans, x, lo, hi: where(logical_and(x < lo, lo <= hi), t, 0),
    lambda t, ans, x, lo, hi: where(logical_or(x > hi, lo > hi), t, 0),
)

def _is_zero_scalar(v):
    return isinstance(v, (int, float)) and v == 0


_SAME_SIZE_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def _keep_where(values, condition):
    """`np.where(condition, values, 0)` for a real float array, bit for bit (NaN, inf and
    -0.0 included), as an AND with an all-ones/all-zeros mask: np.where branches on every
    element and runs ~7x slower with an irregular mask, as derivative rules' masks are."""
    shape = np.broadcast_shapes(values.shape, condition.shape)
    ints = _SAME_SIZE_INT[values.itemsize]
    mask = np.broadcast_to(condition, shape).astype(ints)
    np.negative(mask, out=mask)
    bits = np.broadcast_to(values, shape).view(ints)
    return np.bitwise_and(bits, mask, out=mask).view(values.dtype)


def _where_impl(condition, x, y):
    if type(condition) is np.ndarray and condition.dtype == bool:
        if _is_zero_scalar(y) and type(x) is np.ndarray and x.dtype.kind == "f":
            if x.itemsize in _SAME_SIZE_INT:
                return _keep_where(x, condition)
        elif _is_zero_scalar(x) and type(y) is np.ndarray and y.dtype.kind == "f":
            if y.itemsize in _SAME_SIZE_INT:
                return _keep_where(y, ~condition)
    return np.where(condition, x, y)


where_p = Primitive("where", _where_impl)


def where(condition, x=None, y=None, /):
    """Differentiable `numpy.where(condition, x, y)`; with one argument, the indices where
    `condition` holds (not differentiable)."""
    if x is None and y is None:
        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("where: give both x and y, or neither")
    return where_p.bind(condition, x, y)


def_elementwise(
    where_p,
    None,
    lambda t, ans, c, x, y: where(c, t, 0),
    lambda t, ans, c, x, y: where(c, 0, t),
)

# ---------------------------------------------------------------------------------------
# Operations whose output carries no derivative: comparisons, logic, predicates, rounding.
# (Rounding functions are piecewise constant: their derivative is zero almost everywhere.)

_NON_DIFFERENTIABLE = {}
for _np_fn in (
    np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
    np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
    np.isfinite, np.isnan, np.isinf, np.signbit,
    np.sign, np.floor, np.ceil, np.rint, np.trunc,
    np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.invert, np.left_shift, np.right_shift,
):  # fmt: skip
    _NON_DIFFERENTIABLE[_np_fn.__name__] = _ufunc(_np_fn, differentiable=False)[1]

equal = _NON_DIFFERENTIABLE["equal"]
not_equal = _NON_DIFFERENTIABLE["not_equal"]
less = _NON_DIFFERENTIABLE["less"]
less_equal = _NON_DIFFERENTIABLE["less_equal"]
greater = _NON_DIFFERENTIABLE["greater"]
greater_equal = _NON_DIFFERENTIABLE["greater_equal"]
logical_and = _NON_DIFFERENTIABLE["logical_and"]
logical_or = _NON_DIFFERENTIABLE["logical_or"]
logical_xor = _NON_DIFFERENTIABLE["logical_xor"]
logical_not = _NON_DIFFERENTIABLE["logical_not"]
isfinite = _NON_DIFFERENTIABLE["isfinite"]
isnan = _NON_DIFFERENTIABLE["isnan"]
isinf = _NON_DIFFERENTIABLE["isinf"]
signbit = _NON_DIFFERENTIABLE["signbit"]
sign = _NON_DIFFERENTIABLE["sign"]
floor = _NON_DIFFERENTIABLE["floor"]
ceil = _NON_DIFFERENTIABLE["ceil"]
rint = _NON_DIFFERENTIABLE["rint"]
trunc = _NON_DIFFERENTIABLE["trunc"]
fix = trunc
bitwise_and = _NON_DIFFERENTIABLE["bitwise_and"]
bitwise_or = _NON_DIFFERENTIABLE["bitwise_or"]
bitwise_xor = _NON_DIFFERENTIABLE["bitwise_xor"]
invert = _NON_DIFFERENTIABLE["invert"]
left_shift = _NON_DIFFERENTIABLE["left_shift"]
right_shift = _NON_DIFFERENTIABLE["right_shift"]

_round_p = Primitive("round", np.round, differentiable=False)
_nonzero_p = Primitive("nonzero", np.nonzero, differentiable=False)
_isclose_p = Primitive("isclose", np.isclose, differentiable=False)


def round(a, decimals=0):  # noqa: A001 - NumPy's own name
    """`numpy.round`; piecewise constant, so it carries no derivative."""
    return _round_p.bind(a, decimals=decimals)


around = round


def nonzero(a):
    """`numpy.nonzero` (indices carry no derivative)."""
    return _nonzero_p.bind(a)


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """`numpy.isclose` (booleans carry no derivative)."""
    return _isclose_p.bind(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)


__all__ = [
    "abs", "absolute", "add", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2",
    "arctanh", "around", "bitwise_and", "bitwise_or", "bitwise_xor", "cbrt", "ceil", "clip",
    "conj", "conjugate", "cos", "cosh", "deg2rad", "degrees", "divide", "equal", "exp", "exp2",
    "expm1", "fix", "floor", "floor_divide", "fmax", "fmin", "fmod", "greater",
    "greater_equal", "hypot", "imag", "invert", "isclose", "iscomplexobj", "isfinite", "isinf",
    "isnan", "isrealobj", "left_shift", "less", "less_equal", "log", "log10", "log1p", "log2",
    "logaddexp", "logaddexp2", "logical_and", "logical_not", "logical_or", "logical_xor",
    "maximum", "minimum", "mod", "multiply", "negative", "nonzero", "not_equal", "positive",
    "power", "rad2deg", "radians", "real", "reciprocal", "remainder", "right_shift", "rint",
    "round", "sign", "signbit", "sin", "sinh", "sqrt", "square", "subtract", "tan", "tanh",
    "true_divide", "trunc", "where",
]
