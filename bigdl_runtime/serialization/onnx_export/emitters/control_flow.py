"""IfElse, Loop and Scan have no emitter: their bodies would have to be written as ONNX sub-graphs."""
from __future__ import annotations

from ....nn.layers.control_flow import IfElse, Loop, Scan
from ..dispatch import no_emitter

for _cls, _op in ((IfElse, "If"), (Loop, "Loop"), (Scan, "Scan")):
    no_emitter(_cls, f"exporting its sub-graphs as an ONNX {_op} body is not written yet")
