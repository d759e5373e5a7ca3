"""Every layer type survives the model file: same config, same weights, identical outputs.

The CASES tables of the ``cases_*.py`` modules next to this file must name every layer
class the runtime registers, so a new layer without a round-trip case fails here.
"""
from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import numpy as np
import pytest

import bigdl_runtime.nn.layers as layers_pkg
from bigdl_runtime.nn import LAYER_REGISTRY, Module, layers as L
from bigdl_runtime.serialization import model_from_bytes, model_to_bytes

for _info in pkgutil.iter_modules(layers_pkg.__path__):
    importlib.import_module(f"{layers_pkg.__name__}.{_info.name}")

# layer class name -> (factory, input shapes, [input kind]); several shapes = several inputs.
# Gathered from every cases_*.py module next to this file. The optional third item is a
# function (rng, shape) -> array for inputs that are not standard normal floats (indices...).
CASES: dict[str, tuple] = {}
for _info in pkgutil.iter_modules([str(Path(__file__).parent)]):
    if _info.name.startswith("cases_"):
        _cases = importlib.import_module(f"{__package__}.{_info.name}").CASES
        _dup = set(_cases) & set(CASES)
        assert not _dup, f"round-trip cases defined twice: {sorted(_dup)}"
        CASES.update(_cases)


def _layer_classes() -> set[str]:
    return {cls.__name__ for cls in LAYER_REGISTRY.values() if cls.__module__.startswith(layers_pkg.__name__)}


def test_every_registered_layer_has_a_case() -> None:
    missing = sorted(_layer_classes() - set(CASES))
    assert not missing, f"layers without a round-trip case: {missing}"


def _inputs(case: tuple, layer: Module, rng: np.random.Generator) -> list[np.ndarray]:
    shapes = case[1]
    if len(case) > 2:
        return [case[2](rng, s) for s in shapes]
    if isinstance(layer, L.Embedding):
        return [rng.integers(0, 10, size=s) for s in shapes]
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def _outputs(y) -> list[np.ndarray]:
    return list(y) if isinstance(y, tuple) else [y]


@pytest.mark.parametrize("kind", sorted(CASES))
def test_round_trip_gives_identical_outputs(kind: str) -> None:
    rng = np.random.default_rng(7)
    layer = CASES[kind][0]()
    for p in layer.parameters():  # weights and buffers that differ from any constructor default
        p.data[...] = rng.standard_normal(p.data.shape)
    for key, buf in layer.state_dict().items():
        if key.startswith("running_var"):
            layer.load_state_dict({**layer.state_dict(), key: rng.uniform(0.5, 2.0, buf.shape)})
    layer.evaluate()
    x = _inputs(CASES[kind], layer, rng)
    expected = _outputs(layer.forward(*x))

    loaded = model_from_bytes(model_to_bytes(layer, note=kind))
    assert type(loaded) is type(layer)
    assert loaded.get_config() == layer.get_config()
    loaded.evaluate()
    for got, want in zip(_outputs(loaded.forward(*x)), expected):
        np.testing.assert_array_equal(got, want)
