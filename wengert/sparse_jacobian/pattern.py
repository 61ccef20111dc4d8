"""Sparsity detection: the boolean pattern of a Jacobian (or Hessian) found by propagating
dependencies through the traced IR, without evaluating any derivative.

`f` is traced into a Graph (`make_graph`) and a boolean dependency pattern is propagated
equation by equation: each variable `v` gets a SciPy sparse boolean matrix (`v.size` x
`x.size`) whose row `k` marks the input elements that element `k` of `v` depends on. Every
rule is a sparse matrix operation, so a banded 10,000 x 10,000 pattern is found in
milliseconds: elementwise primitives select rows through broadcasting index maps and OR
them; reductions sum rows by group; shape and indexing primitives are applied to integer
index arrays (`np.arange(size)`) to learn where each element goes; matmul/einsum are dense
in the contracted dimensions (exactly sparse when the other matmul operand is a constant).
A primitive without a rule (linear algebra, control flow, custom derivatives...) falls back
conservatively to "every output element depends on every input element any operand depends
on". Non-differentiable primitives (comparisons, rounding, `stop_gradient`) carry no
dependency, since their derivative is zero. The graph is also evaluated once at `x`, so
that index arrays computed from `x` (argsort, argmax) are known: the pattern is that of the
Jacobian at `x`.
"""

import numpy as np
import scipy.sparse as sp

from ..core import raw_value
from ..core.primitive import batch_elementwise
from ..ir import make_graph
from ..ir.graph import Literal
from ..numpy import _indexing, _products, _reductions, _shape
from ..transforms.api import grad

__all__ = ["jacobian_sparsity", "hessian_sparsity"]


def _empty(rows, n):
    return sp.csr_matrix((rows, n), dtype=bool)


def _select(pattern, index_map):
    """Rows `index_map` of `pattern` (a gather of dependency rows)."""
    return pattern[np.asarray(index_map, dtype=np.intp).ravel()]


def _route(pattern, dest, src, rows):
    """A (rows x n) pattern whose row dest[k] ORs rows src[k] of `pattern` (a scatter)."""
    dest = np.asarray(dest, dtype=np.intp).ravel()
    src = np.asarray(src, dtype=np.intp).ravel()
    m = sp.csr_matrix((np.ones(dest.size, dtype=bool), (dest, src)),
                      shape=(rows, pattern.shape[0]))
    return (m @ pattern).tocsr()


def _positions(shape):
    return np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)


def _broadcast_map(in_shape, out_shape):
    """For each element of an `out_shape` array, the element of the broadcast operand."""
    return np.broadcast_to(_positions(in_shape), out_shape)


def _union_rows(patterns, rows, n):
    """Every one of `rows` rows depends on everything any of `patterns` depends on."""
    row = sp.csr_matrix(np.zeros((1, n), dtype=bool))
    for p in patterns:
        row = row + sp.csr_matrix(p.sum(axis=0) > 0)
    return sp.csr_matrix(np.ones((rows, 1), dtype=bool)) @ row


def _elementwise_rule(eqn, pats, vals, n):
    out_shape = eqn.outputs[0].aval.shape
    out = _empty(int(np.prod(out_shape, dtype=np.int64)), n)
    for x, p in zip(eqn.inputs, pats):
        if p is not None and p.nnz:
            out = out + _select(p, _broadcast_map(np.shape(vals[x]), out_shape))
    return [out]


def _reduction_rule(eqn, pats, vals, n):
    x_shape = np.shape(vals[eqn.inputs[0]])
    axes = eqn.params.get("axis")
    axes = range(len(x_shape)) if axes is None else axes
    axes = {int(a) % max(len(x_shape), 1) for a in np.atleast_1d(axes)}
    kept = tuple(1 if ax in axes else d for ax, d in enumerate(x_shape))
    group = _broadcast_map(kept, x_shape)
    rows = int(np.prod(kept, dtype=np.int64))
    return [_route(pats[0], group, _positions(x_shape), rows)]


def _prod_last_rule(eqn, pats, vals, n):
    x_shape = np.shape(vals[eqn.inputs[0]])
    group = _broadcast_map(x_shape[:-1] + (1,), x_shape)
    return [_route(pats[0], group, _positions(x_shape), int(np.prod(x_shape[:-1])))]


def _cumulative_rule(eqn, pats, vals, n):
    x_shape = np.shape(vals[eqn.inputs[0]])
    axis = eqn.params["axis"]
    before = int(np.prod(x_shape[:axis], dtype=np.int64))
    after = int(np.prod(x_shape[axis + 1:], dtype=np.int64))
    lower = sp.csr_matrix(np.tril(np.ones((x_shape[axis],) * 2, dtype=bool)))
    m = sp.kron(sp.identity(before, dtype=bool), sp.kron(lower, sp.identity(after, dtype=bool)))
    return [(m.tocsr().astype(bool) @ pats[0]).tocsr()]


def _gather_rule(eqn, pats, vals, n):
    """Shape ops and gathers (reshape, transpose, broadcast_to, getitem, take_along_axis,
    concatenate, pad): run the primitive on element positions (1-based; 0 marks a constant
    element) to learn which input element each output element copies."""
    index_args, live, offset = [], [], 0
    for k, (x, p) in enumerate(zip(eqn.inputs, pats)):
        value = vals[x]
        if eqn.prim is _indexing.take_along_axis_p and k == 1:
            index_args.append(value)  # the indices themselves
        elif p is None:
            index_args.append(np.zeros(np.shape(value), dtype=np.intp))
        else:
            index_args.append(_positions(np.shape(value)) + offset + 1)
            live.append(p)
            offset += int(np.size(value))
    params = dict(eqn.params)
    if eqn.prim is _shape.pad_p:
        params["constant_values"] = 0
    src = np.asarray(eqn.prim.impl(*index_args, **params)).ravel()
    stacked = sp.vstack([_empty(1, n)] + live).tocsr()
    return [_select(stacked, src)]


def _scatter_into(shape, idx, y_shape):
    """(destination, source) element pairs of `out[idx] = y` (y broadcast to out[idx])."""
    dest = _positions(shape)[idx]
    return dest, _broadcast_map(y_shape, np.shape(dest))


def _scatter_rule(eqn, pats, vals, n):
    shape, idx = eqn.params["shape"], eqn.params["idx"]
    dest, src = _scatter_into(shape, idx, np.shape(vals[eqn.inputs[0]]))
    return [_route(pats[0], dest, src, int(np.prod(shape, dtype=np.int64)))]


def _index_update_rule(eqn, pats, vals, n):
    x, y = eqn.inputs[:2]
    shape, idx = np.shape(vals[x]), eqn.params["idx"]
    dest, src = _scatter_into(shape, idx, np.shape(vals[y]))
    rows = int(np.prod(shape, dtype=np.int64))
    out = _route(pats[1], dest, src, rows)
    base = pats[0]
    if eqn.prim is _indexing.index_set_p:  # overwritten elements lose x's dependencies
        keep = np.ones(rows, dtype=bool)
        keep[np.ravel(dest)] = False
        base = sp.diags(keep, dtype=bool, format="csr") @ base
    return [(out + base).tocsr()]


def _scatter_along_axis_rule(eqn, pats, vals, n):
    ind, axis, shape = vals[eqn.inputs[1]], eqn.params["axis"], eqn.params["shape"]
    dest = _positions(shape)[_indexing._along_axis_index(ind, axis, shape)]
    src = _broadcast_map(np.shape(vals[eqn.inputs[0]]), np.shape(dest))
    return [_route(pats[0], dest, src, int(np.prod(shape, dtype=np.int64)))]


def _contraction(in_labels, in_shapes, out_labels, out_shape, i):
    """The (out x operand i) pattern of an einsum: element pairs that agree on the labels
    they share (dense in the contracted labels; a broadcast size-1 axis shares nothing)."""
    sizes = dict(zip(out_labels, out_shape))
    shared = [lab for lab, d in zip(in_labels[i], in_shapes[i])
              if lab in sizes and sizes[lab] == d and d != 1]
    shared = list(dict.fromkeys(shared))
    dims = [sizes[lab] for lab in shared]
    keys = int(np.prod(dims, dtype=np.int64))

    def key_of(labels, shape):
        coords = np.indices(shape).reshape(len(shape), -1) if shape else np.zeros((0, 1), int)
        first = {lab: k for k, lab in reversed(list(enumerate(labels)))}
        if not shared:
            return np.zeros(coords.shape[1], dtype=np.intp)
        return np.ravel_multi_index([coords[first[lab]] for lab in shared], dims)

    def membership(labels, shape):
        k = key_of(labels, shape)
        return sp.csr_matrix((np.ones(k.size, dtype=bool), (np.arange(k.size), k)),
                             shape=(k.size, keys))

    return membership(out_labels, out_shape) @ membership(in_labels[i], in_shapes[i]).T


def _einsum_pattern(eqn, in_labels, out_labels, pats, vals, n):
    shapes = [np.shape(vals[x]) for x in eqn.inputs]
    out_shape = eqn.outputs[0].aval.shape
    out = _empty(int(np.prod(out_shape, dtype=np.int64)), n)
    for i, p in enumerate(pats):
        if p is not None and p.nnz:
            m = _contraction(in_labels, shapes, out_labels, out_shape, i)
            out = out + m.astype(bool) @ p
    return [out.tocsr()]


def _einsum_rule(eqn, pats, vals, n):
    params = eqn.params
    return _einsum_pattern(eqn, params["in_labels"], params["out_labels"], pats, vals, n)


def _matmul_labels(nd_a, nd_b):
    """Einsum labels of NumPy's matmul for operands of `nd_a` and `nd_b` dimensions."""
    batch = max(nd_a, nd_b, 2) - 2
    lab_b, lab_a = list(range(batch)), list(range(batch))
    a = lab_a[batch - max(nd_a - 2, 0):] + ([batch, batch + 1] if nd_a > 1 else [batch + 1])
    b = lab_b[batch - max(nd_b - 2, 0):] + ([batch + 1, batch + 2] if nd_b > 1 else [batch + 1])
    out = list(range(batch)) + ([batch] if nd_a > 1 else []) + ([batch + 2] if nd_b > 1 else [])
    return (tuple(a), tuple(b)), tuple(out)


def _matmul_rule(eqn, pats, vals, n):
    a, b = (vals[x] for x in eqn.inputs)
    pa, pb = pats
    # A constant 2-D operand: the map is exactly its nonzero structure (kron with identity).
    if (pa is None or not pa.nnz) and np.ndim(a) == 2 and np.ndim(b) in (1, 2) and pb is not None:
        k = 1 if np.ndim(b) == 1 else np.shape(b)[1]
        m = sp.kron(sp.csr_matrix(np.asarray(a) != 0), sp.identity(k, dtype=bool))
        return [(m.tocsr().astype(bool) @ pb).tocsr()]
    if (pb is None or not pb.nnz) and np.ndim(b) == 2 and np.ndim(a) in (1, 2) and pa is not None:
        rows = 1 if np.ndim(a) == 1 else np.shape(a)[0]
        m = sp.kron(sp.identity(rows, dtype=bool), sp.csr_matrix(np.asarray(b).T != 0))
        return [(m.tocsr().astype(bool) @ pa).tocsr()]
    in_labels, out_labels = _matmul_labels(np.ndim(a), np.ndim(b))
    return _einsum_pattern(eqn, in_labels, out_labels, pats, vals, n)


def _dense_rule(eqn, pats, vals, n):
    """No rule: conservatively, every output element depends on everything any input does."""
    live = [p for p in pats if p is not None]
    return [_union_rows(live, int(np.prod(v.aval.shape, dtype=np.int64)), n)
            for v in eqn.outputs]


_RULES = {
    _reductions.sum_p: _reduction_rule,
    _reductions.amax_p: _reduction_rule,
    _reductions.amin_p: _reduction_rule,
    _reductions._prod_last_p: _prod_last_rule,
    _reductions.cumsum_p: _cumulative_rule,
    _reductions.cumprod_p: _cumulative_rule,
    _shape.reshape_p: _gather_rule,
    _shape.transpose_p: _gather_rule,
    _shape.broadcast_to_p: _gather_rule,
    _shape.concatenate_p: _gather_rule,
    _shape.pad_p: _gather_rule,
    _indexing.getitem_p: _gather_rule,
    _indexing.take_along_axis_p: _gather_rule,
    _indexing.scatter_p: _scatter_rule,
    _indexing.index_add_p: _index_update_rule,
    _indexing.index_set_p: _index_update_rule,
    _indexing.scatter_along_axis_p: _scatter_along_axis_rule,
    _products.matmul_p: _matmul_rule,
    _products.einsum_p: _einsum_rule,
}


def _rule(prim):
    if prim in _RULES:
        return _RULES[prim]
    if prim.batch is batch_elementwise and not prim.multiple_results:
        return _elementwise_rule
    return _dense_rule


def _graph_sparsity(graph, x):
    """The dependency pattern (outputs' elements x input elements) of a one-input graph,
    evaluated at `x` (for index arrays that are computed, not constant)."""
    n = int(np.size(x))
    vals, pats = {}, {}
    (invar,) = graph.invars
    vals[invar] = x
    pats[invar] = sp.identity(n, dtype=bool, format="csr")
    vals.update(zip(graph.constvars, graph.consts))

    def value(v):
        return v.value if isinstance(v, Literal) else vals[v]

    for eqn in graph.eqns:
        args = [value(v) for v in eqn.inputs]
        outs = eqn.prim.impl(*args, **eqn.params)
        outs = outs if eqn.prim.multiple_results else (outs,)
        arg_vals = dict(zip(eqn.inputs, args))
        if eqn.prim.differentiable:
            # None marks an argument that carries no dependency (a literal or a constant).
            in_pats = [None if isinstance(v, Literal) else pats.get(v) for v in eqn.inputs]
            if any(p is not None and p.nnz for p in in_pats):
                out_pats = _rule(eqn.prim)(eqn, in_pats, arg_vals, n)
                pats.update(zip(eqn.outputs, out_pats))
        vals.update(zip(eqn.outputs, outs))
    blocks = []
    for v in graph.outvars:
        p = None if isinstance(v, Literal) else pats.get(v)
        blocks.append(_empty(int(np.size(value(v))), n) if p is None else p)
    return sp.vstack(blocks).tocsr().astype(bool)


def _as_input(name, x):
    x = np.asarray(raw_value(x))
    if x.dtype.kind not in "f":
        raise TypeError(
            f"{name}: x must be a real floating-point array, got dtype {x.dtype}. Convert it "
            "first, e.g. x.astype(np.float64).")
    if x.ndim != 1:
        raise ValueError(
            f"{name}: x must be 1-D (the Jacobian's columns are its elements), got shape "
            f"{x.shape}. Flatten it: pass x.ravel() and reshape inside f.")
    return x


def jacobian_sparsity(f, x):
    """The boolean sparsity pattern (scipy.sparse CSR, f(x).size x x.size) of the Jacobian
    of `f` at the 1-D array `x`, found by propagating dependencies through the traced IR
    (no derivative is evaluated). Never misses a structural nonzero; may include entries
    that are zero by cancellation or through a primitive without a rule (see the module
    docstring)."""
    x = _as_input("jacobian_sparsity", x)
    return _graph_sparsity(make_graph(f, x), x)


def hessian_sparsity(f, x):
    """The symmetric boolean sparsity pattern (scipy.sparse CSR, n x n) of the Hessian of
    the scalar function `f` at the 1-D array `x`: the dependency pattern of `grad(f)`."""
    x = _as_input("hessian_sparsity", x)
    p = _graph_sparsity(make_graph(grad(f), x), x)
    return (p + p.T).tocsr().astype(bool)
