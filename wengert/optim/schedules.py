"""Learning-rate schedules as functions of the update count.

A schedule is a function `step -> lr`, where `step` counts the updates already made (0 for the
first update). Pass one as the `lr` of a functional optimiser (`Adam(lr=warmup_cosine(...))`),
or drive an eager optimiser with the schedulers in `wengert.optim.lr_scheduler`, which
evaluate the same functions at PyTorch's epoch counter. Values equal PyTorch's closed forms.
"""

import math


def _check_positive(fn, **values):
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{fn}: {name}={value!r} is invalid; it must be > 0.")


def constant(lr):
    """The schedule that is always `lr`."""
    def schedule(step):
        return lr
    return schedule


def step_lr(lr, step_size, gamma=0.1):
    """`lr * gamma ** (step // step_size)`: decay by `gamma` every `step_size` steps
    (`torch.optim.lr_scheduler.StepLR`)."""
    _check_positive("step_lr", step_size=step_size)

    def schedule(step):
        return lr * gamma ** (step // step_size)
    return schedule


def cosine_annealing(lr, T_max, eta_min=0.0):  # noqa: N803 (PyTorch's name)
    """`eta_min + (lr - eta_min) * (1 + cos(pi * step / T_max)) / 2`: half a cosine from `lr`
    down to `eta_min` over `T_max` steps (`torch.optim.lr_scheduler.CosineAnnealingLR`; past
    T_max it rises again, as PyTorch's does)."""
    _check_positive("cosine_annealing", T_max=T_max)

    def schedule(step):
        return eta_min + (lr - eta_min) * (1 + math.cos(math.pi * step / T_max)) / 2
    return schedule


def linear_warmup(lr, warmup_steps, start_factor=0.0):
    """A linear ramp from `start_factor * lr` to `lr` over `warmup_steps` steps, then `lr`
    (`torch.optim.lr_scheduler.LinearLR(start_factor, end_factor=1, total_iters=warmup_steps)`).
    """
    _check_positive("linear_warmup", warmup_steps=warmup_steps)

    def schedule(step):
        frac = min(step, warmup_steps) / warmup_steps
        return lr * (start_factor + (1 - start_factor) * frac)
    return schedule


def warmup_cosine(lr, warmup_steps, total_steps, eta_min=0.0, start_factor=0.0):
    """Linear warmup (as `linear_warmup`) for `warmup_steps` steps, then cosine annealing
    from `lr` to `eta_min` until `total_steps`, then `eta_min`."""
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(
            f"warmup_cosine: need 0 <= warmup_steps < total_steps, got "
            f"warmup_steps={warmup_steps}, total_steps={total_steps}."
        )
    warm = linear_warmup(lr, warmup_steps, start_factor) if warmup_steps else constant(lr)
    cos = cosine_annealing(lr, total_steps - warmup_steps, eta_min)

    def schedule(step):
        if step < warmup_steps:
            return warm(step)
        return cos(min(step, total_steps) - warmup_steps)
    return schedule
