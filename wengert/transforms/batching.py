"""Batching: `vmap` maps a function over a leading axis of its inputs, by running it once on
batch tracers. Each primitive's batching rule (`prim.batch`, in `wengert.numpy._batching`)
turns one operation on examples into one operation on the whole batch, so the loop runs
inside NumPy. A batch tracer's primal carries the batch on axis 0; `raw_value` of it gives a
ShapedArray with the per-example shape, so shape logic written for one example holds."""

import functools

import numpy as np

from .. import numpy as wnp
from ..core import ShapedArray, Trace, Tracer, raw_value, tree_flatten, tree_unflatten
from ..numpy._array_methods import ArrayMethods


class BatchingError(NotImplementedError):
    pass


class BatchTracer(Tracer, ArrayMethods):
    __slots__ = ()
    _hides_shape = True

    def __init__(self, trace, primal):
        self._trace = trace
        self.primal = primal

    def shaped(self):
        inner = raw_value(self.primal)
        return ShapedArray(np.shape(inner)[1:], inner.dtype)

    def __repr__(self):
        return f"BatchTracer(batch of {self._trace.axis_size}, {self.shaped()})"


class BatchTrace(Trace):
    __slots__ = ("axis_size",)

    def __init__(self, axis_size):
        super().__init__()
        self.axis_size = axis_size

    def process(self, prim, args, params):
        vals = []
        batched = []
        for a in args:
            if isinstance(a, BatchTracer) and a._trace is self:
                vals.append(a.primal)
                batched.append(True)
            else:
                vals.append(a)
                batched.append(False)
        if prim.batch is None:
            raise BatchingError(
                f"vmap: {prim.name} has no batching rule, so it cannot run under vmap (or "
                "jacfwd/jacrev/hessian's vectorised path); map it with a Python loop instead."
            )
        out = prim.batch(prim, vals, tuple(batched), **params)
        if prim.multiple_results:
            return tuple(BatchTracer(self, o) for o in out)
        return BatchTracer(self, out)

    # Operations without derivatives are batched all the same.
    process_constant = process


def _moveaxis(x, source, destination):
    return x if source == destination else wnp.moveaxis(x, source, destination)


def _broadcast_batch(x, size):
    return wnp.broadcast_to(wnp.expand_dims(x, 0), (size,) + np.shape(raw_value(x)))


def _flat_axes(axes, tree, name):
    """Expand `in_axes`/`out_axes` (an int/None, or a tuple with one entry per argument,
    each an int/None or a pytree prefix) to one entry per leaf."""
    if axes is None or isinstance(axes, int):
        return [axes] * tree.num_leaves
    if not isinstance(axes, (tuple, list)) or len(axes) != len(tree.children):
        raise ValueError(
            f"vmap: {name} must be an int, None, or a tuple with one entry per argument "
            f"({len(tree.children)}), got {axes!r}"
        )
    out = []
    for a, child in zip(axes, tree.children):
        if a is None or isinstance(a, int):
            out.extend([a] * child.num_leaves)
        else:
            leaves, sub = tree_flatten(a, is_leaf=lambda v: v is None)
            if sub.num_leaves != child.num_leaves:
                raise ValueError(f"vmap: {name} entry {a!r} does not match its argument")
            out.extend(leaves)
    return out


def vmap(f, in_axes=0, out_axes=0):
    """Vectorise `f` over an axis of its inputs: `vmap(f)(xs)` equals
    `stack([f(x) for x in xs])`, computed as one batched evaluation.

    `in_axes`: which axis of each positional argument is mapped (None: not mapped); an int
    applies to every argument, a tuple gives one entry per argument. `out_axes`: where the
    mapped axis goes in the outputs. vmap composes with every transform (grad of vmap, vmap
    of grad, ...).

    >>> vmap(lambda x, w: wnp.dot(w, x), in_axes=(0, None))(xs, w)  # one dot per row
    """

    @functools.wraps(f)
    def vmapped(*args):
        flat, in_tree = tree_flatten(args)
        axes = _flat_axes(in_axes, in_tree, "in_axes")
        sizes = {np.shape(raw_value(x))[ax] for x, ax in zip(flat, axes) if ax is not None}
        if not sizes:
            raise ValueError("vmap: in_axes maps no argument; at least one axis must be mapped")
        if len(sizes) > 1:
            raise ValueError(
                f"vmap: the mapped axes of the arguments have different sizes {sorted(sizes)}"
            )
        (size,) = sizes
        with BatchTrace(size) as trace:
            ins = [
                x if ax is None else BatchTracer(trace, _moveaxis(x, ax, 0))
                for x, ax in zip(flat, axes)
            ]
            out = f(*tree_unflatten(in_tree, ins))
        out_flat, out_tree = tree_flatten(out)
        o_axes = _flat_axes(out_axes, out_tree, "out_axes") if not isinstance(
            out_axes, int) else [out_axes] * len(out_flat)
        results = []
        for o, ax in zip(out_flat, o_axes):
            value = o.primal if isinstance(o, BatchTracer) and o._trace is trace else (
                _broadcast_batch(o, size))
            if ax is None:
                raise ValueError("vmap: out_axes=None is only valid for unbatched outputs")
            results.append(_moveaxis(value, 0, ax % np.ndim(raw_value(value))))
        return tree_unflatten(out_tree, results)

    return vmapped
