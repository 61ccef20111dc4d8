"""The network of a physics-informed model: a tanh MLP from `wengert.nn` layers, with its
inputs mapped from the problem's box onto [-1, 1]^d (as Raissi et al. 2019 do), so that one
initialisation suits any domain."""

import functools

import numpy as np

from ..nn import init
from ..nn.layers import Linear, Sequential, Tanh
from ..nn.module import Module, Parameter


@functools.lru_cache(maxsize=64)
def _constant(values, dtype):
    """One read-only array per (values, dtype): every call of a network then closes over the
    same object, so that the jit's common-subexpression pass can share work between the
    several passes that a residual makes through the network."""
    array = np.asarray(values, dtype)
    array.flags.writeable = False
    return array


class MLP(Module):
    """u(X) for points X of shape (N, d): `sizes = [d, width, ..., width, k]` gives
    len(sizes) - 1 Linear layers with tanh between them; the output has shape (N,) when
    k = 1, else (N, k). `lower` / `upper` (length d) bound the domain: the inputs are
    rescaled to [-1, 1] first. Weights are Glorot-normal (Xavier), biases zero.

    >>> net = MLP([2, 20, 20, 1], lower=[-1, 0], upper=[1, 1], rng=0)
    >>> net(X).shape  # (N,)
    """

    def __init__(self, sizes, lower, upper, *, rng=None, dtype=np.float64):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(
                f"MLP: sizes must list at least the input and output widths, all positive "
                f"(e.g. [2, 20, 20, 1]), got {sizes}."
            )
        lower, upper = np.asarray(lower, float), np.asarray(upper, float)
        if lower.shape != (sizes[0],) or upper.shape != (sizes[0],) or np.any(upper <= lower):
            raise ValueError(
                f"MLP: lower and upper must each hold {sizes[0]} numbers (one per input) with "
                f"lower < upper, got {lower.tolist()} and {upper.tolist()}."
            )
        rng = np.random.default_rng(rng)
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            linear = Linear(n_in, n_out, rng=rng, dtype=dtype)
            linear.weight = Parameter(init.xavier_normal((n_out, n_in), rng=rng, dtype=dtype))
            linear.bias = Parameter(np.zeros(n_out, dtype))
            layers += [linear, Tanh()]
        self.net = Sequential(*layers[:-1])
        # Static (tuples of floats), so that they are not trained.
        self.center = tuple(((upper + lower) / 2).tolist())
        self.half_width = tuple(((upper - lower) / 2).tolist())
        self.squeeze = sizes[-1] == 1
        self.dtype = np.dtype(dtype).name

    def forward(self, X):
        center = _constant(self.center, self.dtype)
        scale = _constant(self.half_width, self.dtype)
        out = self.net((X - center) / scale)
        return out[:, 0] if self.squeeze else out


__all__ = ["MLP"]
