"""Eager learning-rate schedulers, PyTorch style: each wraps an optimiser and sets the "lr" of
every parameter group when `.step()` is called (once per epoch or per iteration, after
`optimizer.step()`). The values come from the schedule functions in
`wengert.optim.schedules`, evaluated at the scheduler's counter `last_epoch`."""

from . import schedules


class LRScheduler:
    """Base class: `make_schedule(base_lr)` gives the schedule of one parameter group.
    Construction sets the lrs for epoch 0, as PyTorch does."""

    def __init__(self, optimizer, make_schedule, last_epoch=-1):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.schedules = [make_schedule(lr) for lr in self.base_lrs]
        self.last_epoch = last_epoch
        self.step()

    def step(self):
        """Advance the counter and set each group's lr."""
        self.last_epoch += 1
        for group, schedule in zip(self.optimizer.param_groups, self.schedules):
            group["lr"] = schedule(self.last_epoch)

    def get_last_lr(self):
        """The lr of each group, as last set."""
        return [group["lr"] for group in self.optimizer.param_groups]


class LambdaLR(LRScheduler):
    """lr = initial lr * lr_lambda(epoch) (`torch.optim.lr_scheduler.LambdaLR`)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        def make(base_lr):
            def schedule(epoch):
                return base_lr * lr_lambda(epoch)
            return schedule
        super().__init__(optimizer, make, last_epoch)


class StepLR(LRScheduler):
    """Decay the lr by `gamma` every `step_size` epochs (see `schedules.step_lr`)."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        super().__init__(optimizer, lambda lr: schedules.step_lr(lr, step_size, gamma),
                         last_epoch)


class CosineAnnealingLR(LRScheduler):
    """Cosine from the initial lr to `eta_min` over `T_max` epochs (see
    `schedules.cosine_annealing`)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):  # noqa: N803
        super().__init__(optimizer, lambda lr: schedules.cosine_annealing(lr, T_max, eta_min),
                         last_epoch)


class LinearWarmup(LRScheduler):
    """Linear ramp from `start_factor * lr` to lr over `warmup_steps` (see
    `schedules.linear_warmup`)."""

    def __init__(self, optimizer, warmup_steps, start_factor=0.0, last_epoch=-1):
        super().__init__(
            optimizer, lambda lr: schedules.linear_warmup(lr, warmup_steps, start_factor),
            last_epoch)


class WarmupCosine(LRScheduler):
    """Linear warmup then cosine annealing to `eta_min` at `total_steps` (see
    `schedules.warmup_cosine`)."""

    def __init__(self, optimizer, warmup_steps, total_steps, eta_min=0.0, start_factor=0.0,
                 last_epoch=-1):
        super().__init__(
            optimizer,
            lambda lr: schedules.warmup_cosine(lr, warmup_steps, total_steps, eta_min,
                                               start_factor),
            last_epoch)
