"""Stateless neural-network functions (PyTorch's `torch.nn.functional` names): activations,
normalisations, losses, convolutions and pooling. Each is a composition of `wengert.numpy`
operations, so every argument that holds floating-point values (inputs, weights, biases,
soft targets) is differentiable to any order, in both API styles; integer class targets,
shapes and options are static. Layouts are PyTorch's: channels first (N, C, L) / (N, C, H, W).

Convolution and pooling use im2col: the padded input is cut into one strided slice per
kernel offset (a loop over the kernel, never over pixels), the slices are stacked into a
patch array and a convolution is then one batched matrix product."""

import functools
import itertools
import math

import numpy as np

from .. import numpy as wnp
from ..core import raw_value
from ..scipy import special
from ..tensor import Tensor
from ..transforms.reverse import ReverseTracer, mark_sparse_leaf

__all__ = [
    "adaptive_avg_pool2d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "huber_loss",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "relu",
    "rms_norm",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]


def _shape(x):
    return np.shape(raw_value(x))


# Activations ----------------------------------------------------------------------------------
def relu(x):
    """max(x, 0), with derivative 0 at 0 (as PyTorch)."""
    return wnp.where(x > 0, x, 0)


def leaky_relu(x, negative_slope=0.01):
    """x for x > 0, negative_slope * x otherwise."""
    return wnp.where(x > 0, x, x * negative_slope)


_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(x, approximate="none"):
    """Gaussian error linear unit x * Phi(x): exact through erf (`approximate="none"`) or
    PyTorch's tanh approximation (`approximate="tanh"`)."""
    if approximate == "none":
        return 0.5 * x * (1 + special.erf(x * _SQRT_HALF))
    if approximate == "tanh":
        return 0.5 * x * (1 + wnp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x**3)))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}.")


def silu(x):
    """x * sigmoid(x) (swish)."""
    return x * special.expit(x)


def softplus(x, beta=1.0):
    """log(1 + exp(beta * x)) / beta, computed stably as logaddexp(beta * x, 0) / beta."""
    return wnp.logaddexp(x * beta, 0) / beta


def sigmoid(x):
    """1 / (1 + exp(-x)) (scipy's expit, stable for large |x|)."""
    return special.expit(x)


def tanh(x):
    """Hyperbolic tangent."""
    return wnp.tanh(x)


def softmax(x, axis=-1):
    """exp(x) normalised along `axis` (stable)."""
    return special.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    """x - logsumexp(x) along `axis` (stable)."""
    return special.log_softmax(x, axis=axis)


# Layers as functions ----------------------------------------------------------------------------
def linear(x, weight, bias=None):
    """x @ weight.T + bias, with weight of shape (out_features, in_features)."""
    y = wnp.matmul(x, wnp.swapaxes(weight, -1, -2))
    return y if bias is None else y + bias


def embedding(indices, weight, *, sparse=False):
    """Rows of `weight` (num_embeddings, dim) picked by integer `indices` (any shape).

    With `sparse=True` (PyTorch's option) the gradient of `weight` from this lookup is a
    `wg.RowSparse` of the looked-up rows instead of a dense array the size of the table:
    eagerly when `weight` is a leaf Parameter (its `.grad`), functionally when it is an input
    of `wg.grad` / `value_and_grad` / `vjp`, for a first derivative of concrete indices."""
    idx = raw_value(indices)
    dtype = idx.dtype if hasattr(idx, "dtype") else np.asarray(idx).dtype
    if dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {dtype}.")
    if sparse:
        _want_row_sparse(weight)
    return wnp.take(weight, indices, axis=0)


def _want_row_sparse(weight):
    """Mark `weight`, when it is an input of the differentiation under way (an eager leaf,
    or an argument of the innermost wg.grad), for a row-sparse gradient."""
    if isinstance(weight, Tensor):
        if weight.requires_grad and weight.is_leaf and not weight.sparse_grad:
            weight.sparse_grad = True
    elif type(weight) is ReverseTracer and weight.node.prim is None:
        mark_sparse_leaf(weight.node)


def dropout(x, p=0.5, training=True, *, rng=None):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (inverted
    dropout); the identity when not training or p == 0. `rng` (a numpy Generator or seed)
    draws the mask, which is a constant for differentiation."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}.")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    keep = np.random.default_rng(rng).random(_shape(x)) >= p
    return wnp.where(keep, x * (1 / (1 - p)), 0)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing `normalized_shape` axes (biased variance), then scale by
    `weight` and shift by `bias` when given."""
    normalized_shape = _as_tuple(normalized_shape)
    shape = _shape(x)
    if tuple(shape[len(shape) - len(normalized_shape):]) != normalized_shape:
        raise ValueError(
            f"layer_norm: input of shape {shape} does not end with normalized_shape "
            f"{normalized_shape}."
        )
    axes = tuple(range(-len(normalized_shape), 0))
    centred = x - wnp.mean(x, axis=axes, keepdims=True)
    var = wnp.mean(centred * centred, axis=axes, keepdims=True)
    return _affine(centred / wnp.sqrt(var + eps), weight, bias)


def rms_norm(x, normalized_shape, weight=None, eps=1e-6):
    """x / sqrt(mean(x^2) + eps) over the trailing `normalized_shape` axes, times `weight`."""
    axes = tuple(range(-len(_as_tuple(normalized_shape)), 0))
    ms = wnp.mean(x * x, axis=axes, keepdims=True)
    return _affine(x / wnp.sqrt(ms + eps), weight, None)


def batch_norm(x, mean, var, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias, with per-channel (axis 1) statistics of
    shape (C,)."""
    shape = (-1,) + (1,) * (len(_shape(x)) - 2)

    def channel(v):
        return None if v is None else wnp.reshape(v, shape)

    normed = (x - channel(mean)) / wnp.sqrt(channel(var) + eps)
    return _affine(normed, channel(weight), channel(bias))


def _affine(x, weight, bias):
    if weight is not None:
        x = x * weight
    if bias is not None:
        x = x + bias
    return x


# Losses ------------------------------------------------------------------------------------------
_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss, reduction, fname):
    if reduction == "mean":
        return wnp.mean(loss)
    if reduction == "sum":
        return wnp.sum(loss)
    if reduction == "none":
        return loss
    raise ValueError(f"{fname}: reduction must be one of {_REDUCTIONS}, got {reduction!r}.")


def mse_loss(input, target, reduction="mean"):
    """Squared error (input - target)^2, averaged (or summed, or per element)."""
    d = input - target
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(input, target, reduction="mean"):
    """Absolute error |input - target|."""
    return _reduce(wnp.abs(input - target), reduction, "l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, delta (|d| - delta / 2) elsewhere, d = input - target."""
    d = input - target
    a = wnp.abs(d)
    loss = wnp.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return _reduce(loss, reduction, "huber_loss")


def _class_targets(log_probs, targets, fname):
    """Validate integer class targets for (N, C, ...) scores; return them with a class axis.
    The targets may be traced (under jit or vmap): they stay an argument of the gather."""
    if not hasattr(raw_value(targets), "dtype"):
        targets = np.asarray(targets)
    t = raw_value(targets)
    shape = _shape(log_probs)
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"{fname}: targets must be integer class indices, got dtype {t.dtype}; for class "
            "probabilities pass a float array shaped like the logits (cross_entropy)."
        )
    if tuple(t.shape) != shape[:1] + shape[2:]:
        raise ValueError(
            f"{fname}: targets of shape {tuple(t.shape)} do not match scores of shape {shape} "
            "(expected the scores' shape without the class axis 1)."
        )
    if isinstance(t, np.ndarray) and t.size and (t.min() < 0 or t.max() >= shape[1]):
        raise IndexError(f"{fname}: targets must lie in [0, {shape[1]}), got {t.min()}..{t.max()}.")
    return wnp.expand_dims(targets, 1)


def _batched(scores, targets):
    """PyTorch accepts unbatched (C,) scores with a scalar target: add the batch axis."""
    if len(_shape(scores)) == 1:
        scores = wnp.reshape(scores, (1, -1))
        t = np.asarray(raw_value(targets))
        targets = t[None] if t.dtype.kind in "iu" else wnp.reshape(targets, (1, -1))
    return scores, targets


def nll_loss(log_probs, targets, reduction="mean"):
    """-log_probs[n, targets[n]] for (N, C) or (N, C, d1, ...) log-probabilities."""
    log_probs, targets = _batched(log_probs, targets)
    t = _class_targets(log_probs, targets, "nll_loss")
    picked = wnp.squeeze(wnp.take_along_axis(log_probs, t, axis=1), axis=1)
    return _reduce(-picked, reduction, "nll_loss")


def cross_entropy(logits, targets, label_smoothing=0.0, reduction="mean"):
    """Softmax cross-entropy of (N, C) or (N, C, d1, ...) logits (class axis 1), computed
    through log_softmax. `targets` are integer class indices (shape without axis 1) or class
    probabilities (a float array shaped like the logits). With label smoothing eps the target
    distribution is (1 - eps) * one_hot + eps / C (PyTorch's definition)."""
    if not 0 <= label_smoothing <= 1:
        raise ValueError(
            f"cross_entropy: label_smoothing must lie in [0, 1], got {label_smoothing}."
        )
    logits, targets = _batched(logits, targets)
    logp = log_softmax(logits, axis=1)
    n_classes = _shape(logits)[1]
    values = raw_value(targets)
    if (values.dtype if hasattr(values, "dtype") else np.asarray(values).dtype).kind in "iu":
        t = _class_targets(logp, targets, "cross_entropy")
        loss = -wnp.squeeze(wnp.take_along_axis(logp, t, axis=1), axis=1)
        if label_smoothing:
            uniform = -wnp.mean(logp, axis=1)
            loss = (1 - label_smoothing) * loss + label_smoothing * uniform
    else:
        if _shape(targets) != _shape(logits):
            raise ValueError(
                f"cross_entropy: float targets of shape {_shape(targets)} are class "
                f"probabilities and must match the logits' shape {_shape(logits)}; pass class "
                "indices as an integer array."
            )
        if label_smoothing:
            targets = targets * (1 - label_smoothing) + label_smoothing / n_classes
        loss = -wnp.sum(targets * logp, axis=1)
    return _reduce(loss, reduction, "cross_entropy")


def binary_cross_entropy_with_logits(logits, targets, reduction="mean"):
    """-[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], computed stably as
    softplus(x) - t * x."""
    return _reduce(softplus(logits) - targets * logits, reduction,
                   "binary_cross_entropy_with_logits")


# Convolution and pooling -------------------------------------------------------------------
def _as_tuple(v, n=None, name="", fname=""):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * (1 if n is None else n)
    v = tuple(int(e) for e in v)
    if n is not None and len(v) != n:
        raise ValueError(f"{fname}: {name} must be an int or a tuple of {n} ints, got {v}.")
    return v


def _pad_widths(padding, kernel, dilation, stride, fname):
    """((before, after), ...) per spatial axis from an int, a tuple, 'valid' or 'same'."""
    nd = len(kernel)
    if padding == "valid":
        return ((0, 0),) * nd
    if padding == "same":
        if any(s != 1 for s in stride):
            raise ValueError(f"{fname}: padding='same' needs stride 1, got stride {stride}.")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in _as_tuple(padding, nd, "padding", fname))


def _window_slices(x, kernel, stride, dilation, pads, pad_value, fname):
    """One strided slice of the padded (N, C, *spatial) input per kernel offset, and the
    output's spatial shape."""
    if any(p != (0, 0) for p in pads):
        x = wnp.pad(x, ((0, 0), (0, 0)) + tuple(pads), constant_values=pad_value)
    spatial = _shape(x)[2:]
    out = tuple((n - d * (k - 1) - 1) // s + 1
                for n, k, s, d in zip(spatial, kernel, stride, dilation))
    if any(o <= 0 for o in out):
        raise ValueError(
            f"{fname}: the (padded) input's spatial shape {spatial} is smaller than the "
            f"dilated kernel {kernel} (dilation {dilation}); pad the input or use a smaller "
            "kernel."
        )
    slices = []
    for offset in itertools.product(*(range(k) for k in kernel)):
        index = tuple(slice(i * d, i * d + s * (o - 1) + 1, s)
                      for i, d, s, o in zip(offset, dilation, stride, out))
        slices.append(wnp.getitem(x, (slice(None), slice(None)) + index))
    return slices, out


def _windows(x, kernel, stride, dilation, pads, pad_value, fname, axis=2):
    """im2col: (N, C, *spatial) -> (N, C, prod(kernel), *out_spatial) (the kernel axis at
    `axis`); also returns the output's spatial shape."""
    slices, out = _window_slices(x, kernel, stride, dilation, pads, pad_value, fname)
    return wnp.stack(slices, axis=axis), out


def _unbatched(x, nd, fname):
    """Inputs may be batched (N, C, *spatial) or not (C, *spatial)."""
    ndim = len(_shape(x))
    if ndim == nd + 1:
        return wnp.expand_dims(x, 0), True
    if ndim != nd + 2:
        raise ValueError(
            f"{fname}: expected a ({nd + 2}-D) batched or ({nd + 1}-D) unbatched input, got "
            f"shape {_shape(x)}."
        )
    return x, False


def _conv(x, weight, bias, stride, padding, dilation, groups, nd, fname):
    x, unbatched = _unbatched(x, nd, fname)
    n, c = _shape(x)[:2]
    w_shape = _shape(weight)
    if len(w_shape) != nd + 2:
        raise ValueError(
            f"{fname}: weight must have shape (out_channels, in_channels / groups, "
            f"*kernel) with {nd} kernel dimensions, got {w_shape}."
        )
    c_out, c_group, kernel = w_shape[0], w_shape[1], w_shape[2:]
    if c != c_group * groups or c_out % groups:
        raise ValueError(
            f"{fname}: input has {c} channels and weight shape {w_shape} with groups={groups}; "
            "need in_channels == weight.shape[1] * groups and out_channels divisible by groups."
        )
    stride = _as_tuple(stride, nd, "stride", fname)
    dilation = _as_tuple(dilation, nd, "dilation", fname)
    pads = _pad_widths(padding, kernel, dilation, stride, fname)
    k = math.prod(kernel)
    if groups == 1:
        # One large GEMM, (C_out, C k) @ (C k, N L): channels lead, so the stacked windows
        # reshape to the column matrix without a copy.
        x_cf = wnp.swapaxes(x, 0, 1)
        patches, out = _windows(x_cf, kernel, stride, dilation, pads, 0, fname, axis=1)
        cols = wnp.reshape(patches, (c * k, n * math.prod(out)))
        y = wnp.matmul(wnp.reshape(weight, (c_out, c * k)), cols)
        y = wnp.swapaxes(wnp.reshape(y, (c_out, n) + out), 0, 1)
    else:
        patches, out = _windows(x, kernel, stride, dilation, pads, 0, fname)
        cols = wnp.reshape(patches, (n, groups, c_group * k, math.prod(out)))
        w = wnp.reshape(weight, (groups, c_out // groups, c_group * k))
        y = wnp.reshape(wnp.matmul(w, cols), (n, c_out) + out)
    if bias is not None:
        y = y + wnp.reshape(bias, (c_out,) + (1,) * nd)
    return y[0] if unbatched else y


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D cross-correlation of (N, C_in, L) input with (C_out, C_in / groups, k) weight;
    padding is an int, a 1-tuple, 'valid' or 'same'."""
    return _conv(x, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation of (N, C_in, H, W) input with (C_out, C_in / groups, kh, kw)
    weight; stride, padding and dilation are ints or pairs (padding also 'valid' / 'same')."""
    return _conv(x, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def _pool_slices(x, kernel_size, stride, padding, dilation, pad_value, fname):
    kernel = _as_tuple(kernel_size, 2, "kernel_size", fname)
    stride = kernel if stride is None else _as_tuple(stride, 2, "stride", fname)
    dilation = _as_tuple(dilation, 2, "dilation", fname)
    pads = _pad_widths(padding, kernel, dilation, stride, fname)
    if any(p > k // 2 for (p, _), k in zip(pads, kernel)):
        raise ValueError(
            f"{fname}: padding {padding} must be at most half the kernel size {kernel}."
        )
    slices, _ = _window_slices(x, kernel, stride, dilation, pads, pad_value, fname)
    return slices, (kernel, stride, dilation, pads)


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1):
    """Maximum over each (dilated) window of (N, C, H, W) input; stride defaults to the
    kernel size and padding counts as -inf."""
    x, unbatched = _unbatched(x, 2, "max_pool2d")
    # A running elementwise maximum over the window's slices: cheaper than stacking the
    # windows and reducing, in both directions (ties share the derivative either way).
    slices, _ = _pool_slices(x, kernel_size, stride, padding, dilation, -np.inf, "max_pool2d")
    y = functools.reduce(wnp.maximum, slices)
    return y[0] if unbatched else y


def avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    """Mean over each window of (N, C, H, W) input; stride defaults to the kernel size.
    Zero padding counts in the mean unless `count_include_pad=False`."""
    x, unbatched = _unbatched(x, 2, "avg_pool2d")
    slices, (kernel, stride, dilation, pads) = _pool_slices(
        x, kernel_size, stride, padding, 1, 0, "avg_pool2d")
    total = functools.reduce(wnp.add, slices)
    if count_include_pad:
        y = total / len(slices)
    else:
        ones = np.ones((1, 1) + _shape(x)[2:], dtype=raw_value(x).dtype)
        counts = _windows(ones, kernel, stride, dilation, pads, 0, "avg_pool2d")[0].sum(axis=2)
        y = total / counts
    return y[0] if unbatched else y


def _adaptive_matrix(n_in, n_out, dtype):
    """Row i averages input positions floor(i n_in / n_out) .. ceil((i + 1) n_in / n_out)."""
    m = np.zeros((n_out, n_in), dtype=dtype)
    for i in range(n_out):
        start, stop = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
        m[i, start:stop] = 1 / (stop - start)
    return m


def adaptive_avg_pool2d(x, output_size):
    """Average pooling of (N, C, H, W) input onto an (out_h, out_w) grid with PyTorch's bins
    (an int means a square grid; None keeps that input size), as two small matrix products."""
    x, unbatched = _unbatched(x, 2, "adaptive_avg_pool2d")
    h, w = _shape(x)[2:]
    if isinstance(output_size, (int, np.integer)):
        output_size = (output_size, output_size)
    out_h, out_w = (n if o is None else int(o) for o, n in zip(output_size, (h, w)))
    dtype = raw_value(x).dtype
    y = wnp.einsum("oh,nchw,pw->ncop", _adaptive_matrix(h, out_h, dtype), x,
                   _adaptive_matrix(w, out_w, dtype))
    return y[0] if unbatched else y
