"""The optimisation barrier: an identity that graph passes may not see through.

`optimization_barrier(*xs)` returns its arguments unchanged (the same arrays, no copy). Its
derivative and batching rules are identities too. What it changes is the IR: its outputs
are new variables, and the passes neither share it between equations (CSE), fold it nor fuse
it, so code computed from its outputs is never merged with the same code computed from its
inputs. Checkpointing puts one on the inputs of each recomputation, so that under `jit` the
recomputation in the backward pass is not merged back into the forward pass (which would
keep every intermediate alive from the forward pass to the backward pass again).
"""

import numpy as np

from .. import numpy as wnp
from ..core import Primitive, raw_value
from ..core.primitive import def_jvp_multi


def _identity(*xs):
    return xs


optimization_barrier_p = Primitive("optimization_barrier", _identity, multiple_results=True)


def _barrier_jvp(tangents, ans, *xs):
    return tuple(tangents)


class _Passthrough:
    """`vjps`: the cotangent of argument i is that of output i."""

    def __getitem__(self, i):
        def barrier_vjp(g, ans, *xs):
            return g[i]

        return barrier_vjp


def _barrier_batch(prim, args, batched):
    size = next(np.shape(raw_value(a))[0] for a, b in zip(args, batched) if b)
    outs = prim.bind(*args)
    return tuple(o if b else wnp.broadcast_to(wnp.expand_dims(o, 0),
                                              (size,) + np.shape(raw_value(o)))
                 for o, b in zip(outs, batched))


def_jvp_multi(optimization_barrier_p, _barrier_jvp)
optimization_barrier_p.vjps = _Passthrough()
optimization_barrier_p.vjp_uses_args = False
optimization_barrier_p.batch = _barrier_batch


def optimization_barrier(*xs):
    """Return `xs` unchanged (a tuple) in a way that jit's passes cannot see through: code
    that uses the results is never merged with the same code on the arguments (common
    subexpressions), constant-folded through the barrier, or fused across it. Like
    `jax.lax.optimization_barrier`, but over positional arrays. Identity for derivatives
    and vmap.

    >>> a, b = optimization_barrier(x, y)
    """
    return optimization_barrier_p.bind(*xs)


__all__ = ["optimization_barrier", "optimization_barrier_p"]
