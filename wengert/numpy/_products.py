"""Products: matmul and the products composed from it (dot, vdot, inner, outer, tensordot,
kron), and einsum."""

import numpy as np

from ..core import Primitive, def_jvp, def_vjp, raw_value
from ._shape import expand_dims, reshape, squeeze, swapaxes, unbroadcast

matmul_p = Primitive("matmul", np.matmul)


def matmul(x1, x2, /):
    """Differentiable `numpy.matmul` (the `@` operator), with NumPy's rules for 1-D
    operands and batch broadcasting."""
    nd1, nd2 = np.ndim(raw_value(x1)), np.ndim(raw_value(x2))
    if nd1 == 0 or nd2 == 0:
        raise ValueError("matmul: Input operand does not have enough dimensions (use * for scalars)")
    return matmul_p.bind(x1, x2)


def _matmul_vjp_x(g, ans, x, y):
    nx, ny = np.ndim(raw_value(x)), np.ndim(raw_value(y))
    if ny == 1:  # g has x's shape without its last axis
        out = expand_dims(g, -1) * y
    elif nx == 1:  # g: (..., n); result (..., k) summed to (k,)
        out = squeeze(matmul(expand_dims(g, -2), swapaxes(y, -1, -2)), -2)
    else:
        out = matmul(g, swapaxes(y, -1, -2))
    return unbroadcast(out, np.shape(raw_value(x)))


def _matmul_vjp_y(g, ans, x, y):
    nx, ny = np.ndim(raw_value(x)), np.ndim(raw_value(y))
    if nx == 1:  # g: (..., n) for y (..., k, n); outer product of x with g
        out = expand_dims(x, -1) * expand_dims(g, -2) if ny > 1 else g * x
    elif ny == 1:  # g: (..., m); result (k,)
        out = squeeze(matmul(swapaxes(x, -1, -2), expand_dims(g, -1)), -1)
    else:
        out = matmul(swapaxes(x, -1, -2), g)
    return unbroadcast(out, np.shape(raw_value(y)))


def_jvp(matmul_p, lambda t, ans, x, y: matmul(t, y), lambda t, ans, x, y: matmul(x, t))
def_vjp(matmul_p, _matmul_vjp_x, _matmul_vjp_y)


__all__ = [
    "expand_dims", "matmul", "reshape", "squeeze", "swapaxes", "unbroadcast",
]
