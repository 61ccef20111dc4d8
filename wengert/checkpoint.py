"""Gradient checkpointing: trade recomputation for the memory of reverse mode.

* `checkpoint(f)` stores only the inputs of `f`; its intermediates are recomputed, taped,
  during the backward pass. It is a `custom_vjp` whose residuals are the inputs and whose
  `bwd` runs `vjp(f, *inputs)` again, so it works eagerly and functionally, to any order
  (the recomputation is itself differentiable), under `jit` and under `vmap`. The
  recomputation starts from an `optimization_barrier` of the residuals, so that under `jit`
  the passes cannot merge it back into the forward pass.
* `checkpoint(f, policy=...)` also stores the intermediates the policy picks (matmul outputs,
  say, or as many as a memory budget allows; `checkpoint_policies`), and the recomputation
  takes those instead of computing them again: a `_PolicyTrace` one level above the inputs
  numbers `f`'s operations in the forward pass and replays them in the backward pass.
* `checkpoint_sequential(fns, segments)`: Chen et al. (2016), a chain split into about
  sqrt(n) checkpointed segments.
* `fori_loop_revolve(lower, upper, body, init, snapshots=s)` and
  `scan_revolve(f, init, xs, snapshots=s)`: loops whose reverse pass follows Griewank's
  optimal binomial schedule (`wengert.revolve`), holding at most `s` carries.
"""

import functools
import math
import types

import numpy as np

from . import numpy as wnp
from . import revolve
from .core import Trace, Tracer, raw_value, tree_flatten, tree_unflatten
from .core.backend import is_inexact
from .ir.barrier import optimization_barrier
from .nn.module import Module
from .numpy._array_methods import ArrayMethods
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


def _pullback_once(fun, xs, g, trace=None):
    """The cotangents of `fun` at `xs` for output cotangent `g`, the recomputed tape freed
    as it is consumed. With a replaying `_PolicyTrace`, `fun` runs on its tracers."""
    if trace is None:
        return _vjp(fun, tuple(xs), False, single_use=True)[1](g)
    with trace:
        pullback = _vjp(fun, tuple(trace.wrap(x) for x in xs), False, single_use=True)[1]
        trace.replaying = False  # the rules of the backward pass are not f's operations
        return tuple(trace.unwrap(c) for c in pullback(g))


# ---------------------------------------------------------------------------------------
# Policies: which intermediates a checkpoint stores besides its inputs

# Primitives whose outputs dots_saveable stores (np.dot, tensordot, inner... are built on them).
DOT_PRIMITIVES = frozenset({"matmul", "einsum"})


class Intermediate:
    """An intermediate of a checkpointed function that a policy may store: `index` (its
    place in the order of computation), `primitive` (the operation's name), `params`,
    `shape`, `dtype`, `nbytes`, and `flops`, an estimate of the work of recomputing it."""

    __slots__ = ("index", "primitive", "params", "shape", "dtype", "nbytes", "flops")

    def __init__(self, index, prim, params, args, ans):
        raw = raw_value(ans)
        self.index = index
        self.primitive = prim.name
        self.params = params
        self.shape = tuple(np.shape(raw))
        self.dtype = np.dtype(raw.dtype)
        self.nbytes = math.prod(self.shape) * self.dtype.itemsize
        self.flops = _flops(prim.name, params, [np.shape(raw_value(a)) for a in args],
                            math.prod(self.shape))

    def __repr__(self):
        return f"Intermediate({self.index}, {self.primitive}, {self.shape}, {self.dtype})"


def _flops(name, params, shapes, size):
    """Multiply-adds of a product (two per element of the iteration space), else one per
    output element."""
    if name == "matmul":
        return 2 * size * (shapes[0][-1] if shapes[0] else 1)
    if name == "einsum":
        sizes = {}
        for labels, shape in zip(params["in_labels"], shapes):
            sizes.update(zip(labels, shape))
        return 2 * math.prod(sizes.values())
    return size


class CheckpointPolicy:
    """Which intermediates `checkpoint(f, policy=...)` stores: `saveable(intermediate)` says
    whether one may be stored (see `Intermediate`), and `select` picks among those. A plain
    function `intermediate -> bool` is accepted as a policy too."""

    def __init__(self, name, saveable):
        self.name = name
        self.saveable = saveable

    def select(self, candidates):
        """The indices of the candidates (`Intermediate`s that `saveable` accepted) to store:
        all of them, for a per-operation rule."""
        return [c.index for c in candidates]

    def __repr__(self):
        return f"checkpoint_policies.{self.name}"


def _never(intermediate):
    return False


def _always(intermediate):
    return True


def _is_dot(intermediate):
    return intermediate.primitive in DOT_PRIMITIVES


class _Budget(CheckpointPolicy):
    """See `save_under_budget`."""

    def __init__(self, nbytes):
        super().__init__(f"save_under_budget({nbytes})", _always)
        self.nbytes = nbytes

    def select(self, candidates):
        # Most recomputation avoided per byte first (matrix products before elementwise
        # results), each one that still fits.
        chosen, left = [], self.nbytes
        for c in sorted(candidates, key=lambda c: (-c.flops / max(c.nbytes, 1), c.index)):
            if c.nbytes <= left:
                chosen.append(c.index)
                left -= c.nbytes
        return chosen


def save_under_budget(nbytes):
    """A policy storing, of each checkpointed call, intermediates of at most `nbytes` bytes
    in all (besides its inputs): those that avoid the most recomputation per byte first
    (matrix products, then the rest), each one that still fits. These are the bytes a call
    holds from its forward pass to its backward pass, so under jit the memory planner's
    planned peak rises by at most `nbytes` per checkpointed call over storing nothing,
    while the recomputation shrinks. A budget of 0 stores nothing.

    >>> checkpoint(block, policy=checkpoint_policies.save_under_budget(2**20))
    """
    if int(nbytes) != nbytes or nbytes < 0:
        raise ValueError(
            f"save_under_budget: nbytes must be a non-negative integer (bytes), got {nbytes!r}.")
    return _Budget(int(nbytes))


checkpoint_policies = types.SimpleNamespace(
    nothing_saveable=CheckpointPolicy("nothing_saveable", _never),
    everything_saveable=CheckpointPolicy("everything_saveable", _always),
    dots_saveable=CheckpointPolicy("dots_saveable", _is_dot),
    save_under_budget=save_under_budget,
)
checkpoint_policies.__doc__ = """Policies for `checkpoint(f, policy=...)`, named as in JAX:

* `nothing_saveable` (the default): store only the inputs, recompute everything.
* `dots_saveable`: also store the outputs of matrix products (matmul, einsum, so dot,
  tensordot...); only the cheap operations between them are recomputed.
* `everything_saveable`: store every intermediate (the backward pass only tapes again).
* `save_under_budget(nbytes)`: the most useful intermediates that fit in `nbytes` per call.

A function `intermediate -> bool` (see `Intermediate`) is a policy too."""


def _as_policy(policy):
    if policy is None or isinstance(policy, CheckpointPolicy):
        return policy
    if callable(policy):
        return CheckpointPolicy(_name(policy), policy)
    raise TypeError(
        f"checkpoint: policy must be one of wg.checkpoint_policies (or a function "
        f"intermediate -> bool), got {type(policy).__name__}.")


class _PolicyTracer(Tracer, ArrayMethods):
    __slots__ = ()

    def __init__(self, trace, primal):
        self._trace = trace
        self.primal = primal


class _PolicyTrace(Trace):
    """One level above a checkpointed function's inputs. Recording (the forward pass), it
    numbers the function's differentiable single-output operations and keeps the outputs
    the policy may store (`candidates`). Replaying (the recomputation), the same operations
    come in the same order, and those in `stored` take their stored value instead of being
    computed; the reverse trace above still records them, so derivatives flow as before.
    Afterwards it passes operations through."""

    __slots__ = ("name", "policy", "candidates", "stored", "count", "replaying")

    def __init__(self, name, policy, stored=None):
        super().__init__()
        self.name = name
        self.policy = policy
        self.candidates = []
        self.stored = stored
        self.count = 0
        self.replaying = True

    def wrap(self, x):
        return _PolicyTracer(self, x) if _is_dynamic(x) else x

    def unwrap(self, x):
        return x.primal if isinstance(x, _PolicyTracer) and x._trace is self else x

    def process(self, prim, args, params):
        vals = [self.unwrap(a) for a in args]
        if not self.replaying or prim.multiple_results:
            out = prim.bind(*vals, **params)
        else:
            index = self.count
            self.count += 1
            if self.stored is not None:
                if index in self.stored:
                    out = self._take(index, prim)
                else:
                    out = prim.bind(*vals, **params)
            else:
                out = prim.bind(*vals, **params)
                if _differentiable(out):
                    candidate = Intermediate(index, prim, params, vals, out)
                    if self.policy.saveable(candidate):
                        self.candidates.append((candidate, out))
        if prim.multiple_results:
            return tuple(_PolicyTracer(self, o) for o in out)
        return _PolicyTracer(self, out)

    def _take(self, index, prim):
        name, value = self.stored[index]
        if name != prim.name:
            raise RuntimeError(
                f"checkpoint: when recomputed, {self.name} computed {prim.name} where its "
                f"forward pass had computed {name} (operation {index}). With a policy, the "
                "recomputation must repeat the forward pass's operations in order; remove "
                "what changes them (randomness, state, branching on it) or drop the policy.")
        return value


def _record(fun, name, policy, xs):
    """Run `fun(*xs)` under a recording `_PolicyTrace`: (output, candidates)."""
    with _PolicyTrace(name, policy) as trace:
        leaves, structure = tree_flatten(fun(*[trace.wrap(x) for x in xs]))
    return tree_unflatten(structure, [trace.unwrap(x) for x in leaves]), trace.candidates


def _checkpointed_call(fun, args, kwargs, policy=None):
    leaves, tree = tree_flatten((args, kwargs))
    eager = _eager_parameters(args)
    if eager:
        leaves = [eager.get(id(x), x) for x in leaves]
    positions = [i for i, x in enumerate(leaves) if _is_dynamic(x)]
    dynamic = [leaves[i] for i in positions]
    if not any(isinstance(x, Tracer) for x in dynamic):
        return fun(*args, **kwargs)  # nothing is differentiated: no tape to save
    if policy is checkpoint_policies.nothing_saveable:
        policy = None
    chosen = []  # (index, primitive name) of the stored intermediates (set by fwd)

    def call(*xs):
        full = list(leaves)
        for i, x in zip(positions, xs):
            full[i] = x
        a, kw = tree_unflatten(tree, full)
        return fun(*a, **kw)

    def fwd(*xs):
        if policy is None:
            out, stored = call(*xs), []
        else:
            out, candidates = _record(call, _name(fun), policy, xs)
            picked = set(policy.select([c for c, _ in candidates]))
            chosen[:] = [(c.index, c.primitive) for c, _ in candidates if c.index in picked]
            stored = [v for c, v in candidates if c.index in picked]
        _check_no_closure("checkpoint", fun, xs, out)
        return out, (xs, stored)

    def bwd(residuals, g):
        xs, stored = residuals
        kept = optimization_barrier(*xs, *stored)
        xs, stored = kept[:len(xs)], kept[len(xs):]
        diff = [i for i, x in enumerate(xs) if _differentiable(x)]
        trace = None if policy is None else _PolicyTrace(_name(fun), policy, {
            index: (name, value) for (index, name), value in zip(chosen, stored)})

        def of_differentiable(*ys):
            full = list(xs) if trace is None else [trace.wrap(x) for x in xs]
            for i, y in zip(diff, ys):
                full[i] = y
            return call(*full)

        cts = _pullback_once(of_differentiable, [xs[i] for i in diff], g, trace)
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
    `module(x)`, and reverse mode recomputes its activations instead of storing them (those
    `policy` picks excepted). It is a pytree with the wrapped module as its child, so
    parameters and gradients keep their structure."""

    def __init__(self, module, policy=None):
        self.module = module
        self.policy = policy

    def forward(self, *args, **kwargs):
        return _checkpointed_call(_apply, (self.module,) + args, kwargs, self.policy)


def _apply(module, *args, **kwargs):
    return module(*args, **kwargs)


def checkpoint(fun=None, *, policy=None):
    """Checkpoint `fun` (a function, or an nn Module): the returned callable computes the
    same values, but reverse mode stores only its inputs and recomputes its intermediates
    during the backward pass (one extra forward evaluation of `fun`).

    Arguments and results are pytrees; array (and float) leaves are differentiable inputs,
    other leaves (ints, strings, functions) are static. Values to differentiate must be
    arguments, not closures. Works with `grad`/`vjp`, `Tensor.backward()`, higher orders,
    `jit` and `vmap`. Usable as a decorator, with or without arguments.

    `policy` (one of `checkpoint_policies`, as in JAX) chooses intermediates to store as
    well, which the recomputation then takes instead of computing: `dots_saveable` stores
    matrix products, `save_under_budget(nbytes)` as much as a memory budget allows. It
    governs every mode; under `jit` the memory planner counts what it stores. Each call
    records which of `fun`'s operations to store, so `fun` must run the same operations
    in the same order when recomputed (no randomness that changes them).

    >>> @checkpoint
    ... def block(w, x):
    ...     return wnp.tanh(x @ w)
    >>> grad(lambda w, x: block(w, x).sum())(w, x)  # block's activations recomputed
    >>> checkpoint(block, policy=checkpoint_policies.dots_saveable)  # x @ w stored
    """
    policy = _as_policy(policy)
    if fun is None:
        return functools.partial(checkpoint, policy=policy)
    if isinstance(fun, Module):
        return Checkpointed(fun, policy)
    if not callable(fun):
        raise TypeError(f"checkpoint: expected a function or a Module, got {type(fun).__name__}.")

    @functools.wraps(fun)
    def checkpointed(*args, **kwargs):
        return _checkpointed_call(fun, args, kwargs, policy)

    return checkpointed


def _compose(fns, x):
    for f in fns:
        x = f(x)
    return x


def checkpoint_sequential(fns, segments=None, *, policy=None):
    """Return a function applying `fns` (functions or Modules of one argument) in order, the
    chain split into `segments` contiguous groups (default: ceil(sqrt(n)), Chen et al. 2016)
    whose activations are recomputed in the backward pass. Only the group boundaries are
    stored, plus one group's activations while it is reversed: about 2 sqrt(n) activations
    instead of n, for about one extra forward pass. The last group is not checkpointed: its
    activations are needed as soon as the backward pass starts. `policy` (see
    `checkpoint_policies`) stores intermediates of each group as well.
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
    run_group = checkpoint(_compose, policy=policy)

    def sequential(x):
        for group in groups[:-1]:
            x = run_group(group, x)
        return _compose(groups[-1], x)

    return sequential


# ---------------------------------------------------------------------------------------
# Binomial checkpointing of a loop


def _check_bound(who, value, what):
    if not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{who}: {what} must be a Python int (the schedule is fixed before the loop runs), "
            f"got {type(value).__name__}.")
    return int(value)


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
    Differentiable to any order, eagerly, functionally, and under jit (which unrolls the
    schedule) and vmap.

    >>> fori_loop_revolve(0, 1000, lambda i, x: wnp.sin(x), x0, snapshots=10)
    """
    lower = _check_bound("fori_loop_revolve", lower, "lower")
    upper = _check_bound("fori_loop_revolve", upper, "upper")

    def step(i, carry, x):
        return body_fun(lower + i, carry), ()

    carry, _ = _revolve_scan("fori_loop_revolve", body_fun, step, init_val, (),
                             max(upper - lower, 0), snapshots)
    return carry


def scan_revolve(f, init, xs=None, length=None, *, snapshots, reverse=False):
    """`scan(f, init, xs, length, reverse)` whose reverse pass follows the optimal binomial
    (revolve) schedule: it holds at most `snapshots` carries (the initial one included)
    instead of one per step, for `wengert.revolve.min_advances(T, snapshots)` extra untaped
    evaluations of `f` over T steps (the fewest possible with that memory), plus one.

    `f(carry, x) -> (carry, y)` as for `scan`; `xs` (a pytree of arrays scanned along their
    leading axis, or None with `length`) and the stacked ys are differentiable like the
    carry. The length must be known (not traced). Values to differentiate must be in the
    carry or xs, not closed over. Differentiable to any order, eagerly, functionally, and
    under jit (which unrolls the schedule) and vmap. A function of its own rather than an
    option of `scan`, whose signature stays `jax.lax.scan`'s (JAX has no revolve schedule;
    its `checkpoint` of the body is our `scan(checkpoint(f), ...)`).

    >>> carry, ys = scan_revolve(lambda h, x: (wnp.tanh(h @ w + x),) * 2, h0, xs, snapshots=10)
    """
    xs_leaves, xs_tree = tree_flatten(xs)
    lengths = {np.shape(raw_value(x))[0] if np.ndim(raw_value(x)) else None for x in xs_leaves}
    if length is not None:
        lengths.add(_check_bound("scan_revolve", length, "length"))
    if None in lengths or len(lengths) != 1:
        raise ValueError(
            f"scan_revolve: every leaf of xs needs the same leading axis (and length, if given, "
            f"that size); got {sorted(lengths, key=str)} scanning {_name(f)}. With xs=None, "
            "pass length.")
    (steps,) = lengths
    if reverse:
        xs_leaves = [x[::-1] for x in xs_leaves]
    y_tree = []

    def step(i, carry, x):
        out = f(carry, tree_unflatten(xs_tree, list(x)))
        if not isinstance(out, tuple) or len(out) != 2:
            raise TypeError(f"scan_revolve: {_name(f)} must return a pair (carry, y), got "
                            f"{type(out).__name__}.")
        y_leaves, tree = tree_flatten(out[1])
        y_tree[:] = [tree]
        return out[0], tuple(y_leaves)

    carry, ys = _revolve_scan("scan_revolve", f, step, init, tuple(xs_leaves), steps, snapshots)
    if not y_tree:  # no step ran
        return carry, None
    ys = [y[::-1] for y in ys] if reverse else list(ys)
    return carry, tree_unflatten(y_tree[0], ys)


def _stack(rows, width):
    """Stack per-step tuples of `width` leaves into `width` arrays along a new axis 0."""
    return tuple(wnp.stack([row[k] for row in rows]) for k in range(width))


def _revolve_scan(who, fun, step, init, xs, steps, snapshots):
    """The loop `carry, y_i = step(i, carry, x_i)` for i < steps, with stacked ys, as one
    custom_vjp over the carry's leaves and the traced leaves of `xs` (flat; the others are
    constants, given no cotangent) whose reverse pass follows `revolve.schedule(steps,
    snapshots)`. Returns (carry pytree, tuple of stacked ys)."""
    actions = revolve.schedule(steps, snapshots)
    leaves, tree = tree_flatten(init)
    traced = [k for k, x in enumerate(xs) if isinstance(x, Tracer)]
    n, m = len(leaves), len(traced)
    width = []  # how many y leaves a step returns, known after the first step

    def at(values, i):
        return tuple(x[i] for x in values)

    def one(i, carry, x):
        full = [None if k in traced else x_k[i] for k, x_k in enumerate(xs)]
        for k, v in zip(traced, x):
            full[k] = v
        out, y = step(i, tree_unflatten(tree, list(carry)), tuple(full))
        out, out_tree = tree_flatten(out)
        if out_tree != tree:
            raise TypeError(
                f"{who}: {_name(fun)} must return a carry with the structure of the initial "
                f"carry ({tree}), got {out_tree}.")
        width[:] = [len(y)]
        return tuple(out), tuple(y)

    def advance(carry, xs_all, i, j, ys=None):
        for k in range(i, j):
            carry, y = one(k, carry, at(xs_all, k))
            if ys is not None:
                ys.append(y)
        return carry

    if steps == 0 or not any(isinstance(x, Tracer) for x in list(leaves) + list(xs)):
        ys = []
        carry = advance(tuple(leaves), [xs[k] for k in traced], 0, steps, ys)
        return tree_unflatten(tree, list(carry)), _stack(ys, width[0] if width else 0)
    first_reverse = next(k for k, a in enumerate(actions) if a[0] == revolve.REVERSE)

    def loop(*args):
        ys = []
        carry = advance(args[:n], args[n:], 0, steps, ys)
        return carry + _stack(ys, width[0])

    def fwd(*args):
        current, xs_all, shots, ys = args[:n], args[n:], {}, []
        for action in actions[:first_reverse]:
            if action[0] == revolve.TAKESHOT:
                shots[action[1]] = current
            else:  # the first sweep only advances and stores
                current = advance(current, xs_all, action[1], action[2], ys)
        carry, y = one(steps - 1, current, at(xs_all, steps - 1))
        out = carry + _stack(ys + [y], width[0])
        _check_no_closure(who, fun, args, out)
        return out, (shots, current, xs_all)

    def bwd(residuals, g):
        shots, current, xs_all = residuals
        # Barriers: under jit, recomputing from a snapshot must not merge with the first sweep.
        shots = {i: optimization_barrier(*s) for i, s in shots.items()}
        current, xs_all = optimization_barrier(*current), optimization_barrier(*xs_all)
        g_carry, g_ys = tuple(g[:n]), tuple(g[n:])
        ct_xs = [None] * steps
        for action in actions[first_reverse:]:
            kind = action[0]
            if kind == revolve.REVERSE:
                i = action[1]
                g_carry, ct_xs[i] = _reverse_step(functools.partial(one, i), current,
                                                  at(xs_all, i), g_carry, at(g_ys, i))
            elif kind == revolve.ADVANCE:
                current = advance(current, xs_all, action[1], action[2])
            elif kind == revolve.TAKESHOT:
                shots[action[1]] = current
            elif kind == revolve.RESTORE:
                # A fresh barrier per restore: recomputing the same steps twice from one
                # snapshot must not be shared by CSE (that would keep the first run alive).
                current = optimization_barrier(*shots[action[1]])
            else:
                del shots[action[1]]
        ct_x = tuple(None if ct_xs[0][k] is None else wnp.stack([c[k] for c in ct_xs])
                     for k in range(m))
        return g_carry + ct_x

    rule = custom_vjp(loop)
    rule.__name__ = f"{who}({_name(fun)})"
    rule.defvjp(fwd, bwd)
    out = rule(*leaves, *[xs[k] for k in traced])
    return tree_unflatten(tree, list(out[:n])), tuple(out[n:])


def _reverse_step(step, carry, x, g_carry, g_y):
    """Pull (`g_carry`, `g_y`) back through `step(carry, x) -> (carry, y)`: the cotangents
    of the carry and of x. Non-differentiable entries (integer counters) get None, and
    integer outputs are left out."""
    inputs = list(carry) + list(x)
    diff = [k for k, v in enumerate(inputs) if _differentiable(v)]
    kept = []  # which outputs carry derivatives

    def of_differentiable(*ys):
        full = list(inputs)
        for k, y in zip(diff, ys):
            full[k] = y
        c, y = step(tuple(full[:len(carry)]), tuple(full[len(carry):]))
        outs = list(c) + list(y)
        kept[:] = [_differentiable(o) for o in outs]
        return tuple(o for o, keep in zip(outs, kept) if keep)

    pullback = _vjp(of_differentiable, tuple(inputs[k] for k in diff), False, single_use=True)[1]
    gs = list(g_carry) + list(g_y)
    cts = pullback(tuple(c for c, keep in zip(gs, kept) if keep))
    out = [None] * len(inputs)
    for k, c in zip(diff, cts):
        out[k] = c
    return tuple(out[:len(carry)]), tuple(out[len(carry):])
