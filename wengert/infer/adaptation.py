"""Warm-up adaptation as in Stan: dual-averaging step size (Nesterov 2009, as adapted by
Hoffman and Gelman 2014) and windowed estimation of the inverse mass matrix (diagonal or
dense) from the draws of slow windows of doubling length, with Stan's regularisation.

The warm-up schedule (Stan's defaults): an initial fast window of 75 iterations (step size
only, while the chain finds the typical set), slow windows of 25, 50, 100, ... iterations
(the last stretched to the terminal window) at the end of each of which the metric is
re-estimated and the step-size adaptation restarted, and a terminal fast window of 50
iterations that adapts the step size to the final metric. Warm-ups too short for these
buffers get 15% / 75% / 10% of their length; under 20 iterations only the step size adapts.
"""

import math

import numpy as np

from .hmc import make_metric


class DualAveraging:
    """Dual averaging of log(step size) towards a target mean acceptance statistic.

    `update(accept_stat)` returns the next step size to try; `final_step()` the averaged
    iterate exp(x_bar), the step size to sample with after warm-up."""

    def __init__(self, step, target_accept=0.8, gamma=0.05, t0=10.0, kappa=0.75):
        self.target_accept = target_accept
        self.gamma, self.t0, self.kappa = gamma, t0, kappa
        self.restart(step)

    def restart(self, step):
        """Start again around `step`: iterates shrink towards mu = log(10 step), a point
        above `step`, so that the early iterates try larger steps (cheaper trajectories)."""
        self.mu = math.log(10.0 * step)
        self.count, self.s_bar, self.x_bar = 0, 0.0, 0.0

    def update(self, accept_stat):
        self.count += 1
        accept_stat = min(1.0, accept_stat)
        eta = 1.0 / (self.count + self.t0)
        self.s_bar = (1.0 - eta) * self.s_bar + eta * (self.target_accept - accept_stat)
        x = self.mu - self.s_bar * math.sqrt(self.count) / self.gamma
        weight = self.count ** -self.kappa
        self.x_bar = (1.0 - weight) * self.x_bar + weight * x
        return math.exp(x)

    def final_step(self):
        return math.exp(self.x_bar)


class Welford:
    """Running mean and (co)variance of vectors (Welford's update, numerically stable)."""

    def __init__(self, dim, dense):
        self.dense = dense
        self.n = 0
        self.mean = np.zeros(dim)
        self.m2 = np.zeros((dim, dim) if dense else dim)

    def add(self, x):
        self.n += 1
        delta = x - self.mean
        self.mean = self.mean + delta / self.n
        self.m2 = self.m2 + (np.outer(x - self.mean, delta) if self.dense
                             else (x - self.mean) * delta)

    def regularized(self):
        """The sample (co)variance shrunk towards 1e-3 I with weight 5 / (n + 5) (Stan's
        regularisation: keeps the estimate positive definite and well conditioned when the
        window is short)."""
        n = self.n
        cov = self.m2 / (n - 1)
        shrink = 1e-3 * (5.0 / (n + 5.0))
        if self.dense:
            return (n / (n + 5.0)) * cov + shrink * np.eye(cov.shape[0])
        return (n / (n + 5.0)) * cov + shrink


def slow_windows(num_warmup, init_buffer=75, base_window=25, term_buffer=50):
    """The slow (metric-estimating) windows of Stan's schedule as (start, stop) iteration
    ranges, stop exclusive. Each window doubles the last; one that would leave less than
    twice its length before the terminal buffer is stretched to reach it."""
    if num_warmup < 20:
        return []
    if init_buffer + base_window + term_buffer > num_warmup:
        init_buffer = int(0.15 * num_warmup)
        term_buffer = int(0.1 * num_warmup)
        base_window = num_warmup - init_buffer - term_buffer
    last = num_warmup - term_buffer
    windows = []
    start, size = init_buffer, base_window
    stop = start + size
    while True:
        windows.append((start, stop))
        if stop >= last:
            return windows
        start, size = stop, 2 * size
        stop = start + size
        if stop + 2 * size > last:
            stop = last


class WindowedAdaptation:
    """Stan's warm-up for one chain. Call `update(i, q, accept_stat)` after warm-up iteration
    i; it returns (step size, new metric or None). When it returns a new metric, the caller
    re-runs the step-size heuristic with it and calls `restart(step)`."""

    def __init__(self, num_warmup, step, inv_mass, target_accept=0.8, adapt_mass=True):
        self.num_warmup = num_warmup
        self.dense = np.ndim(inv_mass) == 2
        self.windows = slow_windows(num_warmup) if adapt_mass else []
        self.ends = {stop - 1 for _, stop in self.windows}
        self.step_size = DualAveraging(step, target_accept)
        self.estimator = Welford(np.shape(inv_mass)[0], self.dense)

    def _in_window(self, i):
        return any(start <= i < stop for start, stop in self.windows)

    def update(self, i, q, accept_stat):
        step = self.step_size.update(accept_stat)
        metric = None
        if self._in_window(i):
            self.estimator.add(q)
        if i in self.ends:
            metric = make_metric(self.estimator.regularized())
            self.estimator = Welford(q.shape[0], self.dense)
        if i == self.num_warmup - 1:
            step = self.step_size.final_step()
        return step, metric

    def restart(self, step):
        self.step_size.restart(step)
