"""Bad input fails with a clear error naming the file, the layer and what is wrong."""
from __future__ import annotations

import pytest

from tests.zoo.importers.caffe.caffe_net import CaffeNet
from zoo.importers.caffe import CaffeImportError, load_caffe
from zoo.importers.caffe import caffe_subset_pb2 as pb
from zoo.importers.registry import UnsupportedOperatorError


def _conv_net(rng, weight_shape=(4, 3, 3, 3)):
    net = CaffeNet(rng).input("data", (1, 3, 8, 8))
    net.layer("conv1", "Convolution", ["data"], params="convolution_param { num_output: 4 kernel_size: 3 }",
              blobs=[net.randn(*weight_shape), net.randn(4)])
    return net


def _write(tmp_path, text):
    path = tmp_path / "net.prototxt"
    path.write_text('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 8 dim: 8 }\n' + text)
    return path


def test_unknown_layer_type_names_type_and_layer(tmp_path):
    proto = _write(tmp_path, 'layer { name: "warp1" type: "SpatialTransformer" bottom: "data" top: "warp1" }\n')
    with pytest.raises(UnsupportedOperatorError, match=r"caffe::SpatialTransformer .*\(node 'warp1'\).*Supported: "
                                                       r"AbsVal, BatchNorm"):
        load_caffe(proto)


def test_blob_shape_mismatch_names_layer_and_both_shapes(tmp_path, rng):
    net = _conv_net(rng, weight_shape=(4, 3, 5, 5))
    with pytest.raises(CaffeImportError, match=r"blob shape mismatch in the Convolution layer 'conv1': blob 0 is "
                                               r"\(4, 3, 5, 5\) in the caffemodel, the prototxt needs \(4, 3, 3, 3\)"):
        load_caffe(*net.write(tmp_path))


def test_caffemodel_without_the_layer(tmp_path, rng):
    net = _conv_net(rng)
    proto, model = net.write(tmp_path)
    proto.write_text(proto.read_text().replace('"conv1"', '"conv_1"'))
    with pytest.raises(CaffeImportError, match=r"does not match the prototxt: it has no weights for the Convolution "
                                               r"layer 'conv_1'; close names there: \['conv1'\]"):
        load_caffe(proto, model)


def test_caffemodel_with_another_blob_count(tmp_path, rng):
    net = _conv_net(rng)
    proto, model = net.write(tmp_path)
    proto.write_text(proto.read_text().replace("kernel_size: 3", "kernel_size: 3 bias_term: false"))
    with pytest.raises(CaffeImportError, match="layer 'conv1' has 2 blobs in the caffemodel, the prototxt needs 1"):
        load_caffe(proto, model)


def test_not_a_caffemodel(tmp_path, rng):
    proto, model = _conv_net(rng).write(tmp_path)
    model.write_bytes(b"\xff\xfe not protobuf at all")
    with pytest.raises(CaffeImportError, match=r"net.caffemodel: not a binary Caffe NetParameter"):
        load_caffe(proto, model)
    model.write_bytes(b"")
    with pytest.raises(CaffeImportError, match="the caffemodel holds no layers"):
        load_caffe(proto, model)


def test_blob_with_too_few_values(tmp_path, rng):
    """A blob whose shape claims more values than it holds."""
    proto, model = tmp_path / "n.prototxt", tmp_path / "n.caffemodel"
    proto.write_text(_conv_net(rng).prototxt())
    data = pb.NetParameter()
    layer = data.layer.add(name="conv1", type="Convolution")
    for shape, n in (((4, 3, 3, 3), 5), ((4,), 4)):
        blob = layer.blobs.add()
        blob.shape.dim.extend(shape)
        blob.data.extend([0.5] * n)
    model.write_bytes(data.SerializeToString())
    with pytest.raises(CaffeImportError, match=r"blob 0 of layer 'conv1': the caffemodel stores 5 values for the "
                                               r"shape \(4, 3, 3, 3\)"):
        load_caffe(proto, model)


@pytest.mark.parametrize("text,message", [
    ('layer { name: "a" type: "ReLU" bottom: "data" top: "a" \n', r"malformed prototxt: .*"),
    ('layer { name: "a" type: "ReLU" bottom: "data" top: "a" }\nlayer { name: "b" type: ReLU }\n',
     r"malformed prototxt: 4:25 .*Expected string but found: 'ReLU'"),
    ('layer { name: "a" type: "Pooling" bottom: "data" top: "a" pooling_param { pool: MEDIAN } }\n',
     r"malformed prototxt: 3:.*MEDIAN"),
])
def test_malformed_prototxt_names_file_and_line(tmp_path, text, message):
    proto = _write(tmp_path, text)
    with pytest.raises(CaffeImportError, match=r"net\.prototxt: " + message):
        load_caffe(proto)


@pytest.mark.parametrize("text,message", [
    ('layer { name: "a" type: "ReLU" bottom: "nothing" top: "a" }',
     r"ReLU layer 'a': bottom blob 'nothing' is not produced by an input or an earlier layer"),
    ('layer { name: "a" type: "ReLU" bottom: "data" top: "a" }\nlayer { name: "a" type: "TanH" bottom: "a" }',
     r"two layers are named 'a'"),
    ('layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { kernel_size: 1 stride: 3 } }',
     r"Pooling layer 'p': Caffe's pooling geometry .* has a last window outside the input"),
    ('layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { kernel_size: 2 pad: 2 } }',
     r"Pooling layer 'p': pad \(2, 2\) must be smaller than the kernel"),
    ('layer { name: "r" type: "Reshape" bottom: "data" top: "r" reshape_param { shape { dim: -1 } } }',
     r"Reshape layer 'r': reshaping \(1, 3, 8, 8\) to \(192,\) changes the batch axis"),
    ('layer { name: "e" type: "Eltwise" bottom: "data" bottom: "p" }\n'
     'layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { kernel_size: 2 stride: 2 } }',
     r"bottom blob 'p' is not produced"),
    ('layer { name: "p" type: "Pooling" bottom: "data" top: "p" pooling_param { kernel_size: 2 stride: 2 } }\n'
     'layer { name: "e" type: "Eltwise" bottom: "data" bottom: "p" top: "e" }',
     r"Eltwise layer 'e': bottom shapes differ: bottom 0 is \(1, 3, 8, 8\), bottom 1 is \(1, 3, 4, 4\)"),
    ('layer { name: "c" type: "Convolution" bottom: "data" top: "c" convolution_param { num_output: 4 } }',
     r"Convolution layer 'c': kernel is required"),
    ('layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
     'convolution_param { num_output: 4 kernel_size: 3 group: 2 } }', r"must be divisible by group 2"),
    ('layer { name: "s" type: "Slice" bottom: "data" top: "a" top: "b" slice_param { slice_point: 5 } }',
     r"Slice layer 's': slice_point \[5\] must be 1 increasing positions inside \(0, 3\)"),
])
def test_bad_networks_name_the_layer(tmp_path, text, message):
    with pytest.raises(CaffeImportError, match=message):
        load_caffe(_write(tmp_path, text + "\n"))


def test_input_without_shape(tmp_path):
    proto = tmp_path / "net.prototxt"
    proto.write_text('input: "data"\nlayer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n')
    with pytest.raises(CaffeImportError, match=r"input 'data' has no shape; give input_shape in the prototxt or "
                                               r"input_shapes="):
        load_caffe(proto)


def test_missing_file_and_remote_uri_without_spark(tmp_path):
    with pytest.raises(FileNotFoundError, match="Caffe model file not found: .*nope.prototxt"):
        load_caffe(tmp_path / "nope.prototxt")
    with pytest.raises(ValueError, match="a SparkSession is needed"):
        load_caffe("hdfs://namenode:8020/models/deploy.prototxt")


def test_detection_output_counts_must_match_the_priors(tmp_path):
    proto = tmp_path / "net.prototxt"
    proto.write_text('input: "data"\ninput_shape { dim: 1 dim: 3 dim: 4 dim: 4 }\n'
                     'input: "loc"\ninput_shape { dim: 1 dim: 60 }\ninput: "conf"\ninput_shape { dim: 1 dim: 32 }\n'
                     'layer { name: "pb" type: "PriorBox" bottom: "data" bottom: "data" top: "pb" '
                     'prior_box_param { min_size: 2 } }\n'
                     'layer { name: "det" type: "DetectionOutput" bottom: "loc" bottom: "conf" bottom: "pb" top: "det" '
                     'detection_output_param { num_classes: 2 } }\n')
    with pytest.raises(CaffeImportError, match=r"DetectionOutput layer 'det': 16 priors need 64 box offsets and 32 "
                                               r"confidences per image, got 60 and 32"):
        load_caffe(proto)
