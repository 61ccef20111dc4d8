"""Pytrees: nested containers (tuple, list, dict, namedtuple, None, registered classes) whose
leaves are arrays. Transforms flatten their arguments to a list of leaves plus a tree
definition, work on the flat list, and rebuild the same structure on the way out."""

_registry = {}


class PyTreeDef:
    """The structure of a pytree without its leaves; equal structures compare equal."""

    __slots__ = ("node_type", "aux", "children", "num_leaves", "_key", "_hash")

    def __init__(self, node_type, aux, children):
        self.node_type = node_type  # None marks a leaf
        self.aux = aux
        self.children = children
        self.num_leaves = 1 if node_type is None else sum(c.num_leaves for c in children)
        # Built once from the children's keys: comparing and hashing structures (jit's cache
        # key on every call) then costs no recursion.
        self._key = (node_type, aux, tuple(c._key for c in children))
        self._hash = None

    def __eq__(self, other):
        return isinstance(other, PyTreeDef) and self._key == other._key

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(self._key)
        return self._hash

    def __repr__(self):
        if self.node_type is None:
            return "*"
        inner = ", ".join(repr(c) for c in self.children)
        return f"{getattr(self.node_type, '__name__', self.node_type)}({inner})"


LEAF = PyTreeDef(None, None, ())


def register_pytree_node(cls, flatten, unflatten):
    """Register `cls` as a pytree node.

    `flatten(obj) -> (children, aux)` where `aux` is hashable static data;
    `unflatten(aux, children) -> obj`.
    """
    _registry[cls] = (flatten, unflatten)


def _flatten_dict(d):
    keys = sorted(d)
    return [d[k] for k in keys], tuple(keys)


def _unflatten_dict(keys, children):
    return dict(zip(keys, children))


register_pytree_node(tuple, lambda t: (list(t), None), lambda _, c: tuple(c))
register_pytree_node(list, lambda t: (list(t), None), lambda _, c: list(c))
register_pytree_node(dict, _flatten_dict, _unflatten_dict)
register_pytree_node(type(None), lambda _: ([], None), lambda _, c: None)


def _node_handlers(x):
    cls = type(x)
    handlers = _registry.get(cls)
    if handlers is None and isinstance(x, tuple) and hasattr(cls, "_fields"):
        handlers = (lambda t: (list(t), None), lambda _, c, cls=cls: cls(*c))
        _registry[cls] = handlers
    return handlers


def _flatten_into(x, leaves, is_leaf):
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return LEAF
    handlers = _node_handlers(x)
    if handlers is None:
        leaves.append(x)
        return LEAF
    children, aux = handlers[0](x)
    return PyTreeDef(type(x), aux, tuple(_flatten_into(c, leaves, is_leaf) for c in children))


def tree_flatten(tree, is_leaf=None):
    """Return (leaves, treedef)."""
    # Module-level recursion: a nested function that calls itself would be a reference cycle
    # holding every leaf (and a transform's whole tape) until the cyclic collector runs.
    leaves = []
    return leaves, _flatten_into(tree, leaves, is_leaf)


def _build(node, leaves):
    if node.node_type is None:
        return next(leaves)
    children = [_build(c, leaves) for c in node.children]
    return _registry[node.node_type][1](node.aux, children)


def tree_unflatten(treedef, leaves):
    """Rebuild a pytree of structure `treedef` from a sequence of leaves."""
    return _build(treedef, iter(leaves))


def tree_leaves(tree):
    return tree_flatten(tree)[0]


def tree_structure(tree):
    return tree_flatten(tree)[1]


def tree_map(f, tree, *rest):
    """Apply `f` leafwise to one or more pytrees of the same structure."""
    leaves, treedef = tree_flatten(tree)
    others = []
    for r in rest:
        r_leaves, r_def = tree_flatten(r)
        if r_def != treedef:
            raise ValueError(
                f"tree_map: pytree structures differ: {treedef} vs {r_def}. "
                "Every tree passed to tree_map must have the same structure."
            )
        others.append(r_leaves)
    return tree_unflatten(treedef, [f(*xs) for xs in zip(leaves, *others)])


__all__ = [
    "PyTreeDef",
    "register_pytree_node",
    "tree_flatten",
    "tree_unflatten",
    "tree_leaves",
    "tree_structure",
    "tree_map",
]
