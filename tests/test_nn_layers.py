"""wengert.nn core layers, functions and initialisers: derivatives (check_grads), values
against explicit loop references and (when installed) PyTorch, pytree and state-dict
behaviour, and eager / functional agreement."""

import itertools

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert import nn
from wengert.nn import functional as F
from wengert.nn import init
from wengert.testing import check_grads


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _np(x):
    """A layer's output (a Tensor when its parameters are Parameters) as a NumPy array."""
    return np.asarray(x.detach() if isinstance(x, wg.Tensor) else x)


# Loop references ---------------------------------------------------------------------------------
def _conv_ref(x, w, b, stride, padding, dilation, groups):
    """Direct N-d cross-correlation: one loop iteration per output element."""
    nd = w.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding])
    n, c = x.shape[:2]
    c_out, c_group = w.shape[:2]
    kernel = w.shape[2:]
    out = [(s - d * (k - 1) - 1) // st + 1
           for s, k, st, d in zip(x.shape[2:], kernel, stride, dilation)]
    y = np.zeros((n, c_out, *out))
    per_group = c_out // groups
    for i, o in itertools.product(range(n), range(c_out)):
        g = o // per_group
        for pos in itertools.product(*(range(m) for m in out)):
            window = (i, slice(g * c_group, (g + 1) * c_group)) + tuple(
                slice(p * st, p * st + d * (k - 1) + 1, d)
                for p, st, d, k in zip(pos, stride, dilation, kernel))
            y[(i, o) + pos] = np.sum(x[window] * w[o]) + (0 if b is None else b[o])
    assert len(out) == nd
    return y


def _pool_ref(x, kernel, stride, padding, reduce, pad_value, dilation=(1, 1)):
    x = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding], constant_values=pad_value)
    out = [(s - d * (k - 1) - 1) // st + 1
           for s, k, st, d in zip(x.shape[2:], kernel, stride, dilation)]
    y = np.zeros(x.shape[:2] + tuple(out))
    for i, j in itertools.product(*(range(m) for m in out)):
        win = x[:, :, i * stride[0]: i * stride[0] + dilation[0] * (kernel[0] - 1) + 1:
                dilation[0],
                j * stride[1]: j * stride[1] + dilation[1] * (kernel[1] - 1) + 1: dilation[1]]
        y[:, :, i, j] = reduce(win, axis=(2, 3))
    return y


CONV2D_CASES = [
    # stride, padding, dilation, groups
    ((1, 1), (0, 0), (1, 1), 1),
    ((2, 1), (1, 2), (1, 1), 1),
    ((1, 1), (1, 1), (2, 1), 2),
    ((2, 2), (2, 0), (1, 2), 4),
]


@pytest.mark.parametrize("stride,padding,dilation,groups", CONV2D_CASES)
def test_conv2d_matches_loops(stride, padding, dilation, groups):
    x = _rand(2, 4, 6, 7)
    w = _rand(4, 4 // groups, 3, 2, seed=1)
    b = _rand(4, seed=2)
    y = F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    np.testing.assert_allclose(y, _conv_ref(x, w, b, stride, padding, dilation, groups),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride,padding,dilation,groups",
                         [(1, 0, 1, 1), (2, 1, 1, 2), (1, 2, 2, 1), (3, 1, 2, 3)])
def test_conv1d_matches_loops(stride, padding, dilation, groups):
    x = _rand(2, 6, 9)
    w = _rand(6, 6 // groups, 3, seed=1)
    y = F.conv1d(x, w, None, stride=stride, padding=padding, dilation=dilation, groups=groups)
    np.testing.assert_allclose(
        y, _conv_ref(x, w, None, (stride,), (padding,), (dilation,), groups), atol=1e-12)


def test_conv_padding_strings_and_unbatched():
    x = _rand(3, 5, 6)
    w = _rand(2, 3, 3, 2, seed=1)
    same = F.conv2d(x, w, padding="same", dilation=(1, 2))
    assert same.shape == (2, 5, 6)
    np.testing.assert_allclose(F.conv2d(x, w, padding="valid"), F.conv2d(x[None], w)[0])
    with pytest.raises(ValueError, match="conv2d"):
        F.conv2d(x[None], _rand(2, 2, 3, 3))
    with pytest.raises(ValueError, match="stride 1"):
        F.conv2d(x, w, stride=2, padding="same")


@pytest.mark.parametrize("kernel,stride,padding,dilation",
                         [((2, 2), None, (0, 0), (1, 1)), ((3, 2), (2, 1), (1, 1), (1, 1)),
                          ((2, 3), (1, 2), (1, 0), (2, 1))])
def test_max_pool2d_matches_loops(kernel, stride, padding, dilation):
    x = _rand(2, 3, 7, 6)
    y = F.max_pool2d(x, kernel, stride, padding, dilation)
    ref = _pool_ref(x, kernel, stride or kernel, padding, np.max, -np.inf, dilation)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), ((3, 2), (2, 1), (1, 1))])
def test_avg_pool2d_matches_loops(kernel, stride, padding):
    x = _rand(2, 3, 7, 6)
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    s = k if stride is None else stride
    p = (padding, padding) if isinstance(padding, int) else padding
    np.testing.assert_allclose(F.avg_pool2d(x, kernel, stride, padding),
                               _pool_ref(x, k, s, p, np.mean, 0.0), atol=1e-12)
    counts = _pool_ref(np.ones((1, 1, 7, 6)), k, s, p, np.sum, 0.0)
    np.testing.assert_allclose(F.avg_pool2d(x, kernel, stride, padding, False),
                               _pool_ref(x, k, s, p, np.sum, 0.0) / counts, atol=1e-12)


def test_adaptive_avg_pool2d_bins():
    x = _rand(2, 3, 7, 5)
    y = F.adaptive_avg_pool2d(x, (3, 2))
    rows = [(0, 3), (2, 5), (4, 7)]  # PyTorch: floor(i H / out) .. ceil((i + 1) H / out)
    cols = [(0, 3), (2, 5)]
    for (i, (r0, r1)), (j, (c0, c1)) in itertools.product(enumerate(rows), enumerate(cols)):
        np.testing.assert_allclose(y[:, :, i, j], x[:, :, r0:r1, c0:c1].mean(axis=(2, 3)))
    np.testing.assert_allclose(F.adaptive_avg_pool2d(x, 1)[..., 0, 0], x.mean(axis=(2, 3)))


# Derivatives -------------------------------------------------------------------------------------
def test_conv_and_pool_gradients():
    x = _rand(1, 2, 5, 4)
    w = _rand(2, 1, 2, 2, seed=1)
    b = _rand(2, seed=2)
    check_grads(lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2),
                                         groups=2), (x, w, b))
    check_grads(lambda x, w: F.conv1d(x, w, stride=2, padding=1), (x[:, :, 0], w[:, 0]))
    check_grads(lambda x: F.max_pool2d(x, 2, 1, 1), (x,))
    check_grads(lambda x: F.avg_pool2d(x, (2, 3), 1, 1, count_include_pad=False), (x,))
    check_grads(lambda x: F.adaptive_avg_pool2d(x, (2, 3)), (x,))


@pytest.mark.parametrize("fn", [
    F.relu, F.sigmoid, F.tanh, F.silu, F.softplus,
    lambda x: F.leaky_relu(x, 0.2),
    lambda x: F.gelu(x), lambda x: F.gelu(x, approximate="tanh"),
    lambda x: F.softmax(x, axis=0), lambda x: F.log_softmax(x),
    lambda x: F.softplus(x, beta=2.0),
    lambda x: F.dropout(x, 0.4, rng=3),
], ids=["relu", "sigmoid", "tanh", "silu", "softplus", "leaky_relu", "gelu", "gelu_tanh",
        "softmax", "log_softmax", "softplus_beta", "dropout"])
def test_activation_gradients(fn):
    x = _rand(3, 4) + 0.05  # keep clear of relu's kink at 0
    check_grads(fn, (x,))


def test_loss_gradients():
    logits = _rand(4, 3)
    y = _rand(4, 3, seed=1)
    classes = np.array([0, 2, 1, 2])
    for reduction in ("mean", "sum", "none"):
        check_grads(lambda a, r=reduction: F.cross_entropy(a, classes, 0.1, r), (logits,))
    check_grads(lambda a: F.nll_loss(F.log_softmax(a, axis=1), classes), (logits,))
    check_grads(F.cross_entropy, (logits, F.softmax(y)))
    check_grads(F.mse_loss, (logits, y))
    check_grads(F.l1_loss, (logits, y), order=1)
    check_grads(lambda a, b: F.huber_loss(a, b, delta=0.7), (logits, y), order=1)
    check_grads(F.binary_cross_entropy_with_logits, (logits, F.sigmoid(y)))


def test_softplus_and_cross_entropy_are_stable():
    big = np.array([-1000.0, 0.0, 1000.0], np.float32)
    np.testing.assert_allclose(F.softplus(big), [0.0, np.log(2), 1000.0], rtol=1e-6)
    loss = F.cross_entropy(np.array([[1000.0, 0.0]]), np.array([1]))
    np.testing.assert_allclose(loss, 1000.0)
    g = wg.grad(lambda a: F.binary_cross_entropy_with_logits(a, np.ones(3)))(big * 1.0)
    assert np.all(np.isfinite(g))


def test_loss_values_and_errors():
    logits = _rand(5, 4)
    t = np.array([3, 0, 1, 1, 2])
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    nll = -logp[np.arange(5), t]
    np.testing.assert_allclose(F.cross_entropy(logits, t, reduction="none"), nll)
    smooth = 0.9 * nll - 0.1 * logp.mean(1)
    np.testing.assert_allclose(F.cross_entropy(logits, t, 0.1), smooth.mean())
    np.testing.assert_allclose(F.cross_entropy(logits[0], t[0]), nll[0])
    spatial = np.stack([logits, logits[::-1]], -1)  # (N, C, 2)
    spatial_t = np.stack([t, t[::-1]], -1)
    np.testing.assert_allclose(F.cross_entropy(spatial, spatial_t, reduction="sum"), 2 * nll.sum())
    with pytest.raises(ValueError, match="cross_entropy: .* integer"):
        F.cross_entropy(logits, t.astype(float))
    with pytest.raises(IndexError, match="nll_loss"):
        F.nll_loss(logp, t + 1)
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(logits, logits, reduction="avg")


def _layers64():
    rng = np.random.default_rng(0)
    f64 = np.float64
    return [
        (nn.Linear(3, 2, rng=rng, dtype=f64), _rand(4, 3)),
        (nn.Conv1d(2, 4, 3, stride=2, padding=1, groups=2, rng=rng, dtype=f64), _rand(2, 2, 5)),
        (nn.Conv2d(2, 2, (2, 3), padding=(1, 0), dilation=(2, 1), rng=rng, dtype=f64),
         _rand(1, 2, 4, 4)),
        (nn.MaxPool2d(2), _rand(1, 2, 4, 4)),
        (nn.AvgPool2d(2, 1, 1), _rand(1, 2, 3, 3)),
        (nn.AdaptiveAvgPool2d((2, 1)), _rand(1, 2, 3, 3)),
        (nn.BatchNorm1d(3, dtype=f64), _rand(4, 3)),
        (nn.BatchNorm2d(2, dtype=f64), _rand(2, 2, 2, 2)),
        (nn.BatchNorm1d(3, dtype=f64).eval(), _rand(4, 3, 2)),
        (nn.LayerNorm((2, 3), dtype=f64), _rand(2, 2, 3)),
        (nn.RMSNorm(3, dtype=f64), _rand(2, 3)),
        (nn.Sequential(nn.Flatten(), nn.GELU(), nn.SiLU(), nn.Tanh(), nn.Sigmoid(),
                       nn.Softplus(), nn.LeakyReLU(0.1), nn.Identity()), _rand(2, 2, 3)),
        (nn.Sequential(nn.ReLU()), _rand(2, 3) + 0.05),
    ]


@pytest.mark.parametrize("index", range(13))
def test_layer_gradients(index):
    layer, x = _layers64()[index]
    for p in (nn.LayerNorm, nn.RMSNorm, nn.BatchNorm1d, nn.BatchNorm2d):
        if isinstance(layer, p) and layer.weight is not None:  # move off the trivial affine
            layer.weight.data = layer.weight.data + 0.1 * _rand(*layer.weight.shape)
    check_grads(lambda m, x: m(x), (layer, x))


def test_embedding_gradient_and_repeats():
    emb = nn.Embedding(5, 3, rng=0, dtype=np.float64)
    idx = np.array([[0, 4], [4, 4]])
    check_grads(lambda m: m(idx) ** 2, (emb,))
    g = wg.grad(lambda m: wnp.sum(m(idx)))(emb)
    np.testing.assert_array_equal(g.weight[:, 0], [1, 0, 0, 0, 3])
    with pytest.raises(TypeError, match="embedding"):
        emb(np.array([0.0]))


# Float32 preservation ----------------------------------------------------------------------------
@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Linear(3, 2, rng=0), (2, 3)),
    (lambda: nn.Conv2d(2, 2, 2, rng=0), (1, 2, 3, 3)),
    (lambda: nn.Conv1d(2, 2, 2, rng=0), (1, 2, 3)),
    (lambda: nn.BatchNorm2d(2), (2, 2, 2, 2)),
    (lambda: nn.LayerNorm(3), (2, 3)),
    (lambda: nn.RMSNorm(3), (2, 3)),
    (lambda: nn.Sequential(nn.AvgPool2d(2), nn.MaxPool2d(1), nn.AdaptiveAvgPool2d(1),
                           nn.Flatten(), nn.GELU(), nn.Dropout(0.5, rng=0)), (2, 2, 4, 4)),
])
def test_float32_stays_float32(make, shape):
    model = make()
    x = _rand(*shape).astype(np.float32)
    assert model(x).dtype == np.float32
    grads = wg.grad(lambda m: wnp.sum(m(x) ** 2))(model)
    assert all(leaf.dtype == np.float32 for leaf in wg.tree_leaves(grads))
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert np.asarray(F.cross_entropy(_rand(2, 3).astype(np.float32), np.array([0, 1]))).dtype \
        == np.float32


# Modules as pytrees and state --------------------------------------------------------------------
def _cnn(rng=0, dtype=np.float32):
    rng = np.random.default_rng(rng)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1, rng=rng, dtype=dtype), nn.BatchNorm2d(3, dtype=dtype),
        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 4, rng=rng, dtype=dtype),
        nn.LayerNorm(4, dtype=dtype), nn.Tanh(), nn.Linear(4, 3, rng=rng, dtype=dtype))


def test_pytree_round_trip():
    model = _cnn()
    leaves, tree = wg.tree_flatten(model)
    # conv w, b; bn b, running mean, running var, w; linear w, b; ln b, w; linear w, b
    assert len(leaves) == 12
    rebuilt = wg.tree_unflatten(tree, leaves)
    assert type(rebuilt) is nn.Sequential and wg.tree_structure(rebuilt) == tree
    x = _rand(2, 1, 4, 4).astype(np.float32)
    np.testing.assert_array_equal(_np(rebuilt.eval()(x)), _np(model.eval()(x)))
    doubled = wg.tree_map(lambda a: a * 2, model)
    np.testing.assert_array_equal(doubled[0].weight, 2 * model[0].weight.data)


def test_state_dict_round_trip_and_errors(tmp_path):
    model, other = _cnn(0), _cnn(1)
    model.train()(_rand(2, 1, 4, 4).astype(np.float32))  # move the running statistics
    state = model.state_dict()
    assert {"layers.0.weight", "layers.1.running_var", "layers.8.bias"} <= set(state)
    other.load_state_dict(state)
    for name, value in other.state_dict().items():
        np.testing.assert_array_equal(value, state[name])
    model.save(tmp_path / "m.npz")
    third = _cnn(2).load(tmp_path / "m.npz")
    np.testing.assert_array_equal(third[1].running_mean, state["layers.1.running_mean"])
    with pytest.raises(KeyError, match="missing keys"):
        other.load_state_dict({k: v for k, v in state.items() if k != "layers.0.bias"})
    with pytest.raises(KeyError, match="unexpected keys"):
        other.load_state_dict({**state, "extra": np.zeros(1)})
    with pytest.raises(ValueError, match="layers.0.weight"):
        other.load_state_dict({**state, "layers.0.weight": np.zeros((3, 1, 2, 2))})
    other.load_state_dict({"layers.0.bias": np.ones(3)}, strict=False)
    np.testing.assert_array_equal(other[0].bias.data, np.ones(3, np.float32))
    assert other[0].bias.dtype == np.float32


def test_eager_gradient_equals_functional_gradient():
    model = _cnn(dtype=np.float64)
    x = _rand(2, 1, 4, 4)
    y = np.array([0, 2])

    def loss(m, x):
        return F.cross_entropy(m(x), y)

    g = wg.grad(loss)(model, x)
    # The functional call updated the running statistics of a copy, not of `model`.
    np.testing.assert_array_equal(model[1].running_mean, 0)
    model.zero_grad()
    loss(model, wg.tensor(x)).backward()
    named = dict(model.named_parameters())
    assert len(named) == 10
    flat_g = wg.tree_leaves(g)
    assert len(flat_g) == 12  # the two running-statistics buffers get (zero) gradients too
    np.testing.assert_allclose(g[0].weight, named["layers.0.weight"].grad, rtol=1e-12)
    np.testing.assert_allclose(g[5].bias, named["layers.5.bias"].grad, rtol=1e-12)
    np.testing.assert_allclose(g[1].weight, named["layers.1.weight"].grad, rtol=1e-12)
    np.testing.assert_allclose(g[8].weight, named["layers.8.weight"].grad, rtol=1e-12)
    np.testing.assert_array_equal(g[1].running_mean, 0)


def test_batchnorm_running_statistics():
    bn = nn.BatchNorm1d(3, momentum=0.2, dtype=np.float64)
    x = _rand(5, 3, 2) * 2 + 1
    y = _np(bn(x))
    mean, var = x.mean((0, 2)), x.var((0, 2))
    np.testing.assert_allclose(bn.running_mean, 0.2 * mean)
    np.testing.assert_allclose(bn.running_var, 0.8 + 0.2 * var * 10 / 9)
    np.testing.assert_allclose(y, (x - mean[:, None]) / np.sqrt(var[:, None] + 1e-5), atol=1e-12)
    bn.eval()
    expected = (x - bn.running_mean[:, None]) / np.sqrt(bn.running_var[:, None] + 1e-5)
    np.testing.assert_allclose(_np(bn(x)), expected, atol=1e-12)
    with pytest.raises(ValueError, match="BatchNorm1d"):
        bn(_rand(2, 4))


def test_dropout_determinism_and_eval():
    x = np.ones((4, 50), np.float32)
    a, b = nn.Dropout(0.3, rng=7), nn.Dropout(0.3, rng=7)
    ya, yb = a(x), b(x)
    np.testing.assert_array_equal(ya, yb)
    assert ya.dtype == np.float32
    assert set(np.unique(ya)) <= {0.0, np.float32(1 / 0.7)}
    assert 0.15 < np.mean(ya == 0) < 0.45
    assert not np.array_equal(a(x), ya)  # the generator moves on
    np.testing.assert_array_equal(a.eval()(x), x)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x), x)
    with pytest.raises(ValueError, match="Dropout"):
        nn.Dropout(1.5)


# Initialisers ------------------------------------------------------------------------------------
def test_init_statistics():
    shape = (200, 300)
    fan_in, fan_out = 300, 200
    w = init.xavier_uniform(shape, rng=0)
    assert w.dtype == np.float32 and w.shape == shape
    np.testing.assert_allclose(w.var(), 2 / (fan_in + fan_out), rtol=0.05)
    assert np.abs(w).max() <= np.sqrt(6 / (fan_in + fan_out))
    np.testing.assert_allclose(init.xavier_normal(shape, rng=0, gain=2.0).std(),
                               2 * np.sqrt(2 / (fan_in + fan_out)), rtol=0.05)
    np.testing.assert_allclose(init.kaiming_uniform(shape, rng=0).var(), 2 / fan_in, rtol=0.05)
    np.testing.assert_allclose(init.kaiming_normal((50, 20, 3, 3), rng=0, mode="fan_out").var(),
                               2 / (50 * 9), rtol=0.05)
    np.testing.assert_array_equal(init.xavier_normal(shape, rng=1), init.xavier_normal(shape,
                                                                                       rng=1))
    assert init.kaiming_normal(shape, rng=0, dtype=np.float64).dtype == np.float64
    assert init.calculate_gain("leaky_relu", 0.0) == np.sqrt(2)
    with pytest.raises(ValueError, match="xavier_uniform"):
        init.xavier_uniform((5,))


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (3, 2, 2)])
def test_orthogonal(shape):
    w = init.orthogonal(shape, rng=0, dtype=np.float64, gain=2.0)
    m = w.reshape(shape[0], -1)
    small = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    np.testing.assert_allclose(small, 4 * np.eye(small.shape[0]), atol=1e-12)


# PyTorch reference values ------------------------------------------------------------------------
def test_against_torch():
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    x = _rand(2, 4, 6, 5)
    conv = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2,
                     rng=0, dtype=np.float64)
    ref = tF.conv2d(torch.tensor(x), torch.tensor(_np(conv.weight)), torch.tensor(_np(conv.bias)),
                    stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    np.testing.assert_allclose(_np(conv(x)), ref.numpy(), atol=1e-12)

    # BatchNorm: training output, running statistics, then eval output
    bn = nn.BatchNorm2d(4, momentum=0.3, dtype=np.float64)
    bn.weight.data = _rand(4, seed=1)
    bn.bias.data = _rand(4, seed=2)
    tbn = torch.nn.BatchNorm2d(4, momentum=0.3).double()
    with torch.no_grad():
        tbn.weight.copy_(torch.tensor(_np(bn.weight)))
        tbn.bias.copy_(torch.tensor(_np(bn.bias)))
    np.testing.assert_allclose(_np(bn(x)), tbn(torch.tensor(x)).detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), atol=1e-12)
    np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), atol=1e-12)
    np.testing.assert_allclose(_np(bn.eval()(x)), tbn.eval()(torch.tensor(x)).detach().numpy(),
                               atol=1e-12)

    w, b = _rand(6, 5, seed=3), _rand(6, 5, seed=4)
    np.testing.assert_allclose(
        F.layer_norm(x, (6, 5), w, b),
        tF.layer_norm(torch.tensor(x), (6, 5), torch.tensor(w), torch.tensor(b)).numpy(),
        atol=1e-12)
    for approximate in ("none", "tanh"):
        np.testing.assert_allclose(F.gelu(x, approximate),
                                   tF.gelu(torch.tensor(x), approximate=approximate).numpy(),
                                   atol=1e-12)

    logits, t = _rand(5, 4), np.array([3, 0, 1, 1, 2])
    tl, tt = torch.tensor(logits), torch.tensor(t)
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_allclose(
            F.cross_entropy(logits, t, label_smoothing=0.2, reduction=reduction),
            tF.cross_entropy(tl, tt, label_smoothing=0.2, reduction=reduction).numpy())
    probs = F.softmax(_rand(5, 4, seed=5))
    np.testing.assert_allclose(
        F.cross_entropy(logits, probs, 0.1),
        tF.cross_entropy(tl, torch.tensor(probs), label_smoothing=0.1).numpy())
    y, z = _rand(5, 4, seed=6), F.sigmoid(_rand(5, 4, seed=7))
    pairs = [
        (F.mse_loss(logits, y), tF.mse_loss(tl, torch.tensor(y))),
        (F.l1_loss(logits, y, "sum"), tF.l1_loss(tl, torch.tensor(y), reduction="sum")),
        (F.huber_loss(logits, y, delta=0.5), tF.huber_loss(tl, torch.tensor(y), delta=0.5)),
        (F.nll_loss(logits, t), tF.nll_loss(tl, tt)),
        (F.binary_cross_entropy_with_logits(logits, z),
         tF.binary_cross_entropy_with_logits(tl, torch.tensor(z))),
        (F.max_pool2d(x, 3, 2, 1), tF.max_pool2d(torch.tensor(x), 3, 2, 1)),
        (F.avg_pool2d(x, 3, 2, 1, False),
         tF.avg_pool2d(torch.tensor(x), 3, 2, 1, count_include_pad=False)),
        (F.adaptive_avg_pool2d(x, (4, 3)), tF.adaptive_avg_pool2d(torch.tensor(x), (4, 3))),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-12)


def test_safetensors_round_trip(tmp_path):
    pytest.importorskip("safetensors")
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(4, 2, rng=1))
    path = tmp_path / "model.safetensors"
    model.save(path)
    other = nn.Sequential(nn.Linear(3, 4, rng=2), nn.ReLU(), nn.Linear(4, 2, rng=3))
    other.load(path)
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        np.testing.assert_array_equal(a, b, err_msg=k)
