"""Attention layers: `MultiheadAttention` (self-attention, optionally causal) and
`TransformerBlock` (pre-LayerNorm attention and GELU MLP, each with a residual connection).

Layouts are batch-first, (batch, seq_len, embed_dim). Parameter layout follows PyTorch's
`torch.nn.MultiheadAttention`: the query, key and value projections are one (3 * embed_dim,
embed_dim) linear map, `in_proj`, followed by `out_proj`.
"""

import numpy as np

from .. import numpy as wnp
from ..core import raw_value
from ..scipy.special import softmax
from .functional import gelu
from .layers import Dropout, LayerNorm, Linear
from .module import Module


def _mask_scores(scores, mask):
    """Apply an attention mask to scores of shape (batch, heads, T, T). A boolean mask is
    True where attention is NOT allowed (PyTorch's convention for nn.MultiheadAttention); a
    float mask is added. A 2-D mask is (T, T), a 3-D one (batch, T, T) (shared by the heads),
    a 4-D one broadcasts to (batch, heads, T, T)."""
    ndim = len(np.shape(raw_value(mask)))
    if ndim == 3:
        mask = mask[:, None]
    elif ndim not in (2, 4):
        raise ValueError(
            f"MultiheadAttention.forward: mask has {ndim} dimensions; give it shape "
            "(seq_len, seq_len), (batch, seq_len, seq_len) or (batch, heads, seq_len, seq_len)."
        )
    if raw_value(mask).dtype == bool:
        return wnp.where(mask, -np.inf, scores)
    return scores + mask


class MultiheadAttention(Module):
    """Multi-head scaled dot-product self-attention, as `torch.nn.MultiheadAttention` with
    batch_first=True and query = key = value = x:

        q, k, v = split(in_proj(x));  per head: softmax(q k^T / sqrt(head_dim) + mask) v
        out = out_proj(concatenated heads)

    Args:
        embed_dim: model width; num_heads: number of heads (must divide embed_dim).
        dropout: probability of dropping attention weights in training mode.
        bias: whether the projections have biases.
        causal: mask every position after the query's own (autoregressive attention).
        rng: numpy Generator or int seed for the initial weights and the dropout masks.
        dtype: parameter dtype.

    `forward(x, mask=None)` takes x of shape (batch, seq_len, embed_dim) and returns the same
    shape; `mask` is boolean (True = may not attend) or additive (float, e.g. -inf) with shape
    (seq_len, seq_len), (batch, seq_len, seq_len) or (batch, heads, seq_len, seq_len); with
    causal=True both apply. A query that may attend to no key gets NaN outputs, as in PyTorch.
    Differentiable in x, a float mask and every parameter.

    >>> attn = MultiheadAttention(8, 2, causal=True, rng=0)
    >>> attn(np.ones((1, 5, 8), np.float32)).shape
    (1, 5, 8)
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, *, causal=False, rng=None,
                 dtype=np.float32):
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim={embed_dim} is not divisible by "
                f"num_heads={num_heads}; choose num_heads that divides embed_dim."
            )
        rng = np.random.default_rng(rng)
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.causal = causal
        self.in_proj = Linear(embed_dim, 3 * embed_dim, bias, rng=rng, dtype=dtype)
        self.out_proj = Linear(embed_dim, embed_dim, bias, rng=rng, dtype=dtype)
        self.attn_dropout = Dropout(dropout, rng=rng)

    def _split_heads(self, t, batch, steps):
        """(batch, T, embed) -> (batch, heads, T, head_dim)."""
        t = wnp.reshape(t, (batch, steps, self.num_heads, self.embed_dim // self.num_heads))
        return wnp.transpose(t, (0, 2, 1, 3))

    def forward(self, x, mask=None):
        shape = np.shape(raw_value(x))
        if len(shape) != 3 or shape[2] != self.embed_dim:
            raise ValueError(
                f"MultiheadAttention.forward: x has shape {shape}, but (batch, seq_len, "
                f"embed_dim={self.embed_dim}) is needed. Add a batch axis with x[None] for a "
                "single sequence."
            )
        batch, steps, embed = shape
        qkv = self.in_proj(x)
        q, k, v = (self._split_heads(qkv[..., i * embed:(i + 1) * embed], batch, steps)
                   for i in range(3))
        scale = (embed // self.num_heads) ** -0.5  # a Python float: float32 stays float32
        scores = wnp.matmul(q, wnp.swapaxes(k, -1, -2)) * scale  # (batch, heads, T, T)
        if self.causal:
            future = np.triu(np.ones((steps, steps), dtype=bool), k=1)
            scores = _mask_scores(scores, future)
        if mask is not None:
            scores = _mask_scores(scores, mask)
        weights = self.attn_dropout(softmax(scores, axis=-1))
        heads = wnp.matmul(weights, v)  # (batch, heads, T, head_dim)
        merged = wnp.reshape(wnp.transpose(heads, (0, 2, 1, 3)), (batch, steps, embed))
        return self.out_proj(merged)


class TransformerBlock(Module):
    """A pre-LayerNorm transformer block (GPT-2 style):

        x = x + dropout(attn(ln1(x), mask));   x = x + dropout(fc2(gelu(fc1(ln2(x)))))

    with a hidden MLP width of mlp_ratio * embed_dim and exact (erf) GELU. Causal by default.
    `forward(x, mask=None)` maps (batch, seq_len, embed_dim) to the same shape; `mask` is passed
    to the attention (see `MultiheadAttention`).

    >>> block = TransformerBlock(8, 2, rng=0)
    >>> block(np.ones((1, 5, 8), np.float32)).shape
    (1, 5, 8)
    """

    def __init__(self, embed_dim, num_heads, mlp_ratio=4, dropout=0.0, *, causal=True,
                 rng=None, dtype=np.float32):
        rng = np.random.default_rng(rng)
        hidden = int(mlp_ratio * embed_dim)
        self.ln1 = LayerNorm(embed_dim, dtype=dtype)
        self.attn = MultiheadAttention(embed_dim, num_heads, dropout, causal=causal, rng=rng,
                                       dtype=dtype)
        self.ln2 = LayerNorm(embed_dim, dtype=dtype)
        self.fc1 = Linear(embed_dim, hidden, rng=rng, dtype=dtype)
        self.fc2 = Linear(hidden, embed_dim, rng=rng, dtype=dtype)
        self.dropout = Dropout(dropout, rng=rng)

    def forward(self, x, mask=None):
        x = x + self.dropout(self.attn(self.ln1(x), mask))
        return x + self.dropout(self.fc2(gelu(self.fc1(self.ln2(x)))))


__all__ = ["MultiheadAttention", "TransformerBlock"]
