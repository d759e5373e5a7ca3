"""Train LeNet-5 on all 60,000 Fashion-MNIST training images and report top-1 on the 10,000 test images.

Recipe: Adam (lr 2e-3) with cosine annealing over the epochs, batch 64, seed 0;
the test set is evaluated after every epoch for the learning curve (the
reported number is the last epoch's, no epoch is selected on it). Writes the
model file (with labels, preprocessing and the measured accuracy as metadata)
and a JSON-lines summary next to it.

    .venv/bin/python scripts/train_lenet_fashion_mnist.py --epochs 10 --out runs/lenet5-fashion-mnist.bigdl
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from bigdl_runtime.nn import random
from bigdl_runtime.nn.losses import CrossEntropyLoss
from bigdl_runtime.optim import Adam, Cosine
from bigdl_runtime.serialization import save_model
from bigdl_runtime.train import LocalTrainer
from zoo.datasets import CLASS_NAMES, load_fashion_mnist
from zoo.models.lenet import PREPROCESSING, lenet5, preprocess


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/lenet5-fashion-mnist.bigdl")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    train_images, train_labels = load_fashion_mnist("train")
    test_images, test_labels = load_fashion_mnist("test")
    x, xt = preprocess(train_images), preprocess(test_images)
    random.manual_seed(args.seed)
    model = lenet5()
    optimizer = Adam(model.parameters(), lr=args.lr, schedule=Cosine(t_max=args.epochs, by="epoch"))
    trainer = LocalTrainer(model, CrossEntropyLoss(), optimizer)
    out = Path(args.out)
    summary = out.with_suffix(".jsonl")
    print(f"training LeNet-5 ({model.num_parameters()} parameters) on {len(x)} images for {args.epochs} epochs, "
          f"batch {args.batch_size}, Adam lr {args.lr} with cosine annealing, seed {args.seed}", flush=True)
    start = time.perf_counter()
    trainer.fit(x, train_labels, batch_size=args.batch_size, epochs=args.epochs, validation=(xt, test_labels),
                metrics=("top1", "loss"), seed=args.seed, summary=summary, progress=not args.no_progress)
    seconds = time.perf_counter() - start
    result = trainer.evaluate(xt, test_labels, metrics=("top1", "top5", "loss"), batch_size=500)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, str(out), name="lenet5-fashion-mnist", labels=list(CLASS_NAMES), preprocessing=PREPROCESSING,
               input_shape=[None, 1, 28, 28], test_top1=result["top1"], epochs=args.epochs,
               recipe=f"Adam lr {args.lr} cosine, batch {args.batch_size}, seed {args.seed}")
    print(f"test top-1 {result['top1']:.4f}  top-5 {result['top5']:.4f}  loss {result['loss']:.4f} "
          f"on {len(xt)} images after {args.epochs} epochs in {seconds:.0f} s ({seconds / args.epochs:.1f} s/epoch)")
    print(f"model written to {out}, summary to {summary}")
    return result["top1"]


if __name__ == "__main__":
    main()
