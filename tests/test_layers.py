"""The architecture's layering: imports point downwards only (core < numpy < transforms <
tensor / testing / libraries). Checked on the source text, so a new upward import fails."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "wengert"

# A module in a layer may import from its own layer and the layers below it.
LAYERS = [
    ("core",),
    ("numpy", "scipy"),
    ("transforms",),
    ("tensor", "testing", "extend"),
    ("ir", "control", "revolve", "sparse_jacobian"),
    ("nn", "optim", "checkpoint", "data", "meta", "rl", "infer", "second_order", "pinn"),
]


def _layer_of(parts):
    for level, names in enumerate(LAYERS):
        if parts and parts[0] in names:
            return level
    return None


def _imported_packages(path):
    tree = ast.parse(path.read_text())
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(rel[: len(rel) - node.level])
            target = base + (node.module.split(".") if node.module else [])
            if not node.module:
                for alias in node.names:
                    yield tuple(base + [alias.name])
            else:
                yield tuple(target)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("wengert."):
            yield tuple(node.module.split(".")[1:])


SOURCES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_downwards(path):
    own = _layer_of(path.relative_to(PACKAGE).with_suffix("").parts)
    if own is None:
        return  # top-level libraries (cli, demo, __init__) may import anything
    for target in _imported_packages(path):
        level = _layer_of(target)
        assert level is None or level <= own, (
            f"{path.relative_to(PACKAGE)} (layer {LAYERS[own]}) imports {'.'.join(target)} "
            f"from the higher layer {LAYERS[level]}"
        )


def test_core_knows_no_numpy_function_names():
    for path in (PACKAGE / "core").rglob("*.py"):
        text = path.read_text()
        for name in ("np.sin", "np.exp", "np.matmul", "np.sum("):
            assert name not in text, f"{path.name} mentions {name}"
