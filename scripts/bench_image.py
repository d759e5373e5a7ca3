"""Image preprocessing speed: our decode and chains against OpenCV doing the same work, as ratios.

Run: ``.venv/bin/python scripts/bench_image.py [--images N]``. Prints milliseconds per image
for each step and ``ours / OpenCV`` (above 1 means we are slower). OpenCV is a test
dependency (``opencv-python-headless``); it is only the yardstick here.
"""
from __future__ import annotations

import argparse
import io
import time
from typing import Callable

import cv2
import numpy as np
from PIL import Image

from zoo.feature.image import (AspectScale, CenterCrop, ChannelNormalize, ColorJitter, HFlip, ImageRecord, PixelScale,
                               RandomResizedCrop, Resize, ToTensor, decode_image)

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def per_image(fn: Callable[[int], object], n: int, repeats: int = 3) -> float:
    """Median milliseconds of single calls over ``repeats`` passes of ``n`` images.

    The median of single calls, not a mean, so a busy machine's preemptions
    (which hit both sides at random) do not dominate the ratio.
    """
    fn(0)
    times = []
    for _ in range(repeats):
        for i in range(n):
            start = time.perf_counter()
            fn(i)
            times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def opencv_eval(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    s = 256 / min(h, w)
    small = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_LINEAR)
    top, left = (small.shape[0] - 224) // 2, (small.shape[1] - 224) // 2
    crop = small[top:top + 224, left:left + 224].astype(np.float32) / 255.0
    return np.ascontiguousarray(((crop - MEAN) / STD).transpose(2, 0, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=40)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    base = cv2.GaussianBlur(rng.integers(0, 256, (375, 500, 3), dtype=np.uint8), (9, 9), 3)
    images = [np.roll(base, i, axis=1) for i in range(args.images)]
    jpegs = []
    for img in images:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=90)
        jpegs.append(buf.getvalue())
    records = [ImageRecord(img, path=f"/bench/{i}.jpg") for i, img in enumerate(images)]
    eval_chain = AspectScale(256) >> CenterCrop(224, 224) >> PixelScale() >> ChannelNormalize(MEAN, STD) >> ToTensor()
    train_chain = (RandomResizedCrop(224, 224, seed=1) >> HFlip(seed=2) >> ColorJitter(0.4, 0.4, 0.4, 0.1, seed=3)
                   >> PixelScale() >> ChannelNormalize(MEAN, STD) >> ToTensor())
    n = args.images
    rows = [
        ("decode JPEG 500x375", per_image(lambda i: decode_image(jpegs[i], "x.jpg"), n),
         per_image(lambda i: cv2.cvtColor(cv2.imdecode(np.frombuffer(jpegs[i], np.uint8), cv2.IMREAD_COLOR),
                                          cv2.COLOR_BGR2RGB), n)),
        ("resize 500x375 -> 341x256", per_image(lambda i: Resize(256, 341)(images[i]), n),
         per_image(lambda i: cv2.resize(images[i], (341, 256), interpolation=cv2.INTER_LINEAR), n)),
        ("resize antialias 500x375 -> 341x256 (OpenCV INTER_AREA)",
         per_image(lambda i: Resize(256, 341, interpolation="antialias")(images[i]), n),
         per_image(lambda i: cv2.resize(images[i], (341, 256), interpolation=cv2.INTER_AREA), n)),
        ("eval chain (scale, crop, normalise, CHW)", per_image(lambda i: eval_chain.run(records[i]), n),
         per_image(lambda i: opencv_eval(images[i]), n)),
        ("train chain (random resized crop, flip, jitter, ...)", per_image(lambda i: train_chain.run(records[i]), n),
         float("nan")),
    ]
    print(f"{'step':55s} {'ours ms':>9s} {'OpenCV ms':>10s} {'ratio':>7s}")
    for name, ours, ref in rows:
        print(f"{name:55s} {ours:9.2f} {ref:10.2f} {ours / ref:7.2f}")


if __name__ == "__main__":
    main()
