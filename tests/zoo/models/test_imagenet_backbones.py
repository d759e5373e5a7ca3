"""MobileNetV2 and EfficientNet-Lite: published parameter counts, TF "SAME" padding, cut points, training
steps, and the catalog's ImageNet weights on real photos (scikit-image's, read from its installed package
folder without importing it): sensible top-1 classes, and the source implementation in torch within 1e-4."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import zoo
from bigdl_runtime.nn import CrossEntropyLoss, random
from zoo.models import efficientnet_lite0, efficientnet_lite1, efficientnet_lite2, mobilenet_v2
from zoo.models.efficientnet_lite import efficientnet_lite
from zoo.models.mbconv import tf_same_padding

#: photo -> ImageNet classes that are a right answer for it
EXPECTED = {"chelsea.png": {"tabby", "tiger cat", "Egyptian cat"}, "coffee.png": {"espresso", "cup"},
            "motorcycle_left.png": {"moped", "motor scooter"}}


def _photos() -> list[Path]:
    spec = importlib.util.find_spec("skimage")  # finds the package folder; nothing of it is imported
    folder = Path(list(spec.submodule_search_locations)[0]) / "data" if spec else None
    if folder is None or not all((folder / name).is_file() for name in EXPECTED):
        pytest.skip("scikit-image's photos absent: pip install --no-deps scikit-image==0.26.0")
    return [folder / name for name in EXPECTED]


def test_parameter_counts_match_the_sources():
    """torchvision's mobilenet_v2: 3,504,872; efficientnet_lite_pytorch lite0/1/2: 4,652,008 / 5,416,680 / 6,092,072."""
    random.manual_seed(0)
    assert mobilenet_v2().num_parameters() == 3_504_872
    assert [f().num_parameters() for f in (efficientnet_lite0, efficientnet_lite1, efficientnet_lite2)] == [
        4_652_008, 5_416_680, 6_092_072]
    with pytest.raises(ValueError, match="variant must be one of"):
        efficientnet_lite(7)


def test_tf_same_padding_puts_the_odd_pixel_after():
    assert tf_same_padding(224)(3, 2) == [0, 0, 1, 1]       # 224 -> 112: pad 1, all of it after
    assert tf_same_padding(225)(3, 2) == [1, 1, 1, 1]       # odd size: pad 2, split
    assert tf_same_padding(28)(5, 2) == [1, 1, 2, 2]        # 28 -> 14: pad 3
    assert tf_same_padding(14)(5, 1) == [2, 2, 2, 2] and tf_same_padding(7)(1, 1) == [0, 0, 0, 0]
    net = efficientnet_lite0()
    assert net.node("stem_conv").module.padding == [0, 0, 1, 1]
    assert net.node("block2_dw_conv").module.padding == [0, 0, 1, 1]  # 3x3/2 on 112
    assert net.node("block4_dw_conv").module.padding == [1, 1, 2, 2]  # 5x5/2 on 56
    bn = net.node("block4_dw_bn").module
    assert (bn.eps, bn.momentum) == (1e-3, 0.01)
    assert mobilenet_v2().node("block2_dw_conv").module.padding == [1, 1]


@pytest.mark.parametrize("build", [mobilenet_v2, efficientnet_lite0], ids=["mobilenet_v2", "lite0"])
def test_cut_points_include_top_and_depthwise_groups(build, rng):
    random.manual_seed(1)
    net = build(num_classes=5).evaluate()
    x = rng.standard_normal((2, 3, 64, 64)).astype(np.float32)
    outputs = net.new_graph(outputs=["feature_map", "pool", "features"]).evaluate().forward(x)
    assert [o.shape for o in outputs] == [(2, 1280, 2, 2), (2, 1280, 1, 1), (2, 1280)]
    np.testing.assert_allclose(outputs[2], outputs[0].mean(axis=(2, 3)), rtol=1e-5, atol=1e-6)
    assert net.forward(x).shape == (2, 5)
    headless = build(include_top=False)
    headless.load_state_dict({k: v for k, v in net.state_dict().items() if not k.startswith("fc.")})
    np.testing.assert_array_equal(headless.evaluate().forward(x), outputs[2])
    dw = net.node("block3_dw_conv").module
    assert dw.groups == dw.in_channels == dw.out_channels == 144
    with pytest.raises(ValueError, match="no pretrained weights"):
        build(num_classes=5, weights="pretrained")


def test_training_gradients_match_torchvision_mobilenet_v2(rng):
    """A training-mode step (batch statistics, ReLU6 and depthwise backward) gives torch's loss and gradients."""
    torch = pytest.importorskip("torch")
    from scripts.imagenet.names import torchvision_mobilenet_v2
    from scripts.imagenet.torch_mobilenet_v2 import MobileNetV2

    random.manual_seed(3)
    net = mobilenet_v2(num_classes=4, dropout=0.0)
    source = MobileNetV2(num_classes=4, dropout=0.0).double().train()
    state = {torchvision_mobilenet_v2(k): torch.from_numpy(v.astype(np.float64)) for k, v in net.state_dict().items()}
    source.load_state_dict({**source.state_dict(), **state}, strict=True)
    x = rng.standard_normal((4, 3, 32, 32))
    y = np.array([0, 1, 2, 3])
    net = net.astype(np.float64)
    loss = CrossEntropyLoss()
    ours = loss.forward(net.forward(x), y)
    net.zero_grad()
    net.backward(loss.backward(net.forward(x), y))
    theirs = torch.nn.functional.cross_entropy(source(torch.from_numpy(x)), torch.from_numpy(y))
    theirs.backward()
    assert ours == pytest.approx(theirs.item(), rel=1e-9)
    grads = dict(source.named_parameters())
    for key, param in net.named_parameters():
        np.testing.assert_allclose(param.grad, grads[torchvision_mobilenet_v2(key)].grad.numpy(), rtol=1e-6,
                                   atol=1e-9, err_msg=key)


@pytest.mark.parametrize("name", ["mobilenet-v2-imagenet", "efficientnet-lite0-imagenet"])
def test_catalog_backbones_name_real_photos(name):
    photos = _photos()
    net = zoo.load_pretrained(name)          # checksum verified first
    assert len(net.labels) == 1000 and net.labels[281] == "tabby"
    for photo, top in zip(photos, net.predict_images(photos, top_k=1)):
        assert top[0][0] in EXPECTED[photo.name], (photo.name, top)
        assert top[0][1] > 0.3
    assert net.card["source"]["license"] and net.card["metrics"]["max_abs_deviation_from_source"] < 1e-4
    headless = {"mobilenet-v2-imagenet": mobilenet_v2, "efficientnet-lite0-imagenet": efficientnet_lite0}[name](
        num_classes=3, include_top=False, weights="pretrained").evaluate()
    x = net.preprocess_images(photos[:1])
    np.testing.assert_array_equal(headless.forward(x), net.model.new_graph(outputs=["features"]).forward(x))


def _torch_source(name: str):
    torch = pytest.importorskip("torch")
    if name == "mobilenet-v2-imagenet":
        from scripts.imagenet.names import torchvision_mobilenet_v2 as names
        from scripts.imagenet.torch_mobilenet_v2 import MobileNetV2

        model = MobileNetV2()
    else:
        pytest.importorskip("efficientnet_lite_pytorch", reason="pip install --no-deps efficientnet-lite-pytorch==0.1.0")
        from efficientnet_lite_pytorch import EfficientNet

        from scripts.imagenet.names import efficientnet_lite as names

        model = EfficientNet.from_name("efficientnet-lite0")
    return torch, model, names


@pytest.mark.parametrize("name", ["mobilenet-v2-imagenet", "efficientnet-lite0-imagenet"])
def test_catalog_backbones_match_the_source_implementation_in_torch(name):
    """Our shipped weights, loaded strictly into the source implementation, give the same logits within 1e-4."""
    torch, source, names = _torch_source(name)
    photos = _photos()
    net = zoo.load_pretrained(name)
    theirs = source.state_dict()
    state = {names(k): torch.from_numpy(np.ascontiguousarray(v)) for k, v in net.model.state_dict().items()}
    state.update({k: v for k, v in theirs.items() if k.endswith("num_batches_tracked")})
    source.load_state_dict(state, strict=True)
    x = net.preprocess_images(photos)
    with torch.no_grad():
        reference = source.eval()(torch.from_numpy(x)).numpy()
    ours = net.predict(x)
    assert np.abs(ours - reference).max() < 1e-4
    assert (ours.argmax(axis=1) == reference.argmax(axis=1)).all()


def test_image_cards_resize_the_shorter_side_and_centre_crop(tmp_path, rng):
    """``resize_shorter`` (torchvision: 300x200 -> 384x256, crop 224) and ``crop_fraction`` (TF: crop 175, resize)."""
    from PIL import Image

    from zoo.catalog.preprocess import load_images

    pixels = rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    image = Image.fromarray(pixels)
    base = {"kind": "image", "color": "RGB", "size": [224, 224], "resize": "bilinear"}
    torchvision_style = load_images([tmp_path / "wide.png"], {**base, "resize_shorter": 256})
    expected = np.asarray(image.resize((384, 256), Image.Resampling.BILINEAR).crop((80, 16, 304, 240)), np.float32)
    np.testing.assert_array_equal(torchvision_style[0], expected.transpose(2, 0, 1))
    tf_style = load_images([tmp_path / "wide.png"], {**base, "crop_fraction": 0.875})
    expected = np.asarray(image.crop((63, 13, 238, 188)).resize((224, 224), Image.Resampling.BILINEAR), np.float32)
    np.testing.assert_array_equal(tf_style[0], expected.transpose(2, 0, 1))


@pytest.mark.parametrize("variant, size", [(1, 240), (2, 260)])
def test_lite1_and_lite2_match_the_source_package_with_random_weights(variant, size, rng):
    torch = pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite_pytorch", reason="pip install --no-deps efficientnet-lite-pytorch==0.1.0")
    from efficientnet_lite_pytorch import EfficientNet

    from scripts.imagenet.names import efficientnet_lite as names

    torch.manual_seed(variant)
    source = EfficientNet.from_name(f"efficientnet-lite{variant}").eval()
    with torch.no_grad():
        for module in source.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    ours = efficientnet_lite(variant).evaluate()
    theirs = source.state_dict()
    ours.load_state_dict({k: theirs[names(k)].numpy() for k in ours.state_dict()})
    x = rng.standard_normal((1, 3, size, size)).astype(np.float32)
    with torch.no_grad():
        reference = source(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours.forward(x), reference, rtol=1e-4, atol=1e-6)
