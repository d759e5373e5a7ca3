"""The main job end to end at reduced size (`zoo finetune --epochs 1`): the catalog's LeNet-5 on the bundled
MNIST digits through Spark; fine-tuning must beat the untrained head; outputs are written and reload."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from PIL import Image

from bigdl_runtime.serialization import load_model, read_metadata
from zoo.cli import main
from zoo.pipeline import NNClassifierModel
from zoo.catalog.preprocess import image_chain
from zoo.pipeline.finetune import BUNDLED_IMAGES


def test_bundled_images_are_a_small_labelled_train_test_split():
    for split, per_digit in (("train", 24), ("test", 16)):
        for digit in range(10):
            files = sorted((BUNDLED_IMAGES / split / str(digit)).glob("*.png"))
            assert len(files) == per_digit
    image = np.asarray(Image.open(BUNDLED_IMAGES / "train" / "3" / "000.png"))
    assert image.shape == (28, 28) and image.dtype == np.uint8 and image.max() > 200 and image.min() == 0
    assert sum(f.stat().st_size for f in BUNDLED_IMAGES.rglob("*.png")) < 200_000


def test_card_preprocessing_becomes_an_equivalent_image_chain():
    from zoo.catalog.preprocess import normalise
    from zoo.feature.image import Pipeline

    spec = {"kind": "image", "color": "L", "size": [28, 28], "scale": 1 / 255, "mean": [0.286], "std": [0.353]}
    chain = image_chain(spec)
    pixels = np.asarray(Image.open(BUNDLED_IMAGES / "test" / "7" / "000.png"))
    rgb = np.repeat(pixels[..., None], 3, axis=-1)       # images read in colour are made grey by the chain
    for image in (pixels[..., None], rgb):
        np.testing.assert_allclose(Pipeline.from_json(chain.to_json())(image), normalise(pixels[None], spec)[0],
                                   rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="'text' inputs"):
        image_chain({"kind": "text"})


def test_cli_lists_the_catalog_and_rejects_unknown_commands(capsys):
    assert main(["models"]) == 0
    assert "lenet5-fashion-mnist" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train"])


def test_cli_help_gives_every_default(capsys):
    with pytest.raises(SystemExit):
        main(["finetune", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option, default in (("--batch-size", "32"), ("--epochs", "4"), ("--seed", "0"), ("--master", "local[*]")):
        assert f"{option} " in text and f"(default: {default})" in text, option


def _images(root, layout: dict[str, list[str]]):
    """A folder whose entries (relative paths) hold a copy of one bundled digit each."""
    digit = (BUNDLED_IMAGES / "train" / "3" / "000.png").read_bytes()
    for split, files in layout.items():
        for name in files:
            (root / split / name).parent.mkdir(parents=True, exist_ok=True)
            (root / split / name).write_bytes(digit)
    return root


@pytest.mark.parametrize("layout, message", [
    ({"train": ["a.png", "b.png"], "test": ["c.png"]},                    # no class folders: named as such
     r"'.*/train' holds 2 files and no class folders \(e.g. \['a.png', 'b.png'\]\); expected the layout "
     r"<images>/<split>/<class>/<image>"),
    ({"train": ["x/a.png", "y/b.png", "loose.png"], "test": ["x/c.png"]},
     r"'.*/train' holds 1 files outside class folders \(e.g. \['loose.png'\]\)"),
    ({"train": ["x/a.png", "y/b.png"]}, r"'.*' has no 'test' folder \(expected the layout .*; it holds \['train'\]"),
    ({"train": ["x/a.png"], "test": ["x/c.png"]}, r"'.*/train' has 1 class folder \['x'\]; a classifier needs"),
    ({"train": ["x/a.png", "y/b.png"], "test": ["z/c.png"]},
     r"'.*/test' has class folders \['z'\] that '.*/train' does not have \(\['x', 'y'\]\)"),
])
def test_cli_names_a_wrong_folder_layout_in_one_line(spark, tmp_path, capsys, layout, message):
    root = _images(tmp_path / "images", layout)
    assert main(["finetune", "--images", str(root), "--output", str(tmp_path / "out"), "--no-progress"]) == 1
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("zoo finetune: error: "), captured.err
    assert re.search(message, errors[0]), errors[0]
    assert "[1/5]" not in captured.out                                      # nothing was read or trained


@pytest.mark.parametrize("argv, message", [
    (["--images", "/no/such/folder"], "images folder '/no/such/folder' does not exist"),
    (["--model", "lenet5"], "no pretrained model named 'lenet5'; did you mean 'lenet5-fashion-mnist'?"),
    (["--cut-layer", "pool9"], "Graph('lenet5'): no node named 'pool9'; known: ['input', 'conv1'"),
    (["--epochs", "0"], "epochs must be >= 1, got 0"),
    (["--batch-size", "-2"], "batch_size must be >= 1, got -2"),
    (["--master", "sparc://host"], "--master 'sparc://host' is not a Spark master URL"),
    (["--model", "lstm-imdb"], "model 'lstm-imdb' takes text input (card preprocessing kind), not image"),
])
def test_cli_user_errors_print_one_line_not_a_traceback(spark, tmp_path, capfd, argv, message):
    status = main(["finetune", "--output", str(tmp_path / "out"), "--no-progress", *argv])
    captured = capfd.readouterr()                                           # the JVM's output too (file descriptors)
    errors = captured.err.strip().splitlines()
    assert status == 1 and len(errors) == 1 and errors[0].startswith("zoo finetune: error: "), captured.err
    assert message in errors[0]


def test_finetune_job_end_to_end_beats_the_untrained_head(spark, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    images = shutil.copytree(BUNDLED_IMAGES, tmp_path / "digits")
    (images / "train" / "3" / "notes.txt").write_text("not an image")      # ignored, and named in the report
    out = tmp_path / "run"                      # file:// URIs: input and output go through Hadoop's FileSystem
    status = main(["finetune", "--epochs", "1", "--batch-size", "48", "--images", images.as_uri(),
                   "--output", out.as_uri(), "--no-progress"])
    captured = capsys.readouterr()
    printed = captured.out
    assert "zoo finetune: warning: read 240 images; skipped 0 bad, 0 unlabelled; ignored 1 non-image files" \
        in captured.err and "Ignored: " in captured.err and "train/3/notes.txt" in captured.err, captured.err
    assert status == 0, printed
    accuracies = {}
    for line in printed.split("held-out accuracy on", 1)[-1].splitlines():
        for key in ("(before)", "backbone frozen", "(after)", "from scratch"):
            if key in line:
                accuracies[key] = float(line.rsplit(None, 1)[-1].rstrip("%")) / 100
    assert accuracies.keys() == {"(before)", "backbone frozen", "(after)", "from scratch"}, printed
    assert accuracies["(after)"] > accuracies["(before)"] + 0.15, printed
    assert 0.0 <= accuracies["(before)"] <= 0.3                            # an untrained head: about chance
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    tuned = load_model(str(out / "finetuned.bigdl"))
    meta = read_metadata(str(out / "finetuned.bigdl"))
    assert meta["labels"] == [str(d) for d in range(10)] and meta["base_model"] == "lenet5-fashion-mnist"
    assert abs(meta["test_top1"] - accuracies["(after)"]) < 1e-3
    assert all(p.trainable for p in tuned.parameters())
    stage = NNClassifierModel.load(str(out / "nn-classifier-model"))
    assert stage.getFeaturesCol() == "image" and stage.getFeaturePreprocessing()
