"""Accuracy and size of the shipped models quantised to int8 by ``bigdl_runtime.quantize`` (issue 20).

Fashion-MNIST models (lenet5-fashion-mnist, resnet20-fashion-mnist): calibrated on the first 500 training
images, top-1 measured on the whole test split (10,000 images, never trained or calibrated on), for each
calibration method; the int8 model file's size against the float32 one.

ImageNet backbones (mobilenet-v2-imagenet, efficientnet-lite0-imagenet): ImageNet itself is not available
offline, so they are calibrated on 256 random crops of scikit-image's other photos and compared with the
float model on the five photos the catalog tests use (docs/imagenet-backbones.md): the top-5 classes of
each (how many agree, whether the top-1 is the same) and the largest change of a softmax score.

    .venv/bin/python scripts/quantize_accuracy.py [--json scripts/bench/results/int8-accuracy.json]
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import bigdl_runtime as br
import zoo
from bigdl_runtime.quantization import METHODS
from zoo import catalog

FASHION = ("lenet5-fashion-mnist", "resnet20-fashion-mnist")
IMAGENET = ("mobilenet-v2-imagenet", "efficientnet-lite0-imagenet")
EVAL_PHOTOS = ("chelsea.png", "coffee.png", "motorcycle_left.png", "astronaut.png", "rocket.jpg")
CALIBRATION_PHOTOS = ("brick.png", "camera.png", "cell.png", "color.png", "grass.png", "gravel.png", "horse.png",
                      "hubble_deep_field.jpg", "ihc.png", "logo.png", "microaneurysms.png", "moon.png", "page.png",
                      "retina.jpg", "text.png", "motorcycle_right.png", "clock_motion.png", "chessboard_RGB.png")


def _forward(model, x: np.ndarray, batch: int = 500) -> np.ndarray:
    return np.concatenate([model.forward(x[i:i + batch]) for i in range(0, len(x), batch)])


def _size(model, folder: str, name: str) -> int:
    path = os.path.join(folder, name)
    model.save(path)
    return os.path.getsize(path)


def fashion(name: str, folder: str) -> dict:
    from zoo.datasets import load_fashion_mnist
    from zoo.models.lenet import preprocess

    train, _ = load_fashion_mnist("train")
    test, labels = load_fashion_mnist("test")
    calibration, images = preprocess(train[:500]), preprocess(test)
    net = br.load(str(catalog.model_folder(name) / "model.bigdl")).evaluate()
    float_pred = _forward(net, images).argmax(1)
    row = {"model": name, "test_images": len(images), "calibration_images": len(calibration),
           "float32_top1": float((float_pred == labels).mean()), "float32_bytes": _size(net, folder, "f32.bigdl")}
    for method in METHODS:
        t0 = time.perf_counter()
        q = br.quantize(net, calibration, method=method)
        seconds = time.perf_counter() - t0
        pred = _forward(q, images).argmax(1)
        top1 = float((pred == labels).mean())
        row[method] = {"int8_top1": top1, "drop_points": round(100 * (row["float32_top1"] - top1), 3),
                       "agreement_with_float32": float((pred == float_pred).mean()),
                       "quantize_seconds": round(seconds, 2)}
    row["int8_bytes"] = _size(q, folder, "int8.bigdl")
    row["size_ratio"] = round(row["int8_bytes"] / row["float32_bytes"], 4)
    return row


def _photo_folder() -> Path | None:
    spec = importlib.util.find_spec("skimage")
    folder = Path(list(spec.submodule_search_locations)[0]) / "data" if spec else None
    return folder if folder and all((folder / p).is_file() for p in EVAL_PHOTOS) else None


def _crops(net, folder: Path, n: int = 256, seed: int = 0) -> np.ndarray:
    """``n`` random square crops (a third to all of the shorter side) of the calibration photos, preprocessed."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    chain = net.preprocessing()
    photos = [np.asarray(Image.open(folder / p).convert("RGB")) for p in CALIBRATION_PHOTOS if (folder / p).is_file()]
    out = []
    for k in range(n):
        photo = photos[k % len(photos)]
        h, w = photo.shape[:2]
        side = int(rng.uniform(1 / 3, 1) * min(h, w))
        top, left = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        out.append(chain(np.ascontiguousarray(photo[top:top + side, left:left + side])))
    return np.stack(out).astype(np.float32)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def imagenet(name: str, folder: str, photos: Path) -> dict:
    net = zoo.load_pretrained(name)
    model = net.model.evaluate()
    x = net.preprocess_images([photos / p for p in EVAL_PHOTOS])
    calibration = _crops(net, photos)
    p32 = _softmax(model.forward(x))
    top5 = np.argsort(-p32, axis=1)[:, :5]
    row = {"model": name, "photos": list(EVAL_PHOTOS), "calibration_crops": len(calibration),
           "float32_top5": [[net.labels[i] for i in t] for t in top5],
           "float32_bytes": _size(model, folder, "f32.bigdl")}
    for method in METHODS:
        q = br.quantize(model, calibration, method=method, batch_size=16)
        p8 = _softmax(q.forward(x))
        q5 = np.argsort(-p8, axis=1)[:, :5]
        row[method] = {"int8_top5": [[net.labels[i] for i in t] for t in q5],
                       "top5_overlap": [len(set(a) & set(b)) for a, b in zip(top5, q5)],
                       "same_top1": [bool(a[0] == b[0]) for a, b in zip(top5, q5)],
                       "max_score_change": round(float(np.abs(p8 - p32).max()), 4)}
    row["int8_bytes"] = _size(q, folder, "int8.bigdl")
    row["size_ratio"] = round(row["int8_bytes"] / row["float32_bytes"], 4)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="write the results to this path")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in FASHION:
            rows.append(fashion(name, folder))
            r = rows[-1]
            print(f"{name}: float32 top-1 {100 * r['float32_top1']:.2f} %, " + ", ".join(
                f"{m} {100 * r[m]['int8_top1']:.2f} % (drop {r[m]['drop_points']:.2f})" for m in METHODS)
                + f"; file {r['int8_bytes']} / {r['float32_bytes']} bytes = {r['size_ratio']:.3f}", flush=True)
        photos = _photo_folder()
        for name in IMAGENET if photos else ():
            rows.append(imagenet(name, folder, photos))
            r = rows[-1]
            print(f"{name}: " + "; ".join(f"{m} top-5 overlap {r[m]['top5_overlap']} same top-1 {r[m]['same_top1']} "
                                          f"max score change {r[m]['max_score_change']}" for m in METHODS)
                  + f"; file ratio {r['size_ratio']:.3f}", flush=True)
    if args.json:
        meta = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "load_average": os.getloadavg()[0]}
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
