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


def fit_tangent(t, ans):
    """Broadcast a tangent to its primal's shape and give it the primal's dtype."""
    if type(t) is np.ndarray and type(ans) is np.ndarray:
        if t.shape == ans.shape and t.dtype == ans.dtype:
            return t  # the common case, kept cheap
    ans_raw = raw_value(ans)
    t_raw = raw_value(t)
    shape = np.shape(ans_raw)
    if np.shape(t_raw) != shape:
        t = wnp.broadcast_to(t, shape)
    dtype = getattr(ans_raw, "dtype", None)
    t_dtype = getattr(t_raw, "dtype", None)
    if dtype is not None and t_dtype != dtype:
        t = wnp.real(t) if dtype.kind != "c" and t_dtype is not None and t_dtype.kind == "c" else t
        t = wnp.astype(t, dtype)
    return t


class JVPTrace(Trace):
    __slots__ = ()

    def process(self, prim, args, params):
        primals = []
        tangents = []
        for a in args:
            if type(a) is JVPTracer and a._trace is self:
                primals.append(a.primal)
                tangents.append(a.tangent)
            else:
                primals.append(a)
                tangents.append(None)
        ans = prim.bind(*primals, **params)
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
