"""Adagrad: per-coordinate step sizes from the accumulated squared gradients."""

from .. import numpy as wnp
from .base import Optimizer, _check_nonnegative


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), with PyTorch's update rule (`torch.optim.Adagrad`):

        g = grad + weight_decay * p
        s = s + g * g                      (s starts at initial_accumulator_value)
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    Eager: `Adagrad(model.parameters(), lr=1e-2)`; functional: `Adagrad(lr=1e-2)` then
    `init` / `update` (see `Optimizer`). A row-sparse gradient (`wg.RowSparse`) updates only
    its rows, which equals the dense step when weight_decay is 0.
    """

    def __init__(self, params=None, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                 initial_accumulator_value=0.0, eps=1e-10, *, maximize=False):
        _check_nonnegative("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                           initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      eps=eps, maximize=maximize))

    def _slots(self, p, hp):
        return {"sum": wnp.full_like(p, hp["initial_accumulator_value"])}

    def _zero_grad_moves(self, hp):
        # A zero gradient leaves the accumulator and the parameter as they are.
        return "with weight_decay shrinks every row" if hp["weight_decay"] != 0 else None

    def _rule(self, g, p, slots, step, hp):
        if hp["weight_decay"] != 0:
            g = g + hp["weight_decay"] * p
        clr = hp["lr"] / (1 + (step - 1) * hp["lr_decay"])
        total = slots["sum"] + g * g
        return p - clr * (g / (wnp.sqrt(total) + hp["eps"])), {"sum": total}
