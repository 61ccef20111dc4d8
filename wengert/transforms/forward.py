"""Forward mode: a JVP trace carries (primal, tangent) pairs through each primitive's JVP
rule. A tangent of None is a symbolic zero: no work is done for it, and an operation whose
inputs all have zero tangents returns its plain primal value."""

import numpy as np

from .. import numpy as wnp
from ..core import Trace, Tracer, raw_value
from ..numpy._array_methods import ArrayMethods


class JVPTracer(Tracer, ArrayMethods):
    __slots__ = ("tangent",)

    def __init__(self, trace, primal, tangent):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent

    def __repr__(self):
        return f"JVPTracer(primal={self.primal!r}, tangent={self.tangent!r})"


def fit_to(x, like, reshape):
    """A tangent or cotangent `x` made to match the value `like` it belongs to: reshaped by
    `reshape(x, shape)` where the shapes differ (broadcast forwards, summed backwards), then
    given like's dtype (the real part, for a real value)."""
    if type(x) is np.ndarray and type(like) is np.ndarray:
        if x.shape == like.shape and x.dtype == like.dtype:
            return x  # the common case, kept cheap
    like_raw = raw_value(like)
    x_raw = raw_value(x)
    shape = np.shape(like_raw)
    if np.shape(x_raw) != shape:
        x = reshape(x, shape)
    dtype = getattr(like_raw, "dtype", None)
    x_dtype = getattr(x_raw, "dtype", None)
    if dtype is not None and x_dtype != dtype:
        if dtype.kind != "c" and x_dtype is not None and x_dtype.kind == "c":
            x = wnp.real(x)
        x = wnp.astype(x, dtype)
    return x


def fit_tangent(t, ans):
    """Broadcast a tangent to its primal's shape and give it the primal's dtype."""
    return fit_to(t, ans, wnp.broadcast_to)


class JVPTrace(Trace):
    __slots__ = ()

    def process(self, prim, args, params):
        primals = []
        tangents = []
        lower = False  # does any argument belong to an enclosing transform?
        for a in args:
            if type(a) is JVPTracer and a._trace is self:
                a_primal = a.primal
                primals.append(a_primal)
                tangents.append(a.tangent)
                lower = lower or isinstance(a_primal, Tracer)
            else:
                primals.append(a)
                tangents.append(None)
                lower = lower or isinstance(a, Tracer)
        ans = prim.bind(*primals, **params) if lower else prim.impl(*primals, **params)
        if prim.jvp is None:
            first = next(i for i, t in enumerate(tangents) if t is not None)
            raise prim.no_rule_error("jvp", first)
        t_out = prim.jvp(tangents, ans, *primals, **params)
        if prim.multiple_results:
            return tuple(
                a if t is None else JVPTracer(self, a, fit_tangent(t, a))
                for a, t in zip(ans, t_out)
            )
        if t_out is None:
            return ans
        return JVPTracer(self, ans, fit_tangent(t_out, ans))
