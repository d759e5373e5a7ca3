"""Small PyTorch architectures of the common export families, for the real-model import tests.

Needs torch (a test dependency).
"""
from __future__ import annotations

import io

import torch
import torch.nn as tnn


class BasicBlock(tnn.Module):
    """ResNet basic block: two 3x3 conv+BN, identity or 1x1 projection shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1, self.bn1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False), tnn.BatchNorm2d(cout)
        self.conv2, self.bn2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False), tnn.BatchNorm2d(cout)
        self.down = None if stride == 1 and cin == cout else tnn.Sequential(
            tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (x if self.down is None else self.down(x)))


class ResNetTiny(tnn.Module):
    """Stem (7x7/2 conv, 3x3/2 max pool), two stages of basic blocks, global pool, classifier."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.stem = tnn.Sequential(tnn.Conv2d(3, 8, 7, 2, 3, bias=False), tnn.BatchNorm2d(8), tnn.ReLU(),
                                   tnn.MaxPool2d(3, 2, 1))
        self.stages = tnn.Sequential(BasicBlock(8, 8, 1), BasicBlock(8, 16, 2))
        self.fc = tnn.Linear(16, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(tnn.functional.adaptive_avg_pool2d(x, 1), 1))


class InvertedResidual(tnn.Module):
    """MobileNetV2 block: 1x1 expand, 3x3 depthwise, ReLU6, 1x1 linear projection, residual when shapes match."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.use_res = stride == 1 and cin == cout
        self.body = tnn.Sequential(
            tnn.Conv2d(cin, mid, 1, bias=False), tnn.BatchNorm2d(mid), tnn.ReLU6(),
            tnn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), tnn.BatchNorm2d(mid), tnn.ReLU6(),
            tnn.Conv2d(mid, cout, 1, bias=False), tnn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.use_res else self.body(x)


class MobileNetTiny(tnn.Module):
    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.features = tnn.Sequential(
            tnn.Conv2d(3, 8, 3, 2, 1, bias=False), tnn.BatchNorm2d(8), tnn.ReLU6(),
            InvertedResidual(8, 8, 1, 2), InvertedResidual(8, 12, 2, 3), InvertedResidual(12, 12, 1, 3))
        self.classifier = tnn.Sequential(tnn.Dropout(0.2), tnn.Linear(12, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x).mean(dim=(2, 3))
        return self.classifier(x)


class TextRNN(tnn.Module):
    """Embedding -> bidirectional LSTM -> GRU -> last step -> classifier (batch first)."""

    def __init__(self, vocab: int = 50, classes: int = 3) -> None:
        super().__init__()
        self.embed = tnn.Embedding(vocab, 8)
        self.lstm = tnn.LSTM(8, 6, batch_first=True, bidirectional=True)
        self.gru = tnn.GRU(12, 5, batch_first=True)
        self.fc = tnn.Linear(5, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.embed(tokens))
        h, _ = self.gru(h)
        return self.fc(h[:, -1])


class DetectionHead(tnn.Module):
    """SSD-style head on two feature maps: per-location box offsets and class scores, flattened and joined."""

    def __init__(self, anchors: int = 3, classes: int = 4) -> None:
        super().__init__()
        self.anchors, self.classes = anchors, classes
        self.backbone = tnn.Sequential(tnn.Conv2d(3, 8, 3, 2, 1), tnn.ReLU())
        self.down = tnn.Sequential(tnn.Conv2d(8, 8, 3, 2, 1), tnn.ReLU())
        self.loc = tnn.ModuleList([tnn.Conv2d(8, anchors * 4, 3, 1, 1) for _ in range(2)])
        self.conf = tnn.ModuleList([tnn.Conv2d(8, anchors * classes, 3, 1, 1) for _ in range(2)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f1 = self.backbone(x)
        maps = [f1, self.down(f1)]
        n = x.shape[0]
        locs = [l(f).permute(0, 2, 3, 1).reshape(n, -1, 4) for l, f in zip(self.loc, maps)]
        confs = [c(f).permute(0, 2, 3, 1).reshape(n, -1, self.classes) for c, f in zip(self.conf, maps)]
        return torch.cat(locs, 1), torch.softmax(torch.cat(confs, 1), dim=-1)


def randomize_batch_norm(model: tnn.Module, seed: int = 0) -> tnn.Module:
    """Non-trivial running statistics, so that folding or mapping them is actually checked."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, tnn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return model


def export(model: tnn.Module, example: tuple, input_names: list[str], output_names: list[str],
           opset: int = 17, **kwargs) -> bytes:
    """ONNX bytes of ``model`` (TorchScript exporter) with a dynamic batch axis."""
    buf = io.BytesIO()
    dynamic = {name: {0: "batch"} for name in [*input_names, *output_names]}
    torch.onnx.export(model.eval(), example, buf, dynamo=False, input_names=input_names, output_names=output_names,
                      dynamic_axes=dynamic, opset_version=opset, **kwargs)
    return buf.getvalue()
