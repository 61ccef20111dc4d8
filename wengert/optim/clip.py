"""Gradient clipping by the global norm, functional and eager (the same formula as PyTorch:
scale by min(1, max_norm / (norm + 1e-6)))."""

import math

from .. import numpy as wnp
from ..core import tree_leaves, tree_map
from ..core.rowsparse import RowSparse
from ..tensor import Tensor, no_grad


def _values(x):
    """The entries of a leaf that count for a norm: a RowSparse's summed rows."""
    return x.coalesce().rows if type(x) is RowSparse else x


def global_norm(tree, norm_type=2.0):
    """The `norm_type`-norm of all the leaves of a pytree taken as one vector (differentiable;
    row-sparse leaves count by their rows)."""
    leaves = [wnp.abs(_values(x)) for x in tree_leaves(tree)]
    if not leaves:
        raise ValueError("global_norm: the tree has no leaves, so it has no norm.")
    if norm_type == math.inf:
        return wnp.max(wnp.stack([wnp.max(x) for x in leaves]))
    total = sum(wnp.sum(x ** norm_type) for x in leaves)
    return total ** (1.0 / norm_type)


def _clip_coef(norm, max_norm):
    return wnp.minimum(max_norm / (norm + 1e-6), 1.0)


def clip_by_global_norm(grads, max_norm, norm_type=2.0):
    """Scale the pytree `grads` so that its global norm is at most `max_norm` (unchanged when
    already smaller). Pure and differentiable; returns the clipped pytree."""
    coef = _clip_coef(global_norm(grads, norm_type), max_norm)
    return tree_map(lambda g: g * coef, grads)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale, in place, the `.grad` of `parameters` (an iterable of tensors, or one tensor) so
    that their global norm is at most `max_norm`; parameters without a gradient are ignored.
    Returns the norm before clipping, as a 0-d Tensor (`torch.nn.utils.clip_grad_norm_`)."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad if type(p.grad) is RowSparse else p.grad.primal
             for p in params if p.grad is not None]
    if not grads:
        return Tensor(0.0)
    norm = global_norm(grads, norm_type)
    if error_if_nonfinite and not math.isfinite(float(norm)):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is "
            f"{float(norm)}, so they cannot be clipped. Pass error_if_nonfinite=False to "
            "scale them anyway."
        )
    coef = _clip_coef(norm, max_norm)
    with no_grad():
        for p in params:
            if type(p.grad) is RowSparse:
                p.grad = p.grad * coef
            elif p.grad is not None:
                p.grad = Tensor(p.grad.primal * coef)
    return Tensor(norm)
