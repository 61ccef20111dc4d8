"""`wengert.optim`: optimisers usable functionally (pure updates on pytrees) and eagerly (in
place on Parameter tensors), learning-rate schedules, gradient clipping, and the
second-order minimisers L-BFGS, Newton (exact Hessian or Hessian-vector products, with a
line search) and trust-region Newton-CG."""

from . import lr_scheduler, schedules
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .base import Optimizer
from .clip import clip_by_global_norm, clip_grad_norm_, global_norm
from .lbfgs import LBFGS, OptimizeResult, lbfgs_minimize
from .newton import NewtonCG, NewtonProgress, newton_cg_minimize, newton_minimize
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = [
    "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Optimizer",
    "LBFGS", "lbfgs_minimize", "NewtonCG", "newton_cg_minimize", "newton_minimize",
    "NewtonProgress", "OptimizeResult",
    "clip_grad_norm_", "clip_by_global_norm", "global_norm",
    "lr_scheduler", "schedules",
]
