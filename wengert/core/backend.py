"""The array-backend seam. Rules never pick NumPy for arithmetic themselves: values decide.
NumPy functions dispatch to CuPy arrays through NumPy's own protocols, and constructors ask
`array_module(x)` for the module that made `x`."""

import sys

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


def keep_freed_memory():
    """Ask glibc's malloc to keep freed memory for reuse instead of returning it to the
    system at once; a process-wide setting, for long loops over same-sized arrays (training).

    By default, freeing a block of a few MB (an array of one training step) unmaps it or
    trims the heap, and the next step's array of the same size page-faults all its pages in
    again: half the time of a PINN training step went to those faults. Afterwards, blocks up
    to 32 MB come from the heap, which keeps up to 512 MB free at its top. The `wengert`
    command calls this; call it once at the start of your own training scripts. Returns
    whether the setting was made (False where malloc is not glibc's)."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # mallopt parameters, from glibc's malloc.h
    return bool(libc.mallopt(m_mmap_threshold, 32 << 20)
                and libc.mallopt(m_trim_threshold, 512 << 20))
