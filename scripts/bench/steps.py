"""Whole training steps: forward, loss, backward and an SGD (momentum 0.9, weight decay 1e-4) update.

Ours is the loop LocalTrainer runs per batch (``zero_grad``, ``forward``, loss forward and
backward, model ``backward``, ``step``); theirs is the PyTorch equivalent on the same
architecture (:mod:`.models`). Targets (issue 8): ResNet-18 and ResNet-20 <= 1.5x PyTorch,
the LSTM text classifier <= 2x; MobileNetV2 (issue 17) <= 1.5x.
"""
from __future__ import annotations

import numpy as np

from bigdl_runtime.nn import CrossEntropyLoss
from bigdl_runtime.optim import SGD

from .common import Case, Runner
from .models import OURS, torch_models

#: model key -> (display name, target ratio)
STEP_MODELS = {"resnet18": ("ResNet-18 3x224x224", 1.5), "resnet20": ("ResNet-20 1x28x28", 1.5),
               "lstm": ("LSTM classifier T200 (20000/128/128)", 2.0),
               "mobilenet_v2": ("MobileNetV2 3x224x224", 1.5)}


def make_batch(model: str, batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A random input batch and integer labels for ``model``."""
    rng = np.random.default_rng(seed)
    if model in ("resnet18", "mobilenet_v2"):
        return rng.standard_normal((batch, 3, 224, 224), dtype=np.float32), rng.integers(0, 1000, batch)
    if model == "resnet20":
        return rng.standard_normal((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch)
    if model == "lstm":
        return rng.integers(1, 20000, (batch, 200)), rng.integers(0, 2, batch)
    raise KeyError(model)


def ours_step(model: str, batch: int) -> Runner:
    """One training step of our runtime on a fixed batch (the model is built once)."""
    net = OURS[model]().train()
    loss = CrossEntropyLoss()
    opt = SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x, y = make_batch(model, batch)

    def step() -> None:
        net.zero_grad()
        out = net.forward(x)
        loss.forward(out, y)
        net.backward(loss.backward(out, y))
        opt.step()

    return step


def torch_step(model: str, batch: int, with_grads: bool = False) -> Runner:
    """The same step in PyTorch; ``with_grads`` allocates ``.grad`` up front (as ours does)."""
    import torch

    net = torch_models()[model]().train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    loss = torch.nn.CrossEntropyLoss()
    x, y = (torch.from_numpy(a) for a in make_batch(model, batch))
    if with_grads:
        for p in net.parameters():
            p.grad = torch.zeros_like(p)

    def step() -> None:
        opt.zero_grad(set_to_none=False)
        loss(net(x), y).backward()
        opt.step()

    return step


def step_case(model: str, batch: int) -> Case:
    title, target = STEP_MODELS[model]

    def setup() -> dict[str, Runner]:
        return {"ours": ours_step(model, batch), "torch": torch_step(model, batch)}

    return Case("train step", f"{title} b{batch}", setup, target=target, extra={"model": model})


def cases(batch_resnet18: int, batch_resnet20: int, batch_lstm: int) -> list[Case]:
    return [step_case("resnet18", batch_resnet18), step_case("resnet20", batch_resnet20),
            step_case("lstm", batch_lstm), step_case("mobilenet_v2", batch_resnet18)]

