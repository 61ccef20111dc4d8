"""Weight initialisers (PyTorch's `torch.nn.init` formulas). Each `fn(shape, *, rng, dtype,
gain=...)` returns a new NumPy array; `rng` is a `numpy.random.Generator`, an int seed or None
(fresh entropy). For a weight of shape (out, in, *kernel), fan_in = in * prod(kernel) and
fan_out = out * prod(kernel)."""

import math

import numpy as np

__all__ = [
    "calculate_gain",
    "orthogonal",
    "kaiming_normal",
    "kaiming_uniform",
    "xavier_normal",
    "xavier_uniform",
]

_GAINS = {
    "linear": 1.0,
    "identity": 1.0,
    "sigmoid": 1.0,
    "conv1d": 1.0,
    "conv2d": 1.0,
    "tanh": 5.0 / 3.0,
    "relu": math.sqrt(2.0),
    "selu": 0.75,
}


_RELU_GAIN = _GAINS["relu"]


def calculate_gain(nonlinearity, param=None):
    """The recommended gain for `nonlinearity` (PyTorch's table); `param` is leaky_relu's
    negative slope (default 0.01)."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity not in _GAINS:
        raise ValueError(
            f"calculate_gain: unknown nonlinearity {nonlinearity!r}; use one of "
            f"{sorted(_GAINS) + ['leaky_relu']}."
        )
    return _GAINS[nonlinearity]


def _generator(rng):
    """A Generator from a Generator, an int seed or None."""
    return np.random.default_rng(rng)


def _fans(shape, fname):
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(
            f"{fname}: fan in and fan out need a shape with at least 2 dimensions, got "
            f"{shape}; initialise 1-D parameters (biases) directly."
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _fan(shape, mode, fname):
    fan_in, fan_out = _fans(shape, fname)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{fname}: mode must be 'fan_in' or 'fan_out', got {mode!r}.")
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform(shape, *, rng=None, dtype=np.float32, gain=1.0):
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape, "xavier_uniform")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _generator(rng).uniform(-bound, bound, size=shape).astype(dtype)


def xavier_normal(shape, *, rng=None, dtype=np.float32, gain=1.0):
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(shape, "xavier_normal")
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return (std * _generator(rng).standard_normal(shape)).astype(dtype)


def kaiming_uniform(shape, *, rng=None, dtype=np.float32, gain=_RELU_GAIN, mode="fan_in"):
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan); the default gain is ReLU's."""
    bound = gain * math.sqrt(3.0 / _fan(shape, mode, "kaiming_uniform"))
    return _generator(rng).uniform(-bound, bound, size=shape).astype(dtype)


def kaiming_normal(shape, *, rng=None, dtype=np.float32, gain=_RELU_GAIN, mode="fan_in"):
    """He normal: N(0, std^2) with std = gain / sqrt(fan); the default gain is ReLU's."""
    std = gain / math.sqrt(_fan(shape, mode, "kaiming_normal"))
    return (std * _generator(rng).standard_normal(shape)).astype(dtype)


def orthogonal(shape, *, rng=None, dtype=np.float32, gain=1.0):
    """A (semi-)orthogonal matrix scaled by `gain`, viewed as (shape[0], prod(shape[1:])):
    orthonormal rows if there are fewer rows than columns, orthonormal columns otherwise."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"orthogonal: need a shape with at least 2 dimensions, got {shape}.")
    rows, cols = shape[0], math.prod(shape[1:])
    a = _generator(rng).standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)  # unique Q: the Haar-distributed one
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)
