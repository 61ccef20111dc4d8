"""Define-and-run: trace to a graph IR, optimise, generate code (`jit`), print and draw."""

from .barrier import optimization_barrier  # noqa: F401
from .graph import Eqn, Graph, Literal, Var  # noqa: F401
from .jit import jit  # noqa: F401
from .passes import (  # noqa: F401
    eliminate_common_subexpressions,
    eliminate_dead_code,
    fold_constants,
    inline_calls,
    optimize,
)
from .staging import make_graph  # noqa: F401
