"""`MixtureOfExperts`: a sparsely gated mixture-of-experts layer (Shazeer et al. 2017; GShard,
Lepikhin et al. 2020; Switch Transformer, Fedus et al. 2021) whose backward pass does work only
for the experts that received tokens.

Each token (a row of x, leading axes flattened) is scored by a linear router; the k experts
with the largest logits are selected, and their gate weights are the softmax over those k
logits (a gather with `take_along_axis`, so the gates are differentiable in the router). Every
expert is a small MLP, Linear -> activation -> Linear.

Dispatch follows the concrete routing: the tokens of expert e are gathered with `take`, expert
e runs on just those rows, and the gate-weighted outputs of all experts are added back into
place with one `index_add`. An expert that received no tokens is not in the graph at all, so
the backward pass does no work for it and its parameter gradients are exact zeros (in the
functional style; eagerly its `.grad` stays None, as PyTorch leaves unused parameters). The
cost of forward and backward follows the number of routed tokens, not the number of experts.

Under `jit` or `vmap` the routing is not concrete. With `capacity_factor` set, the layer then
switches to a fixed-shape dispatch (GShard's one-hot dispatch and combine tensors): each expert
has C = ceil(capacity_factor * tokens * k / E) slots, filled in token order, and assignments
beyond an expert's capacity are dropped (they contribute zero, as in the Switch Transformer).
This path runs every expert on its C slots, so it is not sparse in E, and its one-hot tensors
cost O(tokens * E * C) memory. The eager path applies the same capacity rule, so both agree.
Without a capacity factor, a traced routing is an error that says what to do: pass
`capacity_factor`, or compute the routing outside the transform with `route` and pass it in.

Auxiliary losses (`return_aux=True`): Switch/GShard load balancing E * sum_e f_e P_e (f_e: the
fraction of the N * k assignments that went to expert e, a constant; P_e: the mean router
probability of e; 1 when balanced), and the router z-loss mean(logsumexp(logits)^2) of ST-MoE
(Zoph et al. 2022), which keeps logits small.

>>> import numpy as np
>>> moe = MixtureOfExperts(8, 16, num_experts=4, k=2, rng=0)
>>> y, aux = moe(np.ones((5, 8), np.float32), return_aux=True)
>>> y.shape, int(aux.expert_counts.sum())
((5, 8), 10)

Training: add `balance_weight * aux.balance_loss` (1e-2 is usual) to the task loss, in either
API style:

    loss = cross_entropy(head(y), labels) + 1e-2 * aux.balance_loss   # then loss.backward()

tests/test_moe.py trains such a classifier on scikit-learn's digits (4 experts, k=2): with
the balance term the experts' loads stay near 1/4 each; without it one expert starves.
"""

import math
from collections import namedtuple

import numpy as np

from .. import numpy as wnp
from ..core import ShapedArray, raw_value
from ..ir import make_graph
from ..scipy.special import logsumexp
from ..transforms.api import grad
from . import functional as F
from .layers import GELU, Linear, ReLU, Sequential, SiLU, Tanh
from .module import Module

__all__ = ["MixtureOfExperts", "MoEAux", "backward_matmul_work", "moe_dense_reference"]

_ACTIVATIONS = {"gelu": GELU, "relu": ReLU, "silu": SiLU, "tanh": Tanh}

MoEAux = namedtuple("MoEAux", ["balance_loss", "z_loss", "expert_counts"])
MoEAux.__doc__ = """Auxiliary outputs of `MixtureOfExperts`: the load-balancing loss
E * sum_e f_e P_e, the router z-loss, and the number of assignments per expert (before any
capacity limit; a concrete int array, or traced under jit/vmap)."""


class MixtureOfExperts(Module):
    """Top-k gated mixture of `num_experts` MLP experts, dim -> hidden -> dim.

    Args:
        dim: width of the tokens (the last axis of x) and of the output.
        hidden: hidden width of each expert MLP.
        num_experts: E, the number of experts.
        k: experts per token (1 <= k <= E); gates are the softmax over the k selected logits.
        activation: the experts' activation, "gelu", "relu", "silu" or "tanh".
        capacity_factor: None (no capacity limit; routing must be concrete), or a positive
            number: each expert takes at most ceil(capacity_factor * N * k / E) assignments
            of the N tokens, in token order, the rest dropped; needed under jit and vmap.
        rng: numpy Generator or int seed for the initial weights; dtype: parameter dtype.

    `forward(x, routing=None, return_aux=False)`: x of shape (..., dim); returns y of the
    same shape, or (y, MoEAux) with return_aux. `routing` (the (N, k) int array from
    `route(x)`) fixes which experts each token uses, e.g. to differentiate with the routing
    held constant, or to run the sparse dispatch under jit.
    """

    def __init__(self, dim, hidden, num_experts, k=2, *, activation="gelu",
                 capacity_factor=None, rng=None, dtype=np.float32):
        _check_positive_int("dim", dim)
        _check_positive_int("hidden", hidden)
        _check_positive_int("num_experts", num_experts)
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= num_experts:
            raise ValueError(
                f"MixtureOfExperts: k={k!r} must be an integer with 1 <= k <= num_experts "
                f"({num_experts}); each token is sent to k distinct experts."
            )
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"MixtureOfExperts: activation={activation!r} is not one of "
                f"{sorted(_ACTIVATIONS)}."
            )
        if capacity_factor is not None and not capacity_factor > 0:
            raise ValueError(
                f"MixtureOfExperts: capacity_factor={capacity_factor!r} must be a positive "
                "number (1.0 to 2.0 is usual), or None for no capacity limit."
            )
        rng = np.random.default_rng(rng)
        self.dim, self.hidden, self.num_experts, self.k = dim, hidden, num_experts, int(k)
        self.activation = activation
        self.capacity_factor = capacity_factor
        self.router = Linear(dim, num_experts, bias=False, rng=rng, dtype=dtype)
        act = _ACTIVATIONS[activation]
        self.experts = [
            Sequential(Linear(dim, hidden, rng=rng, dtype=dtype), act(),
                       Linear(hidden, dim, rng=rng, dtype=dtype))
            for _ in range(num_experts)
        ]

    def capacity(self, num_tokens):
        """Slots per expert for `num_tokens` tokens (None without a capacity factor)."""
        if self.capacity_factor is None:
            return None
        return max(1, math.ceil(self.capacity_factor * num_tokens * self.k / self.num_experts))

    def route(self, x):
        """The concrete routing of x: an (N, k) int array of expert indices per token, best
        first (ties go to the lower index). Pass it as `routing=` to hold it fixed."""
        logits = self.router(self._tokens(x, "route"))
        return _top_k(raw_value(logits), self.k, "route")

    def forward(self, x, routing=None, return_aux=False):
        """y = sum over each token's k experts of gate * expert(token), shaped like x;
        (y, MoEAux) with return_aux. See the class docstring for `routing`."""
        tokens = self._tokens(x, "forward")
        logits = self.router(tokens)
        if routing is None and isinstance(raw_value(logits), ShapedArray):
            if self.capacity_factor is None:
                context = raw_value(logits).context
                raise ValueError(
                    f"MixtureOfExperts.forward: under {context} the routing depends on traced "
                    "values, so the tokens of each expert are not known. Construct the layer "
                    "with capacity_factor=1.25 (say) for a fixed-shape dispatch that drops "
                    "overflow tokens, or compute routing = moe.route(x) outside the transform "
                    "and pass routing=routing."
                )
            y, counts = self._dispatch_capacity(tokens, logits)
        else:
            routing = self._check_routing(routing, logits)
            y, counts = self._dispatch_sparse(tokens, logits, routing)
        y = wnp.reshape(y, np.shape(raw_value(x)))
        if not return_aux:
            return y
        return y, _aux_losses(logits, counts, self.num_experts, self.k)

    # Helpers -------------------------------------------------------------------------------
    def _tokens(self, x, method):
        shape = np.shape(raw_value(x))
        if len(shape) == 0 or shape[-1] != self.dim:
            raise ValueError(
                f"MixtureOfExperts.{method}: x has shape {shape}, but its last axis must be "
                f"dim={self.dim} (tokens of shape (..., {self.dim}))."
            )
        return wnp.reshape(x, (-1, self.dim))

    def _check_routing(self, routing, logits):
        if routing is None:
            return _top_k(raw_value(logits), self.k, "forward")
        routing = raw_value(routing)
        n = np.shape(raw_value(logits))[0]
        if isinstance(routing, ShapedArray) or np.shape(routing) != (n, self.k) or (
                np.asarray(routing).dtype.kind not in "iu"):
            raise ValueError(
                f"MixtureOfExperts.forward: routing must be a concrete int array of shape "
                f"(tokens, k) = ({n}, {self.k}) as returned by route(x), got {routing!r:.80}."
            )
        routing = np.asarray(routing)
        if routing.min() < 0 or routing.max() >= self.num_experts:
            raise ValueError(
                f"MixtureOfExperts.forward: routing holds expert indices outside "
                f"[0, {self.num_experts})."
            )
        return routing

    def _dispatch_sparse(self, tokens, logits, routing):
        """Each expert with tokens runs on exactly its rows; one index_add puts them back."""
        n, k = routing.shape
        gates = wnp.reshape(_gates(logits, routing), (-1,))  # (n * k,), row-major
        flat = routing.ravel()
        counts = np.bincount(flat, minlength=self.num_experts)
        order = np.argsort(flat, kind="stable")  # assignments grouped by expert, token order
        bounds = np.concatenate([[0], np.cumsum(counts)])
        cap = self.capacity(n)
        outs, kept = [], []
        for e in np.flatnonzero(counts):
            assigned = order[bounds[e]:bounds[e + 1]][:cap]
            outs.append(self.experts[e](wnp.take(tokens, assigned // k, axis=0)))
            kept.append(assigned)
        if not kept:  # an empty batch: nothing to route
            return wnp.zeros_like(tokens), counts
        kept = np.concatenate(kept)
        weighted = wnp.concatenate(outs, axis=0) * wnp.take(gates, kept)[:, None]
        return wnp.at(wnp.zeros_like(tokens))[kept // k].add(weighted), counts

    def _dispatch_capacity(self, tokens, logits):
        """Fixed shapes for traced routing: one-hot dispatch (N, E, C) and combine tensors."""
        n = np.shape(raw_value(tokens))[0]
        e_count, k = self.num_experts, self.k
        cap = self.capacity(n)
        routing = wnp.argsort(-logits, axis=1, kind="stable")[:, :k]
        gates = _gates(logits, routing)
        # (n * k, E) one-hot assignments in token order; a running count gives each one its
        # slot in its expert, and slots at or past the capacity are dropped.
        chosen = wnp.reshape(routing, (n * k, 1)) == wnp.arange(e_count)
        chosen = wnp.astype(chosen, raw_value(tokens).dtype)
        slot = wnp.cumsum(chosen, axis=0) * chosen - 1  # -1 where not chosen: never a slot
        fits = wnp.astype(slot[:, :, None] == wnp.arange(cap), raw_value(tokens).dtype)
        fits = wnp.reshape(fits, (n, k, e_count, cap))
        dispatch = wnp.sum(fits, axis=1)  # (n, E, C): the top-k experts are distinct
        combine = wnp.einsum("nkec,nk->nec", fits, gates)
        expert_in = wnp.einsum("nec,nd->ecd", dispatch, tokens)
        expert_out = wnp.stack([self.experts[e](expert_in[e]) for e in range(e_count)])
        counts = wnp.astype(wnp.sum(chosen, axis=0), np.int64)
        return wnp.einsum("nec,ecd->nd", combine, expert_out), counts


def moe_dense_reference(moe, x, routing=None, return_aux=False):
    """The same layer computed densely: every expert on every token, weighted by a gate matrix
    that is zero outside each token's top k (no capacity limit). A test oracle and the
    baseline of benchmarks/bench_moe.py; differentiable like the layer itself, and with the
    same `routing` and `return_aux` options as `moe.forward`."""
    tokens = moe._tokens(x, "forward")
    logits = moe.router(tokens)
    routing = moe._check_routing(routing, logits)
    gate_matrix = wnp.put_along_axis_add(wnp.zeros_like(logits), routing,
                                         _gates(logits, routing), axis=1)
    y = sum(gate_matrix[:, e:e + 1] * expert(tokens) for e, expert in enumerate(moe.experts))
    y = wnp.reshape(y, np.shape(raw_value(x)))
    if not return_aux:
        return y
    counts = np.bincount(routing.ravel(), minlength=moe.num_experts)
    return y, _aux_losses(logits, counts, moe.num_experts, moe.k)


def backward_matmul_work(loss, *args):
    """(count, FLOPs) of the matmuls in the backward pass of `loss` with respect to its first
    argument at `args`: those in the traced graph (`make_graph`) of `grad(loss)` less those of
    `loss` itself. A matmul of (..., m, n) by (..., n, p) costs 2 * m * n * p per batch entry.
    With a routing held fixed (closed over by `loss`), this shows that a MixtureOfExperts
    backward pass does work only for the experts that received tokens.

    >>> moe = MixtureOfExperts(4, 8, num_experts=3, k=1, rng=0)
    >>> x = np.ones((2, 4), np.float32)  # identical tokens: one expert gets both
    >>> routing = moe.route(x)
    >>> backward_matmul_work(lambda m: wnp.sum(m(x, routing=routing)), moe)[0]  # router + 1 expert
    4
    """
    backward = _matmul_work(make_graph(grad(loss), *args))
    forward = _matmul_work(make_graph(loss, *args))
    return backward[0] - forward[0], backward[1] - forward[1]


def _matmul_work(graph):
    count = flops = 0
    for eqn in graph.eqns:
        if eqn.prim.name == "matmul":
            count += 1
            inner = eqn.inputs[0].aval.shape[-1]
            flops += 2 * inner * math.prod(eqn.outputs[0].aval.shape)
    return count, flops


def _top_k(logits, k, method):
    """Indices of the k largest logits per row, largest first, ties to the lower index."""
    if not np.all(np.isfinite(logits)):
        raise FloatingPointError(
            f"MixtureOfExperts.{method}: the router produced non-finite logits; check the "
            "input for NaN/inf and lower the learning rate."
        )
    return np.argsort(-logits, axis=1, kind="stable")[:, :k]


def _gates(logits, routing):
    """Softmax over the selected logits: (N, k) gate weights, differentiable in the router."""
    return F.softmax(wnp.take_along_axis(logits, routing, axis=1), axis=-1)


def _aux_losses(logits, counts, num_experts, k):
    probs = F.softmax(logits, axis=-1)
    dtype = raw_value(probs).dtype
    n = np.shape(raw_value(logits))[0]
    fraction = wnp.astype(counts, dtype) / (n * k)  # a constant: no gradient through f_e
    balance = num_experts * wnp.sum(fraction * wnp.mean(probs, axis=0))
    z_loss = wnp.mean(logsumexp(logits, axis=-1) ** 2)
    return MoEAux(balance, z_loss, counts)


def _check_positive_int(name, value):
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"MixtureOfExperts: {name}={value!r} must be a positive integer.")
