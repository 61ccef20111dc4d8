"""Reductions (sum, max, min, prod, cumulative sums and products) and the statistics built
from them (mean, var, std)."""

import builtins

import numpy as np

from ..core import Primitive, ShapedArray, def_jvp, def_linear, def_vjp, raw_value
from ._elementwise import equal, sqrt, where
from ._shape import broadcast_to, expand_dims, flip, pad, reshape

sum_p = Primitive("sum", np.sum)
amax_p = Primitive("max", np.amax)
amin_p = Primitive("min", np.amin)
cumsum_p = Primitive("cumsum", np.cumsum)
cumprod_p = Primitive("cumprod", np.cumprod)
_argmax_p = Primitive("argmax", np.argmax, differentiable=False)
_argmin_p = Primitive("argmin", np.argmin, differentiable=False)
_all_p = Primitive("all", np.all, differentiable=False)
_any_p = Primitive("any", np.any, differentiable=False)
_count_nonzero_p = Primitive("count_nonzero", np.count_nonzero, differentiable=False)


def _axes(axis, nd):
    """Normalise NumPy's `axis` argument to a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(nd))
    if isinstance(axis, (int, np.integer)):
        axis = (axis,)
    out = tuple(sorted(int(ax) % nd if nd else int(ax) for ax in axis))
    if len(set(out)) != len(out):
        raise ValueError(f"duplicate value in 'axis': {axis}")
    return out


def _restore_reduced(g, x_shape, axes, keepdims):
    """Broadcast the cotangent of a reduction back to the reduced input's shape."""
    if not keepdims:
        g = expand_dims(g, axes) if axes else g
    return broadcast_to(g, x_shape)


def sum(a, axis=None, dtype=None, keepdims=False):  # noqa: A001 - NumPy's own name
    """Differentiable `numpy.sum`."""
    nd = np.ndim(raw_value(a))
    axes = _axes(axis, nd)
    if dtype is not None:
        from ._constructors import astype

        a = astype(a, dtype)
    return sum_p.bind(a, axis=axes, keepdims=keepdims)


def_linear(
    sum_p,
    lambda g, ans, x, axis, keepdims: _restore_reduced(g, np.shape(raw_value(x)), axis, keepdims),
)


def mean(a, axis=None, dtype=None, keepdims=False):
    """Differentiable `numpy.mean`."""
    shape = np.shape(raw_value(a))
    axes = _axes(axis, len(shape))
    count = int(np.prod([shape[ax] for ax in axes]))
    total = sum(a, axis=axes, dtype=dtype, keepdims=keepdims)
    return total / count if count else total * np.nan


def var(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """Differentiable `numpy.var` (complex input gives the variance of the modulus)."""
    shape = np.shape(raw_value(a))
    axes = _axes(axis, len(shape))
    count = int(np.prod([shape[ax] for ax in axes]))
    centred = a - mean(a, axis=axes, dtype=dtype, keepdims=True)
    if np.iscomplexobj(raw_value(a)):
        from ._elementwise import conj, real

        sq = real(centred * conj(centred))
    else:
        sq = centred * centred
    return sum(sq, axis=axes, keepdims=keepdims) / builtins.max(count - ddof, 0)


def std(a, axis=None, dtype=None, ddof=0, keepdims=False):
    """Differentiable `numpy.std`."""
    return sqrt(var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


def _extremum(prim, name):
    def reduce(a, axis=None, keepdims=False, initial=None):
        if initial is not None:
            raise NotImplementedError(f"{name}: the 'initial' argument is not supported")
        shape = np.shape(raw_value(a))
        axes = _axes(axis, len(shape))
        if builtins.any(shape[ax] == 0 for ax in axes):
            raise ValueError(
                f"{name}: zero-size array to reduction operation {name} which has no identity"
            )
        return prim.bind(a, axis=axes, keepdims=keepdims)

    reduce.__name__ = name
    reduce.__doc__ = (
        f"Differentiable `numpy.{name}`: the derivative is shared equally among the "
        "elements that attain the extremum."
    )
    return reduce


amax = max = _extremum(amax_p, "max")  # noqa: A001
amin = min = _extremum(amin_p, "min")  # noqa: A001


def _extremum_mask(ans, x, axis, keepdims):
    """Where x attains its reduced extremum, divided by the number of such places."""
    shape = np.shape(raw_value(x))
    full = _restore_reduced(ans, shape, axis, keepdims)
    hits = equal(x, full)
    count = np.sum(hits, axis=axis, keepdims=True)
    return hits, count


def _extremum_vjp(g, ans, x, axis, keepdims):
    hits, count = _extremum_mask(ans, x, axis, keepdims)
    g_full = _restore_reduced(g, np.shape(raw_value(x)), axis, keepdims)
    return where(hits, g_full / count, 0)


def _extremum_jvp(t, ans, x, axis, keepdims):
    hits, count = _extremum_mask(ans, x, axis, keepdims)
    share = sum(where(hits, t, 0), axis=axis, keepdims=True) / count
    return share if keepdims else reshape(share, np.shape(raw_value(ans)))


for _p in (amax_p, amin_p):
    def_jvp(_p, _extremum_jvp)
    def_vjp(_p, _extremum_vjp)


def _exclusive_cumprod(x, axis, reverse):
    """Product of the elements strictly before (or after) each position along `axis`. With
    a zero among the elements, cumprod's rules (which divide by the input) would give NaN
    derivatives, so a log-depth scan of multiplications computes it instead."""
    if reverse:
        return flip(_exclusive_cumprod(flip(x, axis), axis, False), axis)
    values = raw_value(x)
    if not isinstance(values, ShapedArray) and np.all(values != 0):
        return _shift_in_ones(cumprod(x, axis=axis), axis, 1)
    out = _shift_in_ones(x, axis, 1)
    step = 1
    while step < np.shape(raw_value(x))[axis]:
        out = out * _shift_in_ones(out, axis, step)
        step *= 2
    return out


def _shift_in_ones(x, axis, k):
    """`x` moved `k` places forward along `axis`, with ones moved in."""
    n = np.shape(raw_value(x))[axis]
    k = builtins.min(k, n)
    widths = [(0, 0)] * np.ndim(raw_value(x))
    widths[axis] = (k, 0)
    return pad(x[(slice(None),) * axis + (slice(0, n - k),)], widths, constant_values=1)


def prod(a, axis=None, dtype=None, keepdims=False):
    """Differentiable `numpy.prod`. Its derivative is exact when elements are zero: each
    partial derivative is the product of the other elements."""
    from ._shape import moveaxis

    shape = np.shape(raw_value(a))
    axes = _axes(axis, len(shape))
    if dtype is not None:
        from ._constructors import astype

        a = astype(a, dtype)
    # Flatten the reduced axes into one trailing axis, then take a product along it.
    kept = [ax for ax in range(len(shape)) if ax not in axes]
    moved = moveaxis(a, axes, tuple(range(len(kept), len(shape)))) if axes else a
    # The reduced size is spelled out: -1 is ambiguous when a kept axis is empty.
    reduced = int(np.prod([shape[ax] for ax in axes]))
    flat = reshape(moved, tuple(shape[ax] for ax in kept) + (reduced,))
    out = _prod_last_p.bind(flat)
    if keepdims:
        out = reshape(out, tuple(1 if ax in axes else d for ax, d in enumerate(shape)))
    return out


def _prod_of_others(x):
    return _exclusive_cumprod(x, -1 % np.ndim(raw_value(x)), False) * _exclusive_cumprod(
        x, -1 % np.ndim(raw_value(x)), True
    )


_prod_last_p = Primitive("prod", lambda x: np.prod(x, axis=-1))
def_jvp(_prod_last_p, lambda t, ans, x: sum(t * _prod_of_others(x), axis=-1))
def_vjp(_prod_last_p, lambda g, ans, x: expand_dims(g, -1) * _prod_of_others(x))


def _cumulative(prim, a, axis, dtype):
    """NumPy's cumulative-operation arguments: axis None flattens; `dtype` casts first."""
    if axis is None:
        a = reshape(a, (-1,))
        axis = 0
    if dtype is not None:
        from ._constructors import astype

        a = astype(a, dtype)
    return prim.bind(a, axis=int(axis) % builtins.max(np.ndim(raw_value(a)), 1))


def cumsum(a, axis=None, dtype=None):
    """Differentiable `numpy.cumsum`."""
    return _cumulative(cumsum_p, a, axis, dtype)


def_linear(cumsum_p, lambda g, ans, x, axis: flip(cumsum(flip(g, axis), axis=axis), axis))


def cumprod(a, axis=None, dtype=None):
    """Differentiable `numpy.cumprod`. (Its reverse rule divides by the input, so it is
    undefined where an element is exactly zero.)"""
    return _cumulative(cumprod_p, a, axis, dtype)


def_jvp(cumprod_p, lambda t, ans, x, axis: ans * cumsum(t / x, axis=axis))
def_vjp(
    cumprod_p,
    lambda g, ans, x, axis: flip(cumsum(flip(g * ans, axis), axis=axis), axis) / x,
)


def argmax(a, axis=None, keepdims=False):
    """`numpy.argmax` (indices carry no derivative)."""
    return _argmax_p.bind(a, axis=axis, keepdims=keepdims)


def argmin(a, axis=None, keepdims=False):
    """`numpy.argmin` (indices carry no derivative)."""
    return _argmin_p.bind(a, axis=axis, keepdims=keepdims)


def all(a, axis=None, keepdims=False):  # noqa: A001
    """`numpy.all`."""
    return _all_p.bind(a, axis=axis, keepdims=keepdims)


def any(a, axis=None, keepdims=False):  # noqa: A001
    """`numpy.any`."""
    return _any_p.bind(a, axis=axis, keepdims=keepdims)


def count_nonzero(a, axis=None, keepdims=False):
    """`numpy.count_nonzero`."""
    return _count_nonzero_p.bind(a, axis=axis, keepdims=keepdims)


def average(a, axis=None, weights=None, keepdims=False):
    """Differentiable `numpy.average`."""
    if weights is None:
        return mean(a, axis=axis, keepdims=keepdims)
    w = broadcast_to(weights, np.shape(raw_value(a))) if np.ndim(raw_value(weights)) == np.ndim(
        raw_value(a)
    ) else weights
    if np.ndim(raw_value(w)) != np.ndim(raw_value(a)):
        w = reshape(w, tuple(-1 if i == axis % np.ndim(raw_value(a)) else 1
                             for i in range(np.ndim(raw_value(a)))))
    return sum(a * w, axis=axis, keepdims=keepdims) / sum(
        broadcast_to(w, np.shape(raw_value(a))), axis=axis, keepdims=keepdims
    )


__all__ = [
    "all", "amax", "amin", "any", "argmax", "argmin", "average", "broadcast_to",
    "count_nonzero", "cumprod", "cumsum", "equal", "expand_dims", "flip", "max", "mean", "min",
    "prod", "reshape", "sqrt", "std", "sum", "var", "where",
]
