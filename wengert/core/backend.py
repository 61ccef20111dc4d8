"""The array-backend seam. Rules never pick NumPy for arithmetic themselves: values decide.
NumPy functions dispatch to CuPy arrays through NumPy's own protocols, and constructors ask
`array_module(x)` for the module that made `x`."""

import numpy as np

from .primitive import raw_value


def array_module(x):
    """The array module (numpy or cupy) of a raw value or of a tracer's innermost value."""
    x = raw_value(x)
    module = type(x).__module__
    if module.startswith("cupy"):
        import cupy

        return cupy
    return np


def is_inexact(dtype):
    """Floating or complex: the dtypes that carry derivatives."""
    return np.dtype(dtype).kind in "fc"
