"""Layers added for the ONNX importer whose emitters are not written yet: each is declared here, so
exporting one fails naming it and the export coverage test lists nothing unaccounted for."""
from __future__ import annotations

from ....nn import layers as L
from ..dispatch import no_emitter

_NOT_YET = (L.Acos, L.Acosh, L.Asin, L.Asinh, L.Atan, L.Atanh, L.BitCast, L.BitShift, L.BitwiseAnd, L.BitwiseNot,
            L.BitwiseOr, L.BitwiseXor, L.Ceil, L.Col2Im, L.Cos, L.Cosh, L.CumProd, L.CumSum, L.DFT, L.Det, L.Floor,
            L.GatherElements, L.GatherND, L.GridSample, L.Hardmax, L.IsInf, L.IsNaN, L.MaxPoolIndices, L.MaxUnpool,
            L.Mod, L.NonZero, L.OneHot, L.RoiAlign, L.Round, L.ScatterElements, L.ScatterND, L.Sign, L.Sin, L.Sinh,
            L.Tan, L.Unique)
_QUANTIZED = (L.ConvInteger, L.DequantizeLinear, L.DynamicQuantizeLinear, L.MatMulInteger, L.QLinearConv,
              L.QLinearMatMul, L.QuantizeLinear)

for _cls in _NOT_YET:
    no_emitter(_cls, f"no emitter for ONNX {_cls.__name__} has been written yet (the layer exists for the importer)")
for _cls in _QUANTIZED:
    no_emitter(_cls, f"no emitter for the quantised ONNX {_cls.__name__} has been written yet "
                     "(the layer exists for the importer)")
no_emitter(L.DynamicQuantizedLSTM, "no emitter for onnxruntime's com.microsoft DynamicQuantizeLSTM (a contrib operator) "
                                   "has been written yet (the layer exists for the importer)")
