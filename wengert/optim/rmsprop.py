"""RMSprop, plain or centred, with optional momentum."""

from .. import numpy as wnp
from .base import Optimizer, _check_nonnegative


class RMSprop(Optimizer):
    """RMSprop (Hinton), with PyTorch's update rule (`torch.optim.RMSprop`):

        g = grad + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - g_avg**2) + eps, g_avg = g_avg + (1 - alpha) * (g - g_avg)   (centered)
        avg = sqrt(v) + eps                                                         (otherwise)
        buf = momentum * buf + g / avg; p = p - lr * buf     (momentum > 0)
        p = p - lr * g / avg                                 (otherwise)

    Eager: `RMSprop(model.parameters(), lr=1e-2)`; functional: `RMSprop(lr=1e-2)` then
    `init` / `update` (see `Optimizer`).
    """

    def __init__(self, params=None, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 momentum=0.0, centered=False, *, maximize=False):
        _check_nonnegative("RMSprop", lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                           momentum=momentum)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _slots(self, p, hp):
        names = (("square_avg",) + (("momentum_buffer",) if hp["momentum"] > 0 else ())
                 + (("grad_avg",) if hp["centered"] else ()))
        return {k: wnp.zeros_like(p) for k in names}

    def _rule(self, g, p, slots, step, hp):
        alpha = hp["alpha"]
        if hp["weight_decay"] != 0:
            g = g + hp["weight_decay"] * p
        square_avg = alpha * slots["square_avg"] + (1 - alpha) * (g * g)
        new_slots = {"square_avg": square_avg}
        if hp["centered"]:
            grad_avg = slots["grad_avg"] + (1 - alpha) * (g - slots["grad_avg"])
            new_slots["grad_avg"] = grad_avg
            avg = wnp.sqrt(square_avg - grad_avg * grad_avg) + hp["eps"]
        else:
            avg = wnp.sqrt(square_avg) + hp["eps"]
        if hp["momentum"] > 0:
            buf = new_slots["momentum_buffer"] = hp["momentum"] * slots["momentum_buffer"] + g / avg
            return p - hp["lr"] * buf, new_slots
        return p - hp["lr"] * (g / avg), new_slots
