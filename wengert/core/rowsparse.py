"""Row-sparse cotangents: the gradient of a gather of rows from a large table.

The cotangent of `table[idx]` (an embedding lookup) is zero except on the gathered rows.
`RowSparse` keeps only those rows and their indices, so a backward pass through a lookup
costs memory proportional to the rows used instead of to the table. It is a value that the
reverse pass produces and the optimisers consume, not a differentiable array: it supports
what accumulating and applying gradients needs (addition, scaling, densifying) and nothing
else; `todense()` gives the ordinary array.

A primitive whose cotangent can be row-sparse registers a second reverse rule for its first
argument with `def_sparse_vjp`; the reverse pass uses it only where a row-sparse gradient
was asked for (see `wengert.transforms.reverse`).
"""

import numpy as np

from .backend import array_module
from .primitive import Tracer

# prim -> rule(g, ans, x, *args, **params) giving the cotangent of argument 0, row-sparse
# where it can be (otherwise the dense cotangent).
sparse_vjps = {}


def def_sparse_vjp(prim, rule):
    """Register `rule(g, ans, *args, **params)`: the cotangent of `prim`'s first argument as
    a `RowSparse` where that is possible (raw arrays, a gather of whole rows), or else the
    dense cotangent that the ordinary rule gives."""
    sparse_vjps[prim] = rule


def _segment_sums(rows, first):
    """Sum consecutive runs of `rows` (sorted by index; `first` marks each run's first row).
    A few repeats are added with `add.at` row by row; many repeats use one `add.reduceat`,
    whose cost is per run rather than per repeat."""
    xp = array_module(rows)
    repeats = ~first
    n_repeats = int(repeats.sum())
    if n_repeats == 0:
        return rows
    n_runs = rows.shape[0] - n_repeats
    if xp is np and 4 * n_repeats > n_runs:
        return np.add.reduceat(rows, np.flatnonzero(first), axis=0)
    run = xp.cumsum(first) - 1
    sums = rows[first]
    xp.add.at(sums, run[repeats], rows[repeats])
    return sums


class RowSparse:
    """A dense array of `shape` that is zero except for `rows` added at leading-axis
    `indices`: `rows[j]` belongs to row `indices[j]`, and repeated indices add up.

    Gradients come in this form from gathers of rows (`x[idx]`, `take(x, idx, axis=0)`,
    `nn.Embedding`) when asked for (`wg.grad(f, sparse=True)`, `Embedding(n, d,
    sparse=True)`). Adding two keeps it sparse (the rows are concatenated); adding a dense
    array gives a dense array; `todense()` and `coalesce()` (unique sorted indices) convert.

    >>> g = RowSparse(np.array([2, 0, 2]), np.ones((3, 4)), (5, 4))
    >>> g.coalesce().indices  # array([0, 2]); the rows of index 2 are summed
    >>> g.todense().sum(axis=1)  # array([4., 0., 8., 0., 0.])
    """

    __slots__ = ("indices", "rows", "shape")
    # NumPy's operators give way to ours, so `dense + sparse` reaches __radd__.
    __array_ufunc__ = None

    def __init__(self, indices, rows, shape):
        xp = array_module(rows)
        shape = tuple(int(d) for d in shape)
        indices = xp.asarray(indices)
        if indices.ndim != 1 or indices.dtype.kind not in "iu":
            raise TypeError(
                "RowSparse: indices must be a 1-d integer array, got "
                f"{indices.ndim}-d {indices.dtype}."
            )
        if not shape or tuple(rows.shape) != (indices.shape[0],) + shape[1:]:
            raise ValueError(
                f"RowSparse: rows have shape {tuple(rows.shape)}, but {indices.shape[0]} rows "
                f"of a {shape} array need shape {(indices.shape[0],) + shape[1:]}."
            )
        if indices.size and (int(indices.min()) < 0 or int(indices.max()) >= shape[0]):
            raise IndexError(
                f"RowSparse: indices must lie in [0, {shape[0]}) for shape {shape}; got "
                f"values from {int(indices.min())} to {int(indices.max())}. Normalise "
                "negative indices first (i % n)."
            )
        self.indices = indices
        self.rows = rows
        self.shape = shape

    @property
    def dtype(self):
        return self.rows.dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def nbytes(self):
        """Bytes held: indices and rows (not the dense size)."""
        return self.indices.nbytes + self.rows.nbytes

    def __repr__(self):
        return (f"RowSparse(shape={self.shape}, dtype={self.dtype}, "
                f"rows={self.indices.shape[0]})")

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "RowSparse: NumPy asked for the dense array. Make it explicitly with .todense() "
            "(it has the full shape, which the row-sparse form exists to avoid)."
        )

    def coalesce(self):
        """The same array with unique, sorted indices (the rows of a repeated index are
        summed)."""
        xp = array_module(self.rows)
        order = xp.argsort(self.indices, kind="stable")
        indices = self.indices[order]
        first = xp.ones(indices.shape, dtype=bool)
        first[1:] = indices[1:] != indices[:-1]
        return RowSparse(indices[first], _segment_sums(self.rows[order], first), self.shape)

    def todense(self):
        """The dense array (a new one)."""
        xp = array_module(self.rows)
        out = xp.zeros(self.shape, dtype=self.dtype)
        unique = self.coalesce()
        out[unique.indices] = unique.rows
        return out

    def astype(self, dtype):
        return RowSparse(self.indices, self.rows.astype(dtype), self.shape)

    def _check_shape(self, other, op):
        if tuple(other.shape) != self.shape:
            raise ValueError(
                f"RowSparse.{op}: shapes {self.shape} and {tuple(other.shape)} differ; "
                "row-sparse gradients add only to arrays of their own shape."
            )

    def __add__(self, other):
        if isinstance(other, RowSparse):
            self._check_shape(other, "__add__")
            xp = array_module(self.rows)
            rows = xp.concatenate([self.rows, other.rows.astype(self.dtype, copy=False)])
            return RowSparse(xp.concatenate([self.indices, other.indices]), rows, self.shape)
        if isinstance(other, Tracer):  # a traced or eager value: add the dense array
            return other + self.todense()
        other = array_module(self.rows).asarray(other)
        self._check_shape(other, "__add__")
        xp = array_module(other)
        out = other.astype(xp.result_type(other, self.rows))  # a copy: never write into other
        unique = self.coalesce()
        out[unique.indices] += unique.rows
        return out

    __radd__ = __add__

    def __neg__(self):
        return RowSparse(self.indices, -self.rows, self.shape)

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def _scalar(self, other, op):
        if isinstance(other, Tracer) or np.ndim(other) != 0:
            raise TypeError(
                f"RowSparse.{op}: only a scalar can scale a row-sparse gradient, got "
                f"{type(other).__name__} of shape {np.shape(other)}. Call .todense() first "
                "for elementwise arithmetic with an array."
            )
        return other

    def __mul__(self, other):
        return RowSparse(self.indices, self.rows * self._scalar(other, "__mul__"), self.shape)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return RowSparse(self.indices, self.rows / self._scalar(other, "__truediv__"),
                         self.shape)
