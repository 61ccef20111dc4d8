"""wengert: exact derivatives of NumPy programs, in forward and reverse mode, to any order,
through JAX-style transforms or PyTorch-style eager tensors.

    import wengert as wg
    import wengert.numpy as wnp
"""

from . import numpy  # noqa: F401
from .checkpoint import (  # noqa: F401
    checkpoint,
    checkpoint_policies,
    checkpoint_sequential,
    fori_loop_revolve,
    scan_revolve,
)
from .control import cond, fori_loop, scan, switch, while_loop  # noqa: F401
from .core import (  # noqa: F401
    DifferentiationError,
    EscapedTracerError,
    register_pytree_node,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_structure,
    tree_unflatten,
)
from .core.backend import keep_freed_memory  # noqa: F401
from .core.rowsparse import RowSparse  # noqa: F401
from .ir import jit, make_graph, optimization_barrier  # noqa: F401
from .sparse_jacobian import hessian_sparse, jacobian_sparse  # noqa: F401
from .tensor import (  # noqa: F401
    Tensor,
    autograd_grad,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
    tensor,
)
from .testing import check_grads, numerical_grad  # noqa: F401
from .transforms.api import (  # noqa: F401
    grad,
    hessian,
    hvp,
    jacfwd,
    jacrev,
    jvp,
    linearize,
    stop_gradient,
    value_and_grad,
    vjp,
)
from .transforms.batching import vmap  # noqa: F401
from .transforms.custom import custom_jvp, custom_vjp  # noqa: F401

__version__ = "0.1.0"
