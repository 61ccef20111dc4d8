"""Products: the `matmul` and `einsum` primitives, and the NumPy products composed from them
(dot, vdot, inner, outer, tensordot, kron), with the matrix helpers trace, diagonal, diag,
triu, tril and cross composed from indexing and `where`."""

import functools
import math

import numpy as np

from ..core import Primitive, def_jvp, def_jvp_multi, def_vjp, raw_value
from ._elementwise import conj, iscomplexobj, where
from ._indexing import IndexUpdateHelper, getitem
from ._reductions import sum as _sum
from ._shape import (
    broadcast_to,
    expand_dims,
    moveaxis,
    ravel,
    reshape,
    squeeze,
    swapaxes,
    transpose,
    unbroadcast,
)

matmul_p = Primitive("matmul", np.matmul)


def matmul(x1, x2, /):
    """Differentiable `numpy.matmul` (the `@` operator), with NumPy's rules for 1-D
    operands and batch broadcasting."""
    nd1, nd2 = np.ndim(raw_value(x1)), np.ndim(raw_value(x2))
    if nd1 == 0 or nd2 == 0:
        raise ValueError(
            "matmul: Input operand does not have enough dimensions (use * for scalars)"
        )
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


# ---------------------------------------------------------------------------------------
# einsum: one primitive over integer labels (NumPy's sublist form). Subscripts are parsed
# once into `in_labels` (a tuple of label tuples, one per operand, '...' expanded into
# labels of its own) and `out_labels`, so every rule is again a plain einsum.

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Below this many multiply-adds, NumPy's path search costs more than it saves.
_OPTIMIZE_ABOVE = 4096


def _einsum_impl(*operands, in_labels, out_labels, optimize):
    if optimize is None:
        sizes = {}
        for op, labels in zip(operands, in_labels):
            for label, n in zip(labels, np.shape(op)):
                sizes[label] = max(sizes.get(label, 1), n)
        optimize = len(operands) > 1 and math.prod(sizes.values()) > _OPTIMIZE_ABOVE
    args = []
    for op, labels in zip(operands, in_labels):
        args += [op, list(labels)]
    return np.einsum(*args, list(out_labels), optimize=optimize)


einsum_p = Primitive("einsum", _einsum_impl)


def _sublist_to_subscripts(args):
    """NumPy's `einsum(op0, sublist0, op1, sublist1, ..., [sublistout])` as a string."""

    def term(sublist):
        return "".join("..." if s is Ellipsis else _LETTERS[int(s)] for s in sublist)

    operands, terms = list(args[0::2]), [term(s) for s in args[1::2]]
    out = ""
    if len(args) % 2:
        operands, out = operands[:-1], "->" + term(args[-1])
    return ",".join(terms) + out, operands


@functools.lru_cache(maxsize=512)
def _parse_einsum(subscripts, shapes):
    """Integer labels for each operand and for the output (implicit output: the labels seen
    once, in alphabetical order, after the broadcast dimensions of '...')."""
    subscripts = subscripts.replace(" ", "")
    lhs, arrow, rhs = subscripts.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(
            f"einsum: subscripts {subscripts!r} name {len(terms)} operands but "
            f"{len(shapes)} were given"
        )
    for term in terms + [rhs]:
        bad = set(term.replace("...", "")) - set(_LETTERS)
        if bad:
            raise ValueError(f"einsum: invalid subscript character(s) {sorted(bad)} in "
                             f"{subscripts!r}; use letters a-z, A-Z and '...'")
    used = set(subscripts)
    spare = [i for i, c in enumerate(_LETTERS) if c not in used]
    n_ellipsis = 0
    for term, shape in zip(terms, shapes):
        n_named = len(term.replace("...", ""))
        if "..." in term:
            n_ellipsis = max(n_ellipsis, len(shape) - n_named)
        elif n_named != len(shape):
            raise ValueError(
                f"einsum: operand with subscripts {term!r} has {len(shape)} dimensions, "
                f"not {n_named}; add '...' to broadcast over extra dimensions"
            )
    if n_ellipsis > len(spare):
        raise ValueError("einsum: too many dimensions for the 52 einsum labels")
    ellipsis_labels = tuple(spare[:n_ellipsis])

    def labels_of(term, ndim):
        before, dots, after = term.partition("...")
        if not dots:
            return tuple(_LETTERS.index(c) for c in term)
        n = ndim - len(before) - len(after)
        if n < 0:
            raise ValueError(f"einsum: operand with subscripts {term!r} has too few dimensions")
        middle = ellipsis_labels[len(ellipsis_labels) - n:] if n else ()
        return (tuple(_LETTERS.index(c) for c in before) + middle
                + tuple(_LETTERS.index(c) for c in after))

    in_labels = tuple(labels_of(term, len(shape)) for term, shape in zip(terms, shapes))
    if arrow:
        if n_ellipsis and "..." not in rhs:
            raise ValueError(f"einsum: output {rhs!r} needs '...' for the broadcast "
                             "dimensions of the operands' '...'")
        out_labels = labels_of(rhs, len(rhs.replace("...", "")) + n_ellipsis)
        if len(set(out_labels)) != len(out_labels):
            raise ValueError(f"einsum: output subscript {rhs!r} repeats a label")
        missing = set(out_labels) - {label for labels in in_labels for label in labels}
        if missing:
            raise ValueError(f"einsum: output label(s) {sorted(_LETTERS[m] for m in missing)} "
                             "do not appear in any input")
    else:
        named = lhs.replace("...", "").replace(",", "")
        once = sorted(c for c in set(named) if named.count(c) == 1)
        out_labels = ellipsis_labels + tuple(_LETTERS.index(c) for c in once)
    return in_labels, out_labels


def einsum(subscripts, *operands, optimize=None):
    """Differentiable `numpy.einsum`, in the string form ('ij,jk->ik', implicit output,
    '...' broadcasting, repeated labels for diagonals) or NumPy's sublist form. Every
    operand is differentiable; each derivative is itself one einsum.

    `optimize` is a speed hint passed to NumPy; by default (None) the contraction order is
    optimised only for contractions large enough to benefit."""
    if not isinstance(subscripts, str):
        subscripts, operands = _sublist_to_subscripts((subscripts, *operands))
    shapes = tuple(np.shape(raw_value(op)) for op in operands)
    in_labels, out_labels = _parse_einsum(subscripts, shapes)
    return einsum_p.bind(*operands, in_labels=in_labels, out_labels=out_labels,
                         optimize=optimize)


def _einsum_jvp(tangents, ans, *operands, **params):
    # einsum is linear in each operand: the tangent is the sum of one einsum per tangent.
    out = None
    for i, t in enumerate(tangents):
        if t is not None:
            term = einsum_p.bind(*operands[:i], t, *operands[i + 1:], **params)
            out = term if out is None else out + term
    return out


def _einsum_vjp(i, g, ans, *operands, in_labels, out_labels, optimize):
    """Cotangent of operand i: contract g with the other operands onto operand i's labels.
    A repeated label (a diagonal) gets a fresh label tied to it by an identity matrix, so
    the cotangent lands on the diagonal; a label summed out of operand i alone is broadcast
    back."""
    shape = np.shape(raw_value(operands[i]))
    dtype = np.result_type(raw_value(g))
    used = {label for labels in in_labels for label in labels}
    fresh = (k for k in range(len(_LETTERS)) if k not in used)
    ops = [g] + [op for j, op in enumerate(operands) if j != i]
    labels = [out_labels] + [lab for j, lab in enumerate(in_labels) if j != i]
    target = []
    for axis, label in enumerate(in_labels[i]):
        if label in target:
            tied = next(fresh)
            ops.append(np.eye(shape[axis], dtype=dtype))
            labels.append((label, tied))
            label = tied
        target.append(label)
    present = {label for lab in labels for label in lab}
    kept = tuple(label for label in target if label in present)
    if len(ops) == 1 and labels[0] == kept:
        ct = g
    else:
        ct = einsum_p.bind(*ops, in_labels=tuple(labels), out_labels=kept, optimize=optimize)
    if len(kept) < len(target):
        lost = [axis for axis, label in enumerate(target) if label not in present]
        ct = expand_dims(ct, lost)
        full = list(np.shape(raw_value(ct)))
        for axis in lost:
            full[axis] = shape[axis]
        ct = broadcast_to(ct, tuple(full))
    return ct


class _EinsumVJPs:
    """The VJP rule for each operand of einsum, however many there are."""

    def __getitem__(self, i):
        return functools.partial(_einsum_vjp, i)


def_jvp_multi(einsum_p, _einsum_jvp)
einsum_p.vjps = _EinsumVJPs()


# ---------------------------------------------------------------------------------------
# Products composed from matmul (BLAS speed) and broadcasting


def _ndim(x):
    return np.ndim(raw_value(x))


def _shape(x):
    return np.shape(raw_value(x))


def tensordot(a, b, axes=2):
    """Differentiable `numpy.tensordot`: `axes` is an int N (the last N axes of `a` with the
    first N of `b`) or a pair of axis sequences. Computed, as in NumPy, as a transpose, a
    reshape and one matmul."""
    sa, sb = _shape(a), _shape(b)
    if isinstance(axes, (int, np.integer)):
        axes_a, axes_b = list(range(len(sa) - axes, len(sa))), list(range(axes))
    else:
        axes_a, axes_b = axes
        axes_a = [axes_a] if isinstance(axes_a, (int, np.integer)) else list(axes_a)
        axes_b = [axes_b] if isinstance(axes_b, (int, np.integer)) else list(axes_b)
    axes_a = [ax % len(sa) if sa else ax for ax in axes_a]
    axes_b = [ax % len(sb) if sb else ax for ax in axes_b]
    if len(axes_a) != len(axes_b) or any(sa[i] != sb[j] for i, j in zip(axes_a, axes_b)):
        raise ValueError(f"tensordot: shape-mismatch for sum: axes {axes_a} of {sa} against "
                         f"axes {axes_b} of {sb}")
    free_a = [ax for ax in range(len(sa)) if ax not in axes_a]
    free_b = [ax for ax in range(len(sb)) if ax not in axes_b]
    k = math.prod(sa[ax] for ax in axes_a)
    a2 = reshape(transpose(a, free_a + axes_a), (math.prod(sa[ax] for ax in free_a), k))
    b2 = reshape(transpose(b, axes_b + free_b), (k, math.prod(sb[ax] for ax in free_b)))
    out = matmul(a2, b2)
    return reshape(out, tuple(sa[ax] for ax in free_a) + tuple(sb[ax] for ax in free_b))


def dot(a, b):
    """Differentiable `numpy.dot`: scalars multiply, 1-D and 2-D operands go to matmul, and
    N-D operands sum over the last axis of `a` and the second-to-last of `b`."""
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return a * b
    if (na <= 2 and nb <= 2) or nb == 1:
        return matmul(a, b)
    return tensordot(a, b, axes=([na - 1], [nb - 2]))


def vdot(a, b, /):
    """Differentiable `numpy.vdot`: both arguments flattened, the first conjugated."""
    if iscomplexobj(a):
        a = conj(a)
    return matmul(ravel(a), ravel(b))


def inner(a, b, /):
    """Differentiable `numpy.inner`: sums over the last axes of both arguments."""
    na, nb = _ndim(a), _ndim(b)
    if na == 0 or nb == 0:
        return a * b
    return tensordot(a, b, axes=([na - 1], [nb - 1]))


def outer(a, b):
    """Differentiable `numpy.outer` of the flattened arguments."""
    return reshape(a, (-1, 1)) * ravel(b)


def kron(a, b):
    """Differentiable `numpy.kron`: block (i, j) of the result is `a[i, j] * b`."""
    sa, sb = _shape(a), _shape(b)
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb
    # Interleave the axes: a varies along the even ones and b along the odd ones.
    a_spread = reshape(a, tuple(d for n in sa for d in (n, 1)))
    b_spread = reshape(b, tuple(d for n in sb for d in (1, n)))
    return reshape(a_spread * b_spread, tuple(m * n for m, n in zip(sa, sb)))


# ---------------------------------------------------------------------------------------
# Diagonals and triangles


def _diagonal_indices(n, m, offset):
    """Row and column indices of diagonal `offset` of an (n, m) matrix."""
    if offset >= 0:
        k = max(0, min(n, m - offset))
        return np.arange(k), np.arange(k) + offset
    k = max(0, min(n + offset, m))
    return np.arange(k) - offset, np.arange(k)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """Differentiable `numpy.diagonal`: the diagonal becomes the last axis. It is a gather,
    so its transpose writes the cotangent back onto the diagonal."""
    nd = _ndim(a)
    if nd < 2:
        raise ValueError("diagonal: array must be at least 2-D; use diag to build a matrix "
                         "from a 1-D array")
    axis1, axis2 = axis1 % nd, axis2 % nd
    if axis1 == axis2:
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
    x = moveaxis(a, (axis1, axis2), (-2, -1))
    rows, cols = _diagonal_indices(*_shape(x)[-2:], offset)
    return getitem(x, (Ellipsis, rows, cols))


def trace(a, offset=0, axis1=0, axis2=1, dtype=None):
    """Differentiable `numpy.trace`: the sum along a diagonal."""
    return _sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype)


def diag(v, k=0):
    """Differentiable `numpy.diag`: a 1-D `v` becomes a matrix with `v` on diagonal `k`; a
    2-D `v` gives its diagonal `k`."""
    nd = _ndim(v)
    if nd == 2:
        return diagonal(v, k)
    if nd != 1:
        raise ValueError(f"diag: input must be 1-D or 2-D, got {nd}-D; use diagonal for "
                         "stacks of matrices")
    n = _shape(v)[0] + abs(k)
    zeros = np.zeros((n, n), dtype=np.result_type(raw_value(v)))
    return IndexUpdateHelper(zeros)[_diagonal_indices(n, n, k)].add(v)


def _keep_triangle(m, mask):
    zero = np.zeros((), dtype=np.result_type(raw_value(m)))
    return where(mask, m, zero)


def tril(m, k=0):
    """Differentiable `numpy.tril`: zero above diagonal `k` of the last two axes."""
    return _keep_triangle(m, np.tri(*_shape(m)[-2:], k=k, dtype=bool))


def triu(m, k=0):
    """Differentiable `numpy.triu`: zero below diagonal `k` of the last two axes."""
    return _keep_triangle(m, ~np.tri(*_shape(m)[-2:], k=k - 1, dtype=bool))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """Differentiable `numpy.cross` of 3-component vectors (broadcast over the other
    axes)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
    if _shape(a)[-1] != 3 or _shape(b)[-1] != 3:
        raise ValueError(
            f"cross: vectors must have 3 components, got shapes {_shape(a)} and {_shape(b)} "
            "along the vector axis; for 2-component vectors (deprecated in NumPy) append a "
            "zero component"
        )
    ahead, behind = [1, 2, 0], [2, 0, 1]
    c = a[..., ahead] * b[..., behind] - a[..., behind] * b[..., ahead]
    return moveaxis(c, -1, axisc)


__all__ = [
    "cross", "diag", "diagonal", "dot", "einsum", "inner", "kron", "matmul", "outer",
    "tensordot", "trace", "tril", "triu", "vdot",
]
