"""The No-U-Turn Sampler (Hoffman and Gelman 2014) in the form Stan uses (Betancourt 2017,
"A Conceptual Introduction to Hamiltonian Monte Carlo", appendix A):

- the trajectory doubles, in a random direction each time, until it makes a U-turn, hits the
  maximum tree depth or diverges;
- the new point is drawn from the whole trajectory with multinomial weights exp(-H): uniform
  progressive sampling inside each subtree, and biased progressive sampling (favouring the new
  half) when a subtree joins the trajectory, which moves further from the start on average;
- the U-turn criterion is the generalised one (rho = sum of momenta, p_sharp = M^-1 p at the
  ends), checked on every merged subtree and, as Stan does since 2.21, also across the join
  of the two halves (each half extended by the nearest point of the other), which catches
  U-turns that fall between the two halves;
- a subtree whose energy error exceeds 1000 is divergent and ends the trajectory; an invalid
  subtree (divergent or U-turned inside) is never sampled from.
"""

import math

from .hmc import MAX_ENERGY_ERROR, Transition, leapfrog, start_point


def _logaddexp(a, b):
    """log(exp(a) + exp(b)) for floats (math, not NumPy: this runs once per leapfrog step)."""
    big, small = (a, b) if a >= b else (b, a)
    return big if small == -math.inf else big + math.log1p(math.exp(small - big))


def _no_uturn(v_start, v_end, rho):
    """The generalised criterion: the summed momentum still points along both end
    velocities."""
    return float(v_start @ rho) > 0.0 and float(v_end @ rho) > 0.0


def _joined_no_uturn(first, second, rho):
    """The criterion on the trajectory made of subtree `first` followed (in the direction of
    integration) by `second`: on the whole, and on each half extended by the nearest point of
    the other. `first`/`second` are (first point, last point, summed momentum)."""
    first_beg, first_end, first_rho = first
    second_beg, second_end, second_rho = second
    return (_no_uturn(first_beg.v, second_end.v, rho)
            and _no_uturn(first_beg.v, second_beg.v, first_rho + second_beg.p)
            and _no_uturn(first_end.v, second_end.v, second_rho + first_end.p))


class _Subtree:
    """A built subtree: its first and last points in the direction of integration, the point
    sampled from it, the log of its summed weights exp(H0 - H), its summed momentum and
    whether it is valid (neither divergent nor U-turned inside)."""

    __slots__ = ("beg", "end", "proposal", "log_weight", "rho", "valid")

    def __init__(self, beg, end, proposal, log_weight, rho, valid):
        self.beg, self.end, self.proposal = beg, end, proposal
        self.log_weight, self.rho, self.valid = log_weight, rho, valid

    def span(self):
        return self.beg, self.end, self.rho


class NUTS:
    """Multinomial NUTS with the generalised U-turn criterion; `step(point, rng, step_size,
    metric)` makes one transition."""

    def __init__(self, potential, max_tree_depth=10):
        self.potential = potential
        self.max_tree_depth = max_tree_depth

    def step(self, point, rng, step, metric):
        """One transition from `point` (its momentum is ignored); returns (point,
        Transition)."""
        start = start_point(point.q, point.logp, point.grad, rng, metric)
        # Per-transition state shared by the recursion.
        self._rng, self._metric = rng, metric
        self._h0 = start.energy()
        self._n_leapfrog, self._sum_accept, self._diverging = 0, 0.0, False

        back, front = start, start  # the ends of the trajectory, earliest and latest in time
        sample, log_weight, rho = start, 0.0, start.p
        depth = 0
        while depth < self.max_tree_depth:
            forward = rng.uniform() > 0.5
            tree = self._build(front if forward else back, depth, step if forward else -step)
            if not tree.valid:
                break
            depth += 1
            # Biased progressive sampling: move to the new half with probability
            # min(1, w_new / w_old), so that the chain favours points far from the start.
            if tree.log_weight > log_weight or rng.uniform() < math.exp(
                    tree.log_weight - log_weight):
                sample = tree.proposal
            log_weight = _logaddexp(log_weight, tree.log_weight)
            old = (back, front, rho)
            rho = rho + tree.rho
            if forward:
                front = tree.end
                ok = _joined_no_uturn(old, tree.span(), rho)
            else:
                back = tree.end
                # In time order the new subtree (built backwards) comes first.
                ok = _joined_no_uturn((tree.end, tree.beg, tree.rho), old, rho)
            if not ok:
                break
        accept_stat = self._sum_accept / self._n_leapfrog
        info = Transition(accept_stat, self._n_leapfrog, depth, self._diverging,
                          sample.energy())
        self._rng = self._metric = None
        return sample, info

    def _build(self, point, depth, step):
        """The subtree of 2**depth leapfrog steps of size `step` that starts after `point`."""
        if depth == 0:
            new = leapfrog(point, step, self._metric, self.potential)
            self._n_leapfrog += 1
            delta = self._h0 - new.energy()
            diverging = -delta > MAX_ENERGY_ERROR
            self._diverging |= diverging
            self._sum_accept += 1.0 if delta > 0 else math.exp(delta)
            return _Subtree(new, new, new, delta, new.p, not diverging)
        first = self._build(point, depth - 1, step)
        if not first.valid:
            return first
        second = self._build(first.end, depth - 1, step)
        if not second.valid:
            return second
        log_weight = _logaddexp(first.log_weight, second.log_weight)
        # Uniform progressive sampling inside a subtree: each leaf in proportion to its weight.
        proposal = first.proposal
        if self._rng.uniform() < math.exp(second.log_weight - log_weight):
            proposal = second.proposal
        rho = first.rho + second.rho
        valid = _joined_no_uturn(first.span(), second.span(), rho)
        return _Subtree(first.beg, second.end, proposal, log_weight, rho, valid)
