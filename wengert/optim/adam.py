"""Adam and AdamW (Adam with decoupled weight decay)."""

from .. import numpy as wnp
from .base import Optimizer, _check_nonnegative, _check_unit_interval


class Adam(Optimizer):
    """Adam (Kingma & Ba), with PyTorch's update rule (`torch.optim.Adam`):

        g = grad + weight_decay * p                      (L2 penalty; AdamW decouples it)
        m = m + (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                            (amsgrad: v_max replaces v below)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Eager: `Adam(model.parameters(), lr=1e-3)`; functional: `Adam(lr=1e-3)` then `init` /
    `update` (see `Optimizer`).

    `lazy=True` takes row-sparse gradients (`wg.RowSparse`, e.g. from
    `nn.Embedding(..., sparse=True)`) as TensorFlow's LazyAdam and PyTorch's SparseAdam do:
    the rule above runs on the gradient's rows alone, so only those rows of the parameter and
    of the moments change, at a cost proportional to the rows; t counts this parameter's
    updates. The dense step would also decay the moments of (and move) every other row, so
    without `lazy` a RowSparse gradient is an error. Dense gradients get the dense step.
    """

    _decoupled = False

    def __init__(self, params=None, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, *, maximize=False, lazy=False):
        name = type(self).__name__
        _check_nonnegative(name, lr=lr, eps=eps, weight_decay=weight_decay)
        _check_unit_interval(name, **{"betas[0]": betas[0], "betas[1]": betas[1]})
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, lazy=lazy))

    def _slots(self, p, hp):
        names = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if hp["amsgrad"] else ())
        return {k: wnp.zeros_like(p) for k in names}

    def _zero_grad_moves(self, hp):
        return "decays its moment estimates (and moves the parameter) on every row"

    def _rule(self, g, p, slots, step, hp):
        lr, wd, (beta1, beta2) = hp["lr"], hp["weight_decay"], hp["betas"]
        if wd != 0:
            if self._decoupled:
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
        m = slots["exp_avg"] + (1 - beta1) * (g - slots["exp_avg"])
        v = beta2 * slots["exp_avg_sq"] + (1 - beta2) * (g * g)
        new_slots = {"exp_avg": m, "exp_avg_sq": v}
        if hp["amsgrad"]:
            v = new_slots["max_exp_avg_sq"] = wnp.maximum(slots["max_exp_avg_sq"], v)
        denom = wnp.sqrt(v) / (1 - beta2 ** step) ** 0.5 + hp["eps"]
        return p - lr / (1 - beta1 ** step) * (m / denom), new_slots


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter; `torch.optim.AdamW`): the
    parameter is first shrunk, `p = p * (1 - lr * weight_decay)`, and the Adam step then uses
    the plain gradient. Same arguments as `Adam`, with weight_decay defaulting to 0.01 (with
    `lazy=True`, only the gradient's rows are shrunk)."""

    _decoupled = True

    def __init__(self, params=None, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, lazy=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         lazy=lazy)
