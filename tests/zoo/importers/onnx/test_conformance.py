"""The onnx package's node conformance cases, run on our backend, one test per supported operator.

Every case of a supported operator passes or matches an entry of
``zoo.importers.onnx.exclusions.EXCLUDED`` (which says why); an exclusion that
matches a passing case is stale and fails too.
"""
from __future__ import annotations

import pytest

from zoo.importers.onnx import load_converters
from zoo.importers.onnx.backend import BigDLBackend
from zoo.importers.onnx.conformance import node_cases, run_case
from zoo.importers.onnx.exclusions import exclusion_reason

OPS = load_converters().supported_names("")


@pytest.mark.parametrize("op_type", OPS)
def test_conformance_cases_of_operator(op_type: str) -> None:
    unexpected, stale = [], []
    for case in node_cases(op_type):
        reason = exclusion_reason(case.name)
        try:
            run_case(case, BigDLBackend)
        except Exception as err:  # a failing case is reported with its error unless excluded
            if reason is None:
                unexpected.append(f"{case.name}: {type(err).__name__}: {str(err)[:300]}")
            continue
        if reason is not None:
            stale.append(f"{case.name} passes but is excluded ({reason})")
    assert not unexpected, "conformance failures:\n" + "\n".join(unexpected)
    assert not stale, "stale exclusions:\n" + "\n".join(stale)


def test_backend_runs_an_imported_model_by_name_and_device() -> None:
    case = node_cases("Relu")[0]
    rep = BigDLBackend.prepare(case.model)
    (x,), (want,) = case.data_sets[0]
    got = rep.run({case.model.graph.input[0].name: x})
    assert got._fields == (case.model.graph.output[0].name,)
    assert (got[0] == want).all()
    assert BigDLBackend.supports_device("CPU") and not BigDLBackend.supports_device("CUDA")
