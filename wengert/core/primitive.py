"""Primitives, tracers and traces: the machinery that lets transforms nest.

A `Primitive` is an operation on raw backend arrays plus its derivative rules. Calling
`prim.bind(*args)` looks at the arguments: with no tracer among them it runs the raw
implementation; otherwise the trace with the highest level among the arguments' tracers
processes the operation (the innermost transform goes first) and recurses with its
primal values, so nested transforms never confuse their perturbations.

Derivative rules live beside each primitive's declaration (in `wengert.numpy`):

* `prim.jvp(tangents, ans, *args, **params)` returns the output tangent, or None for a
  symbolic zero. Tangents of arguments that carry none are None.
* `prim.vjps[i](g, ans, *args, **params)` returns the cotangent of argument i, with any
  shape that broadcasts to it (the reverse engine sums broadcasting away).

Rules are written with differentiable operations, so they run on raw arrays for a first
derivative and on tracers for higher orders.
"""

import dis
import inspect
import itertools
import threading


class _ThreadState(threading.local):
    """Per-thread state: the stack of active transforms and the eager grad mode."""

    def __init__(self):
        self.trace_stack = []
        self.grad_enabled = True


state = _ThreadState()
_next_level = itertools.count(1)


class Trace:
    """An active transform. Tracers point at the trace that made them; the trace with the
    highest level among an operation's arguments processes it."""

    __slots__ = ("level", "active")

    def __init__(self):
        self.level = next(_next_level)
        self.active = True

    def process(self, prim, args, params):
        raise NotImplementedError

    def wrap_constant(self, value):
        """How this trace presents a value that carries no derivative (the eager trace
        wraps it in a Tensor; transforms leave it raw)."""
        return value

    def process_constant(self, prim, args, params):
        """Run a primitive whose output carries no derivative: a differentiating trace just
        strips its own tracers (a batching trace overrides this: it still batches)."""
        vals = [a.primal if isinstance(a, Tracer) and a._trace is self else a for a in args]
        return self.wrap_constant(prim.bind(*vals, **params))

    def __enter__(self):
        state.trace_stack.append(self)
        return self

    def __exit__(self, *exc):
        self.active = False
        popped = state.trace_stack.pop()
        assert popped is self, "transform traces must be exited in the order they were entered"


class Tracer:
    """A value seen through a transform. Subclasses hold `primal`: the value one level down
    (a raw array or a tracer of an enclosing transform)."""

    __slots__ = ("_trace", "primal")
    # A batching tracer's primal has an extra (batch) axis, so its shape is not its primal's.
    _hides_shape = False

    def shaped(self):
        raise NotImplementedError


class ShapedArray:
    """What can be known of a value without its elements: shape and dtype. `raw_value` gives
    one for a value seen through vmap or jit, whose elements are not available there;
    `context` names that transform in the error raised when elements are asked for."""

    __slots__ = ("shape", "dtype", "context")

    def __init__(self, shape, dtype, context="vmap"):
        self.shape = tuple(shape)
        self.dtype = dtype
        self.context = context

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def size(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __repr__(self):
        return f"ShapedArray({self.shape}, {self.dtype})"

    def _concrete_needed(self, *args, **kwargs):
        if self.context == "jit":
            raise TracerValueError(
                f"jit: a traced value ({self}) was used where a concrete value is needed (a "
                "Python if/while, bool(), float(), int(), an index array, or a NumPy "
                "function). Under jit only shapes and dtypes are known. Select with "
                "wengert.numpy.where, use structured control flow (wg.cond / wg.while_loop "
                "/ wg.scan), or mark the argument static with static_argnums."
            )
        raise TracerValueError(
            f"a batched value ({self}) was used where its elements are needed (a Python if, "
            "bool(), float(), an index array, or a NumPy function). Under vmap each example's "
            "value is not available; use wengert.numpy.where for selections."
        )

    __array__ = __bool__ = __float__ = __int__ = __index__ = item = _concrete_needed


class TracerValueError(TypeError):
    """The elements of a value were needed where a transform knows only its shape."""


def raw_value(x):
    """Strip every tracer level off `x`, returning the raw backend array (or, below a vmap,
    a ShapedArray with the per-example shape and dtype)."""
    while isinstance(x, Tracer):
        if x._hides_shape:
            return x.shaped()
        x = x.primal
    return x


class EscapedTracerError(RuntimeError):
    pass


class DifferentiationError(TypeError):
    """An operation was asked for a derivative it does not have."""


class Primitive:
    """One differentiable operation; see the module docstring for the rule conventions.

    `differentiable=False` marks operations whose output never carries a derivative
    (comparisons, argmax, floor...): under any transform they run on the raw values.
    """

    __slots__ = ("name", "impl", "jvp", "vjps", "batch", "multiple_results", "differentiable",
                 "vjp_uses_args")

    def __init__(self, name, impl, *, multiple_results=False, differentiable=True):
        self.name = name
        self.impl = impl
        self.jvp = None
        self.vjps = None
        self.batch = None
        self.multiple_results = multiple_results
        self.differentiable = differentiable
        # Whether the reverse rules read the arguments' values (not just their shapes): the
        # eager tape guards only values that a rule will read.
        self.vjp_uses_args = True

    def __repr__(self):
        return f"<primitive {self.name}>"

    def bind(self, *args, **params):
        top = None
        for a in args:
            if isinstance(a, Tracer):
                t = a._trace
                if top is None or t.level > top.level:
                    top = t
        if top is None:
            return self.impl(*args, **params)
        if not top.active:
            raise EscapedTracerError(
                f"{self.name}: an argument is a tracer of a transform that has already "
                "returned. A value computed inside grad/jvp/vjp leaked out of the function "
                "(through a global, a closure or a mutable argument); return it instead."
            )
        if not self.differentiable:
            return top.process_constant(self, args, params)
        return top.process(self, args, params)

    def no_rule_error(self, mode, argnum):
        kind = "JVP (forward-mode)" if mode == "jvp" else "VJP (reverse-mode)"
        return DifferentiationError(
            f"{self.name}: no {kind} rule for argument {argnum}. The primitive cannot be "
            f"differentiated with respect to that argument; wrap it in stop_gradient or "
            "define its rule with wengert.extend.def_jvp / def_vjp."
        )


def _reads(fn, names):
    """Whether function `fn` reads any of the parameters `names`; a rule whose code is not
    visible is assumed to."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return True
    return any(
        ins.opname.startswith("LOAD") and ins.argval in names
        for ins in dis.get_instructions(code)
    )


def _argument_names(fn):
    """The names of a rule's array arguments: its positional parameters after (g, ans)."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_flags & inspect.CO_VARARGS:
        return None
    return set(code.co_varnames[2 : code.co_argcount])


def def_jvp(prim, *rules):
    """Give `prim` one forward rule per argument: `rule(t, ans, *args, **params)` is the
    output tangent contributed by tangent `t` of that argument; None marks an argument with
    no derivative."""
    if len(rules) == 1:
        (rule,) = rules

        def jvp(tangents, ans, *args, **params):
            t = tangents[0]
            if t is None:
                return None
            if rule is None:
                raise prim.no_rule_error("jvp", 0)
            return rule(t, ans, *args, **params)
    else:

        def jvp(tangents, ans, *args, **params):
            out = None
            for i, t in enumerate(tangents):
                if t is None:
                    continue
                rule = rules[i] if i < len(rules) else None
                if rule is None:
                    raise prim.no_rule_error("jvp", i)
                c = rule(t, ans, *args, **params)
                out = c if out is None else out + c
            return out

    prim.jvp = jvp


def def_jvp_multi(prim, rule):
    """Forward rule for a multiple-result primitive, or one that needs all tangents at once:
    `rule(tangents, ans, *args, **params)` with None for zero tangents."""
    prim.jvp = rule


def def_vjp(prim, *rules):
    """Give `prim` one reverse rule per argument: `rule(g, ans, *args, **params)` is the
    cotangent of that argument given output cotangent `g`; None marks no derivative."""
    prim.vjps = tuple(rules)
    prim.vjp_uses_args = any(
        r is not None and (_argument_names(r) is None or _reads(r, _argument_names(r)))
        for r in rules
    )


def def_elementwise(prim, *rules):
    """Rules for an elementwise primitive, one per argument: `rule(t, ans, *args)` is
    `t * d ans / d arg`. For elementwise maps the same expression is the JVP (t a tangent)
    and the VJP (t a cotangent); for complex holomorphic functions this is the convention of
    `wengert.numpy`: cotangents are not conjugated."""
    def_jvp(prim, *rules)
    def_vjp(prim, *rules)
    prim.batch = batch_elementwise


def batch_elementwise(prim, args, batched, **params):
    """Batching rule of every elementwise primitive: batched arguments carry the batch on
    axis 0; give them the output's rank (ones after the batch axis) so that NumPy's
    broadcasting lines up the per-example axes, and unbatched arguments broadcast as is."""
    ranks = [len(a.shape) - 1 if b else len(getattr(a, "shape", ())) for a, b in zip(args, batched)]
    rank = max(ranks)
    aligned = []
    for a, b, r in zip(args, batched, ranks):
        if b and r < rank:
            a = a.reshape(a.shape[:1] + (1,) * (rank - r) + a.shape[1:])
        aligned.append(a)
    return prim.bind(*aligned, **params)


def def_linear(prim, transpose):
    """Rules for a primitive linear in its one array argument (static options are keyword
    parameters): the JVP applies the primitive to the tangent; `transpose(g, ans, x,
    **params)` is the VJP."""

    def jvp(t, ans, x, **params):
        return prim.bind(t, **params)

    def_jvp(prim, jvp)
    def_vjp(prim, transpose)
    prim.vjp_uses_args = False  # a transpose reads only the argument's shape
