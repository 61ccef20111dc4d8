"""Sparse Jacobians and Hessians: sparsity detection through the IR, colouring, and
compressed evaluation with one JVP, VJP or Hessian-vector product per colour.

1. Detection (`pattern`): `f` is traced into a Graph and a boolean dependency pattern is
   propagated equation by equation with sparse matrix operations; no derivative is
   evaluated.
2. Colouring (`coloring`): columns by a greedy distance-1 colouring of their intersection
   graph (JVPs), rows likewise (VJPs), or both at once for patterns with dense rows and
   columns (bidirectional); Hessians by a star colouring of the adjacency graph (direct
   recovery) or an acyclic one (fewer colours, recovery by substitution).
3. Evaluation and recovery (`compute`): one linearisation, one product per colour, and each
   nonzero read back directly from the product of its column's colour or of its row's (or,
   after an acyclic colouring, by substitution).
"""

from .coloring import color_acyclic, color_columns, color_jacobian, color_star
from .compute import hessian_sparse, jacobian_sparse
from .pattern import hessian_sparsity, jacobian_sparsity

__all__ = ["jacobian_sparse", "hessian_sparse", "jacobian_sparsity", "hessian_sparsity",
           "color_columns", "color_star", "color_acyclic", "color_jacobian"]
