"""Every registered layer class has its own ONNX emitter or declares (``no_emitter``) why it has none.

An emitter inherited from a base class does not count: a subclass may compute something else
(``ConvReLU2d`` is not a ``Conv2d``), so a new layer without its own registration fails here.
"""
from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest

import bigdl_runtime.nn.layers as layers_pkg
from bigdl_runtime.nn import LAYER_REGISTRY, Graph, Input, Linear, NonMaxSuppression, Tanh
from bigdl_runtime.serialization.onnx_export import EMITTERS, NO_EMITTER, UnexportableLayerError, to_onnx_model

for _info in pkgutil.iter_modules(layers_pkg.__path__):
    importlib.import_module(f"{layers_pkg.__name__}.{_info.name}")


def _layer_classes() -> set[type]:
    return {cls for cls in LAYER_REGISTRY.values() if cls.__module__.startswith(layers_pkg.__name__)}


def test_every_registered_layer_has_an_emitter_or_says_it_has_none() -> None:
    missing = sorted(cls.__name__ for cls in _layer_classes() if cls not in EMITTERS and cls not in NO_EMITTER)
    assert not missing, f"layers without an ONNX emitter of their own and no no_emitter(...) declaration: {missing}"


def test_no_layer_has_both_and_every_reason_is_said() -> None:
    assert not set(EMITTERS) & set(NO_EMITTER)
    assert all(len(reason) > 20 for reason in NO_EMITTER.values())


def test_a_declared_layer_fails_with_its_reason() -> None:
    x, s = Input(name="boxes"), Input(name="scores")
    graph = Graph([x, s], NonMaxSuppression(name="nms")(x, s))
    with pytest.raises(UnexportableLayerError, match=r"layer 'nms' of type NonMaxSuppression cannot be exported: "
                                                     r"no emitter for ONNX NonMaxSuppression"):
        to_onnx_model(graph, [(3, 4), (1, 3)])


def test_a_graph_with_a_shared_layer_exports_each_use() -> None:
    import onnxruntime as ort

    fc = Linear(4, 4, name="fc")
    x = Input(name="x")
    model = Graph(x, fc(Tanh()(fc(x))))
    proto = to_onnx_model(model, (4,))
    data = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    session = ort.InferenceSession(proto.SerializeToString())
    (got,) = session.run(None, {"x": data})
    np.testing.assert_allclose(got, model(data), rtol=1e-5, atol=1e-6)
