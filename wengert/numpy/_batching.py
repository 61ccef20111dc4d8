"""The batching table: one rule per primitive for `vmap`, in declaration order by module.

A rule is `rule(prim, args, batched, **params)`: `args` are the values one level below the
vmap, `batched[i]` says whether args[i] carries the batch on axis 0, and the result carries
the batch on axis 0. Elementwise primitives get `batch_elementwise` where their rules are
declared; this table covers the rest.
"""

import numpy as np

from ..core import batch_elementwise
from . import _constructors as constructors
from . import _elementwise as ew
from . import _indexing as indexing
from . import _products as products
from . import _reductions as reductions
from . import _shape as shape_ops
from . import linalg


def _batch_size(args, batched):
    return next(np.shape(a)[0] for a, b in zip(args, batched) if b)


def _with_batch(x, size):
    """An unbatched value repeated along a new leading batch axis."""
    return shape_ops.broadcast_to(shape_ops.expand_dims(x, 0), (size,) + np.shape(x))


def _all_batched(args, batched):
    size = _batch_size(args, batched)
    return [a if b else _with_batch(a, size) for a, b in zip(args, batched)]


def _per_example_ndim(x):
    return np.ndim(x) - 1


def _shift_axes(axis, nd):
    """Per-example `axis` (None, int or tuple; None meaning all) in batched coordinates."""
    if axis is None:
        return tuple(range(1, nd + 1))
    if isinstance(axis, (tuple, list)):
        return tuple(int(a) % nd + 1 for a in axis) if nd else ()
    return int(axis) % nd + 1 if nd else 0


# ---------------------------------------------------------------------------------------
# Elementwise primitives declared without def_elementwise.

for _prim in (
    ew.negative_p, ew.positive_p, ew.real_p, ew.imag_p, ew.conj_p, ew.abs_p, ew.deg2rad_p,
    ew.rad2deg_p, ew.floor_divide_p, ew._round_p, ew._isclose_p,
    constructors.astype_p, constructors._astype_discrete_p,
):  # fmt: skip
    _prim.batch = batch_elementwise


def _unbatchable(prim, args, batched, **params):
    raise NotImplementedError(
        f"vmap: {prim.name} has an output whose shape depends on the values, so it cannot be "
        "batched; use wengert.numpy.where with a fixed shape instead."
    )


ew._nonzero_p.batch = _unbatchable


# ---------------------------------------------------------------------------------------
# Reductions


def batch_reduction(prim, args, batched, axis, **params):
    (x,) = args
    return prim.bind(x, axis=_shift_axes(axis, _per_example_ndim(x)), **params)


def _reduce_flat_or_axis(prim, args, batched, axis, keepdims=False, **params):
    """argmax/argmin/argsort: axis None means the flattened example."""
    (x,) = args
    if axis is None:
        nd = _per_example_ndim(x)
        out = prim.bind(shape_ops.reshape(x, (np.shape(x)[0], -1)), axis=1, **params,
                        **({"keepdims": keepdims} if prim is not indexing._argsort_p else {}))
        if keepdims:
            out = shape_ops.reshape(out, (np.shape(x)[0],) + (1,) * nd)
        return out
    extra = {} if prim is indexing._argsort_p else {"keepdims": keepdims}
    return prim.bind(x, axis=_shift_axes(axis, _per_example_ndim(x)), **params, **extra)


for _prim in (reductions.sum_p, reductions.amax_p, reductions.amin_p, reductions.cumsum_p,
              reductions.cumprod_p, reductions._all_p, reductions._any_p,
              reductions._count_nonzero_p):
    _prim.batch = batch_reduction
for _prim in (reductions._argmax_p, reductions._argmin_p, indexing._argsort_p):
    _prim.batch = _reduce_flat_or_axis
# The product along the last axis is the same rule for a batch.
reductions._prod_last_p.batch = lambda prim, args, batched: prim.bind(*args)


# ---------------------------------------------------------------------------------------
# Shapes


def _reshape(prim, args, batched, shape):
    (x,) = args
    return prim.bind(x, shape=(np.shape(x)[0],) + tuple(shape))


def _transpose(prim, args, batched, axes):
    (x,) = args
    return prim.bind(x, axes=(0,) + tuple(a + 1 for a in axes))


def _broadcast_to(prim, args, batched, shape):
    (x,) = args
    size, rest = np.shape(x)[0], np.shape(x)[1:]
    x = shape_ops.reshape(x, (size,) + (1,) * (len(shape) - len(rest)) + rest)
    return prim.bind(x, shape=(size,) + tuple(shape))


def _concatenate(prim, args, batched, axis):
    return prim.bind(*_all_batched(args, batched), axis=axis + 1)


def _pad(prim, args, batched, pad_width, **params):
    (x,) = args
    return prim.bind(x, pad_width=((0, 0),) + tuple(pad_width), **params)


shape_ops.reshape_p.batch = _reshape
shape_ops.transpose_p.batch = _transpose
shape_ops.broadcast_to_p.batch = _broadcast_to
shape_ops.concatenate_p.batch = _concatenate
shape_ops.pad_p.batch = _pad


# ---------------------------------------------------------------------------------------
# Indexing. The batch axis is a leading full slice; NumPy moves the axes of non-adjacent
# advanced indices to the front, so the batch axis then sits after them.


def _batched_index(idx):
    parts = idx if isinstance(idx, tuple) else (idx,)
    is_advanced = [isinstance(p, (np.ndarray, list)) for p in parts]
    positions = [i for i, a in enumerate(is_advanced) if a]
    split = bool(positions) and positions[-1] - positions[0] + 1 != len(positions)
    adv_ndim = (
        np.broadcast(*[np.asarray(parts[i]) for i in positions]).ndim if split else 0
    )
    # A boolean array index counts its dimensions, each becoming one advanced axis.
    if split and any(np.asarray(parts[i]).dtype == bool for i in positions):
        adv_ndim = 1
    return (slice(None),) + parts, adv_ndim


def _getitem(prim, args, batched, idx):
    (x,) = args
    new_idx, batch_at = _batched_index(idx)
    out = prim.bind(x, idx=new_idx)
    return shape_ops.moveaxis(out, batch_at, 0) if batch_at else out


def _scatter(prim, args, batched, idx, shape):
    (g,) = args
    new_idx, batch_at = _batched_index(idx)
    g = shape_ops.moveaxis(g, 0, batch_at) if batch_at else g
    return prim.bind(g, idx=new_idx, shape=(np.shape(g)[batch_at],) + tuple(shape))


def _index_update(prim, args, batched, idx):
    x, y = args
    size = _batch_size(args, batched)
    x = x if batched[0] else _with_batch(x, size)
    new_idx, batch_at = _batched_index(idx)
    if batched[1]:
        # Line y's batch axis up with the batch axis of x[new_idx].
        selected_ndim = np.ndim(np.empty(np.shape(x), dtype=bool)[new_idx])
        rest = np.shape(y)[1:]
        y = shape_ops.reshape(y, (size,) + (1,) * (selected_ndim - 1 - len(rest)) + rest)
        y = shape_ops.moveaxis(y, 0, batch_at) if batch_at else y
    return prim.bind(x, y, idx=new_idx)


indexing.getitem_p.batch = _getitem
indexing.scatter_p.batch = _scatter
indexing.index_add_p.batch = _index_update
indexing.index_set_p.batch = _index_update


def _searchsorted(prim, args, batched, **params):
    if batched[0]:
        raise NotImplementedError(
            "vmap: searchsorted over a batch of sorted arrays is not supported; batch the "
            "values to search for instead."
        )
    return prim.bind(*args, **params)


indexing._searchsorted_p.batch = _searchsorted


# ---------------------------------------------------------------------------------------
# Products


def _matmul(prim, args, batched):
    """Give each operand explicit matrix axes (a 1-D example becomes a row or a column),
    pad the batched one's leading axes so the batch axes line up, multiply, and drop the
    added matrix axes."""
    x, y = args
    x_nd = np.ndim(x) - batched[0]
    y_nd = np.ndim(y) - batched[1]
    squeeze = []
    if x_nd == 1:
        x = shape_ops.expand_dims(x, -2)
        squeeze.append(-2)
        x_nd = 2
    if y_nd == 1:
        y = shape_ops.expand_dims(y, -1)
        squeeze.append(-1)
        y_nd = 2
    lead = max(x_nd, y_nd) - 2
    if batched[0]:
        x = shape_ops.reshape(x, np.shape(x)[:1] + (1,) * (lead - (x_nd - 2)) + np.shape(x)[1:])
    if batched[1]:
        y = shape_ops.reshape(y, np.shape(y)[:1] + (1,) * (lead - (y_nd - 2)) + np.shape(y)[1:])
    out = prim.bind(x, y)
    return shape_ops.squeeze(out, tuple(squeeze)) if squeeze else out


def _einsum(prim, args, batched, in_labels, out_labels, **params):
    new = 1 + max([max(labels, default=-1) for labels in in_labels] + [-1])
    in_labels = tuple(
        (new,) + tuple(lab) if b else tuple(lab) for lab, b in zip(in_labels, batched)
    )
    return prim.bind(*args, in_labels=in_labels, out_labels=(new,) + tuple(out_labels), **params)


products.matmul_p.batch = _matmul
products.einsum_p.batch = _einsum


# ---------------------------------------------------------------------------------------
# Linear algebra: NumPy's routines already work on stacks of matrices over leading axes.


def _stacked(prim, args, batched, **params):
    return prim.bind(*_all_batched(args, batched), **params)


def _solve(prim, args, batched):
    a, b = args
    b_is_vector = np.ndim(b) - batched[1] == 1
    if b_is_vector and batched[1]:  # a stack of vectors: solve them as (n, 1) matrices
        return shape_ops.squeeze(prim.bind(a, shape_ops.expand_dims(b, -1)), -1)
    return prim.bind(a, b)


for _prim in (linalg.inv_p, linalg.det_p, linalg.slogdet_p, linalg.cholesky_p, linalg.eigh_p,
              linalg.qr_p, linalg.svd_p, linalg.pinv_p):
    _prim.batch = _stacked
linalg.solve_p.batch = _solve


def _along_axis(prim, args, batched, axis, **params):
    if "shape" in params:
        params["shape"] = (_batch_size(args, batched),) + tuple(params["shape"])
    return prim.bind(*_all_batched(args, batched), axis=axis + 1, **params)


indexing.take_along_axis_p.batch = _along_axis
indexing.scatter_along_axis_p.batch = _along_axis
