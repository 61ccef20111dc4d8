"""Indexing: `x[idx]`, gathers (take, take_along_axis), sorting, and immutable indexed
updates `x.at[idx].set / add / multiply / min / max`. Repeated indices accumulate in the
gradient, as in NumPy's `add.at`. A gather of whole rows by an integer array (`x[idx]`,
`take(x, idx, axis=0)`) can give its table a row-sparse cotangent (`RowSparse`) where one is
asked for."""

import numpy as np

from ..core import Primitive, Tracer, def_jvp, def_linear, def_vjp, raw_value
from ..core.backend import array_module
from ..core.rowsparse import RowSparse, def_sparse_vjp
from ._shape import reshape, unbroadcast


def _static_index(idx):
    """Index components carry no derivative: strip tracers off integer/boolean arrays."""
    if isinstance(idx, tuple):
        return tuple(_static_index(i) for i in idx)
    if isinstance(idx, list):
        idx = np.asarray([raw_value(i) for i in idx])
    idx = raw_value(idx)
    if isinstance(idx, np.ndarray) and idx.dtype.kind == "f":
        raise IndexError(
            "getitem: arrays used as indices must be of integer (or boolean) type, "
            f"got {idx.dtype}"
        )
    return idx


def _is_basic(idx):
    """Slices, integers, None and Ellipsis only: each element is selected at most once."""
    parts = idx if isinstance(idx, tuple) else (idx,)
    return all(
        isinstance(p, (slice, int, np.integer, type(None), type(Ellipsis))) for p in parts
    )


def _index_add_impl(x, y, idx):
    out = x.copy()
    if _is_basic(idx):
        out[idx] += y  # no repeated elements: plain (fast) indexed addition
    else:
        np.add.at(out, idx, y)  # repeated indices accumulate
    return out


def _scatter_impl(g, idx, shape):
    out = np.zeros(shape, dtype=g.dtype) if type(g) is np.ndarray else (
        array_module(g).zeros(shape, dtype=g.dtype))
    if _is_basic(idx):
        out[idx] = g
    else:
        np.add.at(out, idx, g)
    return out


# The library never writes into an array it did not just create, so a basic index may
# return a view.
getitem_p = Primitive("getitem", lambda x, idx: x[idx])
index_add_p = Primitive("index_add", _index_add_impl)
# scatter(g) = zeros(shape) with g added at idx: the transpose of getitem, in one allocation.
scatter_p = Primitive("scatter", _scatter_impl)
index_set_p = Primitive("index_set", lambda x, y, idx: _index_set(x, idx, y))


def _index_set(x, idx, y):
    out = x.copy()
    out[idx] = y
    return out


def getitem(x, idx):
    """`x[idx]` for basic and advanced indices."""
    return getitem_p.bind(x, idx=_static_index(idx))


def _getitem_transpose(g, ans, x, idx):
    return scatter_p.bind(g, idx=idx, shape=np.shape(raw_value(x)))


def _leading_rows(idx):
    """The integer index array of `idx` when it picks whole rows along axis 0 (`x[ind]`,
    `x[ind, :]`, `x[ind, ...]`), else None."""
    first, rest = (idx[0], idx[1:]) if isinstance(idx, tuple) and idx else (idx, ())
    if not (isinstance(first, np.ndarray) and first.dtype.kind in "iu"):
        return None
    if all(r is Ellipsis or (isinstance(r, slice) and r == slice(None)) for r in rest):
        return first
    return None


def _getitem_row_sparse_vjp(g, ans, x, idx):
    """getitem's cotangent for x as a RowSparse when idx gathers whole rows with an integer
    array and the values are raw arrays (a first derivative); otherwise the dense one."""
    ind = _leading_rows(idx)
    if ind is None or isinstance(g, Tracer) or isinstance(x, Tracer):
        return _getitem_transpose(g, ans, x, idx)
    shape = np.shape(x)
    ind = ind.ravel().astype(np.intp, copy=False)
    if ind.size and ind.min() < 0:
        ind = np.where(ind < 0, ind + shape[0], ind)
    rows = g.reshape((ind.size,) + shape[1:]).astype(x.dtype, copy=False)
    return RowSparse(ind, rows, shape)


def_linear(getitem_p, _getitem_transpose)
def_sparse_vjp(getitem_p, _getitem_row_sparse_vjp)
def_linear(scatter_p, lambda g, ans, x, idx, shape: getitem(g, idx))

# index_add is linear in both x and y; index_set is linear in (x, y) jointly.
def_jvp(
    index_add_p,
    lambda t, ans, x, y, idx: t,
    lambda t, ans, x, y, idx: index_add_p.bind(_zeros_of(ans), t, idx=idx),
)
def_vjp(
    index_add_p,
    lambda g, ans, x, y, idx: g,
    lambda g, ans, x, y, idx: unbroadcast(getitem(g, idx), np.shape(raw_value(y))),
)
def_jvp(
    index_set_p,
    lambda t, ans, x, y, idx: index_set_p.bind(t, 0, idx=idx),
    lambda t, ans, x, y, idx: index_set_p.bind(_zeros_of(ans), t, idx=idx),
)
def_vjp(
    index_set_p,
    lambda g, ans, x, y, idx: index_set_p.bind(g, 0, idx=idx),
    lambda g, ans, x, y, idx: unbroadcast(getitem(g, idx), np.shape(raw_value(y))),
)


def _zeros_of(ans):
    from ._constructors import zeros_like

    return zeros_like(ans)


class _IndexUpdateRef:
    __slots__ = ("array", "index")

    def __init__(self, array, index):
        self.array = array
        self.index = _static_index(index)

    def get(self):
        """`x[idx]`."""
        return getitem_p.bind(self.array, idx=self.index)

    def set(self, values):
        """A copy of x with x[idx] = values."""
        return index_set_p.bind(self.array, values, idx=self.index)

    def add(self, values):
        """A copy of x with values added at idx; repeated indices accumulate."""
        return index_add_p.bind(self.array, values, idx=self.index)

    def subtract(self, values):
        return self.add(-values)

    def multiply(self, values):
        """A copy of x with x[idx] multiplied by values (repeated indices: the last wins)."""
        return self.set(self.get() * values)

    def divide(self, values):
        return self.set(self.get() / values)

    def power(self, values):
        return self.set(self.get() ** values)

    def min(self, values):
        from ._elementwise import minimum

        return self.set(minimum(self.get(), values))

    def max(self, values):
        from ._elementwise import maximum

        return self.set(maximum(self.get(), values))


class IndexUpdateHelper:
    """`x.at[idx]`: immutable indexed updates, as in JAX."""

    __slots__ = ("array",)

    def __init__(self, array):
        self.array = array

    def __getitem__(self, index):
        return _IndexUpdateRef(self.array, index)


def at(x):
    """`wnp.at(x)[idx].set(v)` / `.add(v)` / ...: immutable indexed updates for any array.
    Traced values and Tensors also have `x.at[idx]`; a plain NumPy array does not, so code
    that must also run on plain arrays (e.g. under check_grads) uses this form."""
    return IndexUpdateHelper(x)


def take(a, indices, axis=None, mode=None):
    """Differentiable `numpy.take` (mode 'raise', 'wrap' or 'clip'). The indices may be
    traced (under jit or vmap): they are then an argument of a gather, not a constant."""
    if axis is None:
        a = reshape(a, (-1,))
        axis = 0
    nd = np.ndim(raw_value(a))
    axis %= nd
    n = np.shape(raw_value(a))[axis]
    if isinstance(indices, Tracer):
        if mode == "wrap":
            indices = indices % n
        elif mode == "clip":
            from ._elementwise import clip

            indices = clip(indices, 0, n - 1)
        return _take_traced(a, indices, axis)
    indices = np.asarray(raw_value(indices))
    if mode == "wrap":
        indices = indices % n
    elif mode == "clip":
        indices = np.clip(indices, 0, n - 1)
    return getitem(a, (slice(None),) * axis + (indices,))


def _take_traced(a, indices, axis):
    """take as take_along_axis: `a` gets k - 1 unit axes before `axis` and the k-dimensional
    indices get unit axes for a's other axes, so broadcasting yields a's shape with the
    indices' shape in place of `axis`."""
    shape = np.shape(raw_value(a))
    ind_shape = np.shape(raw_value(indices))
    k = len(ind_shape)
    if k == 0:
        return take_along_axis(a, reshape(indices, (1,) * len(shape)), axis).squeeze(axis)
    before, after = shape[:axis], shape[axis + 1:]
    a_wide = reshape(a, before + (1,) * (k - 1) + (shape[axis],) + after)
    ind_wide = reshape(indices, (1,) * len(before) + ind_shape + (1,) * len(after))
    return take_along_axis(a_wide, ind_wide, axis + k - 1)


def _along_axis_index(indices, axis, shape):
    """The advanced index that picks `indices` along `axis` and everything along the other
    axes (an open mesh, so it broadcasts like NumPy's take_along_axis)."""
    nd = len(shape)
    return tuple(
        indices if ax == axis else np.arange(shape[ax]).reshape(
            [shape[ax] if k == ax else 1 for k in range(nd)])
        for ax in range(nd)
    )


def _scatter_along_axis_impl(g, indices, axis, shape):
    out = array_module(g).zeros(shape, dtype=g.dtype)
    np.add.at(out, _along_axis_index(indices, axis, shape), g)
    return out


# The indices are an argument (not a static parameter) so that they may be batched by vmap,
# as sort's are; they carry no derivative.
take_along_axis_p = Primitive(
    "take_along_axis", lambda arr, indices, axis: np.take_along_axis(arr, indices, axis)
)
scatter_along_axis_p = Primitive("scatter_along_axis", _scatter_along_axis_impl)
def_jvp(take_along_axis_p, lambda t, ans, arr, ind, axis: take_along_axis_p.bind(t, ind, axis=axis))
def_vjp(
    take_along_axis_p,
    lambda g, ans, arr, ind, axis: scatter_along_axis_p.bind(
        g, ind, axis=axis, shape=np.shape(raw_value(arr))),
    None,
)
def_jvp(
    scatter_along_axis_p,
    lambda t, ans, g, ind, axis, shape: scatter_along_axis_p.bind(t, ind, axis=axis, shape=shape),
)
def_vjp(
    scatter_along_axis_p,
    lambda ct, ans, g, ind, axis, shape: take_along_axis_p.bind(ct, ind, axis=axis),
    None,
)


def take_along_axis(arr, indices, axis):
    """Differentiable `numpy.take_along_axis` (repeated indices accumulate in the
    gradient)."""
    if axis is None:
        return take(arr, np.asarray(raw_value(indices)).ravel())
    if not hasattr(raw_value(indices), "dtype"):
        indices = np.asarray(indices)
    nd = np.ndim(raw_value(arr))
    if np.ndim(raw_value(indices)) != nd:
        raise ValueError(
            "take_along_axis: indices and arr must have the same number of dimensions, got "
            f"{np.ndim(raw_value(indices))} and {nd}"
        )
    if raw_value(indices).dtype.kind not in "iu":
        raise IndexError("take_along_axis: indices must be integers")
    return take_along_axis_p.bind(arr, indices, axis=int(axis) % nd)


def put_along_axis_add(arr, indices, values, axis):
    """A copy of `arr` with `values` added at `indices` along `axis` (differentiable)."""
    shape = np.shape(raw_value(arr))
    index = _along_axis_index(np.asarray(raw_value(indices)), axis % len(shape), shape)
    return index_add_p.bind(arr, values, idx=index)


_argsort_p = Primitive("argsort", np.argsort, differentiable=False)
_searchsorted_p = Primitive("searchsorted", np.searchsorted, differentiable=False)


def argsort(a, axis=-1, kind=None, stable=None):
    """`numpy.argsort` (indices carry no derivative)."""
    return _argsort_p.bind(a, axis=axis, kind=kind or ("stable" if stable else None))


def sort(a, axis=-1, kind=None, stable=None):
    """Differentiable `numpy.sort`: a gather by `argsort`, so the derivative follows each
    element to its sorted place."""
    if axis is None:
        a = reshape(a, (-1,))
        axis = -1
    return take_along_axis(a, argsort(a, axis=axis, kind=kind, stable=stable), axis)


def searchsorted(a, v, side="left", sorter=None):
    """`numpy.searchsorted` (indices carry no derivative)."""
    return _searchsorted_p.bind(a, v, side=side, sorter=sorter)


__all__ = [
    "IndexUpdateHelper",
    "at", "argsort", "getitem", "put_along_axis_add", "reshape", "searchsorted",
    "sort", "take", "take_along_axis", "unbroadcast",
]
