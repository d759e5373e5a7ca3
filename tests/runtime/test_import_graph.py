"""The package's imports point downwards (DESIGN.md, "Layers of the house"): every import of every file, also
those inside functions, goes from a sub-package to one below it; the package root stays lazy."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import bigdl_runtime

ROOT = Path(bigdl_runtime.__file__).parent
#: the sub-packages, bottom first: each may import only those before it
LAYERS = ["kernels", "nn", "serialization", "quantization", "optim", "train", "spark"]
#: modules of the root that import nothing of ours, so any layer may import them
LEAVES = {"_version", "native_heap", "registry", "writers"}


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module of ours ``path`` imports (absolute dotted names, e.g. "bigdl_runtime.nn.module"), with
    the line; relative imports resolved, ``from X import name`` counted as an import of X."""
    module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.removesuffix(".__init__")
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import a, b: imports of the modules a and b
                    found += [(f"{target}.{alias.name}", node.lineno) for alias in node.names]
                    continue
            else:
                target = node.module or ""
            found.append((target, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] in ("bigdl_runtime", "zoo", "pyspark")]


def _part(dotted: str) -> str:
    """The layer or root module a dotted name belongs to ("nn", "_version", "<root>", "zoo", "pyspark")."""
    parts = dotted.split(".")
    if parts[0] != "bigdl_runtime":
        return parts[0]
    return parts[1] if len(parts) > 1 else "<root>"


def _edges() -> list[tuple[str, str, str]]:
    """(from part, to part, "file:line") for every import between different parts of the package."""
    edges = []
    for path in sorted(ROOT.rglob("*.py")):
        source = _part(".".join(path.relative_to(ROOT.parent).with_suffix("").parts))
        source = "<root>" if source == "__init__" else source
        for target, line in _imports(path):
            if _part(target) != source:
                edges.append((source, _part(target), f"{path.relative_to(ROOT.parent)}:{line}"))
    return edges


def test_every_part_of_the_package_is_a_known_layer_or_leaf():
    parts = {p.stem if p.is_file() else p.name for p in ROOT.iterdir()
             if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.stem != "__init__")}
    assert parts == set(LAYERS) | LEAVES


def test_imports_point_downwards():
    upward = []
    for source, target, where in _edges():
        if source == "<root>" and target in LAYERS + sorted(LEAVES):
            continue  # the root is above everything (and imports the layers lazily, see below)
        if source in LEAVES:
            upward.append(f"{where}: the leaf {source} imports {target}")
        elif target in LEAVES:
            continue
        elif target == "zoo":
            upward.append(f"{where}: bigdl_runtime imports zoo")
        elif target == "pyspark":
            if source != "spark":
                upward.append(f"{where}: only bigdl_runtime.spark imports pyspark ({source} does)")
        elif target not in LAYERS or LAYERS.index(target) >= LAYERS.index(source):
            upward.append(f"{where}: {source} imports {target}")
    assert not upward, "imports that do not point downwards:\n" + "\n".join(upward)


def test_the_check_sees_an_import_inside_a_function(tmp_path, monkeypatch):
    layer = tmp_path / "bigdl_runtime" / "nn"
    layer.mkdir(parents=True)
    (layer / "m.py").write_text("def save():\n    from ..serialization import save_model\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path / "bigdl_runtime")
    assert _edges() == [("nn", "serialization", "bigdl_runtime/nn/m.py:2")]


def test_the_kernels_import_without_protobuf_or_the_upper_layers():
    code = ("import sys; sys.modules['google.protobuf'] = None\n"
            "import bigdl_runtime.kernels.conv\n"
            "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('bigdl_runtime.')}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["['_version',", "'kernels',", "'writers']"]


def test_the_root_loads_serialization_on_first_use(tmp_path):
    code = ("import sys, bigdl_runtime\n"
            "assert 'bigdl_runtime.serialization' not in sys.modules\n"
            "from bigdl_runtime.nn import Linear\n"
            f"Linear(2, 3).save({str(tmp_path / 'm.bigdl')!r})\n"
            f"print(type(bigdl_runtime.load({str(tmp_path / 'm.bigdl')!r})).__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "Linear"
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        bigdl_runtime.nope  # noqa: B018
