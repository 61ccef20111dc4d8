"""Algebraic simplification: rewrites that never change a result, bit for bit.

Each rule sees one equation (its inputs already rewritten) and the equations that produced
its inputs, and returns the variable that already holds the result, a cheaper equation, or
None. An operand is only ever kept when its dtype and shape equal the result's, so a rule
never changes a dtype, a shape or broadcasting. The rules, and what they deliberately leave:

* `x * 1`, `1 * x`, `x / 1` -> `x` for real and integer `x`. Not complex: `x * 1` with
  `x = inf + 1j` multiplies by `1 + 0j`, and `inf * 0` is NaN. `x * 0` is never `0`
  (NaN and inf times zero are NaN).
* `x + (-0.0)`, `-0.0 + x`, `x - 0.0` -> `x` for floating `x`, and `x + 0`, `x - 0` for
  integer `x`. Not `x + 0.0`: it maps -0.0 to +0.0. Not complex (the zero gains an
  imaginary part +0.0, which maps an imaginary -0.0 to +0.0).
* `positive(x)` and `-(-x)` -> `x` (exact, also for integer wrap-around).
* `transpose(transpose(x, a), b)` -> one transpose with the composed axes (none if they are
  the identity); `reshape(reshape(x, s), t)` -> `reshape(x, t)`; a reshape or broadcast_to
  to `x`'s own shape -> `x`.
"""

import numpy as np

from ..numpy._elementwise import (
    add_p,
    divide_p,
    multiply_p,
    negative_p,
    positive_p,
    subtract_p,
)
from ..numpy._shape import broadcast_to_p, reshape_p, transpose_p
from .graph import Eqn, Literal

_REAL_KINDS = "biuf"


def _same_type(x, out):
    return (not isinstance(x, Literal) and x.aval.shape == out.aval.shape
            and np.dtype(x.aval.dtype) == np.dtype(out.aval.dtype))


def _literal_equals(x, value):
    return isinstance(x, Literal) and np.asarray(x.value).dtype.kind in _REAL_KINDS and bool(
        np.asarray(x.value) == value)


def _keep(x, out):
    """`x` if it can stand for `out`: same dtype and shape, and real (see module docstring)."""
    if _same_type(x, out) and np.dtype(x.aval.dtype).kind in _REAL_KINDS:
        return x
    return None


def _multiply(eqn, producer):
    (a, b), (out,) = eqn.inputs, eqn.outputs
    if _literal_equals(b, 1):
        return _keep(a, out)
    if _literal_equals(a, 1):
        return _keep(b, out)
    return None


def _divide(eqn, producer):
    (a, b), (out,) = eqn.inputs, eqn.outputs
    return _keep(a, out) if _literal_equals(b, 1) else None


def _is_neutral_zero(zero, x, negative):
    """Whether `x + zero` (or `x - zero`) equals `x` for every x, signed zeros included."""
    if not _literal_equals(zero, 0) or isinstance(x, Literal):
        return False
    if np.dtype(x.aval.dtype).kind in "iu":
        return True
    return bool(np.signbit(float(np.asarray(zero.value)))) != negative


def _add(eqn, producer):
    (a, b), (out,) = eqn.inputs, eqn.outputs
    if _is_neutral_zero(b, a, negative=False):
        return _keep(a, out)
    if _is_neutral_zero(a, b, negative=False):
        return _keep(b, out)
    return None


def _subtract(eqn, producer):
    (a, b), (out,) = eqn.inputs, eqn.outputs
    return _keep(a, out) if _is_neutral_zero(b, a, negative=True) else None


def _positive(eqn, producer):
    x = eqn.inputs[0]
    return x if _same_type(x, eqn.outputs[0]) else None


def _negative(eqn, producer):
    inner = producer(eqn.inputs[0])
    if inner is not None and inner.prim is negative_p:
        x = inner.inputs[0]
        return x if _same_type(x, eqn.outputs[0]) else None
    return None


def _transpose(eqn, producer):
    inner = producer(eqn.inputs[0])
    if inner is None or inner.prim is not transpose_p:
        return None
    x = inner.inputs[0]
    axes = tuple(inner.params["axes"][i] for i in eqn.params["axes"])
    if axes == tuple(range(len(axes))):
        return x if _same_type(x, eqn.outputs[0]) else None
    return Eqn(transpose_p, [x], {"axes": axes}, eqn.outputs)


def _reshape(eqn, producer):
    x, out = eqn.inputs[0], eqn.outputs[0]
    inner = producer(x)
    if inner is not None and inner.prim is reshape_p:
        x = inner.inputs[0]
    if _same_type(x, out):
        return x
    return Eqn(reshape_p, [x], eqn.params, eqn.outputs) if x is not eqn.inputs[0] else None


def _broadcast_to(eqn, producer):
    x = eqn.inputs[0]
    return x if _same_type(x, eqn.outputs[0]) else None


_RULES = {
    multiply_p: _multiply,
    divide_p: _divide,
    add_p: _add,
    subtract_p: _subtract,
    positive_p: _positive,
    negative_p: _negative,
    transpose_p: _transpose,
    reshape_p: _reshape,
    broadcast_to_p: _broadcast_to,
}


def simplify(graph):
    """Apply the algebraic rules of this module once over `graph` (Graph -> Graph). Rewritten
    equations whose outputs nobody reads any more are left for dead-code elimination."""
    replace = {}
    producers = {}
    eqns = []

    def sub(x):
        return x if isinstance(x, Literal) else replace.get(id(x), x)

    def producer(x):
        return None if isinstance(x, Literal) else producers.get(id(x))

    for eqn in graph.eqns:
        eqn = Eqn(eqn.prim, [sub(x) for x in eqn.inputs], eqn.params, eqn.outputs)
        rule = _RULES.get(eqn.prim)
        result = rule(eqn, producer) if rule is not None else None
        if result is not None and not isinstance(result, Eqn):
            replace[id(eqn.outputs[0])] = result
            continue
        eqn = result or eqn
        eqns.append(eqn)
        producers.update((id(v), eqn) for v in eqn.outputs)
    return graph.replace(eqns=tuple(eqns), outvars=tuple(sub(v) for v in graph.outvars))


__all__ = ["simplify"]
