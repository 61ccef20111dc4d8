"""Core: primitives, tracers, traces and pytrees. Knows nothing of NumPy's function names."""

from .primitive import (
    DifferentiationError,
    EscapedTracerError,
    Primitive,
    ShapedArray,
    Trace,
    Tracer,
    batch_elementwise,
    def_elementwise,
    def_jvp,
    def_jvp_multi,
    def_linear,
    def_vjp,
    raw_value,
    state,
)
from .pytree import (
    register_pytree_node,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)

__all__ = [
    "batch_elementwise",
    "DifferentiationError",
    "EscapedTracerError",
    "Primitive",
    "ShapedArray",
    "Trace",
    "Tracer",
    "def_elementwise",
    "def_jvp",
    "def_jvp_multi",
    "def_linear",
    "def_vjp",
    "raw_value",
    "state",
    "register_pytree_node",
    "tree_flatten",
    "tree_leaves",
    "tree_map",
    "tree_structure",
    "tree_unflatten",
]
