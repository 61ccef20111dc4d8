"""`jit`: trace once per argument signature, optimise the graph, generate a Python function
over the primitives' implementations, and cache it.

Called with plain arrays, a jitted function runs its generated code (no tracing and no
per-operation dispatch). Called with values of an enclosing transform (grad, jvp, vmap, an
eager Tensor), it evaluates its cached graph operation by operation, so the transform sees
and differentiates every operation: `grad(jit(f))`, `jit(grad(f))`, `vmap(jit(f))` and jit
inside jit all work.
"""

import functools

import numpy as np

from ..core import Tracer, raw_value, tree_flatten, tree_unflatten
from .codegen import compile_graph, eval_graph
from .passes import CALL_PRIMITIVES, optimize
from .staging import example_value, trace_to_graph


class Compiled:
    """One cache entry: the optimised graph (custom-rule calls such as checkpoints inlined,
    so that the passes and the memory planner see inside them), its output structure and
    generated code; and, made on first need, the graph that enclosing transforms evaluate,
    in which those calls stay whole so that their rules apply."""

    __slots__ = ("graph", "out_tree", "run", "source", "_staged", "_fuse", "_transformable")

    def __init__(self, staged, out_tree, fuse):
        self.graph = optimize(staged, fuse=fuse, inline=True)
        self.out_tree = out_tree
        self.run, self.source = compile_graph(self.graph)
        self._staged, self._fuse, self._transformable = staged, fuse, None

    @property
    def transformable(self):
        if self._transformable is None:
            calls = any(eqn.prim in CALL_PRIMITIVES for eqn in self._staged.eqns)
            self._transformable = (optimize(self._staged, fuse=self._fuse) if calls
                                   else self.graph)
        return self._transformable


def _signature(x):
    if type(x) is np.ndarray:  # the common case, on every call
        return x.shape, x.dtype
    r = raw_value(x)
    if not hasattr(r, "dtype"):
        r = np.asarray(r)
    return np.shape(r), np.dtype(r.dtype)


def _static_key(value, fname, i):
    try:
        hash(value)
    except TypeError:
        raise TypeError(
            f"jit: static argument {i} of {fname} must be hashable (it keys the cache), got "
            f"{type(value).__name__}; pass a tuple instead of a list, or make it dynamic."
        ) from None
    return value


def jit(fun=None, *, static_argnums=(), donate_argnums=(), fuse=False):
    """Compile `fun` (usable as a decorator, with or without arguments). `static_argnums`:
    positional arguments that are Python values the trace may branch on (each value traces
    anew). `donate_argnums` is accepted for JAX compatibility (the memory plan never writes
    into arguments). `fuse=True` also runs elementwise regions as fused kernels (see
    wengert.ir.passes.optimize for when that pays).

    >>> f = jit(lambda x: wnp.sum(wnp.sin(x) ** 2))
    >>> f(np.ones(3)); f.graph(np.ones(3))  # the optimised IR
    """
    if fun is None:
        return functools.partial(jit, static_argnums=static_argnums,
                                 donate_argnums=donate_argnums, fuse=fuse)
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    cache = {}
    fname = getattr(fun, "__name__", "function")

    def split(args, kwargs):
        if not static and not kwargs and all(type(a) is np.ndarray for a in args):
            return (), list(args), _positional_tree(len(args))  # the common call, fast
        for i in static:
            if i >= len(args):
                raise ValueError(
                    f"jit: static_argnums {i} is out of range for {fname} called with "
                    f"{len(args)} positional arguments"
                )
        static_vals = tuple(_static_key(args[i], fname, i) for i in static)
        dynamic = tuple(a for i, a in enumerate(args) if i not in static)
        flat, in_tree = tree_flatten((dynamic, kwargs))
        return static_vals, flat, in_tree

    def rebuild(static_vals, dynamic, kwargs):
        args, it_dyn, it_static = [], iter(dynamic), iter(static_vals)
        for i in range(len(dynamic) + len(static_vals)):
            args.append(next(it_static) if i in static else next(it_dyn))
        return fun(*args, **kwargs)

    def entry(static_vals, flat, in_tree):
        key = (in_tree, tuple(_signature(x) for x in flat), static_vals)
        found = cache.get(key)
        if found is None:
            examples = [example_value(x) if isinstance(x, Tracer) else (
                x if hasattr(x, "dtype") else np.asarray(x)) for x in flat]

            def traced(*leaves):
                dynamic, kwargs = tree_unflatten(in_tree, list(leaves))
                return rebuild(static_vals, dynamic, kwargs)

            graph, out_tree = trace_to_graph(traced, examples, _leaves_tree(len(flat)))
            found = cache[key] = Compiled(graph, out_tree, fuse)
        return found

    @functools.wraps(fun)
    def jitted(*args, **kwargs):
        static_vals, flat, in_tree = split(args, kwargs)
        compiled = entry(static_vals, flat, in_tree)
        if any(isinstance(x, Tracer) for x in flat):
            outs = eval_graph(compiled.transformable, flat)
        else:
            outs = compiled.run(*flat)
        return tree_unflatten(compiled.out_tree, list(outs))

    def graph(*args, **kwargs):
        """The optimised graph that a call with these arguments runs."""
        return entry(*split(args, kwargs)).graph

    def source(*args, **kwargs):
        """The generated Python source that a call with these arguments runs."""
        return entry(*split(args, kwargs)).source

    jitted.graph = graph
    jitted.source = source
    jitted.cache_size = lambda: len(cache)
    return jitted


@functools.lru_cache(maxsize=None)
def _positional_tree(n):
    """The tree that `split` flattens n positional arrays (and no keywords) to."""
    return tree_flatten((tuple(range(n)), {}))[1]


def _leaves_tree(n):
    """The tree of n positional leaves (trace_to_graph unflattens its inputs into args)."""
    return tree_flatten(tuple(range(n)))[1]
