"""Hamiltonian dynamics for the samplers: phase-space points, the Euclidean metrics (diagonal and
dense inverse mass matrices), the leapfrog integrator, the step-size heuristic, and the static
HMC kernel (a fixed number of leapfrog steps, then a Metropolis test on the Hamiltonian).

Everything works on one flat float64 position vector `q`; `potential(q) -> (logp, grad)` is the
log density and its gradient (see wengert.infer.sampler). The Hamiltonian is
H(q, p) = -logp(q) + p . M^-1 p / 2, with momentum p ~ N(0, M).
"""

import math
from typing import NamedTuple

import numpy as np
import scipy.linalg

# A trajectory whose energy error exceeds this is divergent (Stan's max_deltaH).
MAX_ENERGY_ERROR = 1000.0


class Point:
    """A point in phase space with everything the integrator reuses: position, momentum,
    velocity M^-1 p, log density and its gradient."""

    __slots__ = ("q", "p", "v", "logp", "grad")

    def __init__(self, q, p, v, logp, grad):
        self.q, self.p, self.v, self.logp, self.grad = q, p, v, logp, grad

    def energy(self):
        """The Hamiltonian -logp + p.v/2; +inf where the log density is not finite (NaN
        included), so such points get zero weight."""
        h = 0.5 * float(self.p @ self.v) - self.logp
        return h if h == h else math.inf


class DiagonalMetric:
    """A diagonal inverse mass matrix, stored as the vector of its diagonal."""

    def __init__(self, inv_mass):
        self.inv_mass = np.asarray(inv_mass, dtype=np.float64)
        self._sqrt_mass = 1.0 / np.sqrt(self.inv_mass)

    def sample_momentum(self, rng):
        return rng.standard_normal(self.inv_mass.shape[0]) * self._sqrt_mass

    def velocity(self, p):
        return self.inv_mass * p


class DenseMetric:
    """A dense inverse mass matrix M^-1 = L L^T; momenta p = L^-T z with z ~ N(0, I) have
    covariance (L L^T)^-1 = M."""

    def __init__(self, inv_mass):
        self.inv_mass = np.asarray(inv_mass, dtype=np.float64)
        self._chol = np.linalg.cholesky(self.inv_mass)

    def sample_momentum(self, rng):
        z = rng.standard_normal(self.inv_mass.shape[0])
        return scipy.linalg.solve_triangular(self._chol, z, lower=True, trans="T")

    def velocity(self, p):
        return self.inv_mass @ p


def make_metric(inv_mass):
    """DiagonalMetric for a vector, DenseMetric for a matrix."""
    return DenseMetric(inv_mass) if np.ndim(inv_mass) == 2 else DiagonalMetric(inv_mass)


def start_point(q, logp, grad, rng, metric):
    """The point at position q (log density and gradient already known) with a fresh
    momentum drawn from N(0, M)."""
    p = metric.sample_momentum(rng)
    return Point(q, p, metric.velocity(p), logp, grad)


def leapfrog(point, step, metric, potential):
    """One leapfrog (velocity Verlet) step of size `step` (negative: backwards in time):
    half a momentum step, a full position step, half a momentum step. Volume-preserving and
    reversible, which is what the Metropolis and NUTS acceptance rules rely on."""
    p_half = point.p + (0.5 * step) * point.grad
    q = point.q + step * metric.velocity(p_half)
    logp, grad = potential(q)
    p = p_half + (0.5 * step) * grad
    return Point(q, p, metric.velocity(p), logp, grad)


def initial_step_size(q, logp, grad, rng, step, metric, potential):
    """Stan's heuristic for a first step size: double (or halve) `step` until the acceptance
    probability of one leapfrog step from a fresh momentum crosses 0.8."""
    log_target = math.log(0.8)
    direction = 0
    while True:
        point = start_point(q, logp, grad, rng, metric)
        delta = point.energy() - leapfrog(point, step, metric, potential).energy()
        delta = -math.inf if delta != delta else delta
        if direction == 0:
            direction = 1 if delta > log_target else -1
        elif (delta > log_target) != (direction == 1):
            return step
        step = step * 2.0 if direction == 1 else step * 0.5
        if step > 1e7 or step == 0.0:
            raise FloatingPointError(
                f"sample: the step-size search reached {step:g}: the log density is "
                + ("flat or improper in some direction (is a prior missing?)" if step
                   else "not finite or not smooth near the initial point")
                + "; check logdensity, or pass step_size=... to skip the search.")


class Transition(NamedTuple):
    """What one MCMC transition reports besides the new point."""

    accept_stat: float  # mean Metropolis acceptance probability over the trajectory
    n_leapfrog: int  # gradient evaluations
    tree_depth: int  # NUTS only; 0 for static HMC
    diverging: bool  # an energy error above MAX_ENERGY_ERROR (or a non-finite one)
    energy: float  # the Hamiltonian at the returned point


class HMC:
    """Static HMC: `num_steps` leapfrog steps, each transition with its step size jittered
    uniformly by +-`jitter` (which breaks the periodic orbits a fixed path length can fall
    into on near-Gaussian targets), then a Metropolis accept/reject on the Hamiltonian."""

    def __init__(self, potential, num_steps=16, jitter=0.1):
        self.potential = potential
        self.num_steps = num_steps
        self.jitter = jitter

    def step(self, point, rng, step, metric):
        """One transition from `point` (its momentum is ignored); returns (point,
        Transition)."""
        start = start_point(point.q, point.logp, point.grad, rng, metric)
        h0 = start.energy()
        step = step * (1.0 + self.jitter * (2.0 * rng.uniform() - 1.0))
        end = start
        diverging = False
        n_leapfrog = 0
        while n_leapfrog < self.num_steps:
            end = leapfrog(end, step, metric, self.potential)
            n_leapfrog += 1
            # Past this error the acceptance probability exp(-1000) is 0.0 in float64, so
            # stopping early changes nothing but the cost.
            if end.energy() - h0 > MAX_ENERGY_ERROR:
                diverging = True
                break
        h = end.energy()
        accept_prob = 1.0 if h <= h0 else math.exp(h0 - h)
        if rng.uniform() < accept_prob:
            return end, Transition(accept_prob, n_leapfrog, 0, diverging, h)
        return start, Transition(accept_prob, n_leapfrog, 0, diverging, h0)
