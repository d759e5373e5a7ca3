"""Reading Caffe files: the text prototxt, the binary caffemodel, and the legacy V1 layer format.

Both files are parsed with our own schema (``caffe_subset.proto``); every layer comes
out as a current-format ``LayerParameter`` whatever format the file used.
"""
from __future__ import annotations

import os
import warnings
from typing import Any

from google.protobuf import text_format
from google.protobuf.message import DecodeError

from . import caffe_subset_pb2 as pb


class CaffeImportError(ValueError):
    """A Caffe model that cannot be imported: malformed files, mismatched weights, bad geometry."""


#: V1LayerParameter.LayerType -> the layer type string of the current format (as Caffe's upgrade does)
V1_TYPES = {
    "ABSVAL": "AbsVal", "ACCURACY": "Accuracy", "ARGMAX": "ArgMax", "BNLL": "BNLL", "CONCAT": "Concat",
    "CONTRASTIVE_LOSS": "ContrastiveLoss", "CONVOLUTION": "Convolution", "DATA": "Data",
    "DECONVOLUTION": "Deconvolution", "DROPOUT": "Dropout", "DUMMY_DATA": "DummyData",
    "EUCLIDEAN_LOSS": "EuclideanLoss", "ELTWISE": "Eltwise", "EXP": "Exp", "FLATTEN": "Flatten",
    "HDF5_DATA": "HDF5Data", "HDF5_OUTPUT": "HDF5Output", "HINGE_LOSS": "HingeLoss", "IM2COL": "Im2col",
    "IMAGE_DATA": "ImageData", "INFOGAIN_LOSS": "InfogainLoss", "INNER_PRODUCT": "InnerProduct", "LRN": "LRN",
    "MEMORY_DATA": "MemoryData", "MULTINOMIAL_LOGISTIC_LOSS": "MultinomialLogisticLoss", "MVN": "MVN",
    "POOLING": "Pooling", "POWER": "Power", "RELU": "ReLU", "SIGMOID": "Sigmoid",
    "SIGMOID_CROSS_ENTROPY_LOSS": "SigmoidCrossEntropyLoss", "SILENCE": "Silence", "SOFTMAX": "Softmax",
    "SOFTMAX_LOSS": "SoftmaxWithLoss", "SPLIT": "Split", "SLICE": "Slice", "TANH": "TanH",
    "WINDOW_DATA": "WindowData", "THRESHOLD": "Threshold",
}

#: fields V1LayerParameter shares with LayerParameter (same message types, copied as they are)
_V1_SHARED = ("bottom", "top", "name", "include", "exclude", "blobs", "loss_weight", "concat_param",
              "convolution_param", "dropout_param", "eltwise_param", "inner_product_param", "lrn_param",
              "pooling_param", "power_param", "relu_param", "sigmoid_param", "softmax_param", "slice_param",
              "tanh_param", "transform_param", "loss_param")


def read_bytes(path: str | os.PathLike, spark: Any = None) -> bytes:
    """The bytes of ``path``: a local path, a ``file://`` URI or, with a SparkSession, any Hadoop URI."""
    if spark is not None:
        from bigdl_runtime.spark.hadoop_fs import filesystem_for  # imports pyspark: only when asked to

        fs = filesystem_for(path, spark)
    else:
        from bigdl_runtime.train.local_fs import default_filesystem

        fs = default_filesystem(path)
    try:
        return fs.read_bytes(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"Caffe model file not found: {os.fspath(path)}") from None


def parse_prototxt(text: str, where: str) -> pb.NetParameter:
    """A NetParameter from prototxt text; CaffeImportError naming ``where`` and the line when malformed.

    Fields outside the subset of caffe.proto this importer reads (solver or data-layer
    settings of a training prototxt) are skipped with a warning naming the first one.
    """
    net = pb.NetParameter()
    try:
        text_format.Parse(text, net)
        return net
    except text_format.ParseError as err:
        if "has no field named" not in str(err):
            raise CaffeImportError(f"{where}: malformed prototxt: {err}") from None
        first = err
    net = pb.NetParameter()
    try:
        text_format.Parse(text, net, allow_unknown_field=True)
    except text_format.ParseError as err:
        raise CaffeImportError(f"{where}: malformed prototxt: {err}") from None
    warnings.warn(f"{where}: fields this importer does not read were ignored, the first at {first}",
                  stacklevel=3)
    return net


def parse_caffemodel(data: bytes, where: str) -> pb.NetParameter:
    """A NetParameter from binary caffemodel bytes; CaffeImportError if they are not one."""
    net = pb.NetParameter()
    try:
        net.ParseFromString(data)
    except DecodeError as err:
        raise CaffeImportError(f"{where}: not a binary Caffe NetParameter (.caffemodel): {err}") from None
    if not net.layer and not net.layers:
        raise CaffeImportError(f"{where}: the caffemodel holds no layers (is it a Caffe .caffemodel file?)")
    return net


def upgrade_v1(v1: pb.V1LayerParameter, index: int) -> pb.LayerParameter:
    """The current-format LayerParameter of a legacy ``layers { ... }`` entry."""
    layer = pb.LayerParameter()
    for field in _V1_SHARED:
        value = getattr(v1, field)
        if field in ("bottom", "top", "include", "exclude", "blobs", "loss_weight"):
            getattr(layer, field).extend(value)
        elif v1.HasField(field):
            if field == "name":
                layer.name = value
            else:
                getattr(layer, field).CopyFrom(value)
    type_name = pb.V1LayerParameter.LayerType.Name(v1.type)
    if type_name == "NONE":
        raise CaffeImportError(f"legacy layer #{index} ('{v1.name}') has no type (the V0 'layer {{ }}' "
                               "format is not supported)")
    layer.type = V1_TYPES[type_name]
    return layer


def net_layers(net: pb.NetParameter, where: str) -> list[pb.LayerParameter]:
    """The layers of ``net`` in the current format (converting a legacy V1 net)."""
    if net.layer and net.layers:
        raise CaffeImportError(f"{where}: the net mixes the current 'layer' and the legacy 'layers' formats")
    if net.layers:
        return [upgrade_v1(v1, i) for i, v1 in enumerate(net.layers)]
    return list(net.layer)


def included_in_test(layer: pb.LayerParameter) -> bool:
    """Whether Caffe keeps ``layer`` in the TEST phase (level 0, no stages), from its include/exclude rules."""
    def met(rule: pb.NetStateRule) -> bool:
        if rule.HasField("phase") and rule.phase != pb.TEST:
            return False
        if rule.HasField("min_level") and rule.min_level > 0:
            return False
        if rule.HasField("max_level") and rule.max_level < 0:
            return False
        return not rule.stage

    if layer.include:
        return any(met(r) for r in layer.include)
    return not any(met(r) for r in layer.exclude)
