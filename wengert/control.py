"""Structured control flow: `cond`, `switch`, `while_loop`, `fori_loop`, `scan`, with JAX's
signatures, differentiable in forward and reverse mode to any order, eagerly and under jit.

When the value that steers the control flow (a predicate, an index, a trip count) is known,
the construct is plain Python: the branch is called, the loop runs, and whatever transform is
active records the operations that executed (reverse mode of a data-dependent while_loop is
then the tape of the iterations that ran). Only when that value is abstract (under jit, or
batched under vmap) is a higher-order primitive bound. Its parameters carry the branches or
the loop body as traced Graphs (`_Fn`); closed-over values of enclosing transforms become
extra arguments, so every transform sees them.

The primitives' rules call the public constructs again, on the JVP / VJP / vmap of the traced
functions, so they nest to any order and stage themselves under jit:

* `cond_p` (switch): JVP = switch of the branches' JVPs, VJP = switch of their pullbacks,
  batched index = every branch, selected with `where`.
* `while_p`: JVP = while_loop carrying tangents; batched = loop until every example is done,
  finished examples masked with `where`; VJP = `while_vjp_p`, whose implementation runs at run
  time, on concrete values: the forward loop keeping its carries (with `checkpoint=True` every
  k-th, k about the square root of the trip count, recomputing the segments between), then the
  body's VJP from the last iteration back to the first. Its own derivatives are `while_vjp_p`
  again, around the JVP / VJP of that run-time procedure.
* `scan_p`: JVP = scan carrying tangents; VJP = a reverse scan of the body's VJP over the
  per-step carries; batched = scan of the vmapped body. When reverse mode is ahead (an
  argument is traced by grad/vjp), `scan` splits the body's VJP into its primal and linear
  parts (`_split_vjp`): the forward scan also emits, as extra ys (`n_res`), the values the
  linear part reads, and the VJP is a reverse scan of the linear part alone (`transposed`).
  Otherwise (a graph staged by jit alone and differentiated later, or a higher order,
  where the stored values receive cotangents) the VJP reruns the forward scan to collect
  the carries and scans the body's whole VJP.
"""

import math
import threading

import numpy as np

from . import numpy as wnp
from .core import Primitive, ShapedArray, Tracer, raw_value, state, tree_flatten, tree_unflatten
from .core.backend import array_module, is_inexact
from .core.primitive import def_jvp_multi
from .ir.codegen import compile_graph, eval_graph
from .ir.graph import Eqn, Graph, Literal, Var
from .ir.memory import VIEW_PRIMITIVES
from .ir.passes import optimize
from .ir.staging import StagingTrace, StagingTracer, example_value
from .transforms.api import jvp, vjp
from .transforms.batching import vmap
from .transforms.reverse import ReverseTracer

# ---------------------------------------------------------------------------------------
# Helpers: abstract values, traced functions, JVP / VJP of functions over flat lists


def _aval(value):
    return ShapedArray(np.shape(value), np.result_type(value), context="jit")


def _is_abstract(x):
    return isinstance(raw_value(x), ShapedArray)


class _RunTime(threading.local):
    """Stack depths at which run-time procedures (run on concrete values, possibly while a
    jit is tracing around them) began: staging traces below the innermost do not count."""

    def __init__(self):
        self.depths = [0]


_run_time = _RunTime()


def _staging():
    """Whether a jit is tracing this code (then loops are staged, not unrolled)."""
    stack = state.trace_stack
    return any(isinstance(t, StagingTrace) for t in stack[_run_time.depths[-1]:])


def _as_array(x):
    if isinstance(x, Tracer) or hasattr(x, "dtype"):
        return x
    return np.asarray(x)


def _inexact(x):
    r = raw_value(x)
    return is_inexact(r.dtype if hasattr(r, "dtype") else np.result_type(r))


def _example(x):
    return _as_array(example_value(x))


def _name(f):
    return getattr(f, "__name__", type(f).__name__)


class _CaptureTrace(StagingTrace):
    """Staging that turns values of enclosing transforms (closed over by the traced function)
    into extra graph inputs instead of failing: they become arguments of the primitive."""

    __slots__ = ("captured", "captured_vars")

    def __init__(self):
        super().__init__()
        self.captured = {}  # id -> value
        self.captured_vars = {}  # id -> Var

    def _input(self, a):
        if isinstance(a, Tracer) and not (isinstance(a, StagingTracer) and a._trace is self):
            example = _example(a)
            key = id(a)
            if key not in self.captured:
                self.captured[key] = a
                self.captured_vars[key] = Var(_aval(example))
            return example, self.captured_vars[key]
        return super()._input(a)


class _Fn:
    """A traced function over flat arrays: `fn(*inputs)` returns the list of outputs, by the
    generated code on raw arrays and equation by equation (through `bind`, so enclosing
    transforms see each operation) on tracers."""

    __slots__ = ("graph", "out_tree", "name", "_compiled")

    def __init__(self, graph, out_tree, name):
        self.graph = graph
        self.out_tree = out_tree
        self.name = name
        self._compiled = None

    @property
    def out_avals(self):
        return [v.aval for v in self.graph.outvars]

    def __call__(self, *args):
        if any(isinstance(a, Tracer) for a in args):
            return eval_graph(self.graph, args)
        return list(self.compiled()(*args))

    def compiled(self):
        """The generated function, for raw arrays only; it returns a tuple."""
        if self._compiled is None:
            self._compiled = compile_graph(self.graph)[0]
        return self._compiled

    def __repr__(self):
        return f"<{self.name}: {len(self.graph.eqns)} equations>"


def _trace_all(funs, examples, in_tree):
    """Trace each `(function, name)` on `examples` (flat, unflattened by `in_tree` into the
    positional arguments). Returns the `_Fn`s, each taking the inputs followed by every value
    any of the functions closed over (once each), and the list of those values."""
    traced = []
    for fun, name in funs:
        with _CaptureTrace() as trace:
            invars = [Var(_aval(x)) for x in examples]
            tracers = [StagingTracer(trace, x, v) for x, v in zip(examples, invars)]
            out_flat, out_tree = tree_flatten(fun(*tree_unflatten(in_tree, tracers)))
            outvars = [trace._input(o)[1] for o in out_flat]
        traced.append((trace, invars, outvars, out_tree, name))
    captured = {}
    for trace, *_ in traced:
        for key, value in trace.captured.items():
            captured.setdefault(key, value)
    fns = []
    for trace, invars, outvars, out_tree, name in traced:
        capvars = [trace.captured_vars.get(k) or Var(_aval(_example(v)))
                   for k, v in captured.items()]
        graph = Graph(invars + capvars, trace.constvars, trace.consts, trace.eqns, outvars)
        fns.append(_Fn(optimize(graph.check()), out_tree, name))
    return fns, list(captured.values())


def _types(avals):
    return [(tuple(a.shape), np.dtype(a.dtype)) for a in avals]


def _describe(tree, avals):
    types = ", ".join(f"{np.dtype(a.dtype).name}{list(a.shape)}" for a in avals)
    return f"{tree} with leaves [{types}]"


def _zeros(x):
    return wnp.zeros_like(x)


def _full_tangents(tangents, args):
    """Tangents for every argument: zeros for symbolic zeros (and for integer arguments)."""
    return [_zeros(a) if t is None or not _inexact(a) else t for t, a in zip(tangents, args)]


def _tangents_out(ts, ans):
    """A JVP rule's result: no tangent (None) for integer outputs."""
    return tuple(t if _inexact(a) else None for t, a in zip(ts, ans))


def _splice(values, positions, replacements):
    full = list(values)
    for i, r in zip(positions, replacements):
        full[i] = r
    return full


def _jvp_flat(fn, xs, ts):
    """(outputs, output tangents) of `fn` (flat list in, flat list out) at `xs` along `ts`;
    integer inputs are held fixed and integer outputs get zero tangents."""
    diff = [i for i, x in enumerate(xs) if _inexact(x)]
    if not diff:
        outs = fn(*xs)
        return outs, [_zeros(o) for o in outs]

    def along(*d):
        return list(fn(*_splice(xs, diff, d)))

    outs, out_ts = jvp(along, [_as_array(xs[i]) for i in diff], [ts[i] for i in diff])
    return outs, [t if _inexact(o) else _zeros(o) for t, o in zip(out_ts, outs)]


def _vjp_flat(fn, xs, gs):
    """Cotangents of every input of `fn` (zeros for integer ones) given cotangents `gs` of
    its outputs (those of integer outputs are ignored)."""
    diff = [i for i, x in enumerate(xs) if _inexact(x)]
    if not diff:
        return [_zeros(x) for x in xs]
    kept = []  # which outputs carry derivatives

    def on(*d):
        outs = fn(*_splice(xs, diff, d))
        kept[:] = [_inexact(o) for o in outs]
        return [o for o, k in zip(outs, kept) if k]

    _, pullback = vjp(on, *[_as_array(xs[i]) for i in diff])
    cts = pullback([g for g, k in zip(gs, kept) if k])
    return _splice([_zeros(x) for x in xs], diff, cts)


class _AllCotangents:
    """`vjps` of a primitive whose reverse rule computes every argument's cotangent at once:
    entry i of the rule's result, computed once per output cotangent `g`."""

    def __init__(self, rule):
        self.rule = rule
        self.last = (None, None)

    def __getitem__(self, i):
        def vjp_i(g, ans, *args, **params):
            last_g, cts = self.last
            if last_g is not g:
                cts = self.rule(g, ans, *args, **params)
                self.last = (g, cts)
            return cts[i]

        return vjp_i


def _axis_size(args, batched):
    return next(np.shape(raw_value(a))[0] for a, b in zip(args, batched) if b)


def _batched(x, b, size):
    return x if b else wnp.broadcast_to(wnp.expand_dims(x, 0), (size,) + np.shape(raw_value(x)))


def _select(mask, on_true, on_false):
    """where(mask, ...) with a batch mask of shape (B,) against values of shape (B, ...)."""
    ndim = np.ndim(raw_value(on_true))
    return wnp.where(wnp.reshape(mask, (-1,) + (1,) * (ndim - 1)), on_true, on_false)


def _axes(batched):
    return tuple(0 if b else None for b in batched)


# ---------------------------------------------------------------------------------------
# cond / switch


def _cond_impl(index, *args, branches):
    i = min(max(int(index), 0), len(branches) - 1)
    return tuple(branches[i](*args))


cond_p = Primitive("cond", _cond_impl, multiple_results=True)


def _cond_jvp(tangents, ans, index, *args, branches):
    ts = _full_tangents(tangents[1:], args)
    n = len(args)

    def branch_jvp(fn):
        def branch(*xs):
            outs, out_ts = _jvp_flat(fn, xs[:n], xs[n:])
            return outs + out_ts

        return branch

    outs = _switch(index, [branch_jvp(fn) for fn in branches], args + tuple(ts), "cond")
    return _tangents_out(outs[len(ans):], ans)


def _cond_cotangents(g, ans, index, *args, branches):
    n = len(args)

    def branch_vjp(fn):
        def branch(*xs):
            return _vjp_flat(fn, xs[:n], xs[n:])

        return branch

    cts = _switch(index, [branch_vjp(fn) for fn in branches], args + tuple(g), "cond")
    return [_zeros(index)] + list(cts)


def _cond_batch(prim, args, batched, branches):
    index, ops = args[0], args[1:]
    mapped = [vmap(fn, in_axes=_axes(batched[1:])) for fn in branches]
    if not batched[0]:
        return tuple(_switch(index, mapped, ops, "cond"))
    # A batched index: every branch runs on the whole batch, each example keeps its own.
    results = [m(*ops) for m in mapped]
    outs = list(results[-1])
    for i in range(len(results) - 2, -1, -1):
        outs = [_select(index <= i, r, o) for r, o in zip(results[i], outs)]
    return tuple(outs)


def_jvp_multi(cond_p, _cond_jvp)
cond_p.vjps = _AllCotangents(_cond_cotangents)
cond_p.batch = _cond_batch


def _check_scalar(what, value, hint):
    shape = np.shape(raw_value(value))
    if shape != ():
        raise TypeError(f"{what} must be a scalar, got shape {shape}. {hint}")


def _switch(index, branches, operands, who, names=None):
    """switch's body; `who` names the public function in errors, `names` the branches."""
    i = raw_value(index)
    if not isinstance(i, ShapedArray):
        return branches[min(max(int(i), 0), len(branches) - 1)](*operands)
    flat, in_tree = tree_flatten(tuple(operands))
    examples = [_example(x) for x in flat]
    names = names or [f"branch {k} ({_name(b)})" for k, b in enumerate(branches)]
    fns, consts = _trace_all(list(zip(branches, names)), examples, in_tree)
    first = fns[0]
    for fn in fns[1:]:
        if fn.out_tree != first.out_tree or _types(fn.out_avals) != _types(first.out_avals):
            raise TypeError(
                f"{who}: {first.name} and {fn.name} must return the same structure, shapes and "
                f"dtypes, but {first.name} returned {_describe(first.out_tree, first.out_avals)} "
                f"and {fn.name} returned {_describe(fn.out_tree, fn.out_avals)}. Make the "
                "branches agree (cast with astype, broadcast, or return zeros of the same shape)."
            )
    outs = cond_p.bind(index, *flat, *consts, branches=tuple(fns))
    return tree_unflatten(first.out_tree, list(outs))


def switch(index, branches, *operands):
    """Apply `branches[index](*operands)`; an index out of range is clamped to the first or
    last branch (as in JAX). With a traced index (under jit or vmap) every branch is traced and
    must return the same structure, shapes and dtypes; under vmap with a batched index every
    branch runs and each example keeps its own result. Differentiable with respect to the
    operands (and to values the branches close over), in forward and reverse mode.

    >>> switch(1, [wnp.sin, wnp.cos, wnp.tan], 0.5)  # cos(0.5)
    """
    branches = list(branches)
    if not branches or not all(callable(b) for b in branches):
        raise TypeError("switch: branches must be a non-empty sequence of functions.")
    _check_scalar("switch: index", index, "Select elementwise with wengert.numpy.where.")
    return _switch(index, branches, operands, "switch")


def cond(pred, true_fun, false_fun, *operands):
    """`true_fun(*operands)` if `pred` else `false_fun(*operands)`. With a known predicate this
    is a Python `if`; with a traced one (under jit, or batched under vmap) both branches are
    traced and must return the same structure, shapes and dtypes. Differentiable with respect
    to the operands (and to values the branches close over), in forward and reverse mode.

    >>> cond(x > 0, lambda x: x, lambda x: -x, x)  # |x|, also under jit
    """
    _check_scalar("cond: pred", pred, "Select elementwise with wengert.numpy.where.")
    if not isinstance(raw_value(pred), ShapedArray):
        return (true_fun if bool(raw_value(pred)) else false_fun)(*operands)
    index = pred if np.dtype(raw_value(pred).dtype) == np.bool_ else wnp.not_equal(pred, 0)
    names = [f"false_fun ({_name(false_fun)})", f"true_fun ({_name(true_fun)})"]
    return _switch(index, [false_fun, true_fun], operands, "cond", names)


# ---------------------------------------------------------------------------------------
# while_loop / fori_loop


def _while_python(going, step, carry):
    while going(carry):
        carry = step(carry)
    return carry


def _loop_functions(cond_fn, body_fn, consts):
    def going(carry):
        pred = cond_fn(*carry, *consts)[0]
        return bool(raw_value(pred))

    def step(carry):
        return body_fn(*carry, *consts)

    return going, step


def _while_impl(*args, cond_fn, body_fn, n_carry, checkpoint):
    carry, consts = list(args[:n_carry]), args[n_carry:]
    return tuple(_while_python(*_loop_functions(cond_fn, body_fn, consts), carry))


while_p = Primitive("while", _while_impl, multiple_results=True)


def _while_jvp(tangents, ans, *args, cond_fn, body_fn, n_carry, checkpoint):
    ts = _full_tangents(tangents, args)
    consts, consts_t = args[n_carry:], ts[n_carry:]

    def going(state):
        return cond_fn(*state[0], *consts)[0]

    def step(state):
        carry, carry_t = state
        outs, out_ts = _jvp_flat(body_fn, carry + list(consts), carry_t + list(consts_t))
        return outs[:n_carry], out_ts[:n_carry]

    _, out_t = while_loop(going, step, (list(args[:n_carry]), ts[:n_carry]),
                          checkpoint=checkpoint)
    return _tangents_out(out_t, ans)


def _while_cotangents(g, ans, *args, cond_fn, body_fn, n_carry, checkpoint):
    reverse = _WhileReverse(cond_fn, body_fn, n_carry, checkpoint)
    return while_vjp_p.bind(*args, *g, fun=reverse)


def _while_batch(prim, args, batched, cond_fn, body_fn, n_carry, checkpoint):
    size = _axis_size(args, batched)
    carry = [_batched(c, b, size) for c, b in zip(args[:n_carry], batched[:n_carry])]
    consts = args[n_carry:]
    axes = (0,) * n_carry + _axes(batched[n_carry:])
    preds, steps = vmap(cond_fn, in_axes=axes), vmap(body_fn, in_axes=axes)

    def going(carry):
        return wnp.any(preds(*carry, *consts)[0])

    def step(carry):
        # Examples that are done keep their carry while the others go on.
        pred = preds(*carry, *consts)[0]
        return [_select(pred, new, old) for new, old in zip(steps(*carry, *consts), carry)]

    return tuple(while_loop(going, step, carry, checkpoint=checkpoint))


def_jvp_multi(while_p, _while_jvp)
while_p.vjps = _AllCotangents(_while_cotangents)
while_p.batch = _while_batch


class _WhileReverse:
    """The run-time procedure of while_loop's reverse rule:
    (carry, consts, carry cotangent) -> cotangents of carry and consts."""

    __slots__ = ("cond_fn", "body_fn", "n_carry", "checkpoint")

    def __init__(self, cond_fn, body_fn, n_carry, checkpoint):
        self.cond_fn = cond_fn
        self.body_fn = body_fn
        self.n_carry = n_carry
        self.checkpoint = checkpoint

    def __repr__(self):
        return f"reverse({self.body_fn.name}{', checkpoint' if self.checkpoint else ''})"

    def __call__(self, *args):
        n = self.n_carry
        m = len(args) - n  # carry, consts, then the carry's cotangent
        carry, consts, ct = list(args[:n]), list(args[n:m]), list(args[m:])
        going, step = _loop_functions(self.cond_fn, self.body_fn, consts)
        every = 1
        if self.checkpoint:  # a first pass counts the iterations
            trips, c = 0, carry
            while going(c):
                c, trips = step(c), trips + 1
            every = max(1, math.isqrt(max(trips - 1, 0)) + 1)
        saved, trips, c = [], 0, carry
        while going(c):
            if trips % every == 0:
                saved.append(c)
            c, trips = step(c), trips + 1
        ct_consts = [_zeros(k) for k in consts]
        for s in range(len(saved) - 1, -1, -1):
            segment = [saved[s]]  # recompute the carries between two checkpoints
            for _ in range(min(every, trips - s * every) - 1):
                segment.append(step(segment[-1]))
            for c in reversed(segment):
                cts = _vjp_flat(self.body_fn, c + consts, ct)
                ct = cts[:n]
                ct_consts = [a + b for a, b in zip(ct_consts, cts[n:])]
        return ct + ct_consts


class _JvpOf:
    """(inputs, tangents) -> outputs followed by their tangents, of a run-time procedure."""

    __slots__ = ("fun", "n")

    def __init__(self, fun, n):
        self.fun, self.n = fun, n

    def __repr__(self):
        return f"jvp({self.fun!r})"

    def __call__(self, *args):
        outs, out_ts = _jvp_flat(self.fun, args[: self.n], args[self.n:])
        return list(outs) + list(out_ts)


class _VjpOf:
    """(inputs, output cotangents) -> input cotangents, of a run-time procedure."""

    __slots__ = ("fun", "n")

    def __init__(self, fun, n):
        self.fun, self.n = fun, n

    def __repr__(self):
        return f"vjp({self.fun!r})"

    def __call__(self, *args):
        return _vjp_flat(self.fun, args[: self.n], args[self.n:])


def _while_vjp_impl(*args, fun):
    _run_time.depths.append(len(state.trace_stack))
    try:
        return tuple(fun(*args))
    finally:
        _run_time.depths.pop()


while_vjp_p = Primitive("while_vjp", _while_vjp_impl, multiple_results=True)


def _while_vjp_jvp(tangents, ans, *args, fun):
    ts = _full_tangents(tangents, args)
    outs = while_vjp_p.bind(*args, *ts, fun=_JvpOf(fun, len(args)))
    return _tangents_out(outs[len(ans):], ans)


def _while_vjp_cotangents(g, ans, *args, fun):
    return while_vjp_p.bind(*args, *g, fun=_VjpOf(fun, len(args)))


def _while_vjp_batch(prim, args, batched, fun):
    # Each example runs its own procedure (its own trip count).
    size = _axis_size(args, batched)
    rows = [while_vjp_p.bind(*[a[i] if b else a for a, b in zip(args, batched)], fun=fun)
            for i in range(size)]
    return tuple(wnp.stack(col) for col in zip(*rows))


def_jvp_multi(while_vjp_p, _while_vjp_jvp)
while_vjp_p.vjps = _AllCotangents(_while_vjp_cotangents)
while_vjp_p.batch = _while_vjp_batch


def _staged_while(cond_fun, body_fun, init_val, checkpoint):
    flat, tree = tree_flatten(init_val)
    flat = [_as_array(x) for x in flat]
    examples = [_example(x) for x in flat]
    (cond_fn, body_fn), consts = _trace_all(
        [(cond_fun, f"cond_fun ({_name(cond_fun)})"), (body_fun, f"body_fun ({_name(body_fun)})")],
        examples, tree_flatten((init_val,))[1])
    pred_avals = cond_fn.out_avals
    if len(pred_avals) != 1 or pred_avals[0].shape != ():
        raise TypeError(
            f"while_loop: {cond_fn.name} must return one boolean scalar, but it returned "
            f"{_describe(cond_fn.out_tree, pred_avals)}. Reduce it (wnp.all / wnp.any)."
        )
    in_avals = [_aval(x) for x in examples]
    if body_fn.out_tree != tree or _types(body_fn.out_avals) != _types(in_avals):
        raise TypeError(
            f"while_loop: {body_fn.name} must return a carry with the structure, shapes and "
            f"dtypes of init_val, {_describe(tree, in_avals)}, but it returned "
            f"{_describe(body_fn.out_tree, body_fn.out_avals)}. Cast with astype or broadcast "
            "so that the carry keeps its type."
        )
    outs = while_p.bind(*flat, *consts, cond_fn=cond_fn, body_fn=body_fn, n_carry=len(flat),
                        checkpoint=checkpoint)
    return tree_unflatten(tree, list(outs))


def while_loop(cond_fun, body_fun, init_val, *, checkpoint=False):
    """`val = init_val; while cond_fun(val): val = body_fun(val); return val`.

    With a known predicate this is a Python loop, and grad/jvp/the eager tape record the
    iterations that ran. With a traced predicate (under jit, or batched under vmap) the loop
    is one operation: `cond_fun` must return a boolean scalar and `body_fun` a carry of the
    same structure, shapes and dtypes as `init_val`. Differentiable with respect to
    `init_val` (and to values the functions close over) in forward and reverse mode, also
    under jit, where reverse mode keeps the carries of each iteration at run time (unlike
    JAX, which refuses); `checkpoint=True` keeps only every k-th (k about the square root
    of the trip count) and recomputes the others, for long loops.

    >>> while_loop(lambda x: x < 10.0, lambda x: 2.0 * x, 1.0)  # 16.0
    """
    if not (checkpoint or _staging()):
        val = init_val
        while True:
            pred = cond_fun(val)
            _check_scalar(f"while_loop: the result of cond_fun ({_name(cond_fun)})", pred,
                          "Reduce it with wnp.all / wnp.any.")
            if _is_abstract(pred):
                init_val = val  # the predicate became traced: stage the rest of the loop
                break
            if not bool(raw_value(pred)):
                return val
            val = body_fun(val)
    return _staged_while(cond_fun, body_fun, init_val, checkpoint)


def fori_loop(lower, upper, body_fun, init_val, *, checkpoint=False):
    """`val = init_val; for i in range(lower, upper): val = body_fun(i, val); return val`.

    With known bounds this is a scan (a Python loop when the values are known, one staged
    operation under jit), differentiable in both modes; traced bounds or `checkpoint=True`
    make it a while_loop.

    >>> fori_loop(0, 3, lambda i, x: x * 2.0, 1.0)  # 8.0
    """
    if not (_is_abstract(lower) or _is_abstract(upper) or checkpoint):
        lo, hi = int(raw_value(lower)), int(raw_value(upper))

        def step(state, _):
            i, val = state
            return (i + 1, body_fun(i, val)), None

        start = np.asarray(lo, np.result_type(raw_value(lower)))
        return scan(step, (start, init_val), None, length=max(hi - lo, 0))[0][1]

    def going(state):
        return state[0] < upper

    def step(state):
        i, val = state
        return i + 1, body_fun(i, val)

    return while_loop(going, step, (_as_array(lower), init_val), checkpoint=checkpoint)[1]


# ---------------------------------------------------------------------------------------
# scan


def _scan_python(step, carry, xs, length, reverse):
    """The loop itself, over flat lists: `step(carry, x) -> (carry, y)`; ys are stacked."""
    ys = []
    for i in range(length - 1, -1, -1) if reverse else range(length):
        carry, y = step(carry, [x[i] for x in xs])
        ys.append(y)
    if reverse:
        ys.reverse()
    return carry, [wnp.stack(col) for col in zip(*ys)]


def _scan_impl(*args, body, n_carry, n_xs, length, reverse, n_res, transposed):
    """The loop on raw arrays: the body's generated code, each step's ys written into
    preallocated stacks (no per-step dispatch, no final stacking copy)."""
    carry, xs, consts = args[:n_carry], args[n_carry:n_carry + n_xs], args[n_carry + n_xs:]
    xp = array_module(args[0]) if args else np
    ys = [xp.empty((length,) + tuple(a.shape), a.dtype) for a in body.out_avals[n_carry:]]
    run = body.compiled()
    for i in range(length - 1, -1, -1) if reverse else range(length):
        outs = run(*carry, *[x[i] for x in xs], *consts)
        carry = outs[:n_carry]
        for stacked, y in zip(ys, outs[n_carry:]):
            stacked[i] = y
    return tuple(carry) + tuple(ys)


scan_p = Primitive("scan", _scan_impl, multiple_results=True)


def _split_scan(args, n_carry, n_xs):
    return list(args[:n_carry]), list(args[n_carry:n_carry + n_xs]), list(args[n_carry + n_xs:])


def _scan_jvp(tangents, ans, *args, body, n_carry, n_xs, length, reverse, n_res,
              transposed):
    ts = _full_tangents(tangents, args)
    init, xs, consts = _split_scan(args, n_carry, n_xs)
    init_t, xs_t, consts_t = _split_scan(ts, n_carry, n_xs)

    def step(state, x):
        (carry, carry_t), (x, x_t) = state, x
        outs, out_ts = _jvp_flat(body, carry + x + consts, carry_t + x_t + consts_t)
        return (outs[:n_carry], out_ts[:n_carry]), (outs[n_carry:], out_ts[n_carry:])

    (_, carry_t), (_, ys_t) = scan(step, (init, init_t), (xs, xs_t), length=length,
                                   reverse=reverse)
    return _tangents_out(list(carry_t) + list(ys_t), ans)


def _scan_cotangents(g, ans, *args, body, n_carry, n_xs, length, reverse, n_res,
                     transposed):
    init, xs, consts = _split_scan(args, n_carry, n_xs)
    n_ys = len(ans) - n_carry - n_res
    g_res = g[len(ans) - n_res:]
    if transposed is not None and not any(isinstance(c, Tracer) or np.any(c) for c in g_res):
        # The forward pass stored what the body's VJP reads: run only its linear part, for
        # the carry and the xs and consts that reverse mode differentiated when the scan
        # was staged (the others are None: `_ScanCotangents` computes them if asked).
        linear_part, wanted = transposed
        want_x = [i for i in range(n_xs) if wanted[i]]
        want_k = [i for i in range(len(consts)) if wanted[n_xs + i]]

        def backward_linear(state, step_values):
            ct_carry, ct_consts = state
            res, x, g_y = step_values
            cts = linear_part(*res, *x, *consts, *ct_carry, *g_y)
            return _add_step(ct_carry, ct_consts, cts, n_carry, len(want_x))

        start = (list(g[:n_carry]), [_zeros(consts[i]) for i in want_k])
        values = (list(ans[len(ans) - n_res:]), xs, list(g[n_carry:n_carry + n_ys]))
        (ct_init, ct_k), ct_x = scan(backward_linear, start, values, length=length,
                                     reverse=not reverse)
        return (list(ct_init) + _splice([None] * n_xs, want_x, ct_x)
                + _splice([None] * len(consts), want_k, ct_k))

    # Otherwise (a cotangent reaches the stored residuals: a higher order) the body's whole
    # VJP, from the carries, which the forward scan is run again to collect.
    def forward(carry, x):  # the carry each step started from
        return body(*carry, *x, *consts)[:n_carry], carry

    _, carries = scan(forward, init, xs, length=length, reverse=reverse)

    def backward(state, step_values):
        ct_carry, ct_consts = state
        carry, x, g_y = step_values
        cts = _vjp_flat(body, carry + x + consts, ct_carry + g_y)
        return _add_step(ct_carry, ct_consts, cts, n_carry, n_xs)

    start = (list(g[:n_carry]), [_zeros(k) for k in consts])
    (ct_init, ct_consts), ct_xs = scan(backward, start, (carries, xs, list(g[n_carry:])),
                                       length=length, reverse=not reverse)
    return list(ct_init) + list(ct_xs) + list(ct_consts)


def _add_step(ct_carry, ct_consts, cts, n_carry, n_xs):
    """One backward step's state and output: (the carry's cotangent, the consts'
    cotangents summed so far), the step's x cotangent."""
    ct_carry, ct_x, ct_k = cts[:n_carry], cts[n_carry:n_carry + n_xs], cts[n_carry + n_xs:]
    return (ct_carry, [a + b for a, b in zip(ct_consts, ct_k)]), ct_x


def _scan_batch(prim, args, batched, body, n_carry, n_xs, length, reverse, n_res,
                transposed):
    size = _axis_size(args, batched)
    init, xs, consts = _split_scan(args, n_carry, n_xs)
    init = [_batched(c, b, size) for c, b in zip(init, batched)]
    xs_batched = batched[n_carry:n_carry + n_xs]
    # Scanning runs over the leading axis, so a batched xs carries its batch on axis 1.
    xs = [wnp.moveaxis(x, 0, 1) if b else x for x, b in zip(xs, xs_batched)]
    mapped = vmap(body, in_axes=(0,) * n_carry + _axes(xs_batched)
                  + _axes(batched[n_carry + n_xs:]))

    def step(carry, x):
        outs = mapped(*carry, *x, *consts)
        return outs[:n_carry], outs[n_carry:]

    carry, ys = scan(step, init, xs, length=length, reverse=reverse)
    return tuple(carry) + tuple(wnp.moveaxis(y, 1, 0) for y in ys)


def_jvp_multi(scan_p, _scan_jvp)
class _ScanCotangents(_AllCotangents):
    """`vjps` of scan: a cotangent the linear part's scan left out (None: an argument that
    reverse mode did not differentiate when the scan was staged, asked for by a transform
    that came later) comes from the body's whole VJP."""

    def __getitem__(self, i):
        fast = super().__getitem__(i)

        def vjp_i(g, ans, *args, **params):
            ct = fast(g, ans, *args, **params)
            if ct is None:
                cts = self.rule(g, ans, *args, **dict(params, transposed=None))
                self.last = (g, cts)
                ct = cts[i]
            return ct

        return vjp_i


scan_p.vjps = _ScanCotangents(_scan_cotangents)
scan_p.batch = _scan_batch


def scan(f, init, xs=None, length=None, reverse=False):
    """Loop `f(carry, x) -> (carry, y)` over the leading axis of `xs` (a pytree of arrays),
    returning the final carry and the stacked ys: `jax.lax.scan`'s contract. `length` is
    needed when `xs` is None; `reverse=True` runs from the last element to the first (ys
    keep their order). Eagerly this is a Python loop; when the carry or xs are traced
    (under jit or vmap) it is one operation, whose reverse mode is a reverse scan over the
    stored per-step carries. Differentiable with respect to `init`, `xs` and values `f`
    closes over, in forward and reverse mode.

    >>> scan(lambda c, x: (c + x, c * x), 0.0, np.arange(3.0))  # (3.0, [0., 0., 2.])
    """
    xs_flat, xs_tree = tree_flatten(xs)
    xs_flat = [_as_array(x) for x in xs_flat]
    lengths = set()
    for x in xs_flat:
        shape = np.shape(raw_value(x))
        if not shape:
            raise TypeError(f"scan: every leaf of xs must have a leading axis to scan over; "
                            f"got a scalar for {_name(f)}.")
        lengths.add(shape[0])
    if length is not None:
        lengths.add(int(length))
    if not lengths:
        raise ValueError(f"scan: xs is None, so length is needed (scanning {_name(f)}).")
    if len(lengths) != 1:
        raise ValueError(
            f"scan: the leading axes of xs and length disagree: {sorted(lengths)} (scanning "
            f"{_name(f)}). Give every leaf of xs the same leading axis, of size length."
        )
    (length,) = lengths
    init_flat, init_tree = tree_flatten(init)
    init_flat = [_as_array(c) for c in init_flat]
    n_carry = len(init_flat)
    if length > 0 and not (_staging() or any(_is_abstract(v) for v in init_flat + xs_flat)):
        y_tree = []

        def step(carry, x):
            new, y = _pair(f(tree_unflatten(init_tree, carry), tree_unflatten(xs_tree, x)), f)
            new_flat, new_tree = tree_flatten(new)
            if new_tree != init_tree:
                raise TypeError(f"scan: {_name(f)} returned a carry {new_tree}; init is "
                                f"{init_tree}. The carry must keep its structure.")
            y_flat, tree = tree_flatten(y)
            y_tree[:] = [tree]
            return new_flat, y_flat

        carry, ys = _scan_python(step, init_flat, xs_flat, length, reverse)
        return tree_unflatten(init_tree, carry), tree_unflatten(y_tree[0], ys)

    examples = [_example(c) for c in init_flat] + [
        _example(x)[0] if length else np.zeros(np.shape(_example(x))[1:], _example(x).dtype)
        for x in xs_flat]
    in_tree = tree_flatten((init, xs))[1]
    (body,), consts = _trace_all([(_pair_fun(f), f"f ({_name(f)})")], examples, in_tree)
    carry_tree, y_tree = body.out_tree.children
    in_avals = [_aval(c) for c in examples[:n_carry]]
    if carry_tree != init_tree or _types(body.out_avals[:n_carry]) != _types(in_avals):
        raise TypeError(
            f"scan: {body.name} must return (carry, y) with a carry of the structure, shapes and "
            f"dtypes of init, {_describe(init_tree, in_avals)}, but its carry was "
            f"{_describe(carry_tree, body.out_avals[:n_carry])}. Cast with astype or broadcast "
            "so that the carry keeps its type."
        )
    n_res, transposed = 0, None
    wanted = [_reverse_ahead([v]) for v in xs_flat + consts]
    if any(wanted) or _reverse_ahead(init_flat):
        body, n_res, transposed = _split_vjp(body, n_carry, len(xs_flat), wanted)
    outs = scan_p.bind(*init_flat, *xs_flat, *consts, body=body, n_carry=n_carry,
                       n_xs=len(xs_flat), length=length, reverse=bool(reverse), n_res=n_res,
                       transposed=transposed)
    return (tree_unflatten(init_tree, list(outs[:n_carry])),
            tree_unflatten(y_tree, list(outs[n_carry:len(outs) - n_res])))


def _pair(out, f):
    if not isinstance(out, tuple) or len(out) != 2:
        raise TypeError(f"scan: {_name(f)} must return a pair (carry, y), got "
                        f"{type(out).__name__}.")
    return out


def _pair_fun(f):
    def pair(carry, x):
        return _pair(f(carry, x), f)

    pair.__name__ = _name(f)
    return pair


def _split_vjp(body, n_carry, n_xs, wanted):
    """Partial evaluation of the body's VJP, for a scan that reverse mode will differentiate.

    The VJP of `body` (inputs: carry, x, consts; then the outputs' cotangents) is traced
    and split into its primal part (what does not depend on the cotangents: the body again,
    and what its rules read) and its linear part. Returns (the body extended to also output
    the residuals, the primal values the linear part reads, as extra ys; their number; the
    linear part as a `_Fn` over (residuals, x, consts, cotangents) -> the cotangents of the
    carry and of the `wanted` xs and consts, paired with `wanted`). So the forward scan
    stores the residuals and the backward scan neither reruns the forward scan nor
    recomputes the body."""
    graph = body.graph
    n_in = len(graph.invars)
    examples = [np.zeros(v.aval.shape, v.aval.dtype) for v in graph.invars + graph.outvars]
    differentiated = list(range(n_carry)) + [n_carry + i for i, w in enumerate(wanted) if w]

    def body_vjp(*args):
        ins = list(args[:n_in])

        def of_differentiated(*d):
            return body(*_splice(ins, differentiated, d))

        return _vjp_flat(of_differentiated, [ins[i] for i in differentiated], list(args[n_in:]))

    (vjp_fn,), captured = _trace_all([(body_vjp, f"vjp({body.name})")], examples,
                                     tree_flatten(tuple(range(len(examples))))[1])
    assert not captured, "the traced body closes over nothing: its consts are inputs"
    vjp = vjp_fn.graph
    ins, cts = vjp.invars[:n_in], vjp.invars[n_in:]
    # Each equation reads the cotangents (linear), the carry or x (varying), or neither
    # (invariant: constants, consts). The backward body is the linear equations, plus
    # those that are cheaper to redo than to store per step: invariant ones, and views.
    linear, varying = {id(v) for v in cts}, {id(v) for v in ins[:n_carry + n_xs]}
    producer, linear_eqns = {}, []
    for k, eqn in enumerate(vjp.eqns):
        reads = {id(x) for x in eqn.inputs if not isinstance(x, Literal)}
        kind = linear if reads & linear else varying if reads & varying else None
        if kind is linear:
            linear_eqns.append(eqn)
        else:
            producer.update((id(v), (k, eqn)) for v in eqn.outputs)
        if kind is not None:
            kind.update(id(v) for v in eqn.outputs)
    needed = [x for eqn in linear_eqns for x in eqn.inputs] + list(vjp.outvars)
    passed = {id(v) for v in ins[n_carry:]}  # x and consts reach the backward scan as such
    redo, residuals, seen = {}, [], set()
    while needed:
        v = needed.pop()
        if isinstance(v, Literal) or id(v) in seen or id(v) in linear or id(v) in passed:
            continue
        seen.add(id(v))
        k, eqn = producer.get(id(v), (None, None))
        if eqn is not None and (id(v) not in varying or eqn.prim.name in VIEW_PRIMITIVES):
            redo[k] = eqn
            needed.extend(eqn.inputs)
        elif eqn is not None or any(v is c for c in ins[:n_carry]):
            residuals.append(v)  # a carry is stored as the echo of the body's input
    linear_ids = {id(eqn) for eqn in linear_eqns}
    primal_eqns = [eqn for eqn in vjp.eqns if id(eqn) not in linear_ids]
    rename = {id(v): w for v, w in zip(ins, graph.invars)}

    def renamed(x):
        return x if isinstance(x, Literal) else rename.get(id(x), x)

    forward = Graph(graph.invars, graph.constvars + vjp.constvars, graph.consts + vjp.consts,
                    graph.eqns + tuple(Eqn(e.prim, [renamed(x) for x in e.inputs], e.params,
                                           e.outputs) for e in primal_eqns),
                    graph.outvars + tuple(renamed(v) for v in residuals))
    backward = Graph(residuals + list(ins[n_carry:]) + list(cts), vjp.constvars, vjp.consts,
                     [redo[k] for k in sorted(redo)] + linear_eqns, vjp.outvars)
    return (_Fn(optimize(forward.check()), body.out_tree, body.name), len(residuals),
            (_Fn(optimize(backward.check()), None, f"linear({vjp_fn.name})"), tuple(wanted)))


def _reverse_ahead(values):
    """Whether reverse mode differentiates any of `values` (at any transform level)."""
    for x in values:
        while isinstance(x, Tracer):
            if isinstance(x, ReverseTracer):
                return True
            x = x.primal
    return False


__all__ = ["cond", "fori_loop", "scan", "switch", "while_loop"]
