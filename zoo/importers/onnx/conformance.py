"""The onnx package's node conformance cases (``onnx.backend.test``), per operator, run on our backend.

Every case belongs to one operator: a single-node case to its node's operator, a
function-expanded variant (``<case>_expanded*``: the operator's function body, as
several nodes) to the operator of its base case. A case is *runnable* when we
convert every operator its graph uses (subgraphs included); each runnable case must
pass or be excluded with a reason (:mod:`.exclusions`), and a case that is not
runnable is left out for the reason recorded for the operator it lacks.

The onnx package builds its cases by running Python generators when their modules
are imported (all of them take ~12 s), so only the modules that exercise a given
operator are imported.
"""
from __future__ import annotations

import functools
import importlib
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

_PACKAGE = "onnx.backend.test.case.node"


@functools.lru_cache(maxsize=None)
def _modules_by_op() -> dict[str, list[str]]:
    import onnx.backend.test.case.node as pkg

    root = Path(pkg.__file__).parent
    table: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):  # subpackages too (ai_onnx_ml)
        if path.name.startswith("_"):
            continue
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        text = path.read_text()  # ops of make_node calls, and of the Base classes (some models are parsed text)
        for op in set(re.findall(r'make_node\(\s*"(\w+)"', text)) | set(re.findall(r"class (\w+)\(Base\)", text)):
            table.setdefault(op, []).append(module)
    return table


@functools.lru_cache(maxsize=None)
def _module_cases(module: str) -> tuple:
    pkg = importlib.import_module(_PACKAGE)
    before = len(pkg._NodeTestCases)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        importlib.import_module(f"{_PACKAGE}.{module}")
    return tuple(pkg._NodeTestCases[before:])


def operator_names() -> list[str]:
    """Operator types named by the conformance modules (some have no case of their own)."""
    return sorted(_modules_by_op())


def node_cases(op_type: str) -> list:
    """The conformance cases (``onnx.backend.test`` TestCase objects) of ``op_type``, expanded variants included."""
    cases = {}
    for module in _modules_by_op().get(op_type, []):
        owned = {c.name for c in _module_cases(module)
                 if len(c.model.graph.node) == 1 and "_expanded" not in c.name
                 and c.model.graph.node[0].op_type == op_type}
        for case in _module_cases(module):
            if case.name in owned or ("_expanded" in case.name and case.name.split("_expanded")[0] in owned):
                cases[case.name] = case
    return sorted(cases.values(), key=lambda c: c.name)


def operators_used(graph: onnx.GraphProto) -> set[tuple[str, str]]:
    """(domain, op type) of every node of ``graph`` and its subgraphs (default domain as "")."""
    used = set()
    for node in graph.node:
        used.add(("" if node.domain == "ai.onnx" else node.domain, node.op_type))
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                used |= operators_used(sub)
    return used


@dataclass(frozen=True)
class Outcome:
    """What became of one case: ``status`` is passed, excluded, left out, failed or stale; ``detail`` says why."""

    case: str
    status: str
    detail: str = ""


def case_outcome(case, backend, supported: set[tuple[str, str]]) -> Outcome:
    """Run ``case`` if every operator it uses is in ``supported``, and classify the result.

    ``left out``: it needs an operator we do not convert (detail: the recorded reason);
    ``failed``: an unexpected failure, or a missing operator without a recorded reason;
    ``stale``: it passes but an exclusion names it.
    """
    from .exclusions import exclusion_reason, unsupported_reason

    missing = sorted(operators_used(case.model.graph) - supported)
    if missing:
        reason = unsupported_reason(missing)
        return Outcome(case.name, "left out", reason) if reason else \
            Outcome(case.name, "failed", f"no converter and no recorded reason for {missing}")
    reason = exclusion_reason(case.name)
    try:
        run_case(case, backend)
    except Exception as err:  # a failing case is excluded (with its reason) or reported with its error
        return Outcome(case.name, "excluded", reason) if reason else \
            Outcome(case.name, "failed", f"{type(err).__name__}: {str(err)[:300]}")
    return Outcome(case.name, "stale", f"passes but is excluded ({reason})") if reason else \
        Outcome(case.name, "passed")


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
