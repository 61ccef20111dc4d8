"""What an author of a new primitive needs, and nothing else.

    from wengert.extend import Primitive, def_elementwise

    sinc_p = Primitive("sinc", np.sinc)
    def_elementwise(sinc_p, lambda t, ans, x: t * sinc_derivative(x))

    def sinc(x):
        return sinc_p.bind(x)

Rules are written with `wengert.numpy` operations so that they are differentiable in turn;
`check_grads` tests them in both modes to any order.
"""

from .core import (  # noqa: F401
    Primitive,
    def_elementwise,
    def_jvp,
    def_jvp_multi,
    def_linear,
    def_vjp,
    raw_value,
    register_pytree_node,
)
from .testing import check_grads, numerical_grad  # noqa: F401

__all__ = [
    "Primitive",
    "def_elementwise",
    "def_jvp",
    "def_jvp_multi",
    "def_linear",
    "def_vjp",
    "raw_value",
    "register_pytree_node",
    "check_grads",
    "numerical_grad",
]
