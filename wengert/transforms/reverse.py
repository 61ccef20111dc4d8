"""Reverse mode: a tape of `Node`s and the backward pass that walks it.

Each traced operation records a Node: the primitive, its static parameters, the argument
values one level down, its output, and the parent nodes of its traced arguments. The
backward pass visits nodes in reverse topological order (iteratively, so deep graphs do not
overflow the stack), calls each primitive's per-argument VJP rule, undoes broadcasting, and
accumulates cotangents. Rules run on whatever the node holds: raw arrays for a first
derivative, tracers of an enclosing transform for higher orders.

The same Node and backward pass serve the functional `vjp`/`grad` (ReverseTrace) and the
eager `Tensor.backward()`.

Row-sparse gradients: the backward pass may be given a set of leaf nodes whose gradient is
wanted row-sparse (`sparse_leaves`). A gather of whole rows whose table is such a leaf then
gives it a `RowSparse` cotangent (the primitive's `def_sparse_vjp` rule) instead of a dense
array the size of the table; sums of RowSparse stay sparse, and a dense contribution to the
same leaf densifies the sum. Only leaves receive RowSparse, so no other rule ever sees one
(a gather from an intermediate value stays dense). Rules decline (give the dense cotangent)
when the values are tracers: higher-order derivatives, jit and vmap stay dense.
"""

import weakref

import numpy as np

from .. import numpy as wnp
from ..core import Trace, Tracer
from ..core.rowsparse import RowSparse, sparse_vjps
from ..numpy._array_methods import ArrayMethods
from .forward import fit_to


class Node:
    """One recorded operation (or a leaf, with `prim` None)."""

    __slots__ = ("prim", "params", "args", "ans", "parents", "hooks", "leaf", "versions",
                 "freed", "__weakref__")

    def __init__(self, prim, params, args, ans, parents):
        self.prim = prim
        self.params = params
        self.args = args
        self.ans = ans
        self.parents = parents  # tuple of (argnum, parent node, parent output index or None)
        self.hooks = None
        self.leaf = None  # eager leaves: a weak reference to their tensor
        self.versions = None  # eager nodes: versions of the Tensor arguments when saved
        self.freed = False

    @classmethod
    def new_leaf(cls):
        return cls(None, None, None, None, ())

    def free(self):
        """Drop saved values once a backward pass no longer needs them."""
        self.args = None
        self.ans = None
        self.freed = True


def fit_cotangent(ct, like):
    """Sum away broadcasting and match the dtype of the value the cotangent is for (the real
    part, for a real value)."""
    return fit_to(ct, like, wnp.unbroadcast)


def toposort(roots):
    """Nodes reachable from `roots` as a list, each after every node that consumes it."""
    pending = {}
    roots = list(dict.fromkeys(roots))  # a node may be seeded twice (y, y returned)
    stack = list(roots)
    seen = set(stack)
    while stack:
        node = stack.pop()
        for _, parent, _ in node.parents:
            pending[parent] = pending.get(parent, 0) + 1
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    ready = [r for r in roots if r not in pending]
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for _, parent, _ in node.parents:
            left = pending[parent] - 1
            pending[parent] = left
            if left == 0:
                ready.append(parent)
    return order


# Leaf nodes whose gradient is kept row-sparse wherever it comes from gathers of rows: eager
# tensors marked with `Tensor.sparse_grad`, and functional inputs that `nn.functional.embedding
# (..., sparse=True)` looked up. Weak, so that a node leaves the set when its tape is dropped.
sparse_leaves = weakref.WeakSet()


def mark_sparse_leaf(node):
    """Ask for a row-sparse gradient for leaf `node` from the gathers of its rows."""
    if node.prim is not None:
        raise ValueError("mark_sparse_leaf: only a leaf node (an input) can have a "
                         "row-sparse gradient.")
    sparse_leaves.add(node)


def _sparse_rules(node, vjps, leaves):
    """`vjps` with the row-sparse rule for argument 0 when its parent is one of `leaves`."""
    for argnum, parent, _ in node.parents:
        if argnum == 0 and parent in leaves:
            return (sparse_vjps[node.prim],) + tuple(vjps[1:])
    return vjps


def _zeros_for(value):
    return wnp.zeros_like(value)


def _accumulate(cts, node, k, ct):
    if k is None:
        prev = cts.get(node)
        cts[node] = ct if prev is None else prev + ct
    else:
        slots = cts.get(node)
        if slots is None:
            slots = cts[node] = [None] * len(node.ans)
        slots[k] = ct if slots[k] is None else slots[k] + ct


def backward_pass(seeds, rule_inputs, capture=None, free=False, sparse=None):
    """Propagate cotangents from `seeds` (a list of (node, output index or None, ct)).

    `rule_inputs(node, ct) -> (args, ans, ct)` gives what the rules see for a node (raw
    values, or Tensors that record a differentiable backward pass). `capture` is a dict
    whose keys are nodes whose total cotangent is wanted; leaves are always captured into it.
    Returns the capture dict filled with cotangents (absent: zero). With `free`, nodes
    release their saved values as soon as they are processed. `sparse`, a set of leaf
    nodes, asks for row-sparse cotangents of those leaves from gathers of their rows (see
    the module docstring); hooks see dense cotangents.
    """
    capture = {} if capture is None else capture
    sparse = sparse or None  # an empty set: the plain dense pass
    cts = {}
    owned = set()  # ids of sums this pass allocated and nothing else references yet
    for node, k, ct in seeds:
        _accumulate(cts, node, k, ct)
    for node in toposort([s[0] for s in seeds]):
        ct = cts.pop(node, None)
        if ct is None:
            continue
        owned.discard(id(ct))
        if node.hooks:
            if type(ct) is RowSparse:
                ct = ct.todense()
            for hook in node.hooks:
                replaced = hook(ct)
                if replaced is not None:
                    ct = replaced
        if node.prim is None or node in capture:
            capture[node] = ct
            if node.prim is None:
                continue
        if node.freed:
            raise RuntimeError(
                f"backward: the graph through {node.prim.name} was already freed by an "
                "earlier backward pass. Call backward(retain_graph=True) the first time if "
                "you need to differentiate the same graph more than once."
            )
        args, ans, g = rule_inputs(node, ct)
        if isinstance(g, list):  # multiple results: materialise symbolic zeros
            g = tuple(_zeros_for(a) if c is None else c for a, c in zip(ans, g))
        vjps = node.prim.vjps
        if sparse is not None and node.prim in sparse_vjps:
            vjps = _sparse_rules(node, vjps, sparse)
        params = node.params
        for argnum, parent, k in node.parents:
            ct_arg = fit_cotangent(vjps[argnum](g, ans, *args, **params), args[argnum])
            if k is None:  # the common single-output case of _accumulate, inlined
                prev = cts.get(parent)
                if prev is None:
                    cts[parent] = ct_arg
                elif id(prev) in owned and type(ct_arg) is np.ndarray:
                    prev += ct_arg  # a sum this pass made: add in place, no new array
                else:
                    total = prev + ct_arg
                    if type(total) is np.ndarray:
                        owned.add(id(total))
                    cts[parent] = total
            else:
                _accumulate(cts, parent, k, ct_arg)
        if free:
            node.free()
    return capture


class ReverseTracer(Tracer, ArrayMethods):
    __slots__ = ("node", "out_index")

    def __init__(self, trace, primal, node, out_index=None):
        self._trace = trace
        self.primal = primal
        self.node = node
        self.out_index = out_index

    def __repr__(self):
        return f"ReverseTracer({self.primal!r})"


def check_vjp_rules(prim, parents):
    """Fail at the operation, not later in the backward pass, when a traced argument has no
    reverse rule."""
    vjps = prim.vjps
    if vjps is None:
        raise prim.no_rule_error("vjp", parents[0][0])
    if type(vjps) is tuple:
        n = len(vjps)
        for p in parents:
            i = p[0]
            if i >= n or vjps[i] is None:
                raise prim.no_rule_error("vjp", i)


class ReverseTrace(Trace):
    __slots__ = ()

    def process(self, prim, args, params):
        vals = []
        parents = []
        lower = False  # does any argument belong to an enclosing transform?
        for i, a in enumerate(args):
            if type(a) is ReverseTracer and a._trace is self:
                a_primal = a.primal
                vals.append(a_primal)
                parents.append((i, a.node, a.out_index))
                lower = lower or isinstance(a_primal, Tracer)
            else:
                vals.append(a)
                lower = lower or isinstance(a, Tracer)
        ans = prim.bind(*vals, **params) if lower else prim.impl(*vals, **params)
        check_vjp_rules(prim, parents)
        node = Node(prim, params, vals, ans, tuple(parents))
        if prim.multiple_results:
            return tuple(ReverseTracer(self, a, node, k) for k, a in enumerate(ans))
        return ReverseTracer(self, ans, node)


def functional_rule_inputs(node, ct):
    return node.args, node.ans, ct
