"""Every kernel comes as a forward/backward pair, and every pair is gradient-checked somewhere.

The per-family test files check each pair against finite differences; this test
finds all pairs by name so a kernel added without a backward, or without a
gradient test naming it, fails CI.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from pathlib import Path

import bigdl_runtime.kernels as kernels

TEST_DIR = Path(__file__).parent


def _pairs() -> dict[str, str]:
    """op name -> module name, for every `<op>_forward` in bigdl_runtime.kernels."""
    found = {}
    for info in pkgutil.iter_modules(kernels.__path__):
        module = importlib.import_module(f"{kernels.__name__}.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and name.endswith("_forward") and not name.startswith("_"):
                found[name[: -len("_forward")]] = module.__name__
    return found


def test_kernel_modules_exist() -> None:
    assert len(_pairs()) >= 30, sorted(_pairs())


def test_every_forward_has_a_backward() -> None:
    missing = []
    for op, module_name in _pairs().items():
        module = importlib.import_module(module_name)
        if not callable(getattr(module, f"{op}_backward", None)):
            missing.append(f"{module_name}.{op}_backward")
    assert not missing, f"forward without backward: {missing}"


def test_every_pair_is_gradient_checked() -> None:
    """A pair counts as checked when a test file that calls check_kernel names its backward
    (``conv2d_backward``) or names the op in a table it looks pairs up from (``"gru"``)."""
    tests = "\n".join(text for p in TEST_DIR.glob("test_*.py")
                      if p.name != Path(__file__).name and "check_kernel(" in (text := p.read_text()))
    unchecked = [op for op in _pairs() if not re.search(rf"\b{op}_backward\b|[\"']{op}[\"']", tests)]
    assert not unchecked, f"kernels never named by a gradient test: {unchecked}"


def test_kernels_import_nothing_else_from_the_package() -> None:
    offenders = []
    for path in Path(kernels.__file__).parent.glob("*.py"):
        for line in path.read_text().splitlines():
            if re.match(r"\s*(from|import)\s+(bigdl_runtime|zoo|\.\.)", line):
                offenders.append(f"{path.name}: {line.strip()}")
    assert not offenders, offenders
