"""The benchmark networks, built the same way in our runtime and in PyTorch.

Both sides follow one specification so that a row compares like with like:

- ResNet-18, ImageNet layout (7x7/2 stem, 3x3/2 max pool, basic blocks with 1x1/2
  projection shortcuts, global average pooling, 1000-way linear); conv layers have no bias
  and are each followed by batch norm.
- ResNet-20, CIFAR layout for 1-channel 28x28 input (option A shortcuts: subsample by 2
  and zero-pad the new channels), 10 classes.
- The LSTM text classifier: embedding (vocab 20000, 128), one LSTM layer (hidden 128)
  whose final state feeds a 2-way linear layer.
- MobileNetV2 (torchvision's, 1000 classes): ``zoo.models.mobilenet_v2`` and its torch twin.

(When ``zoo.models`` ships these builders the bench can switch to them; the layouts agree.)
"""
from __future__ import annotations

from typing import Any

from bigdl_runtime.nn import (Add, BatchNorm2d, Conv2d, Embedding, Flatten, GlobalAvgPool2d, Graph, Input,
                              Linear, LSTM, MaxPool2d, Pad, ReLU)
from bigdl_runtime.nn.graph import Node


# ------------------------------------------------------------------------ ours
def _conv_bn(x: Node, cin: int, cout: int, k: int, stride: int, name: str, relu: bool = True) -> Node:
    y = BatchNorm2d(cout, name=f"{name}_bn")(Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False,
                                                    name=f"{name}_conv")(x))
    return ReLU(name=f"{name}_relu")(y) if relu else y


def _basic(x: Node, cin: int, cout: int, stride: int, name: str, projection: bool) -> Node:
    h = _conv_bn(_conv_bn(x, cin, cout, 3, stride, f"{name}_1"), cout, cout, 3, 1, f"{name}_2", relu=False)
    if stride == 1 and cin == cout:
        short = x
    elif projection:
        short = _conv_bn(x, cin, cout, 1, stride, f"{name}_down", relu=False)
    else:
        extra = cout - cin
        sub = MaxPool2d(1, stride=stride, name=f"{name}_sub")(x)
        short = Pad([0, extra // 2, 0, 0, 0, extra - extra // 2, 0, 0], name=f"{name}_padc")(sub)
    return ReLU(name=f"{name}_out")(Add(name=f"{name}_add")(h, short))


def ours_resnet18(num_classes: int = 1000) -> Graph:
    x = Input(name="image")
    h = MaxPool2d(3, stride=2, padding=1, name="maxpool")(_conv_bn(x, 3, 64, 7, 2, "stem"))
    cin = 64
    for stage, width in enumerate((64, 128, 256, 512), start=1):
        for i in range(2):
            h = _basic(h, cin, width, 2 if stage > 1 and i == 0 else 1, f"l{stage}_{i}", projection=True)
            cin = width
    return Graph(x, Linear(512, num_classes, name="fc")(Flatten(name="flat")(GlobalAvgPool2d(name="gap")(h))))


def ours_resnet20(num_classes: int = 10, in_channels: int = 1) -> Graph:
    x = Input(name="image")
    h = _conv_bn(x, in_channels, 16, 3, 1, "stem")
    cin = 16
    for stage, width in enumerate((16, 32, 64), start=1):
        for i in range(3):
            h = _basic(h, cin, width, 2 if stage > 1 and i == 0 else 1, f"l{stage}_{i}", projection=False)
            cin = width
    return Graph(x, Linear(64, num_classes, name="fc")(Flatten(name="flat")(GlobalAvgPool2d(name="gap")(h))))


def ours_lstm_classifier(vocab: int = 20000, emb: int = 128, hidden: int = 128, classes: int = 2) -> Graph:
    tokens = Input(name="tokens")
    h = LSTM(emb, hidden, return_sequences=False, name="lstm")(Embedding(vocab, emb, name="embedding")(tokens))
    return Graph(tokens, Linear(hidden, classes, name="fc")(h))


# ----------------------------------------------------------------------- torch
def torch_models() -> dict[str, Any]:
    """The same three networks as torch.nn modules (torch is imported only here)."""
    import torch
    from torch import nn

    class ConvBN(nn.Sequential):
        def __init__(self, cin: int, cout: int, k: int, stride: int, relu: bool = True) -> None:
            layers = [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)]
            super().__init__(*layers, *([nn.ReLU(inplace=True)] if relu else []))

    class Basic(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int, projection: bool) -> None:
            super().__init__()
            self.body = nn.Sequential(ConvBN(cin, cout, 3, stride), ConvBN(cout, cout, 3, 1, relu=False))
            self.identity = stride == 1 and cin == cout
            self.down = ConvBN(cin, cout, 1, stride, relu=False) if projection and not self.identity else None
            self.stride, self.extra = stride, cout - cin

        def forward(self, x: "torch.Tensor") -> "torch.Tensor":
            if self.identity:
                short = x
            elif self.down is not None:
                short = self.down(x)
            else:
                sub = x[:, :, ::self.stride, ::self.stride]
                short = nn.functional.pad(sub, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))
            return torch.relu(self.body(x) + short)

    def resnet(stem: nn.Module, widths: tuple[int, ...], blocks: int, cin: int, classes: int,
               projection: bool) -> nn.Module:
        layers = [stem]
        for stage, width in enumerate(widths):
            for i in range(blocks):
                layers.append(Basic(cin, width, 2 if stage > 0 and i == 0 else 1, projection))
                cin = width
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, classes))

    class LSTMClassifier(nn.Module):
        def __init__(self, vocab: int = 20000, emb: int = 128, hidden: int = 128, classes: int = 2) -> None:
            super().__init__()
            self.embedding = nn.Embedding(vocab, emb)
            self.lstm = nn.LSTM(emb, hidden, batch_first=True)
            self.fc = nn.Linear(hidden, classes)

        def forward(self, tokens: "torch.Tensor") -> "torch.Tensor":
            return self.fc(self.lstm(self.embedding(tokens))[1][0][-1])

    from scripts.imagenet.torch_mobilenet_v2 import MobileNetV2

    return {
        "mobilenet_v2": MobileNetV2,
        "resnet18": lambda: resnet(nn.Sequential(ConvBN(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)),
                                   (64, 128, 256, 512), 2, 64, 1000, True),
        "resnet20": lambda: resnet(ConvBN(1, 16, 3, 1), (16, 32, 64), 3, 16, 10, False),
        "lstm": LSTMClassifier,
    }


def ours_mobilenet_v2() -> Graph:
    """zoo.models.mobilenet_v2 (torchvision's layout; its torch twin is scripts/imagenet/torch_mobilenet_v2.py)."""
    from zoo.models.mobilenet import mobilenet_v2

    return mobilenet_v2()


OURS = {"resnet18": ours_resnet18, "resnet20": ours_resnet20, "lstm": ours_lstm_classifier,
        "mobilenet_v2": ours_mobilenet_v2}
