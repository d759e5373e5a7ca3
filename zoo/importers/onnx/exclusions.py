"""Conformance cases we do not pass, each with the reason.

:data:`EXCLUDED` names cases of operators we convert: keys are regular expressions
matched against the whole case name (``onnx.backend.test`` node cases); every case
whose operators we all convert either passes or matches exactly one entry here. The
conformance test also fails when an entry matches a case that passes (a stale exclusion).

:data:`UNSUPPORTED` gives the reason for each operator we do not convert (keyed
``Op`` for the default domain, ``domain::Op`` otherwise); the cases that use one
are left out for that reason.
"""
from __future__ import annotations

import re

EXCLUDED: dict[str, str] = {
    # --- data types: our runtime computes in float32/float64 and the integer types numpy has
    r"test_cast(like)?_(no_saturate_|e8m0_)?(FLOAT|FLOAT16)_to_(FLOAT8\w*|FLOAT4E2M1|U?INT4|U?INT2|BFLOAT16)(_expanded)?":
        "casting to 8/4/2-bit and bfloat16 types is not supported (casting from them is)",
    r"test_einsum_(batch_matmul|sum)_bfloat16": "bfloat16 arithmetic is not supported",
    r"test_quantizelinear_(e4m3fn|e5m2|float4e2m1|u?int2|u?int4)":
        "quantising to 8/4-bit floats and 4/2-bit integers is not supported (8- and 16-bit integers are)",
    r"test_dequantizelinear_(e4m3fn\w*|e5m2|float4e2m1)": "8/4-bit float quantised inputs are not supported",
    # --- shapes and modes our layers do not implement
    r"test_(averagepool|maxpool|lppool)_3d_.*": "3-D pooling is not supported (1-D and 2-D are)",
    r"test_(averagepool|lppool)_2d_dilations": "dilated average and Lp pooling is not supported",
    r"test_convtranspose_3d": "3-D transposed convolutions are not supported (1-D and 2-D are)",
    # --- training-mode outputs: an imported model is converted for inference (and fine-tuned by our trainer)
    r"test_training_dropout.*": "Dropout with training_mode=true is not supported",
    r"test_batchnorm_.*_training_mode": "BatchNormalization's training-mode outputs are not supported",
    # --- recurrent variants and old control flow
    r"test_lstm_with_peepholes": "LSTM peepholes are not supported",
    r"test_scan_sum": "Scan of opset 8 (batch axis and sequence_lens inputs) is not supported (opset 9 and newer are)",
    # --- reduced-precision arithmetic (ours and the reference's)
    r"test_dft_inverse(_opset19)?": "the expected values carry complex64 FFT rounding (1.9e-7 where the exact value "
                                    "is 0), above the case's 1e-7 absolute tolerance; ours are computed in float64",
    r"test_attention_\w*bf16(_expanded)?": "bfloat16 arithmetic is not supported",
    r"test_range_bfloat16_type_positive_delta_expanded": "bfloat16 arithmetic is not supported",
    r"test_causal_conv_with_state_silu_fp16(_expanded)?":
        "float16 SiLU of the function body differs beyond the tolerance",
    # --- other value kinds and old opsets
    r"test_identity_(opt|sequence)": "optional and sequence values are not supported",
    r"test_not_(2d|3d|4d)": "opset-1 models; the importer supports opsets 7 and newer",
}

_STRINGS = "string tensors are not supported (our runtime computes on numbers)"
_SEQUENCES = "sequence values are not supported (tensors only)"
_OPTIONALS = "optional values are not supported (tensors only)"
_TRAINING = "a training operator: an imported model is trained by our optimizers instead"
_RANDOM = "a random generator: its values cannot match the reference (use bigdl_runtime.nn.random)"
_ML = "ai.onnx.ml (classical machine learning) operators are not supported"

UNSUPPORTED: dict[str, str] = {
    # --- value kinds the runtime does not have
    **dict.fromkeys(["StringConcat", "StringNormalizer", "StringSplit", "RegexFullMatch", "TfIdfVectorizer"],
                    _STRINGS),
    **dict.fromkeys(["SequenceAt", "SequenceConstruct", "SequenceEmpty", "SequenceErase", "SequenceInsert",
                     "SequenceLength", "SequenceMap", "SplitToSequence", "ConcatFromSequence"], _SEQUENCES),
    **dict.fromkeys(["Optional", "OptionalGetElement", "OptionalHasElement"], _OPTIONALS),
    "ImageDecoder": "decodes encoded image bytes; images enter through the zoo.feature readers instead",
    # --- training, randomness, other domains
    **dict.fromkeys(["ai.onnx.preview.training::Adagrad", "ai.onnx.preview.training::Adam",
                     "ai.onnx.preview.training::Momentum", "ai.onnx.preview.training::Gradient"], _TRAINING),
    **dict.fromkeys(["Bernoulli", "RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike",
                     "Multinomial"], _RANDOM),
    **dict.fromkeys(["ai.onnx.ml::ArrayFeatureExtractor", "ai.onnx.ml::Binarizer", "ai.onnx.ml::LabelEncoder",
                     "ai.onnx.ml::TreeEnsemble"], _ML),
    "ai.onnx.preview::FlexAttention": "a preview-domain operator (score and probability modifiers are subgraphs)",
    # --- onnxruntime contrib operators (com.microsoft) we name but do not convert
    **dict.fromkeys(["com.microsoft::GroupQueryAttention",
                     "com.microsoft::RotaryEmbedding", "com.microsoft::QAttention"],
                    "fused attention kernels (packed weights, masks, caches): export unfused or with the "
                    "default-domain Attention of opset 23"),
    **dict.fromkeys(["com.microsoft::QLinearAdd", "com.microsoft::QLinearMul", "com.microsoft::QLinearSigmoid",
                     "com.microsoft::QLinearLeakyRelu", "com.microsoft::QLinearAveragePool",
                     "com.microsoft::QLinearGlobalAveragePool", "com.microsoft::QLinearConcat"],
                    "not implemented: onnxruntime's integer kernel (its fixed-point requantisation) would have to "
                    "be reproduced bit for bit"),
    "com.microsoft::MatMulNBits": "4-bit packed weights are not supported",
    **dict.fromkeys(["com.microsoft::BiasAdd", "com.microsoft::NhwcConv"],
                    "a CUDA- or NHWC-only onnxruntime kernel (the CPU exports do not emit it)"),
}


def unsupported_reason(missing: list[tuple[str, str]]) -> str | None:
    """Why a case using the operators ``missing`` ((domain, op) pairs we lack) is left out; None if unrecorded."""
    reasons = []
    for domain, op in missing:
        reason = UNSUPPORTED.get(f"{domain}::{op}" if domain else op)
        if reason is None:
            return None
        reasons.append(f"{op}: {reason}")
    return "; ".join(reasons)


def exclusion_reason(case_name: str) -> str | None:
    """The reason ``case_name`` is excluded, or None when it must pass."""
    for pattern, reason in EXCLUDED.items():
        if re.fullmatch(pattern, case_name):
            return reason
    return None
