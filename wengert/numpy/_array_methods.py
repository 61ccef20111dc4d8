"""The ndarray interface shared by every traced value (transform tracers and the eager
Tensor): operators, attributes and methods, each forwarding to `wengert.numpy`.

NumPy functions applied to a traced value dispatch here too (`__array_ufunc__`,
`__array_function__`), so `np.sin(x)` is differentiated like `wnp.sin(x)` instead of
silently dropping the derivative."""

import sys

import numpy as np

from ..core import raw_value


def _wnp():
    # wengert.numpy imports this module, so it is looked up when first needed.
    return sys.modules["wengert.numpy"]


class ArrayMethods:
    """Mixin for tracer classes whose `primal` holds the value one level down."""

    __slots__ = ()
    __array_priority__ = 1000

    # Attributes ---------------------------------------------------------------------
    @property
    def shape(self):
        return np.shape(raw_value(self))

    @property
    def dtype(self):
        return raw_value(self).dtype

    @property
    def ndim(self):
        return np.ndim(raw_value(self))

    @property
    def size(self):
        return np.size(raw_value(self))

    def __len__(self):
        shape = self.shape
        if not shape:
            raise TypeError("len() of unsized object")
        return shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    @property
    def T(self):
        return _wnp().transpose(self)

    @property
    def mT(self):
        return _wnp().swapaxes(self, -1, -2)

    @property
    def real(self):
        return _wnp().real(self)

    @property
    def imag(self):
        return _wnp().imag(self)

    @property
    def at(self):
        return _wnp().IndexUpdateHelper(self)

    # Python scalars and truth: concrete values are fine in eager and under grad/jvp.
    def __bool__(self):
        return bool(raw_value(self))

    def __float__(self):
        return float(raw_value(self))

    def __int__(self):
        return int(raw_value(self))

    def __complex__(self):
        return complex(raw_value(self))

    def __index__(self):
        return int(raw_value(self).__index__())

    def item(self):
        return raw_value(self).item()

    def tolist(self):
        return raw_value(self).tolist()

    # Operators ------------------------------------------------------------------------
    def __add__(self, other):
        return _add.bind(self, other)

    def __radd__(self, other):
        return _add.bind(other, self)

    def __sub__(self, other):
        return _subtract.bind(self, other)

    def __rsub__(self, other):
        return _subtract.bind(other, self)

    def __mul__(self, other):
        return _multiply.bind(self, other)

    def __rmul__(self, other):
        return _multiply.bind(other, self)

    def __truediv__(self, other):
        return _divide.bind(self, other)

    def __rtruediv__(self, other):
        return _divide.bind(other, self)

    def __floordiv__(self, other):
        return _wnp().floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _wnp().floor_divide(other, self)

    def __mod__(self, other):
        return _wnp().mod(self, other)

    def __rmod__(self, other):
        return _wnp().mod(other, self)

    def __pow__(self, other):
        return _power.bind(self, other)

    def __rpow__(self, other):
        return _power.bind(other, self)

    def __matmul__(self, other):
        return _wnp().matmul(self, other)

    def __rmatmul__(self, other):
        return _wnp().matmul(other, self)

    def __neg__(self):
        return _negative.bind(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _wnp().abs(self)

    def __eq__(self, other):
        return _wnp().equal(self, other)

    def __ne__(self, other):
        return _wnp().not_equal(self, other)

    def __lt__(self, other):
        return _wnp().less(self, other)

    def __le__(self, other):
        return _wnp().less_equal(self, other)

    def __gt__(self, other):
        return _wnp().greater(self, other)

    def __ge__(self, other):
        return _wnp().greater_equal(self, other)

    def __and__(self, other):
        return _wnp().bitwise_and(self, other)

    def __or__(self, other):
        return _wnp().bitwise_or(self, other)

    def __xor__(self, other):
        return _wnp().bitwise_xor(self, other)

    def __invert__(self):
        return _wnp().invert(self)

    __hash__ = object.__hash__

    def __getitem__(self, idx):
        return _wnp().getitem(self, idx)

    # Methods --------------------------------------------------------------------------
    def sum(self, axis=None, dtype=None, keepdims=False):
        return _wnp().sum(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, keepdims=False):
        return _wnp().mean(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def var(self, axis=None, dtype=None, ddof=0, keepdims=False):
        return _wnp().var(self, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)

    def std(self, axis=None, dtype=None, ddof=0, keepdims=False):
        return _wnp().std(self, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, keepdims=False):
        return _wnp().prod(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return _wnp().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _wnp().min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _wnp().argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _wnp().argmin(self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis=None, dtype=None):
        return _wnp().cumsum(self, axis=axis, dtype=dtype)

    def cumprod(self, axis=None, dtype=None):
        return _wnp().cumprod(self, axis=axis, dtype=dtype)

    def all(self, axis=None, keepdims=False):
        return _wnp().all(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return _wnp().any(self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape, order="C"):
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return _wnp().reshape(self, shape, order=order)

    def transpose(self, *axes):
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = axes[0]
        return _wnp().transpose(self, axes or None)

    def swapaxes(self, axis1, axis2):
        return _wnp().swapaxes(self, axis1, axis2)

    def ravel(self, order="C"):
        return _wnp().ravel(self, order=order)

    def flatten(self, order="C"):
        return _wnp().ravel(self, order=order)

    def squeeze(self, axis=None):
        return _wnp().squeeze(self, axis=axis)

    def copy(self):
        return _wnp().copy(self)

    def astype(self, dtype):
        return _wnp().astype(self, dtype)

    def conj(self):
        return _wnp().conj(self)

    conjugate = conj

    def dot(self, other):
        return _wnp().dot(self, other)

    def clip(self, min=None, max=None):  # noqa: A002
        return _wnp().clip(self, min, max)

    def round(self, decimals=0):
        return _wnp().round(self, decimals=decimals)

    def trace(self, offset=0, axis1=0, axis2=1):
        return _wnp().trace(self, offset=offset, axis1=axis1, axis2=axis2)

    def diagonal(self, offset=0, axis1=0, axis2=1):
        return _wnp().diagonal(self, offset=offset, axis1=axis1, axis2=axis2)

    def take(self, indices, axis=None):
        return _wnp().take(self, indices, axis=axis)

    def repeat(self, repeats, axis=None):
        return _wnp().repeat(self, repeats, axis=axis)

    def sort(self, axis=-1):
        raise TypeError(
            "sort: traced values are immutable, so the in-place ndarray.sort is not available; "
            "use wengert.numpy.sort(x) instead"
        )

    def argsort(self, axis=-1):
        return _wnp().argsort(self, axis=axis)

    # NumPy interoperation ----------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        wnp = _wnp()
        name = {"absolute": "abs", "conjugate": "conj", "remainder": "mod"}.get(
            ufunc.__name__, ufunc.__name__
        )
        fn = getattr(wnp, name, None)
        if method != "__call__" or fn is None or kwargs:
            raise TypeError(
                f"numpy.{ufunc.__name__}: cannot apply the NumPy ufunc "
                f"{'method ' + method + ' ' if method != '__call__' else ''}"
                f"{'with ' + ', '.join(kwargs) + ' ' if kwargs else ''}to a traced value; "
                "it would drop the derivative. Use the function of the same name in "
                "wengert.numpy instead."
            )
        return fn(*inputs)

    def __array_function__(self, func, types, args, kwargs):
        wnp = _wnp()
        namespace = wnp.linalg if func.__module__ == "numpy.linalg" else wnp
        fn = getattr(namespace, func.__name__, None)
        if fn is None or getattr(fn, "__module__", "").startswith("numpy"):
            raise TypeError(
                f"numpy.{func.__name__}: not supported on traced values; it would drop the "
                "derivative. Use wengert.numpy, which differentiates the functions it lists."
            )
        return fn(*args, **kwargs)


def _bind_prims():
    from . import _elementwise as ew

    return ew.add_p, ew.subtract_p, ew.multiply_p, ew.divide_p, ew.power_p, ew.negative_p


_add, _subtract, _multiply, _divide, _power, _negative = _bind_prims()


def _no_array_conversion(self, dtype=None, copy=None):
    raise TypeError(
        f"numpy.asarray: cannot convert a traced value ({type(self).__name__}) to a NumPy "
        "array inside a transform; the derivative would be lost. Use wengert.numpy "
        "functions on it, or wengert.stop_gradient if a constant is really wanted."
    )


ArrayMethods.__array__ = _no_array_conversion
