"""Array constructors and dtype conversion. Constructors make raw backend arrays (constants);
`array`/`asarray` of a sequence that holds traced values stacks them differentiably."""

import numpy as np

from ..core import Primitive, Tracer, def_jvp, def_vjp, raw_value
from ..core.backend import array_module, is_inexact

astype_p = Primitive("astype", lambda x, dtype: x.astype(dtype))
# A cast to an integer or boolean dtype: the result carries no derivative.
_astype_discrete_p = Primitive("astype", lambda x, dtype: x.astype(dtype), differentiable=False)


def _astype_jvp(t, ans, x, dtype):
    return astype_p.bind(t, dtype=dtype)


def_jvp(astype_p, _astype_jvp)
# The reverse engine casts the cotangent back to the input's dtype (real part for a real
# input), so the rule itself is the identity.
def_vjp(astype_p, lambda g, ans, x, dtype: g)


def astype(x, dtype):
    """`x.astype(dtype)`. A cast to an integer or boolean dtype carries no derivative."""
    dtype = np.dtype(dtype)
    if result_dtype_of(x) == dtype:
        return x
    if not is_inexact(dtype):
        return _astype_discrete_p.bind(x, dtype=dtype)
    return astype_p.bind(x, dtype=dtype)


def result_dtype_of(x):
    x = raw_value(x)
    return x.dtype if hasattr(x, "dtype") else np.result_type(x)


def _contains_tracer(obj):
    if isinstance(obj, Tracer):
        return True
    if isinstance(obj, (list, tuple)):
        return any(_contains_tracer(o) for o in obj)
    return False


def _stack_nested(obj):
    from ._shape import stack

    if isinstance(obj, (list, tuple)):
        return stack([_stack_nested(o) for o in obj])
    return asarray(obj)


def array(object, dtype=None, copy=True, ndmin=0):  # noqa: A002 - NumPy's own name
    """`numpy.array`; a (nested) sequence holding traced values is stacked
    differentiably."""
    if _contains_tracer(object):
        out = _stack_nested(object) if isinstance(object, (list, tuple)) else object
        if dtype is not None:
            out = astype(out, dtype)
        if ndmin:
            from ._shape import reshape

            nd = np.ndim(raw_value(out))
            if nd < ndmin:
                out = reshape(out, (1,) * (ndmin - nd) + np.shape(raw_value(out)))
        return out
    return np.array(object, dtype=dtype, copy=copy, ndmin=ndmin)


def asarray(a, dtype=None):
    """`numpy.asarray`; traced values pass through (cast if `dtype` is given)."""
    if isinstance(a, Tracer):
        return a if dtype is None else astype(a, dtype)
    if _contains_tracer(a):
        return array(a, dtype=dtype)
    return np.asarray(a, dtype=dtype)


def copy(a):
    """`numpy.copy` (values are immutable under transforms, so a tracer is returned as is)."""
    return a if isinstance(a, Tracer) else np.copy(a)


def _like(np_fn, name):
    def fn(a, dtype=None, shape=None):
        # From shape and dtype only: a constant, the same under every transform (and the
        # per-example shape under vmap).
        base = raw_value(a)
        dtype = base.dtype if dtype is None and hasattr(base, "dtype") else dtype
        shape = np.shape(base) if shape is None else shape
        return getattr(array_module(a), np_fn)(shape, dtype=dtype if dtype is not None else
                                               np.result_type(base))

    fn.__name__ = name
    fn.__doc__ = f"`numpy.{name}`: a constant array (no derivative) shaped like `a`."
    return fn


zeros_like = _like("zeros", "zeros_like")
ones_like = _like("ones", "ones_like")
empty_like = _like("zeros", "empty_like")


def full_like(a, fill_value, dtype=None, shape=None):
    """`numpy.full_like`: a constant array shaped like `a`."""
    base = raw_value(a)
    dtype = dtype if dtype is not None else getattr(base, "dtype", np.result_type(base))
    shape = np.shape(base) if shape is None else shape
    return array_module(a).full(shape, raw_value(fill_value), dtype=dtype)


zeros = np.zeros
ones = np.ones
empty = np.zeros
full = np.full
eye = np.eye
identity = np.identity
arange = np.arange
linspace = np.linspace
logspace = np.logspace
geomspace = np.geomspace
tri = np.tri
indices = np.indices


def meshgrid(*xi, indexing="xy", sparse=False):
    """Differentiable `numpy.meshgrid`."""
    from ._shape import broadcast_to, reshape

    n = len(xi)
    sizes = [np.size(raw_value(x)) for x in xi]
    out = []
    for i, x in enumerate(xi):
        view = [1] * n
        view[i] = sizes[i]
        if indexing == "xy" and n >= 2 and i < 2:
            view[0], view[1] = view[1], view[0]
        g = reshape(x, tuple(view))
        if not sparse:
            full_shape = list(sizes)
            if indexing == "xy" and n >= 2:
                full_shape[0], full_shape[1] = full_shape[1], full_shape[0]
            g = broadcast_to(g, tuple(full_shape))
        out.append(g)
    return out


__all__ = [
    "arange", "array", "asarray", "astype", "copy", "empty", "empty_like", "eye", "full",
    "full_like", "geomspace", "identity", "indices", "linspace", "logspace", "meshgrid",
    "ones", "ones_like", "result_dtype_of", "tri", "zeros", "zeros_like",
]
