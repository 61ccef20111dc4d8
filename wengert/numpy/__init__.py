"""`wengert.numpy`: NumPy's functions, names, signatures, broadcasting and dtype rules,
differentiable under every transform and on eager Tensors.

Only the functions listed here are differentiable; a NumPy function applied to a traced
value dispatches here or raises a clear error, never silently drops a derivative.
"""

import numpy as _np
from numpy import (  # noqa: F401 - dtypes and constants, as in NumPy  # noqa: F401
    bool_,
    complex64,
    complex128,
    dtype,
    e,
    euler_gamma,
    finfo,
    float16,
    float32,
    float64,
    iinfo,
    inf,
    int8,
    int16,
    int32,
    int64,
    nan,
    ndarray,
    newaxis,
    pi,
    promote_types,
    random,  # noqa: F401 - NumPy's random numbers (constants, no derivative)
    result_type,
    uint8,
)

# wnp.linalg, and the vmap rule table (which imports the modules whose primitives it covers).
from . import _batching, linalg  # noqa: F401
from ._array_methods import ArrayMethods  # noqa: F401
from ._constructors import *  # noqa: F401,F403
from ._constructors import astype  # noqa: F401
from ._elementwise import *  # noqa: F401,F403
from ._elementwise import abs, round  # noqa: F401,A004
from ._indexing import *  # noqa: F401,F403
from ._indexing import IndexUpdateHelper  # noqa: F401
from ._products import *  # noqa: F401,F403
from ._reductions import *  # noqa: F401,F403
from ._reductions import all, any, max, min, sum  # noqa: F401,A004
from ._shape import *  # noqa: F401,F403

float_ = float64
complex_ = complex128
isscalar = _np.isscalar
