"""Our parameter names (:mod:`zoo.models.mbconv`'s flat names) -> the source packages' state-dict names."""
from __future__ import annotations


def torchvision_mobilenet_v2(key: str) -> str:
    """``block3_dw_bn.running_mean`` -> ``features.3.conv.1.1.running_mean`` (and stem, head, fc)."""
    layer, tensor = key.rsplit(".", 1)
    if layer in ("stem_conv", "stem_bn"):
        return f"features.0.{0 if layer == 'stem_conv' else 1}.{tensor}"
    if layer in ("head_conv", "head_bn"):
        return f"features.18.{0 if layer == 'head_conv' else 1}.{tensor}"
    if layer == "fc":
        return f"classifier.1.{tensor}"
    block, part, kind = layer.split("_")
    index, slot = int(block[len("block"):]), {"conv": 0, "bn": 1}[kind]
    if index == 1:  # expansion 1: no expand convolution; depthwise at conv.0, projection at conv.1 / conv.2
        where = {"dw": f"0.{slot}", "project": str(1 + slot)}[part]
    else:
        where = {"expand": f"0.{slot}", "dw": f"1.{slot}", "project": str(2 + slot)}[part]
    return f"features.{index}.conv.{where}.{tensor}"


#: (part, kind) of a block -> efficientnet_lite_pytorch's MBConvBlock attribute
_LITE_BLOCK = {("expand", "conv"): "_expand_conv", ("expand", "bn"): "_bn0", ("dw", "conv"): "_depthwise_conv",
               ("dw", "bn"): "_bn1", ("project", "conv"): "_project_conv", ("project", "bn"): "_bn2"}
_LITE_TOP = {"stem_conv": "_conv_stem", "stem_bn": "_bn0", "head_conv": "_conv_head", "head_bn": "_bn1", "fc": "_fc"}


def efficientnet_lite(key: str) -> str:
    """``block3_dw_conv.weight`` -> ``_blocks.2._depthwise_conv.weight`` (efficientnet_lite_pytorch 0.1.0)."""
    layer, tensor = key.rsplit(".", 1)
    if layer in _LITE_TOP:
        return f"{_LITE_TOP[layer]}.{tensor}"
    block, part, kind = layer.split("_")
    return f"_blocks.{int(block[len('block'):]) - 1}.{_LITE_BLOCK[part, kind]}.{tensor}"

