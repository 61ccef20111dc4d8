"""Define-and-run: trace to a graph IR, optimise, generate code (`jit`), print and draw."""

from .graph import Eqn, Graph, Literal, Var  # noqa: F401
from .jit import jit  # noqa: F401
from .passes import (  # noqa: F401
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_constants,
    optimize,
)
from .staging import make_graph  # noqa: F401
