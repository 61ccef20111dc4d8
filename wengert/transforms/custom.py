"""User-defined derivative rules: `custom_jvp` and `custom_vjp`.

A call of a decorated function binds one primitive whose implementation runs the user's
function on raw arrays, so every transform sees the call as a single operation and applies
the user's rule at its own level. Rules are written with `wengert.numpy`, so they are
themselves differentiable and higher orders work.

* `custom_vjp`: `f.defvjp(fwd, bwd)`, `fwd(*args) -> (out, residuals)`,
  `bwd(residuals, g) -> tuple of cotangents, one per argument` (None for zero). The residuals
  are extra outputs of the primitive, so the tape keeps them like any saved value. Forward
  mode differentiates `fwd`.
* `custom_jvp`: `f.defjvp(rule)`, `rule(primals, tangents) -> (out, tangent_out)`. Reverse
  mode transposes the rule: it is linear in the tangents, so its VJP with respect to them
  is the transpose of the JVP.
"""

import functools
import threading

import numpy as np

from .. import numpy as wnp
from ..core import Primitive, Tracer, tree_flatten, tree_unflatten
from ..core.primitive import def_jvp_multi


class _CallInfo:
    """Static data of one call, filled in by the implementation: output and residual tree
    structures, and a one-entry cache so that a backward pass runs the user's rule once for
    all arguments."""

    __slots__ = ("rule", "in_tree", "out_tree", "n_out", "res_tree", "last_g", "last_cts")

    def __init__(self, rule, in_tree):
        self.rule = rule
        self.in_tree = in_tree
        self.out_tree = self.res_tree = self.last_g = self.last_cts = None
        self.n_out = 0

    def __hash__(self):
        return id(self)


def _zeros_like(x):
    return wnp.zeros_like(x)


def _bind_call(prim, info, args):
    flat, _ = tree_flatten(args)
    results = prim.bind(*flat, info=info)
    return tree_unflatten(info.out_tree, list(results[: info.n_out]))


class _PerArgumentCotangent:
    """`vjps[i]` for a custom call: the i-th entry of all cotangents, computed once per g."""

    def __init__(self, all_cotangents):
        self.all_cotangents = all_cotangents

    def __getitem__(self, i):
        def rule(g, ans, *args, info):
            if info.last_g is not g:
                info.last_cts = self.all_cotangents(g, ans, args, info)
                info.last_g = g
            return info.last_cts[i]

        return rule


# ---------------------------------------------------------------------------------------
# custom_vjp


def _custom_vjp_impl(*flat, info):
    out, residuals = info.rule.fwd(*tree_unflatten(info.in_tree, list(flat)))
    out_flat, info.out_tree = tree_flatten(out)
    res_flat, info.res_tree = tree_flatten(residuals)
    info.n_out = len(out_flat)
    return tuple(out_flat) + tuple(res_flat)


custom_vjp_call_p = Primitive("custom_vjp_call", _custom_vjp_impl, multiple_results=True)


# Functions whose custom rule is switched off on this thread: forward mode differentiates
# `fwd`, and a `fwd` that calls the decorated function itself must then run its plain body.
_plain = threading.local()


class _plain_calls:
    """Within this context, calls of the decorated function run its plain body."""

    def __init__(self, rule):
        self.rule = rule

    def __enter__(self):
        rules = _plain.__dict__.setdefault("rules", set())
        self.added = self.rule not in rules
        rules.add(self.rule)

    def __exit__(self, *exc):
        if self.added:
            _plain.rules.discard(self.rule)


def _fwd_flat(info):
    def fwd_flat(*xs):
        with _plain_calls(info.rule):
            out, residuals = info.rule.fwd(*tree_unflatten(info.in_tree, list(xs)))
        return tuple(tree_flatten(out)[0]) + tuple(tree_flatten(residuals)[0])

    return fwd_flat


def _custom_vjp_jvp(tangents, ans, *flat, info):
    from .api import jvp

    ts = [_zeros_like(x) if t is None else t for t, x in zip(tangents, flat)]
    return jvp(_fwd_flat(info), tuple(flat), tuple(ts))[1]


def _custom_vjp_cotangents(g, ans, flat, info):
    from .api import vjp

    residuals = tree_unflatten(info.res_tree, list(ans[info.n_out :]))
    g_out = tree_unflatten(info.out_tree, list(g[: info.n_out]))
    cts = info.rule.bwd(residuals, g_out)
    name = info.rule.__name__
    if not isinstance(cts, (tuple, list)) or len(cts) != len(info.in_tree.children):
        raise TypeError(
            f"custom_vjp: bwd of {name} must return a tuple with one cotangent per positional "
            f"argument ({len(info.in_tree.children)}), got {type(cts).__name__}"
            f"{' of length ' + str(len(cts)) if isinstance(cts, (tuple, list)) else ''}."
        )
    per_arg = [
        tree_map_none(c, a) for c, a in zip(cts, tree_unflatten(info.in_tree, list(flat)))
    ]
    cts = tree_flatten(tuple(per_arg))[0]
    # Residuals are outputs too: at higher orders they are used, and their cotangents flow
    # back through `fwd`, differentiated as ordinary code.
    g_res = g[info.n_out :]
    if any(isinstance(c, Tracer) or np.any(c) for c in g_res):
        _, pullback = vjp(_fwd_flat(info), *flat)
        zeros_out = [_zeros_like(a) for a in ans[: info.n_out]]
        extra = pullback(tuple(zeros_out) + tuple(g_res))
        cts = [c + e for c, e in zip(cts, extra)]
    return cts


def tree_map_none(ct, arg):
    """A None cotangent stands for zeros shaped like the argument's leaves."""
    if ct is None:
        leaves, tree = tree_flatten(arg)
        return tree_unflatten(tree, [_zeros_like(x) for x in leaves])
    return ct


def_jvp_multi(custom_vjp_call_p, _custom_vjp_jvp)
custom_vjp_call_p.vjps = _PerArgumentCotangent(_custom_vjp_cotangents)


class _CustomRule:
    """A function with a user-defined rule; calling it with traced arguments binds `prim`."""

    prim = None
    kind = ""
    how_to_define = ""

    def __init__(self, fun):
        functools.update_wrapper(self, fun)
        self.fun = fun

    def __hash__(self):
        return id(self)

    def has_rule(self):
        raise NotImplementedError

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(
                f"{self.kind}: {self.__name__} was called with keyword arguments "
                f"{sorted(kwargs)}; pass them positionally (or close over static ones)."
            )
        if not self.has_rule():
            raise TypeError(
                f"{self.kind}: {self.__name__} has no rule yet; "
                f"{self.how_to_define.format(name=self.__name__)} before calling it."
            )
        flat, in_tree = tree_flatten(args)
        if self in getattr(_plain, "rules", ()) or not any(isinstance(x, Tracer) for x in flat):
            return self.fun(*args)
        return _bind_call(self.prim, _CallInfo(self, in_tree), args)


class custom_vjp(_CustomRule):
    """Give a function a custom reverse-mode rule.

    >>> @custom_vjp
    ... def clip_gradient(x):
    ...     return x
    >>> clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (wnp.clip(g, -1, 1),))
    """

    prim = custom_vjp_call_p
    kind = "custom_vjp"
    how_to_define = "call {name}.defvjp(fwd, bwd)"

    def __init__(self, fun):
        super().__init__(fun)
        self.fwd = self.bwd = None

    def has_rule(self):
        return self.fwd is not None

    def defvjp(self, fwd, bwd):
        self.fwd, self.bwd = fwd, bwd
        return self


# ---------------------------------------------------------------------------------------
# custom_jvp


def _custom_jvp_impl(*flat, info):
    out = info.rule.fun(*tree_unflatten(info.in_tree, list(flat)))
    out_flat, info.out_tree = tree_flatten(out)
    info.n_out = len(out_flat)
    return tuple(out_flat)


custom_jvp_call_p = Primitive("custom_jvp_call", _custom_jvp_impl, multiple_results=True)


def _tangent_out_flat(info, flat, ts):
    primals = tree_unflatten(info.in_tree, list(flat))
    tangents = tree_unflatten(info.in_tree, list(ts))
    _, t_out = info.rule.jvp_rule(primals, tangents)
    return tuple(tree_flatten(t_out)[0])


def _custom_jvp_jvp(tangents, ans, *flat, info):
    ts = [_zeros_like(x) if t is None else t for t, x in zip(tangents, flat)]
    return _tangent_out_flat(info, flat, ts)


def _custom_jvp_cotangents(g, ans, flat, info):
    from .api import vjp

    def linear_map(*ts):
        return _tangent_out_flat(info, flat, ts)

    _, pullback = vjp(linear_map, *[_zeros_like(x) for x in flat])
    return list(pullback(tuple(g)))


def_jvp_multi(custom_jvp_call_p, _custom_jvp_jvp)
custom_jvp_call_p.vjps = _PerArgumentCotangent(_custom_jvp_cotangents)


class custom_jvp(_CustomRule):
    """Give a function a custom forward-mode rule (reverse mode transposes it).

    >>> @custom_jvp
    ... def log1pexp(x):
    ...     return wnp.log1p(wnp.exp(x))
    >>> @log1pexp.defjvp
    ... def log1pexp_jvp(primals, tangents):
    ...     (x,), (t,) = primals, tangents
    ...     return log1pexp(x), t * expit(x)
    """

    prim = custom_jvp_call_p
    kind = "custom_jvp"
    how_to_define = "decorate a rule with @{name}.defjvp"

    def __init__(self, fun):
        super().__init__(fun)
        self.jvp_rule = None

    def has_rule(self):
        return self.jvp_rule is not None

    def defjvp(self, jvp_rule):
        self.jvp_rule = jvp_rule
        return jvp_rule


# ---------------------------------------------------------------------------------------
# vmap of a custom call: a new custom function over the flat arguments whose function and
# rules are the vmapped originals, bound one level down; its outputs keep the original
# structure, so the call being batched reads them as its own.


def _batch_custom_call(prim, args, batched, info):
    from .batching import vmap

    axes = tuple(0 if b else None for b in batched)
    rule, in_tree = info.rule, info.in_tree

    def unflat(xs):
        return tree_unflatten(in_tree, list(xs))

    def plain(fn):
        # Rules often call the decorated function itself; one level down it runs plain.
        def call(*xs):
            with _plain_calls(rule):
                return fn(*xs)

        return call

    fun = vmap(plain(lambda *xs: rule.fun(*unflat(xs))), in_axes=axes)
    if prim is custom_vjp_call_p:
        batched_rule = custom_vjp(fun)
        batched_rule.defvjp(
            vmap(plain(lambda *xs: rule.fwd(*unflat(xs))), in_axes=axes),
            _batched_bwd(rule, in_tree, args, batched),
        )
    else:
        batched_rule = custom_jvp(fun)

        def one_jvp(*primals_tangents):
            n = len(primals_tangents) // 2
            return rule.jvp_rule(unflat(primals_tangents[:n]), unflat(primals_tangents[n:]))

        def batched_jvp(primals, tangents):
            return vmap(plain(one_jvp), in_axes=axes + axes)(*primals, *tangents)

        batched_rule.defjvp(batched_jvp)
    inner = _CallInfo(batched_rule, tree_flatten(tuple(args))[1])
    lower = any(isinstance(a, Tracer) for a in args)
    results = prim.bind(*args, info=inner) if lower else prim.impl(*args, info=inner)
    info.out_tree, info.res_tree, info.n_out = inner.out_tree, inner.res_tree, inner.n_out
    return results


def _batched_bwd(rule, in_tree, args, batched):
    """The vmapped bwd over flat arguments: None cotangents become zeros of one example's
    shape, and the cotangent of an unbatched argument is summed over the batch."""
    from .batching import vmap

    example_shapes = [
        (np.shape(a)[1:] if b else np.shape(a), getattr(a, "dtype", None))
        for a, b in zip(args, batched)
    ]

    def one_example(residuals, g):
        cts = rule.bwd(residuals, g)
        per_arg = [
            tree_map_none(c, a) if c is not None else None
            for c, a in zip(cts, tree_unflatten(in_tree, [None] * len(args)))
        ]
        flat = tree_flatten(tuple(per_arg), is_leaf=lambda v: v is None)[0]
        return tuple(
            wnp.zeros(shape, dtype) if c is None else c
            for c, (shape, dtype) in zip(flat, example_shapes)
        )

    def bwd(residuals, g):
        cts = vmap(one_example)(residuals, g)
        return tuple(c if b else wnp.sum(c, axis=0) for c, b in zip(cts, batched))

    return bwd


custom_vjp_call_p.batch = _batch_custom_call
custom_jvp_call_p.batch = _batch_custom_call
