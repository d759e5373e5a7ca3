"""Conformance cases of supported operators that we do not pass, each with the reason.

Keys are regular expressions matched against the whole case name
(``onnx.backend.test`` node cases); every case of a supported operator either
passes or matches exactly one entry here. The conformance test also fails when an
entry matches a case that passes (a stale exclusion).
"""
from __future__ import annotations

import re

EXCLUDED: dict[str, str] = {
    # --- data types: our runtime computes in float32/float64 and the integer types numpy has
    r"test_cast_(no_saturate_|e8m0_)?(FLOAT|FLOAT16)_to_(FLOAT8\w*|FLOAT4E2M1|U?INT4|U?INT2|BFLOAT16)":
        "casting to 8/4/2-bit and bfloat16 types is not supported (casting from them is)",
    r"test_einsum_(batch_matmul|sum)_bfloat16": "bfloat16 arithmetic is not supported",
    # --- shapes and modes our layers do not implement
    r"test_(averagepool|maxpool)_3d_.*": "3-D pooling is not supported (1-D and 2-D are)",
    r"test_averagepool_2d_dilations": "dilated average pooling is not supported",
    r"test_maxpool_with_argmax_.*": "MaxPool's Indices output is not supported",
    r"test_convtranspose_3d": "3-D transposed convolutions are not supported (1-D and 2-D are)",
    # --- training-mode outputs: an imported model is converted for inference (and fine-tuned by our trainer)
    r"test_training_dropout.*": "Dropout with training_mode=true is not supported",
    r"test_batchnorm_.*_training_mode": "BatchNormalization's training-mode outputs are not supported",
    # --- recurrent variants
    r"test_lstm_with_peepholes": "LSTM peepholes are not supported",
    # --- other value kinds and old opsets
    r"test_identity_(opt|sequence)": "optional and sequence values are not supported",
    r"test_if_(opt|seq)": "optional and sequence values are not supported",
    r"test_loop(13_seq|16_seq_none)": "optional and sequence values are not supported",
    r"test_not_(2d|3d|4d)": "opset-1 models; the importer supports opsets 7 and newer",
}


def exclusion_reason(case_name: str) -> str | None:
    """The reason ``case_name`` is excluded, or None when it must pass."""
    for pattern, reason in EXCLUDED.items():
        if re.fullmatch(pattern, case_name):
            return reason
    return None
