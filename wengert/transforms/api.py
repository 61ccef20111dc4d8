"""The JAX-style function transforms: vjp, grad, value_and_grad, jvp, linearize, jacfwd,
jacrev, hessian, hvp, stop_gradient. Each takes and returns pytrees.

vjp, grad and value_and_grad take `sparse=True` to return the gradient of an input whose
rows are gathered (`x[idx]`, `take(x, idx, axis=0)`, an embedding lookup) as a `RowSparse`
(indices and rows) rather than a dense array the size of the input; see
`wengert.core.rowsparse`."""

import functools
import inspect

import numpy as np

from .. import numpy as wnp
from ..core import (
    Primitive,
    Tracer,
    batch_elementwise,
    raw_value,
    tree_flatten,
    tree_map,
    tree_unflatten,
)
from ..core.backend import is_inexact
from .forward import JVPTrace, JVPTracer, fit_tangent
from .reverse import (
    Node,
    ReverseTrace,
    ReverseTracer,
    backward_pass,
    functional_rule_inputs,
    sparse_leaves,
    toposort,
)


def _fun_name(f):
    return getattr(f, "__name__", type(f).__name__)


def _arg_name(f, i):
    try:
        params = list(inspect.signature(f).parameters)
    except (TypeError, ValueError):
        return f"argument {i}"
    return f"argument {i} ({params[i]!r})" if i < len(params) else f"argument {i}"


def _as_array(x):
    if isinstance(x, Tracer) or hasattr(x, "dtype"):
        return x
    return np.asarray(x)


def _check_differentiable_input(transform, f, i, x):
    dtype = raw_value(x).dtype
    if not is_inexact(dtype):
        raise TypeError(
            f"{transform}: {_arg_name(f, i)} of {_fun_name(f)} has dtype {dtype}; derivatives "
            "are defined only for floating-point and complex inputs. Pass a float array "
            "(e.g. x.astype(float)) or leave the argument out of argnums."
        )


def _shape_dtype(x):
    r = raw_value(x)
    return np.shape(r), r.dtype


def _zeros_like(x):
    return wnp.zeros_like(x)


def _record(f, primals, transform):
    """Run `f` on reverse tracers of `primals` (a tuple); return what is needed to pull
    cotangents back or push tangents forward through the recorded tape."""
    flat, in_tree = tree_flatten(primals)
    flat = [_as_array(x) for x in flat]
    for i, x in enumerate(flat):
        _check_differentiable_input(transform, f, i, x)
    with ReverseTrace() as trace:
        leaves = [Node.new_leaf() for _ in flat]
        tracers = [ReverseTracer(trace, x, n) for x, n in zip(flat, leaves)]
        out = f(*tree_unflatten(in_tree, tracers))
    return trace, flat, in_tree, leaves, out


def _unbox_outputs(trace, out):
    """Split an output pytree into primal values and (node, index) tape positions."""
    out_flat, out_tree = tree_flatten(out)
    primals, positions = [], []
    for o in out_flat:
        if type(o) is ReverseTracer and o._trace is trace:
            primals.append(o.primal)
            positions.append((o.node, o.out_index))
        else:
            primals.append(o)
            positions.append(None)
    return primals, positions, out_tree


def _strip(trace, tree):
    def strip(x):
        return x.primal if type(x) is ReverseTracer and x._trace is trace else x

    return tree_map(strip, tree)


def vjp(f, *primals, has_aux=False, sparse=False):
    """Evaluate `f(*primals)` and return `(out, vjp_fun)` (and `aux` with has_aux), where
    `vjp_fun(ct)` maps an output cotangent (a pytree like `out`) to a tuple of input
    cotangents, one per primal. `vjp_fun` may be called any number of times. With
    `sparse=True`, an input used only through gathers of its rows gets a `RowSparse`
    cotangent (see `grad`).

    >>> out, pullback = vjp(wnp.sin, 0.5)
    >>> pullback(1.0)  # (cos(0.5),)
    """
    return _vjp(f, primals, has_aux, single_use=False, sparse=sparse)


def _vjp(f, primals, has_aux, single_use, sparse=False):
    """vjp; with `single_use`, the one backward pass frees each node's saved values as soon as
    it is done with them (grad's case), which keeps peak memory down."""
    trace, flat, in_tree, leaves, out = _record(f, primals, "vjp")
    if has_aux:
        out, aux = out
        aux = _strip(trace, aux)
    out_primals, positions, out_tree = _unbox_outputs(trace, out)

    def vjp_fun(ct):
        ct_flat, ct_tree = tree_flatten(ct)
        if ct_tree != out_tree:
            raise ValueError(
                f"vjp: the cotangent has structure {ct_tree} but {_fun_name(f)} returned "
                f"{out_tree}; pass a cotangent shaped like the output."
            )
        seeds = []
        for i, (c, o, pos) in enumerate(zip(ct_flat, out_primals, positions)):
            c = _as_array(c)
            (o_shape, o_dtype), (c_shape, c_dtype) = _shape_dtype(o), _shape_dtype(c)
            if c_shape != o_shape:
                raise ValueError(
                    f"vjp: cotangent {i} has shape {c_shape} but output {i} of "
                    f"{_fun_name(f)} has shape {o_shape}."
                )
            if c_dtype != o_dtype and is_inexact(o_dtype):
                if not (np.can_cast(c_dtype, o_dtype, "same_kind")):
                    raise TypeError(
                        f"vjp: cotangent {i} has dtype {c_dtype} but output {i} of "
                        f"{_fun_name(f)} has dtype {o_dtype}."
                    )
                c = wnp.astype(c, o_dtype)
            if pos is not None:
                seeds.append((pos[0], pos[1], c))
        # Without sparse=True, inputs that an embedding(..., sparse=True) looked up.
        wanted = set(leaves) if sparse else sparse_leaves
        found = backward_pass(seeds, functional_rule_inputs, free=single_use,
                              sparse=wanted) if seeds else {}
        cts = [found.get(leaf) for leaf in leaves]
        cts = [_zeros_like(x) if c is None else c for c, x in zip(cts, flat)]
        return tree_unflatten(in_tree, cts)

    out = tree_unflatten(out_tree, out_primals)
    return (out, vjp_fun, aux) if has_aux else (out, vjp_fun)


def _normalize_argnums(transform, f, argnums, nargs):
    single = isinstance(argnums, (int, np.integer))
    nums = (int(argnums),) if single else tuple(int(a) for a in argnums)
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(
                f"{transform}: argnums {argnums} is out of range for {_fun_name(f)} called "
                f"with {nargs} positional arguments."
            )
    return single, tuple(a % nargs for a in nums)


def _partial_over(f, args, kwargs, argnums):
    def f_partial(*diff_args):
        full = list(args)
        for i, a in zip(argnums, diff_args):
            full[i] = a
        return f(*full, **kwargs)

    f_partial.__name__ = _fun_name(f)
    return f_partial


def value_and_grad(f, argnums=0, has_aux=False, sparse=False):
    """Return a function computing `(f(*args), grad)` (or `((value, aux), grad)` with
    has_aux). `f` must return a real scalar; `argnums` picks the differentiated arguments
    (an int gives one gradient, a tuple a tuple of gradients), each a pytree. `sparse` as
    in `grad`.

    >>> value_and_grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    (5.0, array([2., 4.]))
    """

    @functools.wraps(f)
    def value_and_grad_f(*args, **kwargs):
        single, nums = _normalize_argnums("grad", f, argnums, len(args))
        f_partial = _partial_over(f, args, kwargs, nums)
        diff_args = tuple(args[i] for i in nums)
        for i, a in zip(nums, diff_args):
            for leaf in tree_flatten(a)[0]:
                _check_differentiable_input("grad", f, i, _as_array(leaf))
        result = _vjp(f_partial, diff_args, has_aux, single_use=True, sparse=sparse)
        out, pullback = result[0], result[1]
        out_raw = raw_value(out)
        if not hasattr(out_raw, "dtype"):
            out_raw = np.asarray(out_raw)  # a Python number: a constant output
            if out_raw.dtype == object:
                raise TypeError(
                    f"grad: {_fun_name(f)} must return a scalar array, but it returned a "
                    f"{type(out).__name__}. Return the loss alone (or use has_aux=True)."
                )
        shape, dtype = np.shape(out_raw), out_raw.dtype
        if shape != ():
            raise TypeError(
                f"grad: {_fun_name(f)} must return a scalar (a 0-d array), but it returned "
                f"shape {shape}. Use jacrev/jacfwd for a Jacobian, or vjp with a cotangent "
                "for a vector-Jacobian product."
            )
        if not is_inexact(dtype) or dtype.kind == "c":
            raise TypeError(
                f"grad: {_fun_name(f)} returned dtype {dtype}; grad needs a real "
                "floating-point scalar output. For a complex output use vjp with an explicit "
                "cotangent."
            )
        grads = pullback(np.ones((), dtype=dtype))
        grads = grads[0] if single else grads
        value = out
        return ((value, result[2]) if has_aux else value), grads

    return value_and_grad_f


def grad(f, argnums=0, has_aux=False, sparse=False):
    """Return a function computing the gradient of scalar-valued `f` with respect to the
    arguments in `argnums` (and `aux` too with has_aux).

    With `sparse=True`, the gradient of an input leaf that `f` uses only through gathers of
    whole rows by integer arrays (`x[idx]`, `x[idx, :]`, `take(x, idx, axis=0)`,
    `nn.functional.embedding`) is a `wg.RowSparse` holding just the gathered rows; a leaf
    also used densely gets the ordinary dense gradient. This holds for a first derivative
    on concrete arrays; under an enclosing transform (higher order, jit, vmap) gradients
    stay dense.

    >>> grad(lambda x: wnp.sin(x) * x)(1.0)
    >>> grad(lambda t: t[np.array([3, 1, 3])].sum(), sparse=True)(np.ones((5, 2)))
    RowSparse(shape=(5, 2), dtype=float64, rows=3)
    """
    vg = value_and_grad(f, argnums=argnums, has_aux=has_aux, sparse=sparse)

    @functools.wraps(f)
    def grad_f(*args, **kwargs):
        out, g = vg(*args, **kwargs)
        return (g, out[1]) if has_aux else g

    return grad_f


def jvp(f, primals, tangents, has_aux=False):
    """Forward mode: return `(f(*primals), J tangents)`. `primals` and `tangents` are
    tuples (or lists) of pytrees of the same structure, shapes and dtypes.

    >>> jvp(wnp.sin, (0.5,), (1.0,))  # (sin(0.5), cos(0.5))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            "jvp: primals and tangents must be tuples (or lists) with one entry per "
            f"argument of {_fun_name(f)}, e.g. jvp(f, (x,), (v,))."
        )
    p_flat, p_tree = tree_flatten(tuple(primals))
    t_flat, t_tree = tree_flatten(tuple(tangents))
    if p_tree != t_tree:
        raise ValueError(
            f"jvp: tangents have structure {t_tree} but primals have structure {p_tree}."
        )
    p_flat = [_as_array(p) for p in p_flat]
    t_flat = [_as_array(t) for t in t_flat]
    for i, (p, t) in enumerate(zip(p_flat, t_flat)):
        (ps, pd), (ts, td) = _shape_dtype(p), _shape_dtype(t)
        if ps != ts:
            raise ValueError(
                f"jvp: tangent {i} has shape {ts} but primal {i} of {_fun_name(f)} has "
                f"shape {ps}; each tangent must match its primal's shape."
            )
        if not is_inexact(pd):
            raise TypeError(
                f"jvp: primal {i} of {_fun_name(f)} has dtype {pd}; tangents are defined "
                "only for floating-point and complex primals."
            )
        if pd != td:
            raise TypeError(
                f"jvp: tangent {i} has dtype {td} but primal {i} of {_fun_name(f)} has "
                f"dtype {pd}; each tangent must match its primal's dtype."
            )
    with JVPTrace() as trace:
        ins = [JVPTracer(trace, p, t) for p, t in zip(p_flat, t_flat)]
        out = f(*tree_unflatten(p_tree, ins))
    if has_aux:
        out, aux = out
    out_flat, out_tree = tree_flatten(out)
    out_p, out_t = [], []
    for o in out_flat:
        if type(o) is JVPTracer and o._trace is trace:
            out_p.append(o.primal)
            out_t.append(o.tangent)
        else:
            out_p.append(o)
            out_t.append(_zeros_like(o))
    result = tree_unflatten(out_tree, out_p), tree_unflatten(out_tree, out_t)
    if has_aux:
        def strip(x):
            return x.primal if type(x) is JVPTracer and x._trace is trace else x

        return result + (tree_map(strip, aux),)
    return result


def linearize(f, *primals):
    """Return `(f(*primals), f_jvp)` where `f_jvp(*tangents)` is the JVP at `primals`.
    `f` runs once: its operations are recorded, and each call of `f_jvp` pushes tangents
    through the recorded linear rules without recomputing the primal.

    >>> y, f_jvp = linearize(wnp.sin, 0.5); f_jvp(1.0)  # cos(0.5)
    """
    trace, flat, in_tree, leaves, out = _record(f, primals, "linearize")
    out_primals, positions, out_tree = _unbox_outputs(trace, out)
    roots = [pos[0] for pos in positions if pos is not None]
    order = toposort(roots)[::-1]

    def f_jvp(*tangents):
        t_flat, t_tree = tree_flatten(tangents)
        if t_tree != in_tree:
            raise ValueError(
                f"linearize: tangents have structure {t_tree} but primals have {in_tree}."
            )
        tan = {}
        for leaf, t, p in zip(leaves, t_flat, flat):
            t = _as_array(t)
            if _shape_dtype(t)[0] != _shape_dtype(p)[0]:
                raise ValueError(
                    f"linearize: tangent shape {_shape_dtype(t)[0]} does not match primal "
                    f"shape {_shape_dtype(p)[0]}."
                )
            tan[leaf] = t
        for node in order:
            if node.prim is None:
                continue
            ts = [None] * len(node.args)
            for argnum, parent, k in node.parents:
                t = tan.get(parent)
                ts[argnum] = t if k is None or t is None else t[k]
            if all(t is None for t in ts):
                continue
            t_out = node.prim.jvp(ts, node.ans, *node.args, **node.params)
            if node.prim.multiple_results:
                tan[node] = [
                    None if t is None else fit_tangent(t, a) for t, a in zip(t_out, node.ans)
                ]
            elif t_out is not None:
                tan[node] = fit_tangent(t_out, node.ans)
        outs = []
        for o, pos in zip(out_primals, positions):
            t = None
            if pos is not None:
                t = tan.get(pos[0])
                if pos[1] is not None and t is not None:
                    t = t[pos[1]]
            outs.append(_zeros_like(o) if t is None else t)
        return tree_unflatten(out_tree, outs)

    return tree_unflatten(out_tree, out_primals), f_jvp


def _basis_batches(like):
    """For each leaf of `like`, the identity basis of its elements as one batch of shape
    (n,) + leaf shape, and the leaf's index."""
    for i, x in enumerate(like):
        shape, dtype = _shape_dtype(x)
        n = int(np.prod(shape, dtype=int))
        yield i, np.eye(n, dtype=dtype).reshape((n,) + shape)


def _apply_to_basis(fn, like, i, basis):
    """`fn(*leaves)` for every basis element of leaf i (the other leaves zero), stacked on a
    leading axis: one vmapped evaluation, or a loop for functions that cannot be batched."""
    from .batching import BatchingError, vmap

    zeros = [_zeros_like(x) for x in like]
    axes = tuple(0 if k == i else None for k in range(len(like)))
    try:
        return vmap(fn, in_axes=axes)(*[basis if k == i else z for k, z in enumerate(zeros)])
    except BatchingError:
        rows = [fn(*[e if k == i else z for k, z in enumerate(zeros)]) for e in basis]
        return [wnp.stack([r[k] for r in rows]) if rows else None for k in range(len(rows[0]))]


def _jacobian_blocks(fn, ins, outs, rows_are_outputs):
    """blocks[k][i]: d out_k / d in_i with shape out_k.shape + in_i.shape. `fn` maps a basis
    element over `ins` (forward: tangents) or over `outs` (reverse: cotangents) to the flat
    list on the other side."""
    seeds, results = (outs, ins) if rows_are_outputs else (ins, outs)
    blocks = [[None] * len(ins) for _ in outs]
    for j, basis in _basis_batches(seeds):
        if basis.shape[0] == 0:
            stacked = [wnp.zeros((0,) + _shape_dtype(r)[0], _shape_dtype(r)[1]) for r in results]
        else:
            stacked = _apply_to_basis(fn, seeds, j, basis)
        seed_shape = _shape_dtype(seeds[j])[0]
        for m, r in enumerate(stacked):
            if rows_are_outputs:  # (n_out_j, *in_m) -> out_j.shape + in_m.shape
                blocks[j][m] = wnp.reshape(r, seed_shape + _shape_dtype(ins[m])[0])
            else:  # (n_in_j, *out_m) -> out_m.shape + in_j.shape
                moved = wnp.moveaxis(r, 0, -1) if np.ndim(raw_value(r)) > 1 else r
                blocks[m][j] = wnp.reshape(moved, _shape_dtype(outs[m])[0] + seed_shape)
    return blocks


def _assemble(blocks, in_tree, out_tree, single):
    """Arrange Jacobian blocks: output structure outside, argument structure inside (a
    tuple over argnums, unwrapped for an int argnums)."""
    per_out = []
    for row in blocks:
        by_arg = tree_unflatten(in_tree, row)
        per_out.append(by_arg[0] if single else by_arg)
    return tree_unflatten(out_tree, per_out)


def jacfwd(f, argnums=0, has_aux=False):
    """Jacobian by forward mode: `f` is linearised once, then the tangents of all input
    elements are pushed through in one vectorised (vmap) sweep. The Jacobian of an output of
    shape S with respect to an input of shape T has shape S + T; pytrees give nested pytrees
    (output structure outside, input structure inside)."""

    @functools.wraps(f)
    def jacfwd_f(*args, **kwargs):
        single, nums = _normalize_argnums("jacfwd", f, argnums, len(args))
        f_partial = _partial_over(f, args, kwargs, nums)
        diff_args = tuple(args[i] for i in nums)
        aux_box = []

        def f_main(*dargs):
            out = f_partial(*dargs)
            if has_aux:
                out, aux = out
                aux_box.append(aux)
            return out

        out, f_jvp = linearize(f_main, *diff_args)
        in_flat, in_tree = tree_flatten(diff_args)
        in_flat = [_as_array(x) for x in in_flat]
        out_flat, out_tree = tree_flatten(out)
        out_flat = [_as_array(o) for o in out_flat]

        def push(*tangents):
            return tree_flatten(f_jvp(*tree_unflatten(in_tree, list(tangents))))[0]

        blocks = _jacobian_blocks(push, in_flat, out_flat, rows_are_outputs=False)
        jac = _assemble(blocks, in_tree, out_tree, single)
        return (jac, aux_box[0]) if has_aux else jac

    return jacfwd_f


def jacrev(f, argnums=0, has_aux=False):
    """Jacobian by reverse mode: `f` is recorded once, then the cotangents of all output
    elements are pulled back in one vectorised (vmap) sweep. Shapes as in jacfwd."""

    @functools.wraps(f)
    def jacrev_f(*args, **kwargs):
        single, nums = _normalize_argnums("jacrev", f, argnums, len(args))
        f_partial = _partial_over(f, args, kwargs, nums)
        diff_args = tuple(args[i] for i in nums)
        result = vjp(f_partial, *diff_args, has_aux=has_aux)
        out, pullback = result[0], result[1]
        in_flat, in_tree = tree_flatten(diff_args)
        in_flat = [_as_array(x) for x in in_flat]
        out_flat, out_tree = tree_flatten(out)
        out_flat = [_as_array(o) for o in out_flat]

        def pull(*cotangents):
            return tree_flatten(pullback(tree_unflatten(out_tree, list(cotangents))))[0]

        blocks = _jacobian_blocks(pull, in_flat, out_flat, rows_are_outputs=True)
        jac = _assemble(blocks, in_tree, out_tree, single)
        return (jac, result[2]) if has_aux else jac

    return jacrev_f


def hessian(f, argnums=0):
    """Hessian of scalar `f`: forward-over-reverse, jacfwd(jacrev(f))."""
    return jacfwd(jacrev(f, argnums=argnums), argnums=argnums)


def hvp(f, primals, tangents):
    """Hessian-vector product of scalar `f` at `primals` along `tangents`, by
    forward-over-reverse: the JVP of the gradient. Returns the product (a tuple, one entry
    per primal)."""
    g = grad(f, argnums=tuple(range(len(primals))))
    return jvp(g, tuple(primals), tuple(tangents))[1]


stop_gradient_p = Primitive("stop_gradient", lambda x: x, differentiable=False)
stop_gradient_p.batch = batch_elementwise


def stop_gradient(x):
    """The value of `x` (a pytree) with no derivative: every transform sees a constant."""
    return tree_map(stop_gradient_p.bind, x)
