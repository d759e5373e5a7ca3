"""Train LeNet-5 on all 60,000 Fashion-MNIST training images; publish it as models/lenet5-fashion-mnist.

Recipe: Adam (lr 2e-3) with cosine annealing over the epochs, batch 64, seed 0,
LocalTrainer; the test set is evaluated after every epoch for the learning
curve (the reported number is the last epoch's, no epoch is selected on it).
Writes the model folder (``model.bigdl`` + ``model.toml`` card with the
measured test metrics and the file's SHA-256) and a JSON-lines summary in ``runs/``.

    nice -n 10 .venv/bin/python scripts/train_lenet_fashion_mnist.py --epochs 10
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from bigdl_runtime.nn import random
from bigdl_runtime.nn.losses import CrossEntropyLoss
from bigdl_runtime.optim import Adam, Cosine
from bigdl_runtime.train import LocalTrainer
from zoo.catalog.cards import write_model_folder
from zoo.datasets import load_fashion_mnist
from zoo.models.lenet import fashion_mnist_card, lenet5, preprocess

NAME = "lenet5-fashion-mnist"


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=f"models/{NAME}", help="model folder to write")
    parser.add_argument("--summary", default=f"runs/{NAME}.jsonl")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    train_images, train_labels = load_fashion_mnist("train")
    test_images, test_labels = load_fashion_mnist("test")
    x, xt = preprocess(train_images), preprocess(test_images)
    random.manual_seed(args.seed)
    model = lenet5()
    optimizer = Adam(model.parameters(), lr=args.lr, schedule=Cosine(t_max=args.epochs, by="epoch"))
    trainer = LocalTrainer(model, CrossEntropyLoss(), optimizer)
    Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
    print(f"training LeNet-5 ({model.num_parameters()} parameters) on {len(x)} images for {args.epochs} epochs, "
          f"batch {args.batch_size}, Adam lr {args.lr} with cosine annealing, seed {args.seed}", flush=True)
    start = time.perf_counter()
    trainer.fit(x, train_labels, batch_size=args.batch_size, epochs=args.epochs, validation=(xt, test_labels),
                metrics=("top1", "loss"), seed=args.seed, summary=args.summary, progress=not args.no_progress)
    seconds = time.perf_counter() - start
    result = trainer.evaluate(xt, test_labels, metrics=("top1", "top5", "loss"), batch_size=500)
    model.evaluate()
    training = {
        "recipe": "scripts/train_lenet_fashion_mnist.py",
        "command": "nice -n 10 .venv/bin/python scripts/train_lenet_fashion_mnist.py "
                   + shlex.join(sys.argv[1:] if argv is None else argv),
        "trainer": "LocalTrainer",
        "dataset": "Fashion-MNIST train split (60,000 images), Debian dataset-fashion-mnist",
        "epochs": args.epochs, "batch_size": args.batch_size, "optimizer": "Adam", "lr": args.lr,
        "schedule": "cosine annealing per epoch", "seed": args.seed, "seconds": round(seconds, 1)}
    card = fashion_mnist_card(NAME, "LeNet-5 classifying 28x28 grey Fashion-MNIST clothing images into 10 classes",
                              "zoo.models.lenet5", {"num_classes": 10}, result, training)
    write_model_folder(args.out, model, card, test_top1=result["top1"])
    print(f"test top-1 {result['top1']:.4f}  top-5 {result['top5']:.4f}  loss {result['loss']:.4f} "
          f"on {len(xt)} images after {args.epochs} epochs in {seconds:.0f} s ({seconds / args.epochs:.1f} s/epoch)")
    print(f"model folder written to {args.out}, summary to {args.summary}")
    return result["top1"]


if __name__ == "__main__":
    main()
