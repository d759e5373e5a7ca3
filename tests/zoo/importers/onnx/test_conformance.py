"""The onnx package's node conformance cases, run on our backend, one test per operator of the onnx corpus.

Every case whose operators we all convert passes or matches an entry of
``zoo.importers.onnx.exclusions.EXCLUDED`` (which says why); an exclusion that
matches a passing case is stale and fails too. A case that needs an operator we
do not convert must have that operator's reason in ``exclusions.UNSUPPORTED``.
"""
from __future__ import annotations

import pytest

from zoo.importers.onnx import load_converters
from zoo.importers.onnx.backend import BigDLBackend
from zoo.importers.onnx.conformance import case_outcome, node_cases, operator_names

SUPPORTED = set(load_converters().supported())


@pytest.mark.parametrize("op_type", operator_names())
def test_conformance_cases_of_operator(op_type: str) -> None:
    cases = node_cases(op_type)
    if not cases:
        pytest.skip(f"{op_type} only appears inside other operators' cases")
    outcomes = [case_outcome(case, BigDLBackend, SUPPORTED) for case in cases]
    bad = [f"{o.case}: {o.status}: {o.detail}" for o in outcomes if o.status in ("failed", "stale")]
    assert not bad, "conformance failures:\n" + "\n".join(bad)


def test_backend_runs_an_imported_model_by_name_and_device() -> None:
    case = node_cases("Relu")[0]
    rep = BigDLBackend.prepare(case.model)
    (x,), (want,) = case.data_sets[0]
    got = rep.run({case.model.graph.input[0].name: x})
    assert got._fields == (case.model.graph.output[0].name,)
    assert (got[0] == want).all()
    assert BigDLBackend.supports_device("CPU") and not BigDLBackend.supports_device("CUDA")
