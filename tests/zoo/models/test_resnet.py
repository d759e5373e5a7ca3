"""ResNet builders: published parameter counts, shapes, torch agreement, weights=, save/load, one training step."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import CrossEntropyLoss, random
from bigdl_runtime.optim import SGD
from bigdl_runtime.serialization import load_model
from zoo.models import resnet
from zoo.models.resnet import resnet18, resnet20, resnet32, resnet44, resnet50, resnet56


def test_imagenet_parameter_counts_match_published():
    """torchvision / Keras applications: 11,689,512 and 25,557,032 parameters with 1000 classes."""
    random.manual_seed(0)
    assert resnet18().num_parameters() == 11_689_512
    assert resnet50().num_parameters() == 25_557_032


@pytest.mark.slow
def test_deep_imagenet_parameter_counts_match_published():
    random.manual_seed(0)
    assert resnet.resnet34().num_parameters() == 21_797_672
    assert resnet.resnet101().num_parameters() == 44_549_160
    assert resnet.resnet152().num_parameters() == 60_192_808


def test_cifar_parameter_counts_match_the_paper():
    """He et al. 2016 Table 6: 0.27M, 0.46M, 0.66M, 0.85M (option A shortcuts have no parameters)."""
    counts = [f(num_classes=10).num_parameters() for f in (resnet20, resnet32, resnet44, resnet56)]
    assert [round(c / 1e6, 2) for c in counts] == [0.27, 0.46, 0.66, 0.85]
    # exactly: per basic block 2 convs + 2 BNs, stem conv + BN, fc
    n_blocks = [(16, 16, 3), (16, 32, 1), (32, 32, 2), (32, 64, 1), (64, 64, 2)]
    exact = 3 * 16 * 9 + 32 + 64 * 10 + 10
    exact += sum(k * (cin * cout * 9 + cout * cout * 9 + 4 * cout) for cin, cout, k in n_blocks)
    assert counts[0] == exact == 269_722


def test_output_shapes_and_include_top(rng):
    random.manual_seed(0)
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    assert resnet18(num_classes=7).forward(x).shape == (2, 7)
    assert resnet18(include_top=False).forward(x).shape == (2, 512)
    assert resnet50(include_top=False).evaluate().forward(x[:1]).shape == (1, 2048)
    grey = rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    assert resnet20(in_channels=1).forward(grey).shape == (2, 10)
    assert resnet20(in_channels=1, include_top=False).forward(grey).shape == (2, 64)
    with pytest.raises(ValueError, match="6n \\+ 2"):
        resnet.resnet_cifar(21)
    with pytest.raises(ValueError, match="depth must be one of"):
        resnet.resnet_imagenet(19)


def test_resnet20_matches_a_torch_reference(rng):
    import torch
    F = torch.nn.functional
    random.manual_seed(0)
    net = resnet20(num_classes=10, in_channels=1)
    state = {k: torch.tensor(v.astype(np.float64)) for k, v in net.state_dict().items()}
    for key in [k for k in state if k.endswith("running_mean")]:  # non-trivial running statistics
        state[key] += 0.1
        state[key.replace("running_mean", "running_var")] *= 1.5
        net.load_state_dict({key: state[key].numpy().astype(np.float32),
                             key.replace("running_mean", "running_var"):
                                 state[key.replace("running_mean", "running_var")].numpy().astype(np.float32)},
                            strict=False)

    def conv_bn(x, name, stride, relu=True):
        w = state[f"{name}conv.weight"]
        y = F.conv2d(x, w, stride=stride, padding=w.shape[-1] // 2)
        y = F.batch_norm(y, state[f"{name}bn.running_mean"], state[f"{name}bn.running_var"],
                         state[f"{name}bn.weight"], state[f"{name}bn.bias"], training=False, eps=1e-5)
        return F.relu(y) if relu else y

    def reference(x):
        h = conv_bn(x, "stem_", 1)
        for stage in (1, 2, 3):
            for i in range(3):
                stride = 2 if stage > 1 and i == 0 else 1
                out = conv_bn(conv_bn(h, f"layer{stage}_{i}_1", stride), f"layer{stage}_{i}_2", 1, relu=False)
                if stride == 2:  # option A: subsample, zero-pad channels on both sides
                    extra = out.shape[1] - h.shape[1]
                    h = F.pad(h[:, :, ::2, ::2], (0, 0, 0, 0, extra // 2, extra - extra // 2))
                h = F.relu(out + h)
        return F.linear(h.mean(dim=(2, 3)), state["fc.weight"], state["fc.bias"])

    x = rng.standard_normal((2, 1, 28, 28))
    net.evaluate()
    ours = net.astype(np.float64).forward(x)
    np.testing.assert_allclose(ours, reference(torch.tensor(x)).numpy(), rtol=1e-9, atol=1e-9)


def test_save_load_round_trip_and_weights_path(tmp_path, rng):
    random.manual_seed(1)
    net = resnet20(num_classes=10, in_channels=1).evaluate()
    x = rng.standard_normal((2, 1, 28, 28)).astype(np.float32)
    net.save(str(tmp_path / "r20.bigdl"))
    np.testing.assert_array_equal(load_model(tmp_path / "r20.bigdl").evaluate().forward(x), net.forward(x))
    random.manual_seed(2)
    again = resnet20(num_classes=10, in_channels=1, weights=tmp_path / "r20.bigdl").evaluate()
    np.testing.assert_array_equal(again.forward(x), net.forward(x))
    features = resnet20(in_channels=1, include_top=False, weights=tmp_path / "r20.bigdl").evaluate()
    assert features.forward(x).shape == (2, 64)
    with pytest.raises(ValueError, match="does not fit.*shape mismatch"):
        resnet20(num_classes=5, in_channels=1, weights=tmp_path / "r20.bigdl")
    with pytest.raises(ValueError, match="no pretrained weights"):
        resnet20(num_classes=10, in_channels=3, weights="pretrained")


def test_one_training_step_lowers_the_loss(rng):
    random.manual_seed(3)
    net = resnet20(num_classes=10, in_channels=1)
    x = rng.standard_normal((8, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 8)
    loss = CrossEntropyLoss()
    opt = SGD(net.parameters(), lr=0.05, momentum=0.0)
    before = loss.forward(net.forward(x), y)
    net.zero_grad()
    net.backward(loss.backward(net.forward(x), y))
    opt.step()
    assert loss.forward(net.forward(x), y) < before - 1e-3
