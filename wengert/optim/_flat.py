"""Pytrees and parameter lists as one flat vector, for the second-order optimisers, which do
their linear algebra on a single vector."""

import numpy as np

from ..core import tree_flatten, tree_unflatten
from ..core.rowsparse import RowSparse
from ..tensor import Tensor, no_grad


def ravel_pytree(tree):
    """(flat vector of all leaves, function that rebuilds the tree from such a vector); each
    leaf keeps its shape and dtype on the way back. The function also takes a stack of
    vectors, shaped (..., size), and gives leaves shaped (..., *leaf shape)."""
    leaves, treedef = tree_flatten(tree)
    leaves = [np.asarray(x.primal if isinstance(x, Tensor) else x) for x in leaves]
    shapes = [x.shape for x in leaves]
    dtypes = [x.dtype for x in leaves]
    flat = np.concatenate([x.ravel() for x in leaves]) if leaves else np.zeros(0)
    ends = np.cumsum([x.size for x in leaves]).tolist()

    def unravel(vector):
        # Slicing and reshaping only, so that this also runs on tracers (inside wg.hvp).
        out = []
        batch = tuple(vector.shape[:-1])
        for start, end, shape, dtype in zip([0] + ends, ends, shapes, dtypes):
            piece = vector[..., start:end].reshape(batch + shape)
            out.append(piece if piece.dtype == dtype else piece.astype(dtype))
        return tree_unflatten(treedef, out)

    return flat, unravel


def get_flat_params(params):
    """The values of a list of Parameters as one vector."""
    return ravel_pytree(list(params))[0]


def set_flat_params(params, vector):
    """Copy consecutive pieces of `vector` into a list of Parameters (in place, untracked)."""
    offset = 0
    with no_grad():
        for p in params:
            n = p.primal.size
            p.copy_(vector[offset:offset + n].reshape(p.primal.shape))
            offset += n


def get_flat_grad(params):
    """The `.grad` of a list of Parameters as one vector (zeros where a grad is None;
    row-sparse gradients densified)."""
    return np.concatenate([_dense_grad(p).ravel() for p in params])


def _dense_grad(p):
    if p.grad is None:
        return np.zeros_like(p.primal)
    if type(p.grad) is RowSparse:
        return p.grad.todense()
    return np.asarray(p.grad.primal)
