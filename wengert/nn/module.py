"""`Module`: the base class of every layer, usable in both API styles.

* As a pytree (JAX style): a module's children are the values of its parameters and its
  submodules (and lists, tuples and dicts of them); every other attribute is static. So
  `wg.grad(loss)(model, x, y)` returns a gradient shaped like the model (a module of the same
  class whose parameter fields hold the gradient arrays), and `tree_map` updates a model.
  Flattening reads a `Parameter`'s value, so functional transforms never record on the
  eager tape.
* Eagerly (PyTorch style): parameters are `Parameter` tensors (`requires_grad=True`);
  `model.parameters()`, `loss.backward()`, `p.grad`, `zero_grad()`, `train()` / `eval()`,
  `state_dict()` / `load_state_dict()`, `save()` / `load()`.
"""

import numpy as np

from ..core import Tracer, register_pytree_node
from ..core.rowsparse import RowSparse
from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module's parameter: it requires grad unless told otherwise."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self):
        return "Parameter(" + super().__repr__()[len("tensor("):]


def _is_dynamic(value):
    """Does an attribute value hold parameters or submodules (a pytree child)?"""
    if isinstance(value, (Module, Tensor, Tracer, RowSparse)):  # RowSparse: a sparse gradient
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "fc"
    if isinstance(value, (list, tuple)):
        return any(_is_dynamic(v) for v in value)
    if isinstance(value, dict):
        return any(_is_dynamic(v) for v in value.values())
    return False


def _leaf_value(value):
    return value.primal if isinstance(value, Tensor) else value


def _values_of(value):
    """A child with every Tensor replaced by its value (Modules stay: they flatten on)."""
    if isinstance(value, (list, tuple)) and not isinstance(value, Module):
        return type(value)(_values_of(v) for v in value)
    if isinstance(value, dict):
        return {k: _values_of(v) for k, v in value.items()}
    return _leaf_value(value)


class _Static:
    """Static attributes as pytree aux data: compared by value, hashed by their names (the
    values may be unhashable, such as lists of layer sizes)."""

    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def __eq__(self, other):
        if not isinstance(other, _Static) or len(self.items) != len(other.items):
            return False
        for (k1, v1), (k2, v2) in zip(self.items, other.items):
            if k1 != k2 or type(v1) is not type(v2):
                return False
            try:
                same = bool(v1 == v2)
            except (TypeError, ValueError):
                same = v1 is v2
            if not same:
                return False
        return True

    def __hash__(self):
        return hash(tuple(k for k, _ in self.items))


def _flatten_module(module):
    dynamic, static = [], []
    for key in sorted(vars(module)):
        value = vars(module)[key]
        (dynamic if _is_dynamic(value) else static).append((key, value))
    keys = tuple(k for k, _ in dynamic)
    return [_values_of(v) for _, v in dynamic], (keys, _Static(tuple(static)))


def _unflatten_module(cls, aux, children):
    keys, static = aux
    module = cls.__new__(cls)
    vars(module).update(static.items)
    vars(module).update(zip(keys, children))
    return module


class Module:
    """Base class of layers and models: subclasses set parameters (`Parameter`), submodules
    and static configuration as attributes in `__init__` and define `forward`.

    >>> class Affine(Module):
    ...     def __init__(self, n):
    ...         self.w = Parameter(np.ones(n))
    ...     def forward(self, x):
    ...         return self.w * x
    """

    training = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register_pytree_node(cls, _flatten_module, lambda aux, c, cls=cls: _unflatten_module(
            cls, aux, c))

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # Traversal ----------------------------------------------------------------------------
    def named_children(self):
        """(name, submodule) for each direct submodule, lists and dicts expanded
        (`layers.0`, `blocks.attn`)."""
        for key in sorted(vars(self)):
            yield from _walk(key, vars(self)[key], _modules_at)

    def modules(self):
        """This module and every submodule, depth first."""
        yield self
        for _, child in self.named_children():
            yield from child.modules()

    def named_parameters(self, prefix=""):
        """(dotted name, Parameter) for every parameter, each once."""
        seen = set()
        for name, p in self._named_tensors(prefix):
            if isinstance(p, Parameter) and id(p) not in seen:
                seen.add(id(p))
                yield name, p

    def parameters(self):
        """Every Parameter of this module and its submodules, each once."""
        return [p for _, p in self.named_parameters()]

    def _named_tensors(self, prefix):
        for key in sorted(vars(self)):
            yield from _walk(prefix + key, vars(self)[key], _arrays_at)

    # Eager conveniences -------------------------------------------------------------------
    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def train(self, mode=True):
        """Set training mode (Dropout, BatchNorm) on this module and all submodules."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self):
        return self.train(False)

    # State ----------------------------------------------------------------------------------
    def state_dict(self):
        """Every parameter and array (buffers such as running statistics) by dotted name, as
        NumPy arrays (copies)."""
        return {name: np.array(_leaf_value(v)) for name, v in self._named_tensors("")}

    def load_state_dict(self, state, strict=True):
        """Copy arrays from `state` into this module's parameters and buffers (in place, so
        optimisers holding the Parameters see the new values)."""
        own = dict(self._named_tensors(""))
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise KeyError(
                f"load_state_dict: {type(self).__name__} state does not match: missing keys "
                f"{missing}, unexpected keys {unexpected}. Pass strict=False to load the "
                "keys that match."
            )
        for name in sorted(set(own) & set(state)):
            target = own[name]
            value = np.asarray(state[name])
            current = _leaf_value(target)
            if value.shape != np.shape(current):
                raise ValueError(
                    f"load_state_dict: {name} has shape {value.shape} in the state but "
                    f"{np.shape(current)} in the module."
                )
            _assign(self, name, target, value.astype(np.asarray(current).dtype))

    def save(self, path):
        """Save the state dict: `.safetensors` (when the safetensors package is installed)
        or `.npz`. Neither format pickles, so loading a checkpoint runs no code."""
        state = self.state_dict()
        if str(path).endswith(".safetensors"):
            arrays = {k: np.ascontiguousarray(v) for k, v in state.items()}
            _safetensors("save").save_file(arrays, str(path))
        else:
            np.savez(path, **state)

    def load(self, path, strict=True):
        """Load a state saved with `save` (pickled objects are refused)."""
        if str(path).endswith(".safetensors"):
            self.load_state_dict(_safetensors("load").load_file(str(path)), strict=strict)
            return self
        with np.load(path, allow_pickle=False) as data:
            self.load_state_dict({k: data[k] for k in data.files}, strict=strict)
        return self

    def __repr__(self):
        lines = [f"{type(self).__name__}("]
        for name, child in self.named_children():
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        return "\n".join(lines) + ")" if len(lines) > 1 else f"{type(self).__name__}()"


def _safetensors(action):
    try:
        import safetensors.numpy
    except ImportError as exc:
        raise ImportError(
            f"Module.{action}: .safetensors files need the safetensors package (pip install "
            "safetensors); use a .npz path instead."
        ) from exc
    return safetensors.numpy


def _walk(name, value, at_leaf):
    """`at_leaf(dotted_name, value)` for every value under `name`, lists, tuples and dicts
    expanded (`layers.0`, `blocks.attn`)."""
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _walk(f"{name}.{i}", v, at_leaf)
    elif isinstance(value, dict):
        for k in sorted(value):
            yield from _walk(f"{name}.{k}", value[k], at_leaf)
    else:
        yield from at_leaf(name, value)


def _modules_at(name, value):
    if isinstance(value, Module):
        yield name, value


def _arrays_at(name, value):
    if isinstance(value, Module):
        yield from value._named_tensors(name + ".")
    elif isinstance(value, (Tensor, np.ndarray)) and _is_dynamic(value):
        yield name, value


def _assign(module, name, target, value):
    """Store `value` at dotted `name`: into a Tensor's buffer, or as a new array attribute."""
    if isinstance(target, Tensor):
        target.primal = value
        target._version += 1
        return
    *path, last = name.split(".")
    owner = module
    for part in path:
        owner = owner[int(part)] if isinstance(owner, (list, tuple)) else (
            owner[part] if isinstance(owner, dict) else getattr(owner, part))
    if isinstance(owner, list):
        owner[int(last)] = value
    elif isinstance(owner, dict):
        owner[last] = value
    else:
        setattr(owner, last, value)
