"""Fashion-MNIST (Zalando): 70,000 grey 28x28 images of clothing in 10 classes.

Read from the idx files of Debian's ``dataset-fashion-mnist`` package
(``/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``);
nothing is downloaded.

Examples:
    >>> images, labels = load_fashion_mnist("test")
    >>> images.shape, images.dtype, labels[:3]
    ((10000, 28, 28), dtype('uint8'), array([9, 2, 1]))
    >>> CLASS_NAMES[labels[0]]
    'Ankle boot'
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
          "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}

# idx type code -> big-endian element type
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one idx file (gzip-compressed if it ends in ``.gz``) into an array.

    The idx format: two zero bytes, a type code, the number of dimensions, each
    dimension as a big-endian uint32, then the values in C order.

    Raises:
        ValueError: naming the file, when the magic number is wrong or the data
            is truncated or too long.
    """
    path = Path(path)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            raw = f.read()
    except (EOFError, OSError, zlib.error) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(f"{path}: cannot decompress ({err}); the file is damaged or truncated") from err
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an idx file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated idx header ({len(raw)} bytes, {ndim} dimensions announced)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: idx data is {len(raw) - header} bytes but shape {shape} needs {expected}"
                         f" ({'truncated' if len(raw) - header < expected else 'trailing bytes'})")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def load_fashion_mnist(split: str = "train", root: str | os.PathLike = DEFAULT_ROOT) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of Fashion-MNIST.

    Args:
        split: ``"train"`` (60,000 images) or ``"test"`` (10,000 images).
        root: directory holding the four ``*-ubyte.gz`` files.

    Returns:
        ``(images, labels)``: ``uint8`` array ``(N, 28, 28)`` (0 = background,
        255 = ink) and ``int64`` array ``(N,)`` of class indices into
        :data:`CLASS_NAMES`.

    Raises:
        FileNotFoundError: the files are missing (install ``dataset-fashion-mnist``).
        ValueError: an unknown split, or a malformed file.
    """
    if split not in _FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root)
    image_file, label_file = (root / name for name in _FILES[split])
    for path in (image_file, label_file):
        if not path.is_file():
            raise FileNotFoundError(f"Fashion-MNIST file {path} not found; "
                                    "install it with: sudo apt-get install dataset-fashion-mnist")
    images = read_idx(image_file)
    labels = read_idx(label_file)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
        raise ValueError(f"{image_file}: expected uint8 images (N, 28, 28), got {images.dtype} {images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{label_file}: expected {images.shape[0]} labels, got shape {labels.shape}")
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise ValueError(f"{label_file}: label {labels.max()} out of range 0..{len(CLASS_NAMES) - 1}")
    return images, labels.astype(np.int64)
