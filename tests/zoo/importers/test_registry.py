"""The importers' converter registry: newest converter at or below the opset, clear errors."""
from __future__ import annotations

import pytest

from zoo.importers.registry import Registry, UnsupportedOperatorError


@pytest.fixture
def registry() -> Registry:
    reg = Registry("ONNX")
    reg.register("Relu", since=6)(lambda: "relu6")
    reg.register("Relu", since=14)(lambda: "relu14")
    reg.register("Attention", since=1, domain="com.microsoft")(lambda: "attn")
    return reg


@pytest.mark.parametrize("version, expected", [(6, "relu6"), (13, "relu6"), (14, "relu14"), (22, "relu14")])
def test_newest_converter_at_or_below_the_opset(registry: Registry, version: int, expected: str) -> None:
    assert registry.lookup("Relu", version=version)() == expected


def test_too_old_opset_names_the_node_and_the_first_supported_version(registry: Registry) -> None:
    with pytest.raises(UnsupportedOperatorError, match=r"ai\.onnx::Relu version 5 \(node 'r1'\).*>= 6"):
        registry.lookup("Relu", version=5, node="r1")


def test_unknown_op_lists_what_is_supported_in_its_domain(registry: Registry) -> None:
    with pytest.raises(UnsupportedOperatorError, match=r"ai\.onnx::Foo version 9.*Supported: Relu$"):
        registry.lookup("Foo", version=9)
    assert registry.lookup("Attention", domain="com.microsoft", version=1)() == "attn"
    assert registry.supported() == {("", "Relu"): [6, 14], ("com.microsoft", "Attention"): [1]}


def test_registering_a_version_twice_is_an_error(registry: Registry) -> None:
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("Relu", since=6)(lambda: None)


def test_zoo_top_level_names_are_lazy_and_unknown_names_fail() -> None:
    import zoo
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        zoo.nope  # noqa: B018
