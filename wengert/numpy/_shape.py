"""Shape primitives (reshape, transpose, broadcast_to, concatenate, pad) and the NumPy
shape functions composed from them."""

import builtins

import numpy as np

from ..core import Primitive, def_jvp, def_linear, def_vjp, raw_value

reshape_p = Primitive("reshape", np.reshape)
transpose_p = Primitive("transpose", np.transpose)
broadcast_to_p = Primitive("broadcast_to", np.broadcast_to)
concatenate_p = Primitive("concatenate", lambda *xs, axis: np.concatenate(xs, axis=axis))
pad_p = Primitive("pad", np.pad)


def shape(a):
    """`numpy.shape`."""
    return np.shape(raw_value(a))


def ndim(a):
    """`numpy.ndim`."""
    return np.ndim(raw_value(a))


def size(a, axis=None):
    """`numpy.size`."""
    return np.size(raw_value(a), axis)


def _normalize_shape(newshape, old_shape):
    if isinstance(newshape, (int, np.integer)):
        newshape = (int(newshape),)
    newshape = tuple(int(d) for d in newshape)
    if -1 in newshape:
        known = int(np.prod([d for d in newshape if d != -1]))
        total = int(np.prod(old_shape))
        if known == 0 or total % known:
            raise ValueError(f"reshape: cannot reshape array of shape {old_shape} into {newshape}")
        newshape = tuple(total // known if d == -1 else d for d in newshape)
    return newshape


def reshape(a, /, shape=None, *args, order="C", newshape=None):
    """Differentiable `numpy.reshape` (C order)."""
    if newshape is not None:
        shape = newshape
    if args:
        shape = (shape, *args)
    if order != "C":
        raise NotImplementedError("reshape: only order='C' is supported")
    old = np.shape(raw_value(a))
    new = _normalize_shape(shape, old)
    if new == old:
        return a
    return reshape_p.bind(a, shape=new)


def_linear(reshape_p, lambda g, ans, x, shape: reshape(g, np.shape(raw_value(x))))


def transpose(a, axes=None):
    """Differentiable `numpy.transpose`."""
    nd = np.ndim(raw_value(a))
    if axes is None:
        axes = tuple(range(nd))[::-1]
    else:
        axes = tuple(int(ax) % nd if nd else int(ax) for ax in axes)
    if axes == tuple(range(nd)):
        return a
    return transpose_p.bind(a, axes=axes)


def_linear(transpose_p, lambda g, ans, x, axes: transpose(g, tuple(np.argsort(axes))))


def broadcast_to(array, shape):
    """Differentiable `numpy.broadcast_to` (returns a new array, never a view to write)."""
    shape = tuple(shape) if not isinstance(shape, int) else (shape,)
    if np.shape(raw_value(array)) == shape:
        return array
    return broadcast_to_p.bind(array, shape=shape)


def unbroadcast(g, shape):
    """Sum `g` down to `shape`: the reverse of NumPy broadcasting."""
    g_shape = np.shape(raw_value(g))
    if g_shape == shape:
        return g
    lead = len(g_shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, d in enumerate(shape) if d == 1 and g_shape[i + lead] != 1
    )
    if axes:
        g = _reductions.sum(g, axis=axes, keepdims=True)
    return reshape(g, shape)


def_linear(broadcast_to_p, lambda g, ans, x, shape: unbroadcast(g, np.shape(raw_value(x))))


def broadcast_arrays(*args):
    """Differentiable `numpy.broadcast_arrays`."""
    target = np.broadcast_shapes(*(np.shape(raw_value(a)) for a in args))
    return [broadcast_to(a, target) for a in args]


def ravel(a, order="C"):
    """Differentiable `numpy.ravel`."""
    return reshape(a, (-1,), order=order)


def expand_dims(a, axis):
    """Differentiable `numpy.expand_dims`."""
    old = np.shape(raw_value(a))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    nd = len(old) + len(axes)
    axes = sorted(ax % nd for ax in axes)
    new = list(old)
    for ax in axes:
        new.insert(ax, 1)
    return reshape(a, tuple(new))


def squeeze(a, axis=None):
    """Differentiable `numpy.squeeze`."""
    old = np.shape(raw_value(a))
    if axis is None:
        axes = [i for i, d in enumerate(old) if d == 1]
    else:
        axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
        axes = [ax % len(old) for ax in axes]
        for ax in axes:
            if old[ax] != 1:
                raise ValueError(
                    f"squeeze: cannot select an axis to squeeze out which has size not equal "
                    f"to one (axis {ax} of shape {old})"
                )
    return reshape(a, tuple(d for i, d in enumerate(old) if i not in axes))


def moveaxis(a, source, destination):
    """Differentiable `numpy.moveaxis`."""
    nd = np.ndim(raw_value(a))
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    src = [s % nd for s in src]
    dst = [d % nd for d in dst]
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(a, order)


def swapaxes(a, axis1, axis2):
    """Differentiable `numpy.swapaxes`."""
    nd = np.ndim(raw_value(a))
    axes = list(range(nd))
    axes[axis1 % nd], axes[axis2 % nd] = axes[axis2 % nd], axes[axis1 % nd]
    return transpose(a, axes)


def atleast_1d(*arys):
    """Differentiable `numpy.atleast_1d`."""
    out = [a if np.ndim(raw_value(a)) >= 1 else reshape(a, (1,)) for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys):
    """Differentiable `numpy.atleast_2d`."""
    out = []
    for a in arys:
        nd = np.ndim(raw_value(a))
        out.append(a if nd >= 2 else reshape(a, (1,) * (2 - nd) + np.shape(raw_value(a))))
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys):
    """Differentiable `numpy.atleast_3d`: 1-D (N,) becomes (1, N, 1), 2-D (M, N) (M, N, 1)."""
    out = []
    for a in arys:
        s = np.shape(raw_value(a))
        if len(s) == 0:
            a = reshape(a, (1, 1, 1))
        elif len(s) == 1:
            a = reshape(a, (1, s[0], 1))
        elif len(s) == 2:
            a = reshape(a, s + (1,))
        out.append(a)
    return out[0] if len(out) == 1 else out


# ---------------------------------------------------------------------------------------
# Joining and splitting


def concatenate(arrays, axis=0):
    """Differentiable `numpy.concatenate`."""
    arrays = list(arrays)
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    if not arrays:
        raise ValueError("concatenate: need at least one array to concatenate")
    nd = np.ndim(raw_value(arrays[0]))
    if nd == 0:
        raise ValueError("concatenate: zero-dimensional arrays cannot be concatenated")
    return concatenate_p.bind(*arrays, axis=axis % nd)


def _concatenate_jvp(tangents, ans, *args, axis):
    if all(t is None for t in tangents):
        return None
    from ._constructors import zeros_like

    parts = [zeros_like(a, dtype=ans.dtype) if t is None else t for a, t in zip(args, tangents)]
    return concatenate_p.bind(*parts, axis=axis)


class _SliceOfArgument:
    """The VJP of concatenate for each argument: the slice of `g` that argument filled."""

    def __getitem__(self, i):
        def rule(g, ans, *args, axis):
            start = builtins.sum(np.shape(raw_value(a))[axis] for a in args[:i])
            stop = start + np.shape(raw_value(args[i]))[axis]
            index = (slice(None),) * axis + (slice(start, stop),)
            return g[index]

        return rule


concatenate_p.jvp = _concatenate_jvp
concatenate_p.vjps = _SliceOfArgument()


def stack(arrays, axis=0):
    """Differentiable `numpy.stack`."""
    arrays = list(arrays)
    if not arrays:
        raise ValueError("stack: need at least one array to stack")
    nd = np.ndim(raw_value(arrays[0])) + 1
    axis = axis % nd
    return concatenate([expand_dims(a, axis) for a in arrays], axis=axis)


def hstack(tup):
    """Differentiable `numpy.hstack`."""
    arrs = [atleast_1d(a) for a in tup]
    return concatenate(arrs, axis=0 if np.ndim(raw_value(arrs[0])) == 1 else 1)


def vstack(tup):
    """Differentiable `numpy.vstack`."""
    return concatenate([atleast_2d(a) for a in tup], axis=0)


row_stack = vstack


def dstack(tup):
    """Differentiable `numpy.dstack`."""
    return concatenate([atleast_3d(a) for a in tup], axis=2)


def column_stack(tup):
    """Differentiable `numpy.column_stack`."""
    cols = [reshape(a, (-1, 1)) if np.ndim(raw_value(a)) < 2 else a for a in tup]
    return concatenate(cols, axis=1)


def array_split(ary, indices_or_sections, axis=0):
    """Differentiable `numpy.array_split`."""
    n = np.shape(raw_value(ary))[axis]
    if isinstance(indices_or_sections, (int, np.integer)):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("array_split: number of sections must be larger than 0")
        each, extra = divmod(n, sections)
        sizes = [each + 1] * extra + [each] * (sections - extra)
        bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], n]
    nd = np.ndim(raw_value(ary))
    axis = axis % nd
    out = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        start, stop = builtins.min(int(start), n), builtins.min(int(stop), n)
        index = (slice(None),) * axis + (slice(start, builtins.max(start, stop)),)
        out.append(ary[index])
    return out


def split(ary, indices_or_sections, axis=0):
    """Differentiable `numpy.split` (equal sections must divide the axis exactly)."""
    if isinstance(indices_or_sections, (int, np.integer)):
        n = np.shape(raw_value(ary))[axis]
        if n % int(indices_or_sections):
            raise ValueError("split: array split does not result in an equal division")
    return array_split(ary, indices_or_sections, axis)


def hsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, axis=1 if np.ndim(raw_value(ary)) > 1 else 0)


def vsplit(ary, indices_or_sections):
    return split(ary, indices_or_sections, axis=0)


def tile(A, reps):
    """Differentiable `numpy.tile`, as a broadcast and a reshape."""
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    s = np.shape(raw_value(A))
    nd = builtins.max(len(s), len(reps))
    s = (1,) * (nd - len(s)) + s
    reps = (1,) * (nd - len(reps)) + reps
    x = reshape(A, tuple(d for pair in zip((1,) * nd, s) for d in pair))
    x = broadcast_to(x, tuple(d for pair in zip(reps, s) for d in pair))
    return reshape(x, tuple(r * d for r, d in zip(reps, s)))


def repeat(a, repeats, axis=None):
    """Differentiable `numpy.repeat`, as a gather."""
    if axis is None:
        a = ravel(a)
        axis = 0
    n = np.shape(raw_value(a))[axis]
    idx = np.repeat(np.arange(n), raw_value(repeats))
    from ._indexing import take

    return take(a, idx, axis=axis)


def flip(m, axis=None):
    """Differentiable `numpy.flip`."""
    nd = np.ndim(raw_value(m))
    if axis is None:
        axes = range(nd)
    else:
        axes = [axis] if isinstance(axis, (int, np.integer)) else axis
    index = [slice(None)] * nd
    for ax in axes:
        index[ax % nd] = slice(None, None, -1)
    return m[tuple(index)]


def fliplr(m):
    return flip(m, 1)


def flipud(m):
    return flip(m, 0)


def roll(a, shift, axis=None):
    """Differentiable `numpy.roll`, as a gather."""
    from ._indexing import take

    if axis is None:
        return reshape(roll(ravel(a), shift, 0), np.shape(raw_value(a)))
    shifts = (shift,) if isinstance(shift, (int, np.integer)) else tuple(shift)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    out = a
    for s, ax in zip(shifts, axes):
        n = np.shape(raw_value(a))[ax]
        if n:
            out = take(out, (np.arange(n) - int(s)) % n, axis=ax)
    return out


def rot90(m, k=1, axes=(0, 1)):
    """Differentiable `numpy.rot90`."""
    k %= 4
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, axes[0]), axes[1])
    if k == 1:
        return swapaxes(flip(m, axes[1]), axes[0], axes[1])
    return flip(swapaxes(m, axes[0], axes[1]), axes[1])


def _pad_transpose(g, ans, x, pad_width, mode, constant_values):
    x_shape = np.shape(raw_value(x))
    index = tuple(slice(before, before + n) for (before, _), n in zip(pad_width, x_shape))
    return g[index]


def pad(array, pad_width, mode="constant", constant_values=0):
    """Differentiable `numpy.pad` for mode 'constant' (constant values are not
    differentiated), 'edge', 'reflect', 'symmetric' and 'wrap'."""
    nd = np.ndim(raw_value(array))
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (nd, 2))
    widths = tuple((int(b), int(a)) for b, a in widths)
    if mode == "constant":
        return pad_p.bind(array, pad_width=widths, mode="constant",
                          constant_values=raw_value(constant_values))
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise NotImplementedError(f"pad: mode {mode!r} is not supported")
    from ._indexing import take

    out = array
    for axis, (before, after) in enumerate(widths):
        n = np.shape(raw_value(out))[axis]
        idx = np.pad(np.arange(n), (before, after), mode=mode)
        out = take(out, idx, axis=axis)
    return out


def_jvp(pad_p, lambda t, ans, x, **params: pad_p.bind(t, **{**params, "constant_values": 0}))
def_vjp(pad_p, _pad_transpose)


# _reductions builds on this module; imported last, once every name here exists.
from . import _reductions  # noqa: E402

__all__ = [
    "array_split", "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_arrays",
    "broadcast_to", "column_stack", "concatenate", "dstack", "expand_dims", "flip", "fliplr",
    "flipud", "hsplit", "hstack", "moveaxis", "ndim", "pad", "ravel", "repeat", "reshape",
    "roll", "rot90", "row_stack", "shape", "size", "split", "squeeze", "stack", "swapaxes",
    "tile", "transpose", "unbroadcast", "vsplit", "vstack",
]
