"""Sequence layers of wengert.nn: MultiheadAttention, TransformerBlock, RNN, LSTM, GRU.

Derivatives by check_grads (float64, tiny sizes); causality through the Jacobian; values
against PyTorch with copied weights (skipped when torch is absent); eager backward against the
functional gradient; and a short training run."""

import numpy as np
import pytest

import wengert as wg
import wengert.numpy as wnp
from wengert.nn.attention import MultiheadAttention, TransformerBlock
from wengert.nn.recurrent import GRU, LSTM, RNN

RECURRENT = {
    "rnn_tanh": lambda n_in, n_h, **kw: RNN(n_in, n_h, **kw),
    "rnn_relu": lambda n_in, n_h, **kw: RNN(n_in, n_h, nonlinearity="relu", **kw),
    "lstm": lambda n_in, n_h, **kw: LSTM(n_in, n_h, **kw),
    "gru": lambda n_in, n_h, **kw: GRU(n_in, n_h, **kw),
}


def _normal(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _initial_state(name, batch, hidden, dtype=np.float64):
    h0 = _normal((1, batch, hidden), 10, dtype)
    return (h0, _normal((1, batch, hidden), 11, dtype)) if name == "lstm" else h0


def _numpy(t):
    return np.asarray(t.detach().numpy() if isinstance(t, wg.Tensor) else t)


# Recurrent layers --------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_recurrent_shapes_and_dtype(name):
    layer = RECURRENT[name](3, 4, rng=0)
    out, h_n = layer(_normal((2, 5, 3), 0, np.float32))
    h_n, c_n = h_n if name == "lstm" else (h_n, h_n)
    assert out.shape == (2, 5, 4) and h_n.shape == (1, 2, 4) and c_n.shape == (1, 2, 4)
    assert out.dtype == np.float32 and h_n.dtype == np.float32
    np.testing.assert_array_equal(_numpy(out)[:, -1], _numpy(h_n)[0])


@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_recurrent_check_grads(name):
    layer = RECURRENT[name](2, 3, rng=1, dtype=np.float64)
    x = _normal((2, 3, 2), 2)
    h0 = _initial_state(name, 2, 3)
    wg.check_grads(lambda m, x, h0: m(x, h0), (layer, x, h0), order=1)
    wg.check_grads(lambda m, x: m(x), (layer, x), order=1)


def test_lstm_second_order():
    layer = LSTM(2, 2, rng=3, dtype=np.float64)
    wg.check_grads(lambda m, x: m(x)[1], (layer, _normal((1, 2, 2), 4)), order=2)


def test_recurrent_without_bias():
    layer = GRU(2, 3, bias=False, rng=0, dtype=np.float64)
    assert layer.bias_ih is None and len(layer.parameters()) == 2
    wg.check_grads(lambda m, x: m(x)[0], (layer, _normal((2, 3, 2), 5)), order=1)


def _copy_recurrent(layer, torch_layer, torch):
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(torch_layer, name + "_l0").copy_(torch.tensor(_numpy(getattr(layer, name))))


@pytest.mark.parametrize("name", sorted(RECURRENT))
def test_recurrent_matches_torch(name):
    torch = pytest.importorskip("torch")
    layer = RECURRENT[name](3, 4, rng=0)
    torch_cls = {"rnn_tanh": torch.nn.RNN, "rnn_relu": torch.nn.RNN, "lstm": torch.nn.LSTM,
                 "gru": torch.nn.GRU}[name]
    kwargs = {"nonlinearity": layer.nonlinearity} if name.startswith("rnn") else {}
    torch_layer = torch_cls(3, 4, batch_first=True, **kwargs)
    _copy_recurrent(layer, torch_layer, torch)
    x = _normal((2, 5, 3), 1, np.float32)
    h0 = _initial_state(name, 2, 4, np.float32)
    t_h0 = tuple(map(torch.tensor, h0)) if name == "lstm" else torch.tensor(h0)
    for state, t_state in ((None, None), (h0, t_h0)):
        out, h_n = layer(x, state)
        t_out, t_h_n = torch_layer(torch.tensor(x), t_state)
        np.testing.assert_allclose(_numpy(out), t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
        for ours, theirs in zip(wg.tree_leaves(h_n), wg.tree_leaves(t_h_n)):
            np.testing.assert_allclose(_numpy(ours), theirs.detach().numpy(), atol=1e-6)


def test_recurrent_accepts_two_dimensional_h0():
    layer = RNN(2, 3, rng=0, dtype=np.float64)
    x, h0 = _normal((2, 4, 2), 0), _normal((1, 2, 3), 1)
    np.testing.assert_array_equal(_numpy(layer(x, h0)[0]), _numpy(layer(x, h0[0])[0]))


def test_recurrent_errors():
    with pytest.raises(ValueError, match="RNN.forward: x has shape"):
        RNN(2, 3, rng=0)(np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="GRU.forward: an initial state"):
        GRU(2, 3, rng=0)(np.zeros((1, 4, 2), np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(TypeError, match=r"LSTM.forward: h0 must be a pair"):
        LSTM(2, 3, rng=0)(np.zeros((1, 4, 2), np.float32), np.zeros((1, 1, 3), np.float32))
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(2, 3, nonlinearity="sigmoid")


# Attention ---------------------------------------------------------------------------------

def _attention64(causal=True, seed=0):
    return MultiheadAttention(4, 2, causal=causal, rng=seed, dtype=np.float64)


def test_attention_shapes_and_dtype():
    attn = MultiheadAttention(8, 2, causal=True, rng=0)
    out = attn(_normal((3, 5, 8), 0, np.float32))
    assert out.shape == (3, 5, 8) and out.dtype == np.float32


@pytest.mark.parametrize("causal", [False, True])
def test_attention_check_grads(causal):
    attn = _attention64(causal)
    wg.check_grads(lambda m, x: m(x), (attn, _normal((2, 3, 4), 1)), order=1)


def test_attention_second_order():
    attn = _attention64(causal=True)
    wg.check_grads(lambda m, x: m(x), (attn, _normal((1, 3, 4), 2)), order=2)


def test_attention_float_mask_check_grads():
    attn = _attention64(causal=False)
    mask = _normal((3, 3), 3)
    wg.check_grads(lambda m, x, mask: m(x, mask), (attn, _normal((2, 3, 4), 4), mask), order=1)


def _future_block(f, x):
    """The Jacobian of f at x (batch, T, E) -> (batch, T, E), checked to be zero between
    different sequences of the batch, with its blocks d out[b, t] / d x[b, s] split into
    (s > t: the future) and (s <= t)."""
    batch, steps, _ = x.shape
    jac = _numpy(wg.jacrev(f)(x))  # (B, T, E, B, T, E)
    same = np.eye(batch, dtype=bool)[:, None, None, :, None, None]
    assert np.all(jac[np.broadcast_to(~same, jac.shape)] == 0)
    jac = np.stack([jac[b, :, :, b] for b in range(batch)])  # (B, T, E, T, E)
    later = np.triu(np.ones((steps, steps), bool), k=1)[None, :, None, :, None]
    later = np.broadcast_to(later, jac.shape)
    return jac[later], jac[~later]


@pytest.mark.parametrize("layer", ["attention", "block", "lstm", "gru"])
def test_causal_layers_ignore_the_future(layer):
    x = _normal((2, 4, 4), 5)
    module = {
        "attention": lambda: _attention64(causal=True),
        "block": lambda: TransformerBlock(4, 2, mlp_ratio=2, rng=0, dtype=np.float64),
        "lstm": lambda: LSTM(4, 4, rng=0, dtype=np.float64),
        "gru": lambda: GRU(4, 4, rng=0, dtype=np.float64),
    }[layer]()
    if layer in ("lstm", "gru"):
        def f(x):
            return module(x)[0]
    else:
        f = module
    future, past = _future_block(f, x)
    assert np.all(future == 0)
    assert np.count_nonzero(past) > past.size // 2


def test_non_causal_attention_sees_the_future():
    future, _ = _future_block(_attention64(causal=False), _normal((1, 3, 4), 6))
    assert np.count_nonzero(future) == future.size


def test_boolean_mask_equals_causal_flag():
    x = _normal((2, 4, 4), 7)
    future = np.triu(np.ones((4, 4), bool), k=1)
    causal = _attention64(causal=True)
    open_ = _attention64(causal=False)
    expected = _numpy(causal(x))
    for mask in (future, np.where(future, -np.inf, 0.0), np.broadcast_to(future, (2, 4, 4))):
        np.testing.assert_allclose(_numpy(open_(x, mask)), expected, rtol=1e-12)


def _copy_attention(attn, torch_attn, torch):
    with torch.no_grad():
        torch_attn.in_proj_weight.copy_(torch.tensor(_numpy(attn.in_proj.weight)))
        torch_attn.in_proj_bias.copy_(torch.tensor(_numpy(attn.in_proj.bias)))
        torch_attn.out_proj.weight.copy_(torch.tensor(_numpy(attn.out_proj.weight)))
        torch_attn.out_proj.bias.copy_(torch.tensor(_numpy(attn.out_proj.bias)))


@pytest.mark.parametrize("mask_kind", ["none", "causal", "bool", "float", "per_batch"])
def test_attention_matches_torch(mask_kind):
    torch = pytest.importorskip("torch")
    batch, steps, embed, heads = 2, 5, 8, 2
    attn = MultiheadAttention(embed, heads, causal=mask_kind == "causal", rng=0)
    torch_attn = torch.nn.MultiheadAttention(embed, heads, batch_first=True)
    _copy_attention(attn, torch_attn, torch)
    x = _normal((batch, steps, embed), 1, np.float32)
    rng = np.random.default_rng(2)
    mask = {
        "none": None,
        "causal": None,
        "bool": rng.random((steps, steps)) < 0.3,
        "float": rng.standard_normal((steps, steps)).astype(np.float32),
        "per_batch": rng.random((batch, steps, steps)) < 0.3,
    }[mask_kind]
    if mask is not None and mask.dtype == bool:
        mask[..., 0] = False  # every query keeps one key: fully masked rows are NaN in both
    torch_mask = torch.tensor(np.triu(np.ones((steps, steps), bool), 1)) if (
        mask_kind == "causal") else None if mask is None else torch.tensor(mask)
    if mask_kind == "per_batch":
        torch_mask = torch_mask.repeat_interleave(heads, dim=0)  # torch wants (batch * heads)
    t_x = torch.tensor(x)
    expected, _ = torch_attn(t_x, t_x, t_x, attn_mask=torch_mask, need_weights=False)
    np.testing.assert_allclose(_numpy(attn(x, mask)), expected.detach().numpy(), rtol=1e-5,
                               atol=1e-6)


def test_attention_dropout_only_in_training():
    x = _normal((2, 5, 8), 0, np.float32)
    with_dropout = MultiheadAttention(8, 2, dropout=0.5, rng=0)
    without = MultiheadAttention(8, 2, rng=0)
    a, b = _numpy(with_dropout(x)), _numpy(with_dropout(x))
    assert not np.allclose(a, _numpy(without(x))) and not np.allclose(a, b)
    with_dropout.eval()
    np.testing.assert_allclose(_numpy(with_dropout(x)), _numpy(without(x)), rtol=1e-6)


def test_attention_errors():
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        MultiheadAttention(6, 4)
    attn = MultiheadAttention(4, 2, rng=0)
    with pytest.raises(ValueError, match="MultiheadAttention.forward: x has shape"):
        attn(np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="mask has 1 dimensions"):
        attn(np.zeros((1, 3, 4), np.float32), np.zeros(3, bool))


def test_transformer_block_check_grads():
    block = TransformerBlock(4, 2, mlp_ratio=2, rng=0, dtype=np.float64)
    wg.check_grads(lambda m, x: m(x), (block, _normal((2, 3, 4), 8)), order=1)


def test_transformer_block_matches_torch():
    torch = pytest.importorskip("torch")
    embed, heads = 8, 2
    block = TransformerBlock(embed, heads, rng=0)
    t_attn = torch.nn.MultiheadAttention(embed, heads, batch_first=True)
    _copy_attention(block.attn, t_attn, torch)

    def torch_linear(layer):
        lin = torch.nn.Linear(*_numpy(layer.weight).shape[::-1])
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(_numpy(layer.weight)))
            lin.bias.copy_(torch.tensor(_numpy(layer.bias)))
        return lin

    def torch_layer_norm(layer):
        ln = torch.nn.LayerNorm(embed)
        with torch.no_grad():
            ln.weight.copy_(torch.tensor(_numpy(layer.weight)))
            ln.bias.copy_(torch.tensor(_numpy(layer.bias)))
        return ln

    ln1, ln2 = torch_layer_norm(block.ln1), torch_layer_norm(block.ln2)
    fc1, fc2 = torch_linear(block.fc1), torch_linear(block.fc2)
    x = _normal((2, 5, embed), 1, np.float32)
    t_x = torch.tensor(x)
    future = torch.tensor(np.triu(np.ones((5, 5), bool), 1))
    h = ln1(t_x)
    t_x = t_x + t_attn(h, h, h, attn_mask=future, need_weights=False)[0]
    expected = t_x + fc2(torch.nn.functional.gelu(fc1(ln2(t_x))))
    np.testing.assert_allclose(_numpy(block(x)), expected.detach().numpy(), rtol=1e-5,
                               atol=1e-5)


# Eager and functional agree ------------------------------------------------------------------

SEQUENCE_LAYERS = {
    "attention": lambda: MultiheadAttention(4, 2, causal=True, rng=0),
    "block": lambda: TransformerBlock(4, 2, mlp_ratio=2, rng=0),
    "rnn": lambda: RNN(4, 3, rng=0),
    "lstm": lambda: LSTM(4, 3, rng=0),
    "gru": lambda: GRU(4, 3, rng=0),
}


def _first_output(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", sorted(SEQUENCE_LAYERS))
def test_eager_backward_matches_functional_grad(name):
    layer = SEQUENCE_LAYERS[name]()
    x = _normal((2, 3, 4), 9, np.float32)

    def loss(model, x):
        return wnp.sum(wnp.tanh(_first_output(model(x))) ** 2)

    grads = wg.grad(loss, argnums=(0, 1))(layer, x)
    x_t = wg.tensor(x, requires_grad=True)
    loss(layer, x_t).backward()
    expected = grads[0].state_dict()
    assert set(expected) == {k for k, _ in layer.named_parameters()}
    for key, p in layer.named_parameters():
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(_numpy(p.grad), expected[key], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_numpy(x_t.grad), grads[1], rtol=1e-5, atol=1e-6)


# Learning ----------------------------------------------------------------------------------

def test_lstm_learns_to_sum_a_sequence():
    """An LSTM with a linear read-out learns y = sum of a short sequence with plain SGD."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(32, 4, 1)).astype(np.float32)
    y = x.sum(axis=(1, 2))
    params = {"lstm": wg.tree_map(np.asarray, LSTM(1, 16, rng=0)),  # arrays, not Parameters
              "w": rng.standard_normal(16).astype(np.float32) * 0.1,
              "b": np.zeros((), np.float32)}

    def loss(params, x, y):
        _, (h_n, _) = params["lstm"](x)
        return wnp.mean((h_n[0] @ params["w"] + params["b"] - y) ** 2)

    grad = wg.grad(loss)
    first = float(loss(params, x, y))
    for _ in range(80):
        grads = grad(params, x, y)
        params = wg.tree_map(lambda p, g: p - 0.1 * g, params, grads)
    final = float(loss(params, x, y))
    assert params["w"].dtype == np.float32
    assert final < first / 20 and final < 0.05
