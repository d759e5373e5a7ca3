"""The onnx package's node conformance cases (``onnx.backend.test``), per operator, run on our backend.

The onnx package builds its cases by running Python generators when their modules
are imported (all of them take ~12 s), so only the modules that exercise a given
operator are imported. Function-expanded variants (``*_expanded*``) are left out:
they test the operators of the function's body, not the operator itself.
"""
from __future__ import annotations

import functools
import importlib
import re
import warnings
from pathlib import Path

import numpy as np

_PACKAGE = "onnx.backend.test.case.node"


@functools.lru_cache(maxsize=None)
def _modules_by_op() -> dict[str, list[str]]:
    import onnx.backend.test.case.node as pkg

    table: dict[str, list[str]] = {}
    for path in sorted(Path(pkg.__file__).parent.glob("*.py")):
        if path.name.startswith("_"):
            continue
        for op in set(re.findall(r'make_node\(\s*"(\w+)"', path.read_text())):
            table.setdefault(op, []).append(path.stem)
    return table


@functools.lru_cache(maxsize=None)
def _module_cases(module: str) -> tuple:
    pkg = importlib.import_module(_PACKAGE)
    before = len(pkg._NodeTestCases)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        importlib.import_module(f"{_PACKAGE}.{module}")
    return tuple(pkg._NodeTestCases[before:])


def node_cases(op_type: str) -> list:
    """The conformance cases (``onnx.backend.test`` TestCase objects) whose single node is ``op_type``."""
    cases = []
    for module in _modules_by_op().get(op_type, []):
        for case in _module_cases(module):
            nodes = case.model.graph.node
            if "_expanded" not in case.name and len(nodes) == 1 and nodes[0].op_type == op_type \
                    and nodes[0].domain in ("", "ai.onnx"):
                cases.append(case)
    return sorted(cases, key=lambda c: c.name)


def run_case(case, backend) -> None:
    """Prepare ``case.model`` with ``backend`` and compare every data set (AssertionError on mismatch)."""
    from onnx.backend.test.runner import Runner

    rep = backend.prepare(case.model, "CPU")
    for inputs, expected in case.data_sets:
        inputs = [_array(x) for x in inputs]
        expected = [_array(y) for y in expected]
        with np.errstate(all="ignore"):
            outputs = list(rep.run(inputs))
        Runner.assert_similar_outputs(expected, outputs, rtol=case.rtol, atol=case.atol)


def _array(x):
    from onnx import TensorProto, numpy_helper

    return numpy_helper.to_array(x) if isinstance(x, TensorProto) else x
