"""Helpers shared by the distributions: standardising a point and keeping Python scalars
weak (a Python-number parameter must not turn a float32 result into float64)."""

import math

from ... import numpy as wnp


def as_array_if_sequence(x):
    """Lists and tuples become arrays; arrays, tracers and Python scalars pass through."""
    return wnp.asarray(x) if isinstance(x, (list, tuple)) else x


def weak(fn, x, scalar_fn):
    """`fn(x)`, or `scalar_fn(x)` (a Python float) when `x` is a Python number, so that the
    result stays weakly typed under NumPy's promotion rules."""
    if type(x) in (int, float):
        return scalar_fn(x)
    return fn(x)


def log(x):
    """Differentiable natural logarithm that keeps a Python number a Python float."""
    return weak(wnp.log, x, math.log)


def standardize(x, loc, scale):
    """(x - loc) / scale and log(scale)."""
    x = as_array_if_sequence(x)
    loc = as_array_if_sequence(loc)
    scale = as_array_if_sequence(scale)
    return (x - loc) / scale, log(scale)
