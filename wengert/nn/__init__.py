"""`wengert.nn`: neural-network modules that are pytrees (functional use) and hold Parameter
tensors (eager use); `wengert.nn.functional` holds the stateless functions (also re-exported
here by their short names) and `wengert.nn.init` the weight initialisers."""

from . import attention, functional, init, layers, moe, recurrent
from .attention import MultiheadAttention, TransformerBlock
from .functional import (
    adaptive_avg_pool2d,
    avg_pool2d,
    batch_norm,
    binary_cross_entropy_with_logits,
    conv1d,
    conv2d,
    cross_entropy,
    dropout,
    embedding,
    gelu,
    huber_loss,
    l1_loss,
    layer_norm,
    leaky_relu,
    linear,
    log_softmax,
    max_pool2d,
    mse_loss,
    nll_loss,
    relu,
    rms_norm,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from .layers import (
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv1d,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    RMSNorm,
    Sequential,
    Sigmoid,
    SiLU,
    Softplus,
    Tanh,
)
from .module import Module, Parameter
from .moe import MixtureOfExperts, MoEAux, backward_matmul_work, moe_dense_reference
from .recurrent import GRU, LSTM, RNN

__all__ = [
    "Module",
    "Parameter",
    "attention",
    "functional",
    "init",
    "layers",
    "moe",
    "recurrent",
    *attention.__all__,
    *functional.__all__,
    *layers.__all__,
    *moe.__all__,
    *recurrent.__all__,
]
