"""Gradient checkpointing: trade recomputation for the memory of reverse mode.

* `checkpoint(f)` stores only the inputs of `f`; its intermediates are recomputed, taped,
  during the backward pass. It is a `custom_vjp` whose residuals are the inputs and whose
  `bwd` runs `vjp(f, *inputs)` again, so it works eagerly and functionally, to any order
  (the recomputation is itself differentiable), under `jit` and under `vmap`.
* `checkpoint_sequential(fns, segments)`: Chen et al. (2016), a chain split into about
  sqrt(n) checkpointed segments.
* `fori_loop_revolve(lower, upper, body, init, snapshots=s)`: a loop whose reverse pass
  follows Griewank's optimal binomial schedule (`wengert.revolve`), holding at most `s`
  carries.
"""

import functools
import math

import numpy as np

from . import revolve
from .core import Tracer, raw_value, tree_flatten, tree_unflatten
from .core.backend import is_inexact
from .nn.module import Module
from .transforms.api import _vjp
from .transforms.custom import custom_vjp

_CLOSURE_ERROR = (
    "{who}: {name} uses a value traced by an enclosing transform that is not one of its "
    "arguments (a closure over a traced array), so its recomputation could not reach that "
    "value's derivative. Pass the value as an argument (or part of the carry) instead."
)


def _is_dynamic(x):
    """Leaves that flow through the checkpoint as arrays; others (ints, strings, functions,
    None) are static and closed over."""
    return isinstance(x, (Tracer, np.ndarray, np.generic, float, complex))


def _level(x):
    return x._trace.level if isinstance(x, Tracer) else -1


def _check_no_closure(who, fun, inputs, outputs):
    """An output traced at a level above every input comes from a closed-over tracer."""
    top = max((_level(x) for x in inputs), default=-1)
    if any(_level(y) > top for y in tree_flatten(outputs)[0]):
        raise TypeError(_CLOSURE_ERROR.format(who=who, name=_name(fun)))


def _name(fun):
    return getattr(fun, "__name__", type(fun).__name__)


def _differentiable(x):
    r = raw_value(x)
    return is_inexact(r.dtype if hasattr(r, "dtype") else np.result_type(r))


def _eager_parameters(tree):
    """Modules flatten to their parameters' values; map those values back to the Parameter
    tensors so that eager calls keep their connection to the tape."""
    found = {}
    stack = [tree]
    while stack:
        value = stack.pop()
        if isinstance(value, Module):
            found.update((id(p.primal), p) for p in value.parameters())
        elif isinstance(value, (tuple, list)):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return found


def _pullback_once(fun, xs, g):
    """The cotangents of `fun` at `xs` for output cotangent `g`, the recomputed tape freed
    as it is consumed."""
    pullback = _vjp(fun, tuple(xs), False, single_use=True)[1]
    return pullback(g)


def _checkpointed_call(fun, args, kwargs):
    leaves, tree = tree_flatten((args, kwargs))
    eager = _eager_parameters(args)
    if eager:
        leaves = [eager.get(id(x), x) for x in leaves]
    positions = [i for i, x in enumerate(leaves) if _is_dynamic(x)]
    dynamic = [leaves[i] for i in positions]
    if not any(isinstance(x, Tracer) for x in dynamic):
        return fun(*args, **kwargs)  # nothing is differentiated: no tape to save

    def call(*xs):
        full = list(leaves)
        for i, x in zip(positions, xs):
            full[i] = x
        a, kw = tree_unflatten(tree, full)
        return fun(*a, **kw)

    def fwd(*xs):
        out = call(*xs)
        _check_no_closure("checkpoint", fun, xs, out)
        return out, xs

    def bwd(xs, g):
        diff = [i for i, x in enumerate(xs) if _differentiable(x)]

        def of_differentiable(*ys):
            full = list(xs)
            for i, y in zip(diff, ys):
                full[i] = y
            return call(*full)

        cts = _pullback_once(of_differentiable, [xs[i] for i in diff], g)
        result = [None] * len(xs)
        for i, c in zip(diff, cts):
            result[i] = c
        return tuple(result)

    rule = custom_vjp(call)
    rule.__name__ = f"checkpoint({_name(fun)})"
    rule.defvjp(fwd, bwd)
    return rule(*dynamic)


class Checkpointed(Module):
    """A module whose forward pass is checkpointed: `Checkpointed(module)(x)` computes
    `module(x)`, and reverse mode recomputes its activations instead of storing them. It is
    a pytree with the wrapped module as its child, so parameters and gradients keep their
    structure."""

    def __init__(self, module):
        self.module = module

    def forward(self, *args, **kwargs):
        return _checkpointed_call(_apply, (self.module,) + args, kwargs)


def _apply(module, *args, **kwargs):
    return module(*args, **kwargs)


def checkpoint(fun):
    """Checkpoint `fun` (a function, or an nn Module): the returned callable computes the
    same values, but reverse mode stores only its inputs and recomputes its intermediates
    during the backward pass (one extra forward evaluation of `fun`).

    Arguments and results are pytrees; array (and float) leaves are differentiable inputs,
    other leaves (ints, strings, functions) are static. Values to differentiate must be
    arguments, not closures. Works with `grad`/`vjp`, `Tensor.backward()`, higher orders,
    `jit` and `vmap`. Usable as a decorator.

    >>> @checkpoint
    ... def block(w, x):
    ...     return wnp.tanh(x @ w)
    >>> grad(lambda w, x: block(w, x).sum())(w, x)  # block's activations recomputed
    """
    if isinstance(fun, Module):
        return Checkpointed(fun)
    if not callable(fun):
        raise TypeError(f"checkpoint: expected a function or a Module, got {type(fun).__name__}.")

    @functools.wraps(fun)
    def checkpointed(*args, **kwargs):
        return _checkpointed_call(fun, args, kwargs)

    return checkpointed


def _compose(fns, x):
    for f in fns:
        x = f(x)
    return x


def checkpoint_sequential(fns, segments=None):
    """Return a function applying `fns` (functions or Modules of one argument) in order, the
    chain split into `segments` contiguous groups (default: ceil(sqrt(n)), Chen et al. 2016)
    whose activations are recomputed in the backward pass. Only the group boundaries are
    stored, plus one group's activations while it is reversed: about 2 sqrt(n) activations
    instead of n, for about one extra forward pass. The last group is not checkpointed: its
    activations are needed as soon as the backward pass starts.
    """
    fns = tuple(fns)
    n = len(fns)
    if n == 0:
        raise ValueError("checkpoint_sequential: fns is empty; pass at least one function.")
    if segments is None:
        segments = math.ceil(math.sqrt(n))
    if int(segments) != segments or not 1 <= segments <= n:
        raise ValueError(
            f"checkpoint_sequential: segments must be an integer between 1 and len(fns) = "
            f"{n}, got {segments!r}."
        )
    bounds = [round(k * n / segments) for k in range(segments + 1)]
    groups = [fns[a:b] for a, b in zip(bounds[:-1], bounds[1:])]
    run_group = checkpoint(_compose)

    def sequential(x):
        for group in groups[:-1]:
            x = run_group(group, x)
        return _compose(groups[-1], x)

    return sequential


# ---------------------------------------------------------------------------------------
# Binomial checkpointing of a loop


def fori_loop_revolve(lower, upper, body_fun, init_val, *, snapshots):
    """`fori_loop(lower, upper, body_fun, init_val)` whose reverse pass follows the optimal
    binomial (revolve) schedule, holding at most `snapshots` carries (the initial one
    included) instead of one per iteration.

    The forward pass is the schedule's first sweep; the backward pass reruns iterations
    untaped between snapshots and tapes one iteration at a time. For T = upper - lower
    iterations it evaluates the body `wengert.revolve.min_advances(T, snapshots)` times
    untaped (the optimum for that memory) plus once more for the output, plus T taped
    evaluations. `lower` and `upper` must be Python ints; values to differentiate (weights,
    say) must be part of the carry, not closed over; `body_fun(i, carry)` gets `i` as an int.
    Differentiable to any order, eagerly, functionally, and under jit and vmap.

    >>> fori_loop_revolve(0, 1000, lambda i, x: wnp.sin(x), x0, snapshots=10)
    """
    if not all(isinstance(b, (int, np.integer)) for b in (lower, upper)):
        raise TypeError(
            "fori_loop_revolve: lower and upper must be Python ints (the schedule is fixed "
            f"before the loop runs), got {type(lower).__name__} and {type(upper).__name__}."
        )
    lower, upper = int(lower), int(upper)
    steps = max(upper - lower, 0)
    actions = revolve.schedule(steps, snapshots)
    leaves, tree = tree_flatten(init_val)
    if steps == 0 or not any(isinstance(x, Tracer) for x in leaves):
        carry = init_val
        for i in range(lower, upper):
            carry = body_fun(i, carry)
        return carry
    n = len(leaves)
    first_reverse = next(k for k, a in enumerate(actions) if a[0] == revolve.REVERSE)

    def step(i, xs):
        out, out_tree = tree_flatten(body_fun(lower + i, tree_unflatten(tree, list(xs))))
        if out_tree != tree:
            raise TypeError(
                f"fori_loop_revolve: {_name(body_fun)} must return a carry with the structure "
                f"of init_val ({tree}), got {out_tree}."
            )
        return tuple(out)

    def advance(xs, i, j):
        for k in range(i, j):
            xs = step(k, xs)
        return xs

    def loop(*xs):
        return advance(xs, 0, steps)

    def fwd(*xs):
        current, shots = xs, {}
        for action in actions[:first_reverse]:
            if action[0] == revolve.TAKESHOT:
                shots[action[1]] = current
            else:  # the first sweep only advances and stores
                current = advance(current, action[1], action[2])
        out = step(steps - 1, current)
        _check_no_closure("fori_loop_revolve", body_fun, xs, out)
        return out, (shots, current)

    def bwd(residuals, g):
        shots, current = residuals
        shots = dict(shots)
        g = tuple(g)
        for action in actions[first_reverse:]:
            kind = action[0]
            if kind == revolve.REVERSE:
                g = _reverse_step(step, action[1], current, g)
            elif kind == revolve.ADVANCE:
                current = advance(current, action[1], action[2])
            elif kind == revolve.TAKESHOT:
                shots[action[1]] = current
            elif kind == revolve.RESTORE:
                current = shots[action[1]]
            else:
                del shots[action[1]]
        return g

    rule = custom_vjp(loop)
    rule.__name__ = f"fori_loop_revolve({_name(body_fun)})"
    rule.defvjp(fwd, bwd)
    out = rule(*leaves)
    return tree_unflatten(tree, list(out) if n else [])


def _reverse_step(step, i, xs, g):
    """Pull `g` back through iteration `i` from carry `xs`; non-differentiable carry entries
    (integer counters) get zero cotangents."""
    diff = [k for k, x in enumerate(xs) if _differentiable(x)]

    def of_differentiable(*ys):
        full = list(xs)
        for k, y in zip(diff, ys):
            full[k] = y
        return tuple(y for k, y in enumerate(step(i, full)) if k in diff_set)

    diff_set = set(diff)
    cts = _pullback_once(of_differentiable, [xs[k] for k in diff], tuple(g[k] for k in diff))
    out = list(g)
    for k, c in zip(diff, cts):
        out[k] = c
    for k in range(len(xs)):
        if k not in diff_set:
            out[k] = None
    return tuple(out)
