"""`make demo`: train LeNet-5 on Fashion-MNIST in this process, test it, save it, reload it.

Runs in about a minute on two cores: 2 epochs over the 60,000 training
images with the LocalTrainer (progress on stderr), top-1 on the 10,000 test
images, the model written to a file, read back, and its predictions compared
with the trained model's.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from bigdl_runtime.nn import random
from bigdl_runtime.nn.losses import CrossEntropyLoss
from bigdl_runtime.optim import Adam, Cosine
from bigdl_runtime.serialization import load_model, save_model
from bigdl_runtime.train import LocalTrainer
from zoo.datasets import CLASS_NAMES, DEFAULT_ROOT, load_fashion_mnist
from zoo.models.lenet import PREPROCESSING, lenet5, preprocess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", default="runs/demo/lenet5-fashion-mnist.bigdl")
    args = parser.parse_args(argv)
    out = Path(args.out)
    print("== demo: LeNet-5 on Fashion-MNIST, trained locally with numpy kernels ==")

    try:
        train_images, train_labels = load_fashion_mnist("train")
        test_images, test_labels = load_fashion_mnist("test")
    except FileNotFoundError as err:
        print(f"cannot run the demo: {err}", file=sys.stderr)
        return 1
    x, xt = preprocess(train_images), preprocess(test_images)
    print(f"[1/5] data: {len(x)} training and {len(xt)} test images (28x28 grey, 10 classes) from {DEFAULT_ROOT}, "
          f"scaled to [0, 1] and normalised")

    random.manual_seed(0)
    model = lenet5()
    print(f"[2/5] model: LeNet-5, {model.num_parameters()} parameters "
          f"(conv 5x5 x6, pool, conv 5x5 x16, pool, dense 120, 84, 10)")

    trainer = LocalTrainer(model, CrossEntropyLoss(),
                           Adam(model.parameters(), lr=2e-3, schedule=Cosine(t_max=args.epochs, by="epoch")))
    summary = out.with_suffix(".jsonl")
    print(f"[3/5] training: {args.epochs} epochs, batch 64, Adam lr 2e-3 with cosine annealing, seed 0 "
          f"(per-iteration summary in {summary})", flush=True)
    start = time.perf_counter()
    history = trainer.fit(x, train_labels, batch_size=64, epochs=args.epochs, seed=0, summary=summary)
    seconds = time.perf_counter() - start
    print(f"      {history.state.iteration} iterations in {seconds:.0f} s "
          f"({history.state.records / seconds:.0f} images/s), last loss {history.state.loss:.4f}")

    result = trainer.evaluate(xt, test_labels, metrics=("top1", "top5", "loss"), batch_size=500)
    print(f"[4/5] test: top-1 {result['top1']:.2%}, top-5 {result['top5']:.2%}, loss {result['loss']:.4f}")

    out.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, str(out), name="lenet5-fashion-mnist", labels=list(CLASS_NAMES), preprocessing=PREPROCESSING,
               input_shape=[None, 1, 28, 28], test_top1=result["top1"], epochs=args.epochs)
    reloaded = LocalTrainer(load_model(str(out)), CrossEntropyLoss(), None)
    before, after = trainer.predict(xt, batch_size=500), reloaded.predict(xt, batch_size=500)
    same_class = float(np.mean(before.argmax(1) == after.argmax(1)))
    max_diff = float(np.max(np.abs(before - after)))
    print(f"[5/5] saved to {out} ({out.stat().st_size / 1024:.0f} KiB) and reloaded: predicted classes agree on "
          f"{same_class:.2%} of the test images, max output difference {max_diff:.2g}")
    examples = ", ".join(f"{CLASS_NAMES[p]} ({'ok' if p == t else 'true: ' + CLASS_NAMES[t]})"
                         for p, t in zip(after[:5].argmax(1), test_labels[:5]))
    print(f"      first test images: {examples}")
    if same_class < 1.0:
        print("error: the reloaded model predicts differently", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
