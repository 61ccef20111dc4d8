"""`wengert.nn`: neural-network modules that are pytrees (functional use) and hold Parameter
tensors (eager use)."""

from .module import Module, Parameter  # noqa: F401
