"""`wengert.scipy`: differentiable subsets of SciPy with SciPy's names and signatures.

    from wengert.scipy import special
    from wengert.scipy.stats import norm
"""

from . import special, stats  # noqa: F401

__all__ = ["special", "stats"]
