"""Fashion-MNIST reader: idx parsing on synthetic files, errors, and the installed data set."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from zoo.datasets import CLASS_NAMES, DEFAULT_ROOT, load_fashion_mnist, read_idx


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    dims = np.array(array.shape, dtype=">u4").tobytes()
    return bytes([0, 0, code, array.ndim]) + dims + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_split(root: Path, images: np.ndarray, labels: np.ndarray, split: str = "t10k") -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{split}-images-idx3-ubyte.gz").write_bytes(gzip.compress(idx_bytes(images)))
    (root / f"{split}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))


def test_reads_synthetic_split(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([9, 0, 3, 3, 1], dtype=np.uint8)
    write_split(tmp_path, images, labels)
    got_images, got_labels = load_fashion_mnist("test", root=tmp_path)
    np.testing.assert_array_equal(got_images, images)
    assert got_labels.dtype == np.int64 and got_labels.tolist() == [9, 0, 3, 3, 1]


@pytest.mark.parametrize("dtype, code", [(np.int16, 0x0B), (np.int32, 0x0C), (np.float32, 0x0D)])
def test_read_idx_big_endian_types_uncompressed(tmp_path, dtype, code):
    array = np.arange(-3, 9, dtype=dtype).reshape(3, 4)
    path = tmp_path / "a.idx"
    path.write_bytes(idx_bytes(array, code))
    got = read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


def test_missing_root_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere.*apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("train", root=tmp_path / "nowhere")


def test_unknown_split():
    with pytest.raises(ValueError, match="split must be"):
        load_fashion_mnist("valid")


def corrupt(root: Path, how: str) -> Path:
    labels_file = root / "t10k-labels-idx1-ubyte.gz"
    raw = gzip.decompress(labels_file.read_bytes())
    if how == "magic":
        labels_file.write_bytes(gzip.compress(b"\x00\x00\x99\x01" + raw[4:]))
    elif how == "short data":
        labels_file.write_bytes(gzip.compress(raw[:-1]))
    elif how == "short gzip":
        labels_file.write_bytes(labels_file.read_bytes()[:-12])
    elif how == "count":
        labels_file.write_bytes(gzip.compress(idx_bytes(np.zeros(3, np.uint8))))
    return labels_file


@pytest.mark.parametrize("how, match", [
    ("magic", "bad magic number 00009901"), ("short data", "truncated"),
    ("short gzip", "damaged or truncated"), ("count", "expected 4 labels"),
])
def test_malformed_file_names_it(tmp_path, how, match):
    write_split(tmp_path, np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.uint8))
    path = corrupt(tmp_path, how)
    with pytest.raises(ValueError, match=match) as err:
        load_fashion_mnist("test", root=tmp_path)
    assert str(path) in str(err.value)


def test_wrong_image_shape(tmp_path):
    write_split(tmp_path, np.zeros((2, 27, 28), np.uint8), np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        load_fashion_mnist("test", root=tmp_path)


@pytest.mark.skipif(not Path(DEFAULT_ROOT, "t10k-labels-idx1-ubyte.gz").exists(),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_installed_test_split():
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels[:3].tolist() == [9, 2, 1] and CLASS_NAMES[labels[0]] == "Ankle boot"
    assert np.bincount(labels).tolist() == [1000] * 10
