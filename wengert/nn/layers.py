"""Core layers with PyTorch's names, signatures and default initialisations. Parameters are
`Parameter` tensors of `dtype` (float32 unless asked otherwise); every forward is written
with `wengert.numpy` operations, so a layer runs eagerly (Parameters, `.backward()`) and
functionally (`wg.grad(loss)(model, ...)` gives a model-shaped gradient of plain arrays).
`rng` arguments take a `numpy.random.Generator`, an int seed or None."""

import math

import numpy as np

from .. import numpy as wnp
from ..core import raw_value
from . import functional as F
from .module import Module, Parameter

__all__ = [
    "AdaptiveAvgPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "GELU",
    "Identity",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "RMSNorm",
    "ReLU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softplus",
    "Tanh",
]


def _fan_in_uniform(shape, fan_in, rng, dtype):
    """PyTorch's default for Linear and Conv weights and biases: U(-1/sqrt(fan_in), ...)."""
    bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
    return Parameter(rng.uniform(-bound, bound, size=shape).astype(dtype))


class Linear(Module):
    """y = x @ weight.T + bias, weight of shape (out_features, in_features)."""

    def __init__(self, in_features, out_features, bias=True, *, rng=None, dtype=np.float32):
        rng = np.random.default_rng(rng)
        self.in_features, self.out_features = in_features, out_features
        self.weight = _fan_in_uniform((out_features, in_features), in_features, rng, dtype)
        self.bias = _fan_in_uniform((out_features,), in_features, rng, dtype) if bias else None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class LayerNorm(Module):
    """Normalise over the trailing `normalized_shape` axes, then an elementwise affine map
    (weight ones, bias zeros) unless `elementwise_affine=False`."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, *,
                 dtype=np.float32):
        self.normalized_shape = F._as_tuple(normalized_shape)
        self.eps = eps
        affine = elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape, dtype)) if affine else None
        self.bias = (Parameter(np.zeros(self.normalized_shape, dtype))
                     if affine and bias else None)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) over the trailing `normalized_shape` axes, times a weight."""

    def __init__(self, normalized_shape, eps=1e-6, elementwise_affine=True, *,
                 dtype=np.float32):
        self.normalized_shape = F._as_tuple(normalized_shape)
        self.eps = eps
        self.weight = (Parameter(np.ones(self.normalized_shape, dtype))
                       if elementwise_affine else None)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)


class Dropout(Module):
    """Inverted dropout in training mode (the mask is drawn from `rng`, so a seeded layer
    repeats its masks); the identity in eval mode."""

    def __init__(self, p=0.5, *, rng=None):
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p}.")
        self.p = p
        self.rng = np.random.default_rng(rng)

    def forward(self, x):
        return F.dropout(x, self.p, self.training, rng=self.rng)


class _ConvNd(Module):
    _nd = None
    _fn = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, *, rng=None, dtype=np.float32):
        name = type(self).__name__
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"{name}: in_channels ({in_channels}) and out_channels ({out_channels}) must "
                f"both be divisible by groups ({groups})."
            )
        rng = np.random.default_rng(rng)
        kernel = F._as_tuple(kernel_size, self._nd, "kernel_size", name)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel
        self.stride = F._as_tuple(stride, self._nd, "stride", name)
        self.padding = padding if isinstance(padding, str) else F._as_tuple(
            padding, self._nd, "padding", name)
        self.dilation = F._as_tuple(dilation, self._nd, "dilation", name)
        self.groups = groups
        fan_in = in_channels // groups * math.prod(kernel)
        shape = (out_channels, in_channels // groups) + kernel
        self.weight = _fan_in_uniform(shape, fan_in, rng, dtype)
        self.bias = _fan_in_uniform((out_channels,), fan_in, rng, dtype) if bias else None

    def forward(self, x):
        return self._fn(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                        self.groups)


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation) over (N, C, L) input."""

    _nd = 1
    _fn = staticmethod(F.conv1d)


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation) over (N, C, H, W) input."""

    _nd = 2
    _fn = staticmethod(F.conv2d)


class MaxPool2d(Module):
    """Max pooling over (N, C, H, W) input; stride defaults to the kernel size."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation = dilation

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation)


class AvgPool2d(Module):
    """Average pooling over (N, C, H, W) input; stride defaults to the kernel size."""

    def __init__(self, kernel_size, stride=None, padding=0, count_include_pad=True):
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding,
                            self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    """Average pooling onto a fixed (out_h, out_w) grid, whatever the input size."""

    def __init__(self, output_size):
        self.output_size = output_size

    def forward(self, x):
        return F.adaptive_avg_pool2d(x, self.output_size)


class _BatchNorm(Module):
    """Per-channel (axis 1) normalisation with batch statistics in training mode and running
    statistics in eval mode.

    In training mode each call also updates the buffers `running_mean` and `running_var`
    (PyTorch's momentum rule, unbiased batch variance) from the concrete values of the batch
    statistics; these updates carry no derivative. Under a functional transform they land on
    the module copy that the transform builds from the flattened model, so they are lost:
    to keep running statistics while training functionally, run the model once outside the
    transform (in training mode) on the batch, or train eagerly."""

    _ndims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, *, dtype=np.float32):
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        self.track_running_stats = track_running_stats
        if track_running_stats:
            self.running_mean = np.zeros(num_features, dtype)
            self.running_var = np.ones(num_features, dtype)

    def forward(self, x):
        shape = np.shape(raw_value(x))
        name = type(self).__name__
        if len(shape) not in self._ndims or shape[1] != self.num_features:
            raise ValueError(
                f"{name}: expected input with {' or '.join(map(str, self._ndims))} dimensions "
                f"and {self.num_features} channels on axis 1, got shape {shape}."
            )
        if self.training or not self.track_running_stats:
            axes = (0,) + tuple(range(2, len(shape)))
            count = math.prod(shape[ax] for ax in axes)
            if self.training and count < 2:
                raise ValueError(f"{name}: training needs more than one value per channel, "
                                 f"got input shape {shape}.")
            mean = wnp.mean(x, axis=axes)
            var = wnp.mean((x - wnp.reshape(mean, (-1,) + (1,) * (len(shape) - 2))) ** 2,
                           axis=axes)
            if self.training and self.track_running_stats:
                self._update_running(mean, var * (count / (count - 1)))
        else:
            mean, var = self.running_mean, self.running_var
        return F.batch_norm(x, mean, var, self.weight, self.bias, self.eps)

    def _update_running(self, mean, unbiased_var):
        m = self.momentum
        for name, batch in (("running_mean", mean), ("running_var", unbiased_var)):
            batch = raw_value(batch)
            if not isinstance(batch, np.ndarray):
                return  # under vmap the statistics are abstract: nothing concrete to store
            old = np.asarray(raw_value(getattr(self, name)))
            setattr(self, name, ((1 - m) * old + m * batch).astype(old.dtype))


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) input."""

    _ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) input."""

    _ndims = (4,)


class Embedding(Module):
    """A lookup table: integer indices of any shape -> rows of weight (N(0, 1) initialised).

    `sparse=True` (PyTorch's option) makes the weight's gradient a `wg.RowSparse` holding
    only the looked-up rows, in both API styles: eagerly `weight.grad` after `.backward()`,
    functionally the weight's leaf of `wg.grad(loss)(model, ...)`. Optimise it with `SGD` (no
    momentum or weight decay, or `lazy=True`) or `Adam(..., lazy=True)`, which update just
    those rows.
    """

    def __init__(self, num_embeddings, embedding_dim, *, sparse=False, rng=None,
                 dtype=np.float32):
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.sparse = sparse
        weight = np.random.default_rng(rng).standard_normal((num_embeddings, embedding_dim))
        self.weight = Parameter(weight.astype(dtype))
        if sparse:
            self.weight.sparse_grad = True

    def forward(self, indices):
        return F.embedding(indices, self.weight, sparse=self.sparse)


class Sequential(Module):
    """Apply modules in order; indexable and iterable like a list."""

    def __init__(self, *modules):
        self.layers = list(modules)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i):
        return Sequential(*self.layers[i]) if isinstance(i, slice) else self.layers[i]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)


class Flatten(Module):
    """Merge axes start_dim..end_dim into one."""

    def __init__(self, start_dim=1, end_dim=-1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        shape = np.shape(raw_value(x))
        start, end = self.start_dim % len(shape), self.end_dim % len(shape)
        return wnp.reshape(x, shape[:start] + (-1,) + shape[end + 1:])


class Identity(Module):
    """Return the input unchanged."""

    def forward(self, x):
        return x


class ReLU(Module):
    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01):
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)


class GELU(Module):
    def __init__(self, approximate="none"):
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)


class SiLU(Module):
    def forward(self, x):
        return F.silu(x)


class Softplus(Module):
    def __init__(self, beta=1.0):
        self.beta = beta

    def forward(self, x):
        return F.softplus(x, self.beta)
