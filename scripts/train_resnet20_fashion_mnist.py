"""Train ResNet-20 (CIFAR layout, 1 input channel) on Fashion-MNIST; publish it as models/resnet20-fashion-mnist.

Recipe: SGD (Nesterov momentum 0.9, lr 0.1, weight decay 5e-4) with cosine
annealing per epoch, batch 128, seed 0, LocalTrainer. Each epoch trains on a
fresh augmented copy of the 60,000 training images (random horizontal flip and
a random shift of up to 2 pixels, zero filled; drawn from the seed and the epoch
number, so a resumed run sees the same images). Checkpoints every 100
iterations: re-running the same command resumes where a stopped run was.
The 10,000 test images are evaluated after every epoch for the learning curve;
the reported metric is the last epoch's (no epoch is selected on it).

    OMP_NUM_THREADS=2 nohup .venv/bin/python scripts/train_resnet20_fashion_mnist.py --epochs 12 --no-progress &

(about 100 minutes on 2 idle cores: 0.8 s per iteration, 469 iterations per epoch).
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from bigdl_runtime.nn import random
from bigdl_runtime.nn.losses import CrossEntropyLoss
from bigdl_runtime.optim import SGD, Cosine
from bigdl_runtime.train import LocalTrainer
from bigdl_runtime.train.checkpoint import load_checkpoint
from bigdl_runtime.train.triggers import EveryEpoch, Or, SeveralIteration, TrainState
from zoo.catalog.cards import write_model_folder
from zoo.datasets import load_fashion_mnist
from zoo.models.lenet import fashion_mnist_card, preprocess
from zoo.models.resnet import resnet20

NAME = "resnet20-fashion-mnist"


def augment(images: np.ndarray, seed: int, shift: int = 2) -> np.ndarray:
    """Random horizontal flips and shifts of up to ``shift`` pixels (zero fill) of ``(N, 28, 28)`` images."""
    gen = np.random.default_rng(seed)
    n, h, w = images.shape
    flipped = np.where(gen.random(n)[:, None, None] < 0.5, images[:, :, ::-1], images)
    padded = np.zeros((n, h + 2 * shift, w + 2 * shift), images.dtype)
    padded[:, shift:shift + h, shift:shift + w] = flipped
    dy, dx = gen.integers(0, 2 * shift + 1, n), gen.integers(0, 2 * shift + 1, n)
    rows = dy[:, None] + np.arange(h)[None, :]
    cols = dx[:, None] + np.arange(w)[None, :]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--weight-decay", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default=f"runs/{NAME}/checkpoints")
    parser.add_argument("--out", default=f"models/{NAME}", help="model folder to write")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only (smoke runs)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    train_images, train_labels = load_fashion_mnist("train")
    test_images, test_labels = load_fashion_mnist("test")
    if args.limit:
        train_images, train_labels = train_images[:args.limit], train_labels[:args.limit]
        test_images, test_labels = test_images[:args.limit], test_labels[:args.limit]
    xt = preprocess(test_images)
    random.manual_seed(args.seed)
    model = resnet20(num_classes=10, in_channels=1)
    optimizer = SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True, weight_decay=args.weight_decay,
                    schedule=Cosine(t_max=args.epochs, by="epoch"))
    trainer = LocalTrainer(model, CrossEntropyLoss(), optimizer)
    ckpt = Path(args.checkpoint)
    summary = ckpt.parent / "summary.jsonl"
    start_epoch = 1
    if (ckpt / "latest").exists():
        state = TrainState.from_dict(load_checkpoint(ckpt, model, optimizer)["state"])
        start_epoch = state.epochs_completed + 1
        print(f"resuming from {ckpt} at epoch {start_epoch}, iteration {state.iteration}", flush=True)
    print(f"training ResNet-20 ({model.num_parameters()} parameters) on {len(train_images)} augmented images, "
          f"epochs {start_epoch}..{args.epochs}, batch {args.batch_size}, SGD lr {args.lr} cosine, seed {args.seed}",
          flush=True)
    start = time.perf_counter()
    for epoch in range(start_epoch, args.epochs + 1):
        x = preprocess(augment(train_images, seed=args.seed * 1000 + epoch))
        trainer.fit(x, train_labels, batch_size=args.batch_size, epochs=epoch, validation=(xt, test_labels),
                    metrics=("top1", "loss"), seed=args.seed, checkpoint=ckpt,
                    checkpoint_trigger=Or(SeveralIteration(100), EveryEpoch()),
                    resume_from=ckpt if (ckpt / "latest").exists() else None,
                    summary=summary, progress=not args.no_progress)
    seconds = time.perf_counter() - start
    result = trainer.evaluate(xt, test_labels, metrics=("top1", "top5", "loss"), batch_size=500)
    rows = [json.loads(line) for line in summary.read_text().splitlines()]
    total_seconds = max(r.get("wall_time", 0.0) for r in rows)
    model.evaluate()
    training = {
        "recipe": "scripts/train_resnet20_fashion_mnist.py",
        "command": "OMP_NUM_THREADS=2 .venv/bin/python scripts/train_resnet20_fashion_mnist.py "
                   + shlex.join(sys.argv[1:] if argv is None else argv),
        "trainer": "LocalTrainer",
        "dataset": "Fashion-MNIST train split (60,000 images), Debian dataset-fashion-mnist",
        "augmentation": "random horizontal flip, random shift up to 2 pixels (new draw every epoch)",
        "epochs": args.epochs, "batch_size": args.batch_size, "optimizer": "SGD nesterov momentum 0.9",
        "lr": args.lr, "weight_decay": args.weight_decay, "schedule": "cosine annealing per epoch",
        "seed": args.seed, "seconds": round(total_seconds, 1),
        "test_top1_per_epoch": [round(r["top1"], 4) for r in rows if r.get("kind") == "validation"]}
    card = fashion_mnist_card(NAME, "ResNet-20 (CIFAR layout, option-A shortcuts) classifying 28x28 grey "
                              "Fashion-MNIST images", "zoo.models.resnet20", {"num_classes": 10, "in_channels": 1}, result, training)
    write_model_folder(args.out, model, card, test_top1=result["top1"])
    print(f"test top-1 {result['top1']:.4f}  top-5 {result['top5']:.4f}  loss {result['loss']:.4f} after "
          f"{args.epochs} epochs ({seconds:.0f} s in this run); model folder written to {args.out}")
    return result["top1"]


if __name__ == "__main__":
    main()
