"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay."""

from .. import numpy as wnp
from .base import Optimizer, _check_nonnegative


class SGD(Optimizer):
    """Stochastic gradient descent, with PyTorch's update rule (`torch.optim.SGD`):

        g = grad + weight_decay * p
        buf = g                                          (first step)
        buf = momentum * buf + (1 - dampening) * g       (later steps)
        g = g + momentum * buf  if nesterov  else  buf   (when momentum != 0)
        p = p - lr * g

    Eager: `SGD(model.parameters(), lr=0.1, momentum=0.9)`; functional: `SGD(lr=0.1)` then
    `init` / `update` (see `Optimizer`). `maximize=True` ascends instead.

    A row-sparse gradient (`wg.RowSparse`, e.g. from `nn.Embedding(..., sparse=True)`)
    updates only its rows. Without momentum and weight decay that is exactly the dense step.
    With either, a dense step also moves (or shrinks) the rows whose gradient is zero, so a
    RowSparse gradient needs `lazy=True`: the rule then runs on the gradient's rows alone
    (their momentum buffers and decay included; other rows stay as they are, as in
    TensorFlow's sparse momentum update).
    """

    def __init__(self, params=None, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False, lazy=False):
        _check_nonnegative("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "SGD: nesterov=True needs momentum > 0 and dampening == 0, but got "
                f"momentum={momentum}, dampening={dampening}."
            )
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, lazy=lazy))

    def _slots(self, p, hp):
        return {"momentum_buffer": wnp.zeros_like(p)} if hp["momentum"] != 0 else {}

    def _zero_grad_moves(self, hp):
        if hp["momentum"] != 0:
            return "with momentum keeps moving rows whose gradient is zero"
        if hp["weight_decay"] != 0:
            return "with weight_decay shrinks every row"
        return None

    def _rule(self, g, p, slots, step, hp):
        if hp["weight_decay"] != 0:
            g = g + hp["weight_decay"] * p
        momentum = hp["momentum"]
        if momentum == 0:
            return p - hp["lr"] * g, {}
        if step == 1:  # PyTorch starts the buffer at the first gradient, undamped
            buf = g
        else:
            buf = momentum * slots["momentum_buffer"] + (1 - hp["dampening"]) * g
        g = g + momentum * buf if hp["nesterov"] else buf
        return p - hp["lr"] * g, {"momentum_buffer": buf}
