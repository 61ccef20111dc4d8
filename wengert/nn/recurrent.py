"""Recurrent layers: `RNN`, `LSTM` and `GRU`, single-layer and batch-first, with PyTorch's
parameter names, gate layout and equations (so weights copy across unchanged).

Each layer projects the whole input sequence at once (`x @ weight_ih.T + bias_ih`, one matmul)
and then runs a Python loop over time steps for the recurrent part; the step outputs are
stacked with `wnp.stack`. Everything is written with `wengert.numpy` operations, so a layer
runs eagerly on Tensors and under every functional transform.
"""

import numpy as np

from .. import numpy as wnp
from ..core import raw_value
from ..scipy.special import expit
from .module import Module, Parameter


def _affine(x, weight, bias):
    """x @ weight.T + bias, as PyTorch lays out its recurrent weights (out, in)."""
    out = wnp.matmul(x, wnp.swapaxes(weight, 0, 1))
    return out if bias is None else out + bias


class _Recurrent(Module):
    """The parameters and the time loop shared by `RNN`, `LSTM` and `GRU`; a subclass sets
    `num_gates` and defines the one-step update `_cell` (and, for a state that is not a single
    hidden array, `_initial_state` / `_hidden` / `_final`)."""

    num_gates = 1

    def __init__(self, input_size, hidden_size, bias=True, *, rng=None, dtype=np.float32):
        rng = np.random.default_rng(rng)
        self.input_size = input_size
        self.hidden_size = hidden_size
        # PyTorch's initialisation: every weight and bias uniform on (-1/sqrt(h), 1/sqrt(h)).
        bound = 1.0 / np.sqrt(hidden_size)
        rows = self.num_gates * hidden_size

        def uniform(*shape):
            return Parameter(rng.uniform(-bound, bound, size=shape).astype(dtype))

        self.weight_ih = uniform(rows, input_size)
        self.weight_hh = uniform(rows, hidden_size)
        self.bias_ih = uniform(rows) if bias else None
        self.bias_hh = uniform(rows) if bias else None

    def _recurrent(self, h):
        """h @ weight_hh.T + bias_hh: the gates' contribution from the previous hidden state."""
        return _affine(h, self.weight_hh, self.bias_hh)

    def _check(self, x):
        shape = np.shape(raw_value(x))
        name = type(self).__name__
        if len(shape) != 3 or shape[2] != self.input_size or shape[1] == 0:
            raise ValueError(
                f"{name}.forward: x has shape {shape}, but a batch-first sequence of shape "
                f"(batch, seq_len >= 1, input_size={self.input_size}) is needed. Add a batch "
                "axis with x[None] for a single sequence."
            )
        return shape[0], shape[1]

    def _hidden0(self, h0, batch, dtype):
        """The initial hidden state as (batch, hidden): zeros, or h0 given as (1, batch,
        hidden) as in PyTorch (one layer, one direction) or as (batch, hidden)."""
        expected = (batch, self.hidden_size)
        if h0 is None:
            return wnp.zeros(expected, dtype=dtype)
        shape = np.shape(raw_value(h0))
        if shape == (1,) + expected:
            return h0[0]
        if shape == expected:
            return h0
        raise ValueError(
            f"{type(self).__name__}.forward: an initial state has shape {shape}, but "
            f"(1, {batch}, {self.hidden_size}) or ({batch}, {self.hidden_size}) is needed "
            "(one layer, batch, hidden_size)."
        )

    def _initial_state(self, h0, batch, dtype):
        return self._hidden0(h0, batch, dtype)

    def _hidden(self, state):
        return state

    def _final(self, state):
        return state[None]

    def forward(self, x, h0=None):
        """Run the layer over a batch-first sequence `x` of shape (batch, seq_len, input_size)
        from the initial state `h0` (zeros when None). Returns (output, h_n): the hidden state
        at every step, (batch, seq_len, hidden_size), and the last one, (1, batch,
        hidden_size). Differentiable in x, h0 and every parameter."""
        batch, steps = self._check(x)
        x_proj = _affine(x, self.weight_ih, self.bias_ih)  # every step's input term at once
        state = self._initial_state(h0, batch, raw_value(x_proj).dtype)
        outputs = []
        for t in range(steps):
            state = self._cell(x_proj[:, t], state)
            outputs.append(self._hidden(state))
        return wnp.stack(outputs, axis=1), self._final(state)


class RNN(_Recurrent):
    """Elman RNN, h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), act tanh or relu (PyTorch's
    `torch.nn.RNN` with one layer and batch_first=True).

    >>> rnn = RNN(3, 5, rng=0)
    >>> out, h_n = rnn(np.ones((2, 4, 3), np.float32))  # shapes (2, 4, 5) and (1, 2, 5)
    """

    def __init__(self, input_size, hidden_size, nonlinearity="tanh", bias=True, *, rng=None,
                 dtype=np.float32):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(
                f"RNN: nonlinearity={nonlinearity!r} is not supported; use 'tanh' or 'relu'."
            )
        super().__init__(input_size, hidden_size, bias, rng=rng, dtype=dtype)
        self.nonlinearity = nonlinearity

    def _cell(self, x_t, h):
        pre = x_t + self._recurrent(h)
        return wnp.tanh(pre) if self.nonlinearity == "tanh" else wnp.maximum(pre, 0)


class LSTM(_Recurrent):
    """Long short-term memory (PyTorch's `torch.nn.LSTM` with one layer, batch_first=True),
    gates stacked in the order input, forget, cell, output:

        i, f, g, o = sigmoid, sigmoid, tanh, sigmoid of (W_ih x_t + b_ih + W_hh h + b_hh)
        c_t = f * c + i * g,    h_t = o * tanh(c_t)

    `forward(x, h0=None)` takes h0 as a pair (h0, c0) and returns (output, (h_n, c_n)).

    >>> lstm = LSTM(3, 5, rng=0)
    >>> out, (h_n, c_n) = lstm(np.ones((2, 4, 3), np.float32))
    """

    num_gates = 4

    def _initial_state(self, h0, batch, dtype):
        if h0 is None:
            return self._hidden0(None, batch, dtype), self._hidden0(None, batch, dtype)
        if not (isinstance(h0, (tuple, list)) and len(h0) == 2):
            raise TypeError(
                "LSTM.forward: h0 must be a pair (h0, c0) of initial hidden and cell states, "
                f"not {type(h0).__name__}. Pass h0=(h0, c0), or None for zeros."
            )
        return self._hidden0(h0[0], batch, dtype), self._hidden0(h0[1], batch, dtype)

    def _hidden(self, state):
        return state[0]

    def _final(self, state):
        return state[0][None], state[1][None]

    def _cell(self, x_t, state):
        h, c = state
        n = self.hidden_size
        gates = x_t + self._recurrent(h)
        i = expit(gates[:, :n])
        f = expit(gates[:, n:2 * n])
        g = wnp.tanh(gates[:, 2 * n:3 * n])
        o = expit(gates[:, 3 * n:])
        c = f * c + i * g
        return o * wnp.tanh(c), c


class GRU(_Recurrent):
    """Gated recurrent unit (PyTorch's `torch.nn.GRU` with one layer, batch_first=True), gates
    stacked in the order reset, update, new; the reset gate scales the whole recurrent term:

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h_t = (1 - z) * n + z * h

    >>> gru = GRU(3, 5, rng=0)
    >>> out, h_n = gru(np.ones((2, 4, 3), np.float32))
    """

    num_gates = 3

    def _cell(self, x_t, h):
        n = self.hidden_size
        h_proj = self._recurrent(h)
        r = expit(x_t[:, :n] + h_proj[:, :n])
        z = expit(x_t[:, n:2 * n] + h_proj[:, n:2 * n])
        new = wnp.tanh(x_t[:, 2 * n:] + r * h_proj[:, 2 * n:])
        return (1 - z) * new + z * h


__all__ = ["GRU", "LSTM", "RNN"]
