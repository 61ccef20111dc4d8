"""`Optimizer`: the base of the first-order optimisers, usable in both API styles.

Each optimiser defines its update rule once, on one array (`_rule`), and its per-array
state (`_slots`). The base class applies that rule

* functionally, over the leaves of any pytree (`state = opt.init(params)`,
  `params, state = opt.update(grads, state, params)`): pure, nothing is mutated, and the
  rule is written with `wengert.numpy` operations so that an update can itself be
  differentiated (meta-learning); and
* eagerly, to Parameter tensors (`opt.step()`): each parameter's array and `.grad` go
  through the same rule, and the result is copied into the parameter under `no_grad`.

Hyperparameters live in `param_groups` (dicts, as in PyTorch, so that the eager schedulers
in `lr_scheduler` can change `group["lr"]`); a functional optimiser has one group without
parameters. A learning rate may also be a schedule: a function of the number of updates
already made (0 for the first), see `wengert.optim.schedules`.

Row-sparse gradients (`wg.RowSparse`, from embedding lookups) are applied to their rows
only: the same rule runs on the gathered rows of the parameter and of its state, and the
results are written back (eagerly in place, functionally into a copy). That equals the dense
update when the rule leaves a row with zero gradient unchanged (plain SGD, Adagrad without
weight decay). Otherwise (momentum, weight decay, Adam's moments) it is the "lazy" variant,
which the optimiser must be asked for with `lazy=True`; without it a RowSparse gradient is
an error, not a silent densification.
"""

import weakref

import numpy as np

from .. import numpy as wnp
from ..core import tree_flatten, tree_unflatten
from ..core.rowsparse import RowSparse
from ..tensor import Tensor, enable_grad, no_grad


def _check_nonnegative(opt_name, **values):
    for name, value in values.items():
        if not callable(value) and not value >= 0:
            raise ValueError(
                f"{opt_name}: {name}={value!r} is invalid; it must be a number >= 0."
            )


def _check_unit_interval(opt_name, **values):
    for name, value in values.items():
        if not 0.0 <= value < 1.0:
            raise ValueError(
                f"{opt_name}: {name}={value!r} is invalid; it must be in [0, 1)."
            )


def _param_groups(opt_name, params, defaults):
    """PyTorch's `params` argument (Parameters, or dicts with "params" and overrides) as a
    list of groups with every hyperparameter filled in."""
    if isinstance(params, Tensor):
        raise TypeError(
            f"{opt_name}: params must be an iterable of Parameters (e.g. "
            "model.parameters()), not a single tensor; wrap it in a list."
        )
    params = list(params)
    if not params:
        raise ValueError(f"{opt_name}: got an empty parameter list; pass model.parameters().")
    groups = params if isinstance(params[0], dict) else [{"params": params}]
    filled = []
    for i, group in enumerate(groups):
        group = {**defaults, **group, "params": list(group["params"])}
        for j, p in enumerate(group["params"]):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(
                    f"{opt_name}: param_groups[{i}]['params'][{j}] is a {type(p).__name__} "
                    "that does not require grad; optimise Parameters (or tensors made with "
                    "requires_grad=True)."
                )
        filled.append(group)
    return filled


def _resolve(group, step):
    """The hyperparameters for update number `step` (1-based): a scheduled lr is evaluated at
    the number of updates already made."""
    lr = group["lr"]
    return {**group, "lr": float(lr(step - 1)) if callable(lr) else lr}


class Optimizer:
    """Base class: subclasses define `_slots(p, hp)`, the initial state arrays for parameter
    `p` under hyperparameters `hp` (a dict of named arrays), and `_rule(g, p, slots, step, hp)`
    returning the new parameter and the new slots, with `step` counting from 1."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = {}  # eager per-parameter state, keyed by id(parameter)
        self._made = {}  # (id(parameter), name) -> weak ref to an array a sparse step may write
        name = type(self).__name__
        self.param_groups = (
            [dict(defaults, params=[])] if params is None
            else _param_groups(name, params, defaults)
        )

    def __repr__(self):
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.defaults.items())
        return f"{type(self).__name__}({hyper})"

    # Functional style -----------------------------------------------------------------------
    def init(self, params):
        """The initial optimiser state for the pytree `params`: a dict with the update count
        "step" and one pytree shaped like `params` per state buffer (e.g. Adam's "exp_avg").
        """
        leaves, treedef = tree_flatten(params)
        hp = _resolve(self.param_groups[0], 1)
        slots = [self._slots(_as_array(p), hp) for p in leaves]
        state = {"step": 0}
        for name in slots[0] if slots else ():
            state[name] = tree_unflatten(treedef, [s[name] for s in slots])
        return state

    def update(self, grads, state, params):
        """One update of the pytree `params` along the pytree `grads` (same structure, e.g.
        `wg.grad(loss)(params, ...)`). Returns `(new_params, new_state)`; the inputs are not
        modified. Differentiable with respect to grads and params."""
        name = type(self).__name__
        p_leaves, treedef = tree_flatten(params)
        g_leaves, g_treedef = tree_flatten(grads)
        if g_treedef != treedef:
            raise ValueError(
                f"{name}.update: grads has structure {g_treedef} but params has {treedef}; "
                "pass gradients shaped like the parameters (wg.grad(loss)(params, ...))."
            )
        if not isinstance(state, dict) or "step" not in state:
            raise TypeError(
                f"{name}.update: state must be the dict returned by {name}.init(params) or by "
                "a previous update."
            )
        step = state["step"] + 1
        hp = _resolve(self.param_groups[0], step)
        slot_leaves = {k: tree_flatten(v)[0] for k, v in state.items() if k != "step"}
        new_p, new_slots = [], {k: [] for k in slot_leaves}
        for i, (g, p) in enumerate(zip(g_leaves, p_leaves)):
            slots = {k: v[i] for k, v in slot_leaves.items()}
            p_out, s_out = self._apply(_as_array(g), _as_array(p), slots, step, hp,
                                       f"{name}.update: leaf {i} of grads")
            new_p.append(p_out)
            for k in slot_leaves:
                new_slots[k].append(s_out[k])
        new_state = {"step": step}
        for k, leaves in new_slots.items():
            new_state[k] = tree_unflatten(treedef, leaves)
        return tree_unflatten(treedef, new_p), new_state

    # Eager style ------------------------------------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Clear the `.grad` of every parameter (to None, or to zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p.grad is None:
                    p.grad = None
                elif type(p.grad) is RowSparse:  # stays sparse: no rows
                    p.grad = RowSparse(p.grad.indices[:0], p.grad.rows[:0], p.grad.shape)
                else:
                    p.grad = Tensor(np.zeros_like(p.primal))

    def add_param_group(self, param_group):
        """Add a dict {"params": [...], hyperparameter overrides...} to optimise as well."""
        self.param_groups.extend(_param_groups(type(self).__name__, [param_group],
                                               self.defaults))

    def step(self, closure=None):
        """Update, in place, every parameter whose `.grad` is set (parameters without a
        gradient are skipped and keep their state). `closure`, if given, is called first
        (with gradients enabled) and its loss returned."""
        if not any(group["params"] for group in self.param_groups):
            name = type(self).__name__
            raise TypeError(
                f"{name}.step: this optimiser was built without parameters (functional use); "
                f"call {name}.update(grads, state, params), or build it with "
                f"{name}(model.parameters(), ...) to step eagerly."
            )
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for i, group in enumerate(self.param_groups):
            for j, p in enumerate(group["params"]):
                if p.grad is None:
                    continue
                state = self.state.get(id(p))
                if state is None:
                    hp = _resolve(group, 1)
                    fresh = self._slots(p.primal, hp)
                    self._made.update({(id(p), k): weakref.ref(v) for k, v in fresh.items()})
                    state = self.state[id(p)] = {"step": 0, **fresh}
                step = state["step"] + 1
                hp = _resolve(group, step)
                slots = {k: v for k, v in state.items() if k != "step"}
                g = _as_array(p.grad)
                if type(g) is RowSparse:
                    where = (f"{type(self).__name__}.step: the gradient of "
                             f"param_groups[{i}]['params'][{j}]")
                    self._step_rows(p, g, state, slots, step, hp, where)
                else:
                    new_p, new_slots = self._apply(g, p.primal, slots, step, hp)
                    state.update(new_slots)
                    with no_grad():
                        p.copy_(new_p)
                state["step"] = step
        return loss

    def _apply(self, g, p, slots, step, hp, where=None):
        """The one place both styles call the update rule. A row-sparse `g` updates its rows
        of a copy of `p` and of the slots (`where` names the gradient in errors)."""
        if type(g) is RowSparse:
            idx, p_rows, slot_rows = self._rows_update(g, p, slots, step, hp, where)
            return wnp.at(p)[idx].set(p_rows), {
                k: wnp.at(slots[k])[idx].set(rows) for k, rows in slot_rows.items()}
        return self._rule(-g if hp.get("maximize") else g, p, slots, step, hp)

    def _rows_update(self, g, p, slots, step, hp, where):
        """The update restricted to the rows of the row-sparse gradient `g`: (row indices,
        the new rows of `p`, the new rows of each slot)."""
        name = type(self).__name__
        if g.shape != np.shape(p):
            raise ValueError(
                f"{where} is a RowSparse of shape {g.shape} but the parameter has shape "
                f"{np.shape(p)}; pass gradients shaped like the parameters."
            )
        reason = None if hp.get("lazy") else self._zero_grad_moves(hp)
        if reason is not None:
            fix = ("pass lazy=True to update only the gradient's rows (as TF's LazyAdam or "
                   "PyTorch's SparseAdam do), or " if "lazy" in hp else "")
            raise TypeError(
                f"{where} is row-sparse (a wg.RowSparse), but {name} {reason}, so "
                f"updating only the gradient's rows would differ from its dense update. To "
                f"fix: {fix}densify the gradient with .todense()."
            )
        g = g.coalesce()
        idx = g.indices
        rows = -g.rows if hp.get("maximize") else g.rows
        p_rows, slot_rows = self._rule(rows, p[idx], {k: v[idx] for k, v in slots.items()},
                                       step, hp)
        return idx, p_rows, slot_rows

    def _step_rows(self, p, g, state, slots, step, hp, where):
        """Eager step along a row-sparse gradient: the gradient's rows of the parameter and
        of its state are overwritten in place, so the step costs the rows, not the table."""
        idx, p_rows, slot_rows = self._rows_update(g, p.primal, slots, step, hp, where)
        for k, rows in slot_rows.items():
            state[k] = self._write_rows((id(p), k), state[k], idx, rows)
        p.data = self._write_rows((id(p), None), p.primal, idx, p_rows)  # bumps the version

    def _write_rows(self, key, array, idx, rows):
        """`array` with `rows` written at `idx`: in place when this optimiser made the array
        (the library never writes into an array it did not create), else into a copy, which
        later steps then update in place."""
        made = self._made.get(key)
        if made is None or made() is not array:
            array = array.copy()
            self._made[key] = weakref.ref(array)
        array[idx] = rows
        return array

    # Subclass interface ---------------------------------------------------------------------
    def _slots(self, p, hp):
        return {}

    def _zero_grad_moves(self, hp):
        """None when the rule leaves a row whose gradient is zero (and its state) unchanged,
        so that applying it to a sparse gradient's rows alone equals the dense update; else
        why not (completing "{name} ...")."""
        return "may change rows whose gradient is zero"

    def _rule(self, g, p, slots, step, hp):
        raise NotImplementedError(f"{type(self).__name__} must define _rule()")


def _as_array(x):
    """A tensor's value (functional params may hold Parameter tensors); anything else as is."""
    return x.primal if isinstance(x, Tensor) else x
