"""Compressed evaluation: one JVP (or VJP, or Hessian-vector product) per colour, then direct
recovery of every nonzero from the compressed products.

With a seed matrix S (one column per colour, ones on that colour's columns), the JVPs give
J S and the VJPs give R^T J for the row seeds R. Entry J[i, j] is read from (J S)[i, colour
of j] when j is the only column of its colour with a nonzero in row i, or else from
(R^T J)[colour of i, j] when i is the only row of its colour with a nonzero in column j. A
Hessian uses the same rule with R = S and R^T H = (H S)^T (symmetry): that is the direct
recovery of a star colouring. After an acyclic colouring, which uses fewer colours, some
entries share a sum with others and are found by substitution instead
(`_recover_by_substitution`).
"""

import numpy as np
import scipy.sparse as sp

from ..core import raw_value
from ..transforms.api import grad, linearize, vjp
from .coloring import (
    as_pattern,
    color_acyclic,
    color_columns,
    color_jacobian,
    color_star,
    num_colors,
)
from .pattern import _as_input, hessian_sparsity, jacobian_sparsity

__all__ = ["jacobian_sparse", "hessian_sparse"]

_JACOBIAN_MODES = ("auto", "fwd", "rev", "bidirectional")
_HESSIAN_COLORINGS = {"star": color_star, "acyclic": color_acyclic,
                      "distance2": color_columns}


def _seeds(colors, dtype):
    """One seed vector per colour: ones on the entries of that colour."""
    seeds = np.zeros((num_colors(colors), colors.size), dtype=dtype)
    coloured = np.flatnonzero(colors >= 0)
    seeds[colors[coloured], coloured] = 1
    return seeds


def _compress_columns(linear, colors, rows, dtype):
    """The (rows x colours) product of the linear map `linear` with the column seeds."""
    seeds = _seeds(colors, dtype)
    if not len(seeds):
        return np.zeros((rows, 0), dtype=dtype)
    return np.stack([np.ravel(raw_value(linear(s))) for s in seeds], axis=1)


def _given(name, pattern, n, *, square):
    """A user's sparsity `pattern` as a boolean CSR matrix, checked against x.size `n`."""
    pattern = as_pattern(pattern)
    if pattern.shape[1] != n or (square and pattern.shape[0] != n):
        raise ValueError(
            f"{name}: pattern has shape {pattern.shape}, but x has {n} elements, so it needs "
            f"{n} columns{' and rows' if square else ''}. Pass the pattern of f at this x, "
            "or pattern=None to detect it.")
    return pattern


def _output_size(y, pattern):
    """The size of f(x), which must match the rows of a given pattern."""
    size = int(np.size(raw_value(y)))
    if size != pattern.shape[0]:
        raise ValueError(
            f"jacobian_sparse: pattern has {pattern.shape[0]} rows, but f(x) has {size} "
            "elements. Pass the pattern of f at this x, or pattern=None to detect it.")
    return size


def _alone(keys, colors):
    """Whether each (key, colour) pair occurs once among all pairs (colour -1: never)."""
    alone = np.zeros(keys.size, dtype=bool)
    valid = colors >= 0
    pairs = keys[valid].astype(np.int64) * (int(colors.max(initial=0)) + 1) + colors[valid]
    _, inverse, counts = np.unique(pairs, return_inverse=True, return_counts=True)
    alone[valid] = counts[inverse.ravel()] == 1
    return alone


def _recover(pattern, col_colors, by_cols, row_colors, by_rows, dtype):
    """The CSR matrix with the nonzeros of `pattern`, each read back from the column-
    compressed `by_cols` (= J S) or the row-compressed `by_rows` (= R^T J)."""
    coo = pattern.tocoo()
    rows, cols = coo.row, coo.col
    values = np.zeros(rows.size, dtype=dtype)
    col_of = col_colors[cols]
    from_cols = _alone(rows, col_of)
    values[from_cols] = by_cols[rows[from_cols], col_of[from_cols]]
    row_of = row_colors[rows]
    from_rows = ~from_cols & _alone(cols, row_of)
    values[from_rows] = by_rows[row_of[from_rows], cols[from_rows]]
    assert np.all(from_cols | from_rows), "the colouring leaves a nonzero unrecoverable"
    return sp.csr_matrix((values, (rows, cols)), shape=pattern.shape)


def _recover_by_substitution(pattern, colors, by_cols):
    """The symmetric matrix with the nonzeros of `pattern` from H S, for an acyclic
    colouring. Diagonal entries are read directly. For a vertex u and a colour c, (H S)[u, c]
    sums H[u, x] over the c-coloured neighbours x of u, which are u's neighbours in one tree
    of the two-coloured forest. The trees are peeled from their leaves: when one edge (u, x)
    of such a sum is left, its value is the sum minus the edges already found."""
    coo = sp.triu(pattern, k=1).tocoo()
    us, xs = coo.row.astype(np.int64), coo.col.astype(np.int64)
    ncolors = by_cols.shape[1]
    # One slot per (vertex, colour) sum: the two ends of edge e are slots ends[:, e].
    ends = np.stack([us * ncolors + colors[xs], xs * ncolors + colors[us]])
    slots, ends = np.unique(ends, return_inverse=True)
    ends = ends.reshape(2, -1)
    # A scalar loop: Python lists and floats, which are faster than NumPy scalars here.
    residual = by_cols[slots // ncolors, slots % ncolors].tolist()
    left = np.bincount(ends.ravel(), minlength=slots.size).tolist()
    # The ids of a slot's unresolved edges sum to the id of the last one.
    id_sum = np.bincount(ends.ravel(), weights=np.tile(np.arange(us.size), 2),
                         minlength=slots.size).astype(np.int64).tolist()
    edge_ends = ends.T.tolist()
    values = [0.0] * us.size
    leaves = [slot for slot, count in enumerate(left) if count == 1]
    while leaves:
        slot = leaves.pop()
        if left[slot] != 1:
            continue
        edge = id_sum[slot]
        value = values[edge] = residual[slot]
        for end in edge_ends[edge]:
            residual[end] -= value
            left[end] -= 1
            id_sum[end] -= edge
            if left[end] == 1:
                leaves.append(end)
    assert not any(left), "the colouring leaves a two-coloured cycle"
    diag = np.flatnonzero(pattern.diagonal())
    upper = sp.csr_matrix((np.array(values, dtype=by_cols.dtype), (us, xs)),
                          shape=pattern.shape)
    return (upper + upper.T + sp.csr_matrix((by_cols[diag, colors[diag]], (diag, diag)),
                                            shape=pattern.shape)).tocsr()


def jacobian_sparse(f, x, *, pattern=None, mode="auto", return_info=False):
    """The Jacobian of `f` at the 1-D array `x` as a SciPy CSR matrix (f(x).size x x.size),
    computed with one JVP per colour of its columns and/or one VJP per colour of its rows.

    The sparsity pattern is detected through the IR (`jacobian_sparsity`) unless given.
    `mode`: "fwd" (column colouring, JVPs through `linearize`: f runs once), "rev" (row
    colouring, VJPs), "bidirectional" (the densest rows by VJPs and the rest by JVPs, or
    the densest columns by JVPs and the rest by VJPs: an arrow pattern, dense row + dense
    column + diagonal, costs 3 passes instead of n) or "auto" (the fewest passes of all;
    see `color_jacobian`). With `return_info=True`, also returns a dict with the
    pattern, the mode used ("fwd", "rev" or "bidirectional"), "jvps", "vjps" and
    "colors" (their sum: the number of passes).

    >>> J = jacobian_sparse(lambda x: x[1:] - x[:-1], np.ones(5))  # 4 x 5, 2 passes
    """
    x = _as_input("jacobian_sparse", x)
    if mode not in _JACOBIAN_MODES:
        raise ValueError(f"jacobian_sparse: mode must be one of {_JACOBIAN_MODES}, got "
                         f"{mode!r}")
    if pattern is None:
        pattern = jacobian_sparsity(f, x)
    else:
        pattern = _given("jacobian_sparse", pattern, x.size, square=False)
    row_colors, col_colors = color_jacobian(pattern, mode)
    jvps, vjps = num_colors(col_colors), num_colors(row_colors)
    m, dtype = pattern.shape[0], x.dtype
    by_cols, by_rows = np.zeros((m, 0), dtype=dtype), np.zeros((0, x.size), dtype=dtype)
    if jvps:
        y, f_jvp = linearize(f, x)
        by_cols = _compress_columns(f_jvp, col_colors, _output_size(y, pattern), dtype)
        dtype = by_cols.dtype
    if vjps:
        y, f_vjp = vjp(f, x)
        y = raw_value(y)
        _output_size(y, pattern)

        def pullback(ct_flat):
            return f_vjp(ct_flat.reshape(np.shape(y)))[0]

        by_rows = _compress_columns(pullback, row_colors, x.size, np.result_type(y)).T
        dtype = by_rows.dtype
    jac = _recover(pattern, col_colors, by_cols, row_colors, by_rows, dtype)
    if not return_info:
        return jac
    used = "rev" if vjps and not jvps else "bidirectional" if vjps else "fwd"
    return jac, {"pattern": pattern, "mode": used, "jvps": jvps, "vjps": vjps,
                 "colors": jvps + vjps}


def hessian_sparse(f, x, *, pattern=None, coloring="star", return_info=False):
    """The Hessian of the scalar function `f` at the 1-D array `x` as a symmetric SciPy CSR
    matrix, computed with one Hessian-vector product per colour (forward over reverse;
    `grad(f)` is linearised once) of its detected (or given) symmetric sparsity pattern.

    `coloring` is "star" (a star colouring of the adjacency graph; each entry read directly
    from the product of its column's colour or, by symmetry, its row's: 2 products for an
    arrow, 2b + 1 for half-bandwidth b), "acyclic" (an acyclic colouring, entries found by
    substitution along two-coloured trees: b + 1 products for a band, with rounding errors
    that can add up along the trees) or "distance2" (structurally orthogonal columns: 2b + 1
    for a band, n for an arrow). With `return_info=True`, also returns a dict with the
    pattern, the coloring and "colors" (the number of Hessian-vector products).

    >>> H = hessian_sparse(lambda x: wnp.sum(x[1:] * x[:-1]), np.ones(5))  # 3 HVPs
    """
    x = _as_input("hessian_sparse", x)
    if coloring not in _HESSIAN_COLORINGS:
        raise ValueError(f"hessian_sparse: coloring must be one of {tuple(_HESSIAN_COLORINGS)}, "
                         f"got {coloring!r}")
    if pattern is None:
        pattern = hessian_sparsity(f, x)
    else:
        pattern = _given("hessian_sparse", pattern, x.size, square=True)
    pattern = (pattern + pattern.T).tocsr()
    colors = _HESSIAN_COLORINGS[coloring](pattern)
    by_cols = np.zeros((x.size, 0), dtype=x.dtype)
    if num_colors(colors):
        _, hvp = linearize(grad(f), x)
        by_cols = _compress_columns(hvp, colors, x.size, x.dtype)
    if coloring == "acyclic":
        hess = _recover_by_substitution(pattern, colors, by_cols)
    else:
        # A star colouring reads some entries from the row side: H S read as S^T H.
        row_colors = colors if coloring == "star" else np.full_like(colors, -1)
        hess = _recover(pattern, colors, by_cols, row_colors, by_cols.T, by_cols.dtype)
        upper = sp.triu(hess, format="csr")
        hess = (upper + sp.triu(hess, k=1, format="csr").T).tocsr()  # exactly symmetric
    if return_info:
        return hess, {"pattern": pattern, "coloring": coloring, "colors": num_colors(colors)}
    return hess
