"""`wengert.numpy`: NumPy's functions, names, signatures, broadcasting and dtype rules,
differentiable under every transform and on eager Tensors.

Only the functions listed here are differentiable; a NumPy function applied to a traced
value dispatches here or raises a clear error, never silently drops a derivative.
"""

import numpy as _np
from numpy import (  # noqa: F401 - dtypes and constants, as in NumPy
    bool_,
    complex64,
    complex128,
    e,
    euler_gamma,
    float16,
    float32,
    float64,
    inf,
    int8,
    int16,
    int32,
    int64,
    nan,
    newaxis,
    pi,
    uint8,
)
from numpy import dtype, finfo, iinfo, ndarray, result_type, promote_types  # noqa: F401
from numpy import random  # noqa: F401 - NumPy's random numbers (constants, no derivative)

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
from . import linalg  # noqa: F401,E402
from . import _batching  # noqa: F401,E402 - the batching table, after every primitive

float_ = float64
complex_ = complex128
isscalar = _np.isscalar
