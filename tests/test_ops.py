"""The systematic test of `wengert.numpy`: every differentiable operation, from one table.

Each table entry names a wengert function, the NumPy function it must agree with, one
argument generator per positional argument (its domain: positive for log, |x| < 1 for
arcsin...) and the argument shapes to try. One parametrised test runs every entry over its
shapes (broadcasting pairs, 0-d arrays, Python scalars, empty arrays) and dtypes (float64,
float32, complex where the function is holomorphic or defined on complex numbers); it
compares values with NumPy, checks that float32 stays float32 in the value and in both
derivatives, and runs `check_grads` in forward and reverse mode to second order.

A coverage test walks the modules for `Primitive` objects and fails when one has no rules
or is not reached by the table. Non-differentiable functions have their own table: NumPy's
values, raw results under transforms, zero derivatives.

(linalg, matmul and the other products, and wengert.scipy have their own tests.)
"""

import zlib
from dataclasses import dataclass, field

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert.core import Primitive, Tracer
from wengert.numpy import _constructors, _elementwise, _indexing, _reductions, _shape
from wengert.testing import check_grads
from wengert.transforms.api import grad, jvp, vjp

# ---------------------------------------------------------------------------------------
# Argument generators: `gen(rng, shape, dtype)`; shape None means a Python scalar.


def _as_input(values, shape, dtype):
    if shape is None:
        return float(values)
    return np.asarray(values, dtype=dtype)


def _sample(draw):
    """A generator from `draw(rng, shape) -> float64 values`; complex dtypes get an
    independent imaginary part from the same distribution."""

    def gen(rng, shape, dtype):
        size = () if shape is None else shape
        if np.dtype(dtype).kind == "c":
            return (draw(rng, size) + 1j * draw(rng, size)).astype(dtype)
        return _as_input(draw(rng, size), shape, dtype)

    gen.__name__ = draw.__name__
    return gen


@_sample
def normal(rng, shape):
    return rng.standard_normal(shape)


@_sample
def positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


@_sample
def unit(rng, shape):
    """Inside (-1, 1), away from the ends (arcsin, arccos, arctanh)."""
    return rng.uniform(-0.8, 0.8, shape)


@_sample
def above_one(rng, shape):
    return rng.uniform(1.2, 3.0, shape)


@_sample
def nonzero(rng, shape):
    """Away from 0: for divide, abs, sign-like kinks and cumprod."""
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)


@_sample
def distinct(rng, shape):
    """Values at least 0.1 apart, so that max, min, sort and clip have no ties."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) + rng.uniform(0.1, 0.3, n)) * 0.5 - n / 4).reshape(shape)


@_sample
def with_zeros(rng, shape):
    """Nonzero values with about a third of them exactly zero (for prod)."""
    return rng.uniform(0.5, 2.0, shape) * (rng.uniform(size=shape) > 0.35)


def _fixed(value):
    def gen(rng, shape, dtype):
        return _as_input(np.broadcast_to(value, () if shape is None else shape), shape, dtype)

    gen.__name__ = f"fixed({value})"
    return gen


# ---------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True)
class Op:
    """One row: `fn(*args, **kwargs)` must equal `ref(*args, **kwargs)` and have correct
    derivatives for arguments drawn from `domains` with each entry of `shapes` (one shape per
    argument; None is a Python scalar)."""

    name: str
    fn: object
    ref: object
    domains: tuple
    shapes: tuple
    kwargs: dict = field(default_factory=dict)
    dtypes: tuple = (np.float64, np.float32)
    complex_domain: object = None  # a generator: also check on complex inputs
    preserves_dtype: bool = True  # float32 in -> float32 out
    check: dict = field(default_factory=dict)  # options for check_grads

    def call(self, *args):
        return self.fn(*args, **self.kwargs)

    def call_ref(self, *args):
        return self.ref(*args, **self.kwargs)


UNARY_SHAPES = (((2, 3),), ((3, 1, 2),), ((),), (None,), ((0, 3),))
BINARY_SHAPES = (
    ((3, 1), (4,)),
    ((2, 3), (2, 3)),
    ((), (2, 3)),
    ((2, 1), None),
    (None, None),
    ((0, 3), (3,)),
)
REDUCE_SHAPES = (((2, 3, 4),),)
SHAPE_SHAPES = (((2, 3, 4),),)
COMPLEX_DTYPES = (np.complex128, np.complex64)


def unary(fn, domain, ref=None, complex_domain=None, name=None, shapes=UNARY_SHAPES):
    return Op(name or fn.__name__, fn, ref or getattr(np, fn.__name__), (domain,), shapes,
              complex_domain=complex_domain)


def binary(fn, d1, d2, ref=None, complex_domain=None, name=None, shapes=BINARY_SHAPES):
    return Op(name or fn.__name__, fn, ref or getattr(np, fn.__name__), (d1, d2), shapes,
              complex_domain=complex_domain)


def with_options(fn, ref, domain, shapes, *option_sets, name=None):
    """One row per set of keyword options."""
    name = name or fn.__name__
    return [
        Op(f"{name}({', '.join(f'{k}={v}' for k, v in opts.items())})", fn, ref, (domain,),
           shapes, kwargs=opts)
        for opts in option_sets
    ]


def variadic(fn, ref, domain, shapes, name, **kwargs):
    """A function of a list of arrays (concatenate, stack...), called with the arguments."""

    def f(*xs, **kw):
        return fn(list(xs), **kw)

    def r(*xs, **kw):
        return ref(list(xs), **kw)

    return Op(name, f, r, (domain,) * len(shapes[0]), shapes, kwargs=kwargs)


# Elementwise ------------------------------------------------------------------------------

ELEMENTWISE = [
    binary(wnp.add, normal, normal, complex_domain=normal),
    binary(wnp.subtract, normal, normal, complex_domain=normal),
    binary(wnp.multiply, normal, normal, complex_domain=normal),
    binary(wnp.divide, normal, nonzero, complex_domain=nonzero),
    binary(wnp.true_divide, normal, nonzero, name="true_divide"),
    unary(wnp.negative, normal, complex_domain=normal),
    unary(wnp.positive, normal, complex_domain=normal),
    unary(wnp.reciprocal, nonzero, complex_domain=nonzero),
    binary(wnp.power, positive, normal, complex_domain=positive),
    Op("power(x, 3)", lambda x: wnp.power(x, 3), lambda x: np.power(x, 3), (normal,),
       UNARY_SHAPES, complex_domain=normal),
    Op("power(x, 2.5)", lambda x: wnp.power(x, 2.5), lambda x: np.power(x, 2.5), (positive,),
       UNARY_SHAPES),
    Op("power(x, 0)", lambda x: wnp.power(x, 0), lambda x: np.power(x, 0), (normal,),
       UNARY_SHAPES),
    Op("power(2, x)", lambda x: wnp.power(2.0, x), lambda x: np.power(2.0, x), (normal,),
       UNARY_SHAPES),
    Op("x ** y", lambda x, y: x**y, lambda x, y: x**y, (positive, normal),
       BINARY_SHAPES[:2]),
    Op("x ** 2", lambda x: x**2, lambda x: x**2, (normal,), UNARY_SHAPES[:2]),
    binary(wnp.mod, normal, nonzero, ref=np.mod),
    binary(wnp.remainder, normal, nonzero, name="remainder"),
    binary(wnp.fmod, normal, nonzero),
    unary(wnp.exp, normal, complex_domain=normal),
    unary(wnp.exp2, normal, complex_domain=normal),
    unary(wnp.expm1, normal, complex_domain=normal),
    unary(wnp.log, positive, complex_domain=positive),
    unary(wnp.log2, positive, complex_domain=positive),
    unary(wnp.log10, positive, complex_domain=positive),
    unary(wnp.log1p, positive, complex_domain=positive),
    unary(wnp.sqrt, positive, complex_domain=positive),
    unary(wnp.cbrt, nonzero),
    unary(wnp.square, normal, complex_domain=normal),
    binary(wnp.logaddexp, normal, normal),
    binary(wnp.logaddexp2, normal, normal),
    unary(wnp.sin, normal, complex_domain=normal),
    unary(wnp.cos, normal, complex_domain=normal),
    unary(wnp.tan, unit, complex_domain=unit),
    unary(wnp.arcsin, unit, complex_domain=unit),
    unary(wnp.arccos, unit, complex_domain=unit),
    unary(wnp.arctan, normal, complex_domain=unit),
    binary(wnp.arctan2, nonzero, nonzero),
    binary(wnp.hypot, nonzero, nonzero),
    unary(wnp.sinh, normal, complex_domain=normal),
    unary(wnp.cosh, normal, complex_domain=normal),
    unary(wnp.tanh, normal, complex_domain=unit),
    unary(wnp.arcsinh, normal, complex_domain=unit),
    unary(wnp.arccosh, above_one, complex_domain=above_one),
    unary(wnp.arctanh, unit, complex_domain=unit),
    unary(wnp.deg2rad, normal),
    unary(wnp.rad2deg, normal),
    unary(wnp.radians, normal, name="radians"),
    unary(wnp.degrees, normal, name="degrees"),
    unary(wnp.abs, nonzero, ref=np.abs),
    unary(wnp.absolute, nonzero, ref=np.absolute, name="absolute"),
    unary(wnp.real, normal),
    unary(wnp.imag, normal),
    unary(wnp.conj, normal, complex_domain=normal),
    binary(wnp.maximum, normal, normal),
    binary(wnp.minimum, normal, normal),
    binary(wnp.fmax, normal, normal),
    binary(wnp.fmin, normal, normal),
    Op("where", lambda c, x, y: wnp.where(c > 0, x, y), lambda c, x, y: np.where(c > 0, x, y),
       (normal, normal, normal), (((2, 3), (2, 3), (2, 3)), ((3, 1), (4,), (3, 4)),
                                  ((2, 3), None, (3,)))),
    Op("where(x > 0, x, 0)", lambda x: wnp.where(x > 0, x, 0.0),
       lambda x: np.where(x > 0, x, 0.0), (nonzero,), UNARY_SHAPES),
    Op("clip", wnp.clip, np.clip, (distinct, _fixed(-0.55), _fixed(0.45)),
       (((3, 4), (), ()), ((3, 4), (4,), (3, 1)))),
    Op("clip(lo > hi)", wnp.clip, np.clip, (distinct, _fixed([0.6, -0.2, 0.2, -1.0]),
                                             _fixed([-0.1, 0.3, 0.1, 1.0])),
       (((3, 4), (4,), (4,)),)),
    Op("clip(x, -0.55, None)", lambda x: wnp.clip(x, -0.55, None),
       lambda x: np.clip(x, -0.55, None), (distinct,), UNARY_SHAPES[:2]),
    Op("clip(x, None, 0.45)", lambda x: wnp.clip(x, None, 0.45),
       lambda x: np.clip(x, None, 0.45), (distinct,), UNARY_SHAPES[:2]),
]

# Complex parts and modulus on complex inputs (real output from complex input).
COMPLEX_PARTS = [
    Op(f"{name}(complex)", fn, ref, (normal,), UNARY_SHAPES[:3], dtypes=COMPLEX_DTYPES,
       preserves_dtype=False)
    for name, fn, ref in [
        ("real", wnp.real, np.real),
        ("imag", wnp.imag, np.imag),
        ("abs", wnp.abs, np.abs),
        ("real(z * conj(z))", lambda z: wnp.real(z * wnp.conj(z)),
         lambda z: np.real(z * np.conj(z))),
        ("abs(exp(z))", lambda z: wnp.abs(wnp.exp(z)), lambda z: np.abs(np.exp(z))),
    ]
]

# Reductions -------------------------------------------------------------------------------

AXES = (
    dict(),
    dict(axis=1),
    dict(axis=-1),
    dict(axis=(0, 2)),
    dict(axis=(-1, 0), keepdims=True),
    dict(axis=None, keepdims=True),
    dict(axis=0, keepdims=True),
    dict(axis=()),
)
SMALL_AXES = (dict(), dict(axis=None, keepdims=True), dict(axis=-1))
ZERO_D_AXES = (dict(), dict(axis=None, keepdims=True))
EMPTY_AXES = (dict(axis=0), dict(axis=(1, 2), keepdims=True), dict())


def reductions(fn, ref, domain, *, empty=True, zero_d=True, axes=AXES):
    """Rows for a reduction: `axes` on a 3-D array; a 0-d array; an empty array."""
    rows = with_options(fn, ref, domain, REDUCE_SHAPES, *axes)
    if zero_d:
        rows += with_options(fn, ref, domain, (((),), (None,)), *ZERO_D_AXES)
    if empty:
        rows += with_options(fn, ref, domain, (((0, 3, 2),),), *EMPTY_AXES,
                             name=f"{fn.__name__}[empty]")
    return rows


REDUCTIONS = [
    *reductions(wnp.sum, np.sum, normal),
    *reductions(wnp.mean, np.mean, normal, empty=False),
    *reductions(wnp.prod, np.prod, nonzero),
    *with_options(wnp.prod, np.prod, with_zeros, REDUCE_SHAPES, dict(), dict(axis=-1),
                  dict(axis=(0, 2), keepdims=True), name="prod[zeros]"),
    *with_options(wnp.prod, np.prod, with_zeros, (((7,),),), dict(), name="prod[zeros]"),
    *with_options(wnp.max, np.max, distinct, REDUCE_SHAPES, *AXES),
    *with_options(wnp.min, np.min, distinct, REDUCE_SHAPES, *AXES),
    *with_options(wnp.amax, np.amax, distinct, REDUCE_SHAPES, dict(axis=1), name="amax"),
    *with_options(wnp.amin, np.amin, distinct, REDUCE_SHAPES, dict(axis=(0, 1)), name="amin"),
    *with_options(wnp.var, np.var, normal, REDUCE_SHAPES, *AXES, dict(axis=1, ddof=1),
                  dict(ddof=2, keepdims=True)),
    # (Over no axes the deviation is 0, where sqrt has no derivative.)
    *with_options(wnp.std, np.std, normal, REDUCE_SHAPES, *AXES[:-1], dict(axis=(0, 1), ddof=1)),
    *with_options(wnp.cumsum, np.cumsum, normal, REDUCE_SHAPES + (((0, 3, 2),),), dict(),
                  dict(axis=0), dict(axis=-1)),
    *with_options(wnp.cumprod, np.cumprod, nonzero, REDUCE_SHAPES + (((0, 3, 2),),), dict(),
                  dict(axis=1), dict(axis=-1)),
    *with_options(wnp.cumsum, np.cumsum, normal, (((),),), dict(), name="cumsum[0-d]"),
    *with_options(wnp.cumprod, np.cumprod, nonzero, (((),),), dict(), name="cumprod[0-d]"),
    *with_options(wnp.average, np.average, normal, REDUCE_SHAPES, dict(), dict(axis=1),
                  dict(axis=(0, 2), keepdims=True)),
    Op("average(weights)", lambda x, w, **kw: wnp.average(x, weights=w, **kw),
       lambda x, w, **kw: np.average(x, weights=w, **kw), (normal, positive),
       (((2, 3), (2, 3)),)),
    Op("average(weights 1-D, axis=1)", lambda x, w, **kw: wnp.average(x, weights=w, **kw),
       lambda x, w, **kw: np.average(x, weights=w, **kw), (normal, positive),
       (((2, 3), (3,)),), kwargs=dict(axis=1)),
    Op("sum(dtype=float64)", lambda x: wnp.sum(x, dtype=np.float64),
       lambda x: np.sum(x, dtype=np.float64), (normal,), REDUCE_SHAPES,
       preserves_dtype=False),
    Op("mean(complex)", wnp.mean, np.mean, (normal,), REDUCE_SHAPES, kwargs=dict(axis=1),
       dtypes=COMPLEX_DTYPES),
    Op("var(complex)", wnp.var, np.var, (normal,), REDUCE_SHAPES, kwargs=dict(axis=1),
       dtypes=COMPLEX_DTYPES, preserves_dtype=False),
    Op("prod(complex)", wnp.prod, np.prod, (nonzero,), REDUCE_SHAPES, kwargs=dict(axis=1),
       dtypes=COMPLEX_DTYPES),
]

# Shape operations ---------------------------------------------------------------------


def _pad_rows(mode):
    widths = [((1, 2), (0, 1), (2, 0)), 1, ((1, 0),)]
    rows = [Op(f"pad({mode}, {w})", wnp.pad, np.pad, (normal,), SHAPE_SHAPES,
               kwargs=dict(pad_width=w, mode=mode)) for w in widths]
    return rows


SHAPE = [
    *with_options(wnp.reshape, np.reshape, normal, SHAPE_SHAPES, dict(shape=(4, 6)),
                  dict(shape=(-1, 2)), dict(shape=(2, -1, 3, 1)), dict(shape=-1)),
    Op("reshape(0-d)", wnp.reshape, np.reshape, (normal,), (((),), ((1, 1),)),
       kwargs=dict(shape=(1,))),
    Op("reshape(empty)", wnp.reshape, np.reshape, (normal,), (((0, 3),),),
       kwargs=dict(shape=(3, -1))),
    Op("x.reshape", lambda x: x.reshape(6, 4), lambda x: x.reshape(6, 4), (normal,),
       SHAPE_SHAPES),
    *with_options(wnp.ravel, np.ravel, normal, SHAPE_SHAPES + (((),), ((0, 3),)), dict()),
    *with_options(wnp.transpose, np.transpose, normal, SHAPE_SHAPES + (((0, 3, 2),),), dict(),
                  dict(axes=(1, 0, 2)), dict(axes=(-1, 0, 1))),
    Op("x.T", lambda x: x.T, lambda x: x.T, (normal,), SHAPE_SHAPES),
    *with_options(wnp.moveaxis, np.moveaxis, normal, SHAPE_SHAPES,
                  dict(source=0, destination=-1), dict(source=(0, 1), destination=(2, 0))),
    *with_options(wnp.swapaxes, np.swapaxes, normal, SHAPE_SHAPES, dict(axis1=0, axis2=2),
                  dict(axis1=-1, axis2=1)),
    *with_options(wnp.expand_dims, np.expand_dims, normal, SHAPE_SHAPES, dict(axis=0),
                  dict(axis=-1), dict(axis=(0, 3))),
    *with_options(wnp.squeeze, np.squeeze, normal, (((1, 3, 1),),), dict(), dict(axis=0),
                  dict(axis=(-1,))),
    *with_options(wnp.broadcast_to, np.broadcast_to, normal, (((3, 1),),),
                  dict(shape=(2, 3, 4)), dict(shape=(3, 1))),
    Op("broadcast_to(0-d)", wnp.broadcast_to, np.broadcast_to, (normal,), (((),), (None,)),
       kwargs=dict(shape=(2, 2))),
    Op("broadcast_arrays", lambda x, y: wnp.broadcast_arrays(x, y),
       lambda x, y: np.broadcast_arrays(x, y), (normal, normal), (((3, 1), (4,)),)),
    variadic(wnp.concatenate, np.concatenate, normal, (((2, 3), (1, 3), (4, 3)),),
             "concatenate"),
    variadic(wnp.concatenate, np.concatenate, normal, (((2, 3), (2, 1)), ((2, 0), (2, 2))),
             "concatenate(axis=-1)", axis=-1),
    variadic(wnp.concatenate, np.concatenate, normal, (((2, 3), (4,)),),
             "concatenate(axis=None)", axis=None),
    variadic(wnp.stack, np.stack, normal, (((2, 3), (2, 3), (2, 3)), ((), ())), "stack"),
    variadic(wnp.stack, np.stack, normal, (((2, 3), (2, 3)),), "stack(axis=-1)", axis=-1),
    variadic(wnp.stack, np.stack, normal, (((2, 3), (2, 3)),), "stack(axis=1)", axis=1),
    variadic(wnp.hstack, np.hstack, normal, (((2, 3), (2, 1)), ((3,), (2,)), ((), ())),
             "hstack"),
    variadic(wnp.vstack, np.vstack, normal, (((2, 3), (1, 3)), ((3,), (3,)), ((), ())),
             "vstack"),
    variadic(wnp.dstack, np.dstack, normal, (((2, 3), (2, 3)), ((3,), (3,)),
                                             ((2, 3, 1), (2, 3, 2))), "dstack"),
    variadic(wnp.column_stack, np.column_stack, normal, (((3,), (3, 2)),), "column_stack"),
    *with_options(wnp.split, np.split, normal, SHAPE_SHAPES,
                  dict(indices_or_sections=2), dict(indices_or_sections=3, axis=1),
                  dict(indices_or_sections=[1, 3], axis=-1)),
    *with_options(wnp.array_split, np.array_split, normal, SHAPE_SHAPES,
                  dict(indices_or_sections=3, axis=2), dict(indices_or_sections=[2, 5], axis=1),
                  dict(indices_or_sections=4)),
    *with_options(wnp.hsplit, np.hsplit, normal, SHAPE_SHAPES, dict(indices_or_sections=3)),
    *with_options(wnp.vsplit, np.vsplit, normal, SHAPE_SHAPES, dict(indices_or_sections=2)),
    *with_options(wnp.tile, np.tile, normal, (((2, 3),), ((),)), dict(reps=2),
                  dict(reps=(2, 1)), dict(reps=(2, 1, 3))),
    *with_options(wnp.repeat, np.repeat, normal, (((2, 3),),), dict(repeats=2),
                  dict(repeats=2, axis=1), dict(repeats=[1, 0, 3], axis=-1)),
    *_pad_rows("constant"),
    Op("pad(constant, empty)", wnp.pad, np.pad, (normal,), (((0, 3),),),
       kwargs=dict(pad_width=((1, 0), (2, 1)))),
    Op("pad(constant_values)", wnp.pad, np.pad, (normal,), SHAPE_SHAPES,
       kwargs=dict(pad_width=1, mode="constant", constant_values=1.5)),
    *_pad_rows("edge"),
    *_pad_rows("reflect"),
    *_pad_rows("symmetric"),
    *_pad_rows("wrap"),
    *with_options(wnp.flip, np.flip, normal, SHAPE_SHAPES + (((0, 3, 2),),), dict(), dict(axis=1),
                  dict(axis=(0, -1)), dict(axis=np.int64(-2))),
    *with_options(wnp.fliplr, np.fliplr, normal, SHAPE_SHAPES, dict()),
    *with_options(wnp.flipud, np.flipud, normal, SHAPE_SHAPES, dict()),
    *with_options(wnp.roll, np.roll, normal, (((0, 3, 2),),), dict(shift=2), dict(shift=1, axis=0),
                  name="roll[empty]"),
    *with_options(wnp.roll, np.roll, normal, SHAPE_SHAPES, dict(shift=2), dict(shift=-1, axis=1),
                  dict(shift=(1, 2), axis=(0, 2)), dict(shift=1, axis=(0, 1))),
    *with_options(wnp.rot90, np.rot90, normal, SHAPE_SHAPES, dict(), dict(k=2), dict(k=3),
                  dict(k=-1, axes=(1, 2))),
    Op("atleast_1d", wnp.atleast_1d, np.atleast_1d, (normal,), (((),), ((3,),), ((2, 3),))),
    Op("atleast_2d", wnp.atleast_2d, np.atleast_2d, (normal,), (((),), ((3,),), ((2, 3),))),
    Op("atleast_3d", wnp.atleast_3d, np.atleast_3d, (normal,),
       (((),), ((3,),), ((2, 3),), ((2, 3, 4),))),
    Op("atleast_2d(x, y)", lambda x, y: wnp.atleast_2d(x, y),
       lambda x, y: np.atleast_2d(x, y), (normal, normal), (((3,), ()),)),
]

# Indexing ---------------------------------------------------------------------------------


def _index_rows(cases):
    """Rows `x[index]` for (name, index, shape) cases; ref is NumPy's own indexing."""
    return [
        Op(f"x[{name}]", lambda x, index=index: x[index], lambda x, index=index: x[index],
           (normal,), ((shape,),))
        for name, index, shape in cases
    ]


REPEATED = np.array([0, 2, 0, 3, 2, 0])
PUT_INDICES = np.array([[0, 0, 3], [1, 2, 1], [2, 2, 2]])


def _np_add_at(x, idx, y):
    out = np.array(x, copy=True)
    np.add.at(out, idx, y)
    return out

INDEXING = [
    *_index_rows([
        ("1", 1, (4, 3)),
        ("-1", -1, (4, 3)),
        ("1:3", slice(1, 3), (4, 3)),
        ("::-2, 1:", (slice(None, None, -2), slice(1, None)), (5, 3)),
        ("-3:-1, ::2", (slice(-3, -1), slice(None, None, 2)), (5, 3)),
        ("1, -1", (1, -1), (4, 3)),
        ("newaxis", (None, slice(None), None), (4, 3)),
        ("..., 1", (Ellipsis, 1), (2, 3, 4)),
        ("1, ..., newaxis", (1, Ellipsis, None), (2, 3, 4)),
        ("repeated ints", REPEATED, (4, 3)),
        ("repeated ints, axis 1", (slice(None), np.array([2, 2, 1, 2])), (4, 3)),
        ("2-D ints", np.array([[0, 1], [1, 1]]), (4, 3)),
        ("int pairs", (np.array([0, 1, 1]), np.array([2, 0, 2])), (4, 3)),
        ("list", [3, 3, 1], (4,)),
        ("bool mask", np.array([True, False, True, True]), (4, 3)),
        ("bool mask 2-D", np.array([[True, False, True], [False, False, True]]), (2, 3)),
        ("empty ints", np.array([], dtype=int), (4, 3)),
        ("slice of empty", slice(1, None), (3, 0)),
        ("0-d", (), ()),
    ]),
    Op("getitem", lambda x: wnp.getitem(x, (REPEATED, 1)), lambda x: x[REPEATED, 1], (normal,),
       (((4, 3),),)),
    *with_options(wnp.take, np.take, normal, (((4, 3),),), dict(indices=REPEATED),
                  dict(indices=np.array([2, 2, 0]), axis=1),
                  dict(indices=np.array([[1, 3], [3, 3]]), axis=0),
                  dict(indices=np.array([5, -6, 1]), axis=-1, mode="wrap"),
                  dict(indices=np.array([-2, 9]), axis=0, mode="clip")),
    Op("take_along_axis", wnp.take_along_axis, np.take_along_axis, (normal,), (((3, 4),),),
       kwargs=dict(indices=np.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]]), axis=1)),
    Op("take_along_axis(axis=0)", wnp.take_along_axis, np.take_along_axis, (normal,),
       (((3, 4),),), kwargs=dict(indices=np.array([[0, 2, 2, 1], [0, 0, 0, 0]]), axis=0)),
    Op("take_along_axis(axis=None)", wnp.take_along_axis, np.take_along_axis, (normal,),
       (((3, 4),),), kwargs=dict(indices=np.array([11, 0, 11]), axis=None)),
    *with_options(wnp.sort, np.sort, distinct, (((3, 4),), ((5,),)), dict(), dict(axis=0)),
    *with_options(wnp.sort, np.sort, distinct, (((3, 4),),), dict(axis=None)),
    *with_options(wnp.sort, np.sort, normal, (((0, 3),),), dict(), dict(axis=0),
                  name="sort[empty]"),
    Op("put_along_axis_add(axis=1)",
       lambda a, v: wnp.put_along_axis_add(a, PUT_INDICES, v, axis=1),
       lambda a, v: _np_add_at(a, (np.arange(3)[:, None], PUT_INDICES), v), (normal, normal),
       (((3, 4), (3, 3)), ((3, 4), ()))),
]


def _at(name, method, ref_update, idx, shapes):
    """`x.at[idx].method(y)` against a NumPy reference that updates a copy of x."""

    def fn(x, y):
        return getattr(wnp.IndexUpdateHelper(x)[idx], method)(y)

    def ref(x, y):
        out = np.array(x, copy=True)
        ref_update(out, idx, y)
        return out

    return Op(f"at[{name}].{method}", fn, ref, (normal, normal), shapes)


def _np_set(out, idx, y):
    out[idx] = y


def _np_multiply(out, idx, y):
    out[idx] = out[idx] * y


def _np_min(out, idx, y):
    out[idx] = np.minimum(out[idx], y)


def _np_max(out, idx, y):
    out[idx] = np.maximum(out[idx], y)


UPDATES = [
    _at("repeated", "add", np.add.at, REPEATED, (((4, 3), (6, 3)), ((4, 3), (3,)),
                                                   ((4,), (6,)), ((4, 3), ()))),
    _at("1:, ::2", "add", np.add.at, (slice(1, None), slice(None, None, 2)), (((4, 3), (3, 2)),)),
    _at("mask", "add", np.add.at, np.array([True, False, True, False]), (((4, 3), (2, 3)),)),
    _at("1:3", "set", _np_set, slice(1, 3), (((4, 3), (2, 3)), ((4, 3), (3,)), ((4, 3), ()))),
    _at("unique ints", "set", _np_set, (np.array([0, 3]), np.array([2, 1])),
        (((4, 3), (2,)),)),
    _at("unique ints", "multiply", _np_multiply, np.array([3, 0]), (((4, 3), (2, 3)),)),
    _at("1:", "min", _np_min, slice(1, None), (((4, 3), (3, 3)), ((4, 3), (3,)))),
    _at("1:", "max", _np_max, slice(1, None), (((4, 3), (3, 3)), ((4, 3), (3,)))),
]

# dtype conversion ---------------------------------------------------------------------


# check_grads evaluates its finite differences in float64, but a cast to a single-precision
# output rounds them to float32: a wide step keeps the rounding small (the cast is linear).
LOW_PRECISION_OUTPUT = dict(eps=1e-2, rtol=1e-4, atol=1e-4)


def _astype(dtype_in, dtype_out, domain=normal):
    name = f"astype({np.dtype(dtype_in).name} -> {np.dtype(dtype_out).name})"
    single = np.dtype(dtype_out) in (np.float32, np.complex64)
    return Op(name, lambda x: wnp.astype(x, dtype_out), lambda x: x.astype(dtype_out),
              (domain,), UNARY_SHAPES[:3], dtypes=(dtype_in,), preserves_dtype=False,
              check=LOW_PRECISION_OUTPUT if single else {})


CONVERSIONS = [
    _astype(np.float32, np.float64),
    _astype(np.float64, np.float32),
    _astype(np.float64, np.complex128),
    _astype(np.float32, np.complex64),
    _astype(np.complex128, np.complex64),
    _astype(np.complex64, np.complex128),
    _astype(np.float64, np.float64),
    Op("x.astype(float32)", lambda x: x.astype(np.float32), lambda x: x.astype(np.float32),
       (normal,), UNARY_SHAPES[:1], dtypes=(np.float64,), preserves_dtype=False,
       check=LOW_PRECISION_OUTPUT),
]

# Constructors: a sequence of traced values stacks differentiably --------------------------

CONSTRUCTORS = [
    Op("array([x, y])", lambda x, y: wnp.array([x, y]), lambda x, y: np.array([x, y]),
       (normal, normal), (((2, 3), (2, 3)), ((), ()))),
    Op("array([[x, y], [y, x]])", lambda x, y: wnp.array([[x, y], [y, x]]),
       lambda x, y: np.array([[x, y], [y, x]]), (normal, normal), (((), ()), ((3,), (3,)))),
    Op("array([x, y], ndmin=3)", lambda x, y: wnp.array([x, y], ndmin=3),
       lambda x, y: np.array([x, y], ndmin=3), (normal, normal), (((), ()),)),
    Op("asarray", wnp.asarray, np.asarray, (normal,), UNARY_SHAPES[:3]),
    Op("asarray([x, 2 * x])", lambda x: wnp.asarray([x, 2 * x]),
       lambda x: np.asarray([x, 2 * x]), (normal,), UNARY_SHAPES[:3]),
    Op("copy", wnp.copy, np.copy, (normal,), UNARY_SHAPES[:3]),
    Op("meshgrid", wnp.meshgrid, np.meshgrid, (normal, normal, normal),
       (((3,), (2,), (4,)), ((3,), (1,), ()))),
    Op("meshgrid(ij, sparse)", wnp.meshgrid, np.meshgrid, (normal, normal),
       (((3,), (2,)),), kwargs=dict(indexing="ij", sparse=True)),
    Op("meshgrid(ij)", wnp.meshgrid, np.meshgrid, (normal, normal), (((3,), (2,)),),
       kwargs=dict(indexing="ij")),
]

TABLE = (ELEMENTWISE + COMPLEX_PARTS + REDUCTIONS + SHAPE + INDEXING + UPDATES + CONVERSIONS
         + CONSTRUCTORS)


# ---------------------------------------------------------------------------------------
# Cases: every row over its shapes and dtypes (plus complex dtypes where it has a domain).


def _shape_id(shapes):
    return "_".join("py" if s is None else "x".join(map(str, s)) or "0d" for s in shapes)


def _cases():
    for op in TABLE:
        dtypes = [(d, op.domains) for d in op.dtypes]
        if op.complex_domain is not None:
            dtypes += [(d, (op.complex_domain,) * len(op.domains)) for d in COMPLEX_DTYPES]
        for shapes in op.shapes:
            for dtype, domains in dtypes:
                if None in shapes and np.dtype(dtype) != np.float64:
                    continue  # Python scalars are float64 (weak): one dtype suffices
                yield pytest.param(op, shapes, dtype, domains,
                                   id=f"{op.name}-{_shape_id(shapes)}-{np.dtype(dtype).name}")


CASES = list(_cases())


def _args(op, shapes, dtype, domains, case_id):
    rng = np.random.default_rng(zlib.crc32(case_id.encode()))
    return tuple(gen(rng, s, dtype) for gen, s in zip(domains, shapes))


def _leaves(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _assert_same_values(got, expected, dtype, what):
    got, expected = _leaves(got), _leaves(expected)
    assert len(got) == len(expected), f"{what}: {len(got)} outputs, NumPy gives {len(expected)}"
    tol = 1e-5 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-12
    for g, e in zip(got, expected):
        g = np.asarray(g)
        assert not isinstance(g, Tracer)
        assert g.shape == np.shape(e), f"{what}: shape {g.shape}, NumPy gives {np.shape(e)}"
        assert g.dtype == np.asarray(e).dtype, (
            f"{what}: dtype {g.dtype}, NumPy gives {np.asarray(e).dtype}")
        np.testing.assert_allclose(g, e, rtol=tol, atol=tol, err_msg=what)


def _assert_dtypes(values, like, what):
    """Derivatives carry the dtype of the values they belong to."""
    for v, x in zip(_leaves(values), _leaves(like)):
        v = np.asarray(v)
        assert v.shape == np.shape(x), f"{what}: shape {v.shape}, expected {np.shape(x)}"
        assert v.dtype == np.asarray(x).dtype, f"{what}: dtype {v.dtype}, expected {x.dtype}"


def _random_like(x, rng):
    x = np.asarray(x)
    v = rng.standard_normal(x.shape)
    if x.dtype.kind == "c":
        v = v + 1j * rng.standard_normal(x.shape)
    return v.astype(x.dtype)


@pytest.mark.parametrize("op, shapes, dtype, domains", CASES)
def test_op(op, shapes, dtype, domains, request):
    args = _args(op, shapes, dtype, domains, request.node.callspec.id)
    expected = op.call_ref(*args)

    # Values, eagerly and under each transform.
    _assert_same_values(op.call(*args), expected, dtype, f"{op.name}: value")
    rng = np.random.default_rng(0)
    tangents = tuple(_random_like(a, rng) for a in args)
    out, out_dot = jvp(op.call, args, tangents)
    _assert_same_values(out, expected, dtype, f"{op.name}: value under jvp")
    _assert_dtypes(out_dot, out, f"{op.name}: jvp tangent")
    out, pullback = vjp(op.call, *args)
    _assert_same_values(out, expected, dtype, f"{op.name}: value under vjp")
    ct = type(out)(_random_like(o, rng) for o in out) if isinstance(out, (list, tuple)) else (
        _random_like(out, rng))
    _assert_dtypes(pullback(ct), [np.asarray(a) for a in args], f"{op.name}: vjp cotangent")
    if op.preserves_dtype:
        for o in _leaves(out):
            assert np.asarray(o).dtype == np.dtype(dtype), (
                f"{op.name}: {np.dtype(dtype).name} input gives {np.asarray(o).dtype} output")

    check_grads(op.call, args, order=2, modes=("fwd", "rev"), **op.check)

    # The same values and derivatives through jit (traced, optimised, generated code).
    _assert_same_values(wg.jit(op.call)(*args), expected, dtype, f"{op.name}: value under jit")
    jit_pullback = wg.jit(lambda *a: vjp(op.call, *a)[1](ct))
    for got, want in zip(_leaves(jit_pullback(*args)), _leaves(pullback(ct))):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12,
                                   err_msg=f"{op.name}: vjp under jit")


# ---------------------------------------------------------------------------------------
# Coverage: every primitive has its rules and is reached by the table.

MODULES = (_elementwise, _reductions, _shape, _indexing, _constructors)

# Primitives that no table function binds on a traced value in its forward computation:
# each is reached only from within another primitive's rules, whose second-order checks
# then exercise its own rules. Keep this list short.
REACHED_INDIRECTLY = {
    "scatter": "the transpose of getitem: every gather's order-2 reverse check runs it",
    "scatter_along_axis": "the transpose of take_along_axis (sort's gather), likewise",
}


def _module_primitives():
    prims = {}
    for module in MODULES:
        for value in vars(module).values():
            if isinstance(value, Primitive):
                prims[value.name] = value
    return prims


def _bound_on_tracers(monkeypatch):
    """Run every table row once under jvp and vjp; return the primitives bound on traced
    values (the forward computations, whose rules the checks exercise)."""
    seen = set()
    original = Primitive.bind

    def recording_bind(self, *args, **params):
        if any(isinstance(a, Tracer) for a in args):
            seen.add(self)
        return original(self, *args, **params)

    monkeypatch.setattr(Primitive, "bind", recording_bind)
    for case in CASES:
        op, shapes, dtype, domains = case.values
        args = _args(op, shapes, dtype, domains, case.id)
        jvp(op.call, args, args)
        vjp(op.call, *args)
    monkeypatch.undo()
    return seen


def test_every_primitive_has_rules_and_is_tested(monkeypatch):
    prims = _module_primitives()
    assert len(prims) > 30
    missing_rules = [
        name for name, p in prims.items()
        if p.differentiable and (p.jvp is None or p.vjps is None)
    ]
    assert not missing_rules, f"primitives without JVP or VJP rules: {missing_rules}"
    seen = _bound_on_tracers(monkeypatch)
    untested = sorted(
        name for name, p in prims.items()
        if p.differentiable and p not in seen and name not in REACHED_INDIRECTLY
    )
    assert not untested, f"differentiable primitives not exercised by the table: {untested}"
    stale = sorted(name for name in REACHED_INDIRECTLY if prims[name] in seen)
    assert not stale, f"now reached directly by the table; drop from the allowlist: {stale}"


# Exported names that are not array functions to check: shape queries, type predicates,
# constructors of constants, and `astype`/`IndexUpdateHelper`, which rows use under other
# names. Aliases (fix = trunc, row_stack = vstack...) are covered through their targets.
NOT_CHECKED_BY_NAME = {
    "ndim", "shape", "size", "iscomplexobj", "isrealobj", "result_dtype_of", "astype",
    "IndexUpdateHelper", "unbroadcast", "arange", "empty", "eye", "full", "geomspace",
    "identity", "indices", "linspace", "logspace", "ones", "tri", "zeros",
}


def test_every_public_function_is_in_a_table():
    """Each function that a module exports is called by some row, found by name: a row's
    name starts with the function's name."""
    row_names = [op.name for op in TABLE] + [row[0] for row in NON_DIFFERENTIABLE]
    covered = set()
    for module in MODULES:
        for name in module.__all__:
            if any(r == name or r.startswith((name + "(", name + "[")) for r in row_names):
                covered.add(id(getattr(module, name)))
    missing = sorted(
        name for module in MODULES for name in module.__all__
        if callable(getattr(module, name)) and id(getattr(module, name)) not in covered
        and name not in NOT_CHECKED_BY_NAME
    )
    assert not missing, f"functions with no table row: {missing}"


# ---------------------------------------------------------------------------------------
# Non-differentiable functions: NumPy's values, raw arrays under transforms, no derivative.

NON_DIFFERENTIABLE = [
    ("equal", lambda x, y: wnp.equal(x, y), np.equal, 2),
    ("not_equal", lambda x, y: wnp.not_equal(x, y), np.not_equal, 2),
    ("less", lambda x, y: wnp.less(x, y), np.less, 2),
    ("less_equal", lambda x, y: wnp.less_equal(x, y), np.less_equal, 2),
    ("greater", lambda x, y: wnp.greater(x, y), np.greater, 2),
    ("greater_equal", lambda x, y: wnp.greater_equal(x, y), np.greater_equal, 2),
    ("x < y", lambda x, y: x < y, lambda x, y: x < y, 2),
    ("x >= y", lambda x, y: x >= y, lambda x, y: x >= y, 2),
    ("x == y", lambda x, y: x == y, lambda x, y: x == y, 2),
    ("logical_and", lambda x, y: wnp.logical_and(x > 0, y), lambda x, y: np.logical_and(x > 0, y),
     2),
    ("logical_or", lambda x, y: wnp.logical_or(x, y > 0), lambda x, y: np.logical_or(x, y > 0), 2),
    ("logical_xor", lambda x, y: wnp.logical_xor(x > 0, y > 0),
     lambda x, y: np.logical_xor(x > 0, y > 0), 2),
    ("logical_not", lambda x: wnp.logical_not(x > 0), lambda x: np.logical_not(x > 0), 1),
    ("isnan", wnp.isnan, np.isnan, 1),
    ("isfinite", wnp.isfinite, np.isfinite, 1),
    ("isinf", wnp.isinf, np.isinf, 1),
    ("signbit", wnp.signbit, np.signbit, 1),
    ("isclose", lambda x, y: wnp.isclose(x, y, atol=0.5), lambda x, y: np.isclose(x, y, atol=0.5),
     2),
    ("sign", wnp.sign, np.sign, 1),
    ("floor", wnp.floor, np.floor, 1),
    ("ceil", wnp.ceil, np.ceil, 1),
    ("rint", wnp.rint, np.rint, 1),
    ("round", lambda x: wnp.round(x, 1), lambda x: np.round(x, 1), 1),
    ("around", wnp.around, np.around, 1),
    ("trunc", wnp.trunc, np.trunc, 1),
    ("fix", wnp.fix, np.fix, 1),
    ("floor_divide", wnp.floor_divide, np.floor_divide, 2),
    ("x // y", lambda x, y: x // y, lambda x, y: x // y, 2),
    ("argmax", wnp.argmax, np.argmax, 1),
    ("argmax(axis=1)", lambda x: wnp.argmax(x, axis=1), lambda x: np.argmax(x, axis=1), 1),
    ("argmin", lambda x: wnp.argmin(x, axis=0, keepdims=True),
     lambda x: np.argmin(x, axis=0, keepdims=True), 1),
    ("argsort", wnp.argsort, np.argsort, 1),
    ("argsort(axis=0)", lambda x: wnp.argsort(x, axis=0), lambda x: np.argsort(x, axis=0), 1),
    ("searchsorted", lambda x, y: wnp.searchsorted(np.sort(x[0]), y[0]),
     lambda x, y: np.searchsorted(np.sort(x[0]), y[0]), 2),
    ("all", lambda x: wnp.all(x > -1, axis=1), lambda x: np.all(x > -1, axis=1), 1),
    ("any", lambda x: wnp.any(x > 1), lambda x: np.any(x > 1), 1),
    ("count_nonzero", lambda x: wnp.count_nonzero(x > 0, axis=0),
     lambda x: np.count_nonzero(x > 0, axis=0), 1),
    ("nonzero", lambda x: wnp.nonzero(x > 0), lambda x: np.nonzero(x > 0), 1),
    ("where(c)", lambda x: wnp.where(x > 0), lambda x: np.where(x > 0), 1),
    ("astype(int)", lambda x: wnp.astype(x, np.int64), lambda x: x.astype(np.int64), 1),
    ("bitwise_and", lambda x, y: wnp.bitwise_and(x > 0, y > 0),
     lambda x, y: np.bitwise_and(x > 0, y > 0), 2),
    ("bitwise_or", lambda x, y: wnp.bitwise_or(x > 0, y > 0),
     lambda x, y: np.bitwise_or(x > 0, y > 0), 2),
    ("bitwise_xor", lambda x, y: (x > 0) ^ (y > 0), lambda x, y: (x > 0) ^ (y > 0), 2),
    ("invert", lambda x: ~(x > 0), lambda x: ~(x > 0), 1),
    ("left_shift", lambda x: wnp.left_shift(wnp.astype(x > 0, np.int64), 3),
     lambda x: np.left_shift((x > 0).astype(np.int64), 3), 1),
    ("right_shift", lambda x: wnp.right_shift(wnp.astype(x > 0, np.int64) * 8, 2),
     lambda x: np.right_shift((x > 0).astype(np.int64) * 8, 2), 1),
    ("zeros_like", wnp.zeros_like, np.zeros_like, 1),
    ("ones_like", lambda x: wnp.ones_like(x, dtype=np.float32),
     lambda x: np.ones_like(x, dtype=np.float32), 1),
    ("empty_like", wnp.empty_like, np.zeros_like, 1),
    ("full_like", lambda x: wnp.full_like(x, 2.5, shape=(2,)),
     lambda x: np.full_like(x, 2.5, shape=(2,)), 1),
]


def _non_diff_args(n_args, dtype):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((3, 4)) * 3).astype(dtype)
    x[0, 0], x[1, 1], x[2, 2] = np.nan, np.inf, 2.0
    y = (rng.standard_normal(4) * 3).astype(dtype)
    y[3] = 2.0
    return (x, y)[:n_args]


def _is_raw(v):
    return all(not isinstance(leaf, Tracer) for leaf in _leaves(v))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name, fn, ref, n_args", NON_DIFFERENTIABLE,
                         ids=[row[0] for row in NON_DIFFERENTIABLE])
@np.errstate(invalid="ignore")  # the inputs hold nan and inf on purpose
def test_non_differentiable(name, fn, ref, n_args, dtype):
    args = _non_diff_args(n_args, dtype)
    if name == "searchsorted" or name.startswith("arg"):
        args = tuple(np.nan_to_num(a, posinf=7.0) for a in args)
    expected = ref(*args)
    for got, e in zip(_leaves(fn(*args)), _leaves(expected), strict=True):
        np.testing.assert_array_equal(got, e)
        assert np.asarray(got).dtype == np.asarray(e).dtype

    inside = []

    def probe(*xs):
        out = fn(*xs)
        inside.append(_is_raw(out))
        return out

    # Under jvp: the result is a raw array with a zero tangent.
    out, out_dot = jvp(probe, args, tuple(np.ones_like(a) for a in args))
    for got, e, t in zip(_leaves(out), _leaves(expected), _leaves(out_dot), strict=True):
        np.testing.assert_array_equal(got, e)
        assert not np.any(np.asarray(t))
    # Under vjp: raw too, and every input gets a zero cotangent.
    out, pullback = vjp(probe, *args)
    ct = type(out)(map(np.zeros_like, out)) if isinstance(out, tuple) else np.zeros_like(out)
    for c, a in zip(pullback(ct), args, strict=True):
        assert c.shape == a.shape and c.dtype == a.dtype and not np.any(c)
    assert inside == [True, True], f"{name}: returned a traced value under a transform"


@pytest.mark.parametrize("fn", [wnp.floor, wnp.ceil, wnp.sign, wnp.trunc, wnp.rint, wnp.round])
def test_piecewise_constant_factors_are_constants_under_grad(fn):
    x = np.array([-1.7, -0.2, 0.4, 1.3, 2.6])
    g = grad(lambda x: wnp.sum(fn(x) * x))(x)
    np.testing.assert_array_equal(g, fn(x))
    check_grads(lambda x: fn(x) * wnp.sin(x), (x,), order=2)


def test_indices_and_masks_from_traced_values_are_constants():
    x = np.array([-1.7, -0.2, 0.4, 1.3, 2.6])
    g = grad(lambda x: wnp.sum(wnp.where(x > 0, x * x, -x)))(x)
    np.testing.assert_allclose(g, np.where(x > 0, 2 * x, -1.0))
    ix = np.argmax(x)
    g = grad(lambda x: x[wnp.argmax(x)] * wnp.sum(x))(x)
    np.testing.assert_allclose(g, x[ix] + (np.arange(5) == ix) * x.sum())


def test_repeated_indices_accumulate():
    x = np.arange(4.0)
    g = grad(lambda x: wnp.sum(x[np.array([0, 2, 0, 0, 3])] ** 2))(x)
    np.testing.assert_allclose(g, [6 * 0.0, 0, 2 * 2, 2 * 3])
    g = grad(lambda x: wnp.sum(wnp.take(x, np.array([1, 1, 2]))))(x)
    np.testing.assert_array_equal(g, [0, 2, 1, 0])
    y = np.array([1.0, 2.0, 3.0])
    g = grad(lambda y: wnp.sum(wnp.IndexUpdateHelper(x)[np.array([1, 1, 2])].add(y) ** 2),
             )(y)
    out = x.copy()
    np.add.at(out, [1, 1, 2], y)
    np.testing.assert_allclose(g, 2 * out[[1, 1, 2]])


def test_pad_rejects_unsupported_mode():
    with pytest.raises(NotImplementedError, match="pad"):
        wnp.pad(np.ones(3), 1, mode="linear_ramp")


def test_float32_stays_float32_with_python_scalars():
    x = np.array([0.55, 0.95, 1.35, 1.85], dtype=np.float32)
    fns = [
        lambda x: x * 2.5 + 1.0, lambda x: 3.0 / x - x**2, lambda x: wnp.power(x, 0.5),
        lambda x: wnp.maximum(x, 1.0), lambda x: wnp.where(x > 1, x, 0.0),
        lambda x: wnp.clip(x, 0.7, 1.5), lambda x: wnp.mean(x) * wnp.std(x, ddof=1),
        lambda x: wnp.logaddexp(x, 0.0), lambda x: wnp.arctan2(x, 1.0), lambda x: wnp.mod(x, 0.3),
        lambda x: wnp.hypot(x, 2.0), lambda x: wnp.deg2rad(x), lambda x: wnp.exp2(x),
        lambda x: wnp.prod(x) + wnp.cumprod(x), lambda x: wnp.pad(x, 1, constant_values=0.5),
    ]
    for f in fns:
        assert np.asarray(f(x)).dtype == np.float32
        assert jvp(f, (x,), (np.ones_like(x),))[1].dtype == np.float32
        g = vjp(f, x)[1](np.ones(np.shape(f(x)), np.float32))[0]
        assert g.dtype == np.float32
        check_grads(f, (x,), order=2)


MIXED_PRECISION = [
    wnp.add, wnp.multiply, wnp.divide, wnp.power, wnp.maximum, wnp.hypot, wnp.arctan2,
    wnp.logaddexp, lambda x, y: wnp.where(x > 1.5, x, y),
    lambda x, y: wnp.concatenate([x, y]), lambda x, y: wnp.stack([x, y], axis=1),
    lambda x, y: wnp.IndexUpdateHelper(y)[np.array([0, 0, 2])].add(x),
]


@pytest.mark.parametrize("f", MIXED_PRECISION)
def test_mixed_precision_follows_numpy_promotion(f):
    """float32 with float64 gives float64 values, and each input's derivative keeps its
    own dtype."""
    x = np.array([1.25, 2.0, 0.75], np.float32)
    y = np.array([0.5, 1.5, 2.5])
    out, pullback = vjp(f, x, y)
    assert np.asarray(out).dtype == np.float64
    x_bar, y_bar = pullback(np.ones_like(out))
    assert x_bar.dtype == np.float32 and y_bar.dtype == np.float64
    assert jvp(f, (x, y), (np.ones_like(x), np.ones_like(y)))[1].dtype == np.float64
    check_grads(f, (x, y), order=2)


def test_ties_share_the_derivative():
    x = np.array([1.0, 3.0, 3.0])
    np.testing.assert_allclose(grad(wnp.max)(x), [0, 0.5, 0.5])
    np.testing.assert_allclose(grad(lambda x: wnp.min(-x))(x), [0, -0.5, -0.5])
    np.testing.assert_allclose(jvp(wnp.max, (x,), (np.array([1.0, 2.0, 4.0]),))[1], 3.0)
    np.testing.assert_allclose(grad(lambda x: wnp.sum(wnp.maximum(x, x)))(x), [1, 1, 1])
    np.testing.assert_allclose(grad(lambda x: wnp.sum(wnp.minimum(x, 3.0)))(x), [1, 0.5, 0.5])


@pytest.mark.parametrize("f", [wnp.fmax, wnp.fmin])
def test_fmax_fmin_ignore_nan(f):
    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(grad(lambda x: wnp.sum(f(x, np.nan)))(x), [1, 1])
    np.testing.assert_array_equal(grad(lambda x: wnp.sum(f(np.nan, x)))(x), [1, 1])


def test_power_and_prod_at_zero():
    zeros = np.zeros(3)
    for f in (lambda x: x**2, lambda x: wnp.power(x, 3), lambda x: wnp.power(x, 1.0),
              lambda x: wnp.power(x, 0) * x):
        check_grads(f, (zeros,), order=2)
    np.testing.assert_array_equal(grad(lambda x: wnp.sum(x**2))(zeros), zeros)
    np.testing.assert_array_equal(grad(lambda x: wnp.sum(wnp.power(x, 0.0)))(zeros), zeros)
    # d prod / dx_i is the product of the others, exactly, also with zeros and to order 3.
    x = np.array([0.0, 2.0, 3.0, 1.5, 5.0])
    np.testing.assert_array_equal(grad(wnp.prod)(x), [45, 0, 0, 0, 0])
    check_grads(wnp.prod, (x,), order=3)
    check_grads(wnp.prod, (np.array([0.0, 2.0, 0.0, 3.0]),), order=3)
