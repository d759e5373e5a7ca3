"""A folder of labelled images with every kind of bad file, shared by the reading tests."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

#: max_pixels the tests read with: the 120x100 "huge" image exceeds it, the good ones (<= 40x30) do not.
MAX_PIXELS = 5000


def encode(array: np.ndarray, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def make_folder(root: Path) -> dict[str, object]:
    """cat/ and dog/ with 3 good images each (PNG, JPEG, grayscale, RGBA, palette) and 4 bad ones."""
    rng = np.random.default_rng(7)
    good: dict[str, np.ndarray] = {}
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
    specs = [("cat/a.png", "PNG", "RGB"), ("cat/b.png", "PNG", "L"), ("cat/c.png", "PNG", "RGBA"),
             ("dog/a.png", "PNG", "P"), ("dog/b.bmp", "BMP", "RGB"), ("dog/c.png", "PNG", "RGB")]
    for name, fmt, mode in specs:
        pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
        img = Image.fromarray(pixels).convert(mode)
        img.save(root / name, format=fmt)
        good[str(root / name)] = np.asarray(img.convert("RGB"))
    jpeg = encode(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), "JPEG", quality=90)
    bad = {
        str(root / "cat" / "corrupt.jpg"): b"this is not an image at all" * 10,
        str(root / "dog" / "empty.png"): b"",
        str(root / "dog" / "truncated.jpg"): jpeg[: len(jpeg) // 2],
        str(root / "cat" / "huge.png"): encode(np.zeros((100, 120, 3), np.uint8), "PNG"),
    }
    for path, data in bad.items():
        Path(path).write_bytes(data)
    (root / "cat" / "notes.txt").write_text("not an image")
    return {"good": good, "bad": sorted(bad), "ignored": [str(root / "cat" / "notes.txt")]}


@pytest.fixture
def image_folder(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    root = tmp_path / "images"
    return root, make_folder(root)
