"""The catalog on a temporary model root: listing, cards, checksums, errors and predict_images."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bigdl_runtime.nn import Flatten, Linear, Sequential
from zoo import catalog
from zoo.catalog import ChecksumError, UnknownModelError


def _bright_or_dark(name: str = "tiny-brightness") -> tuple[Sequential, dict]:
    """A 2x2 grey-image classifier whose logits are (+mean, -mean) of the normalised pixels."""
    model = Sequential(Flatten(), Linear(4, 2, name="fc"), name="tiny")
    model.fc.weight.data[...] = np.array([[0.25] * 4, [-0.25] * 4], np.float32)
    model.fc.bias.data[...] = 0.0
    card = {"name": name, "builder": "tests", "input_shape": [1, 2, 2], "labels": ["bright", "dark"],
            "preprocessing": {"kind": "image", "color": "L", "size": [2, 2], "resize": "bilinear",
                              "scale": 1 / 255, "mean": [0.5], "std": [0.25], "layout": "NCHW"},
            "metrics": {"top1": 1.0}, "training": {"recipe": "tests/zoo/catalog/test_catalog.py"}}
    return model, card


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv(catalog.ENV_VAR, str(tmp_path))
    model, card = _bright_or_dark()
    catalog.write_model_folder(tmp_path / card["name"], model, card)
    return tmp_path


def test_card_written_then_read_back_equal(tmp_path):
    card = {"name": "m", "builder": "b", "file": "model.bigdl", "sha256": "00", "input_shape": [3, 32, 32],
            "labels": ['quote " and \\ slash', "b"], "flag": True,
            "preprocessing": {"kind": "image", "mean": [0.1, 0.2, 0.3], "size": [32, 32]},
            "metrics": {"top1": 0.5, "nested": {"k": 1}}, "training": {"command": "python x.py --a 'b c'"},
            "files": {"vocab.txt": "ab"}}
    catalog.write_card(tmp_path / "model.toml", card)
    assert catalog.read_card(tmp_path / "model.toml") == card


def test_card_errors_name_the_file(tmp_path):
    bad = tmp_path / "model.toml"
    bad.write_text("name = \n")
    with pytest.raises(ValueError, match=r"model\.toml.*not valid TOML"):
        catalog.read_card(bad)
    bad.write_text('name = "x"\nbuilder = "y"\n')
    with pytest.raises(ValueError, match="missing required key 'file'"):
        catalog.read_card(bad)
    with pytest.raises(TypeError, match="metrics.top1"):
        catalog.write_card(bad, {"metrics": {"top1": float("nan")}})
    with pytest.raises(TypeError, match="NoneType"):
        catalog.write_card(bad, {"x": None})


def test_list_card_and_load(root):
    assert "tiny-brightness" in catalog.list_models()
    card = catalog.model_card("tiny-brightness")
    assert card["sha256"] == catalog.sha256_of(root / "tiny-brightness" / "model.bigdl")
    card["labels"].append("changed")
    assert catalog.model_card("tiny-brightness")["labels"] == ["bright", "dark"]
    net = catalog.load_pretrained("tiny-brightness")
    assert isinstance(net, catalog.PretrainedModel) and not net.model.training
    assert net.labels == ["bright", "dark"] and net.num_parameters() == 10  # falls through to the module
    np.testing.assert_allclose(net.forward(np.ones((1, 1, 2, 2), np.float32)), [[1.0, -1.0]], rtol=1e-6)


def test_predict_images_applies_the_card_preprocessing(root, tmp_path):
    paths = []
    for value, size in ((255, (5, 3)), (0, (2, 2)), (153, (2, 2))):
        path = tmp_path / f"img{value}.png"
        Image.new("RGB", size, (value, value, value)).save(path)  # RGB and other sizes: converted and resized
        paths.append(path)
    result = catalog.load_pretrained("tiny-brightness").predict_images(paths, top_k=2)
    for (label, score), value in zip([r[0] for r in result], (255, 0, 153)):
        z = (value / 255 - 0.5) / 0.25  # normalised pixel; logits (z, -z); softmax of the winner
        assert label == ("bright" if z > 0 else "dark")
        assert score == pytest.approx(1 / (1 + np.exp(-2 * abs(z))), rel=1e-5)
    assert [lab for lab, _ in result[0]] == ["bright", "dark"] and result[0][0][1] + result[0][1][1] == pytest.approx(1)


def test_predict_images_bad_file_named(root, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="junk.png"):
        catalog.load_pretrained("tiny-brightness").predict_images([junk])
    with pytest.raises(ValueError, match="takes image input.*not text"):
        catalog.load_pretrained("tiny-brightness").predict_texts(["hello"])


def test_unknown_name_suggests_close_matches(root):
    with pytest.raises(UnknownModelError, match="did you mean 'tiny-brightness'") as err:
        catalog.load_pretrained("tiny-brigthness")
    assert "known models" in str(err.value)
    with pytest.raises(UnknownModelError, match="no pretrained model named 'zzz'"):
        catalog.model_card("zzz")


def test_tampered_weights_fail_before_loading(root):
    weights = root / "tiny-brightness" / "model.bigdl"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="SHA-256.*damaged or was modified"):
        catalog.load_pretrained("tiny-brightness")


def test_missing_weights_file(root):
    (root / "tiny-brightness" / "model.bigdl").unlink()
    with pytest.raises(FileNotFoundError, match="model.bigdl.*missing"):
        catalog.load_pretrained("tiny-brightness")


def test_card_name_must_match_folder(root):
    (root / "tiny-brightness").rename(root / "other-name")
    with pytest.raises(ValueError, match="names 'tiny-brightness'.*folder is 'other-name'"):
        catalog.model_card("other-name")


def test_first_root_shadows_later_ones(tmp_path, monkeypatch):
    first, second = tmp_path / "a", tmp_path / "b"
    for root, labels in ((first, ["x", "y"]), (second, ["p", "q"])):
        model, card = _bright_or_dark("same")
        card["labels"] = labels
        catalog.write_model_folder(root / "same", model, card)
    monkeypatch.setenv(catalog.ENV_VAR, f"{first}:{second}")
    assert catalog.model_card("same")["labels"] == ["x", "y"]
    assert catalog.model_roots()[:2] == [first, second]


def test_installed_package_data_is_a_root(tmp_path, monkeypatch):
    """In a wheel the models are the package data of ``zoo.pretrained``; the locator asks importlib for it."""
    import importlib.machinery
    import importlib.util

    model, card = _bright_or_dark("from-wheel")
    catalog.write_model_folder(tmp_path / "from-wheel", model, card)
    spec = importlib.machinery.ModuleSpec("zoo.pretrained", None, is_package=True)
    spec.submodule_search_locations = [str(tmp_path)]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: spec if name == "zoo.pretrained" else real(name, *a))
    monkeypatch.delenv(catalog.ENV_VAR, raising=False)
    assert "from-wheel" in catalog.list_models()
    assert catalog.load_pretrained("from-wheel").labels == ["bright", "dark"]
