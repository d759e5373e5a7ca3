"""Train NeuMF (He et al., 2017) on MovieLens-100K implicit feedback; publish models/ncf-movielens-100k.

Protocol of the paper: every rating is an interaction; each user's latest
interaction is held out (leave-one-out) and ranked against 99 items the user
never interacted with (seeded); HR@10 and NDCG@10 over the 943 users. Training:
the remaining 99,057 interactions, each with 4 unseen negatives redrawn every
epoch; BCE with logits; Adam lr 1e-3 (constant; ``--schedule cosine`` anneals
it), batch 256, seed 0, LocalTrainer (the whole data set is 2 MB and an
iteration is a few milliseconds: one Spark job per iteration would cost more
than the work). The card reports the last epoch.

    pip install --no-deps recbole        # the data (never committed here)
    nice -n 10 .venv/bin/python scripts/train_ncf_movielens.py --epochs 20
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
from bigdl_runtime.nn.losses import BCEWithLogitsLoss
from bigdl_runtime.optim import Adam, Cosine
from bigdl_runtime.train import LocalTrainer
from zoo.catalog.cards import write_model_folder
from zoo.datasets.movielens import load_movielens_100k
from zoo.metrics.ranking import evaluate_leave_one_out, leave_one_out, sample_candidates
from zoo.models.ncf import ncf, sample_negatives

NAME = "ncf-movielens-100k"


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                        help="learning rate: constant, or cosine annealing to 0 over the epochs")
    parser.add_argument("--mf-dim", type=int, default=8)
    parser.add_argument("--negatives", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", default=None, help="recbole wheel or directory (default: installed recbole)")
    parser.add_argument("--out", default=f"models/{NAME}", help="model folder to write")
    parser.add_argument("--summary", default=f"runs/{NAME}.jsonl")
    args = parser.parse_args(argv)

    data = load_movielens_100k(args.source)
    train, test_user, test_item = leave_one_out(data.user, data.item, data.timestamp)
    candidates = sample_candidates(test_user, test_item, data.user, data.item, data.num_items, 99, seed=0)
    random.manual_seed(args.seed)
    model = ncf(data.num_users, data.num_items, mode="neumf", mf_dim=args.mf_dim)
    schedule = Cosine(t_max=args.epochs, by="epoch") if args.schedule == "cosine" else None
    optimizer = Adam(model.parameters(), lr=args.lr, schedule=schedule)
    trainer = LocalTrainer(model, BCEWithLogitsLoss(), optimizer)

    def score(users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return trainer.predict([users, items], batch_size=4096)[:, 0]

    Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
    log = open(args.summary, "w", encoding="utf-8")
    print(f"NeuMF ({model.num_parameters()} parameters): {data.num_users} users, {data.num_items} items, "
          f"{int(train.sum())} training interactions, {len(test_user)} held out", flush=True)
    start = time.perf_counter()
    result = {}
    for epoch in range(1, args.epochs + 1):
        users, items, labels = sample_negatives(data.user[train], data.item[train], data.num_items,
                                                args.negatives, seed=args.seed * 1000 + epoch,
                                                seen=(data.user, data.item))
        history = trainer.fit([users, items], labels, batch_size=args.batch_size, epochs=1, seed=args.seed + epoch,
                              progress=False)
        optimizer.epoch_end(epoch)  # each fit counts its own single epoch; the schedule needs the run's count
        result = evaluate_leave_one_out(score, candidates, k=10)
        loss = float(np.mean([row["loss"] for row in history.train]))
        row = {"epoch": epoch, "loss": loss, "hr@10": result["hr"], "ndcg@10": result["ndcg"],
               "seconds": time.perf_counter() - start}
        log.write(json.dumps(row) + "\n")
        log.flush()
        print(f"epoch {epoch}: loss {loss:.4f}  HR@10 {result['hr']:.4f}  NDCG@10 {result['ndcg']:.4f}  "
              f"({row['seconds']:.0f} s)", flush=True)
    seconds = time.perf_counter() - start
    model.evaluate()
    card = {
        "name": NAME,
        "description": "NeuMF recommender for the 943 users and 1,682 movies of MovieLens-100K (implicit feedback)",
        "builder": "zoo.models.ncf",
        "builder_args": {"num_users": data.num_users, "num_items": data.num_items, "mode": "neumf",
                         "mf_dim": args.mf_dim, "mlp_layers": [64, 32, 16, 8]},
        "input_shape": [1],
        "labels": ["interaction"],
        "preprocessing": {
            "kind": "ids", "inputs": ["user", "item"],
            "user": "0-based index of the sorted MovieLens user ids (zoo.datasets.movielens.Ratings.user_ids)",
            "item": "0-based index of the sorted MovieLens item ids (zoo.datasets.movielens.Ratings.item_ids)",
            "output": "(N, 1) logit that the user interacts with the item (sigmoid for a probability)"},
        "metrics": {"dataset": "MovieLens-100K leave-one-out: each user's latest interaction ranked against 99 "
                               "unseen items (sample_candidates seed 0), 943 users, never trained on",
                    "hr@10": round(result["hr"], 4), "ndcg@10": round(result["ndcg"], 4)},
        "training": {
            "recipe": "scripts/train_ncf_movielens.py",
            "command": "nice -n 10 .venv/bin/python scripts/train_ncf_movielens.py "
                       + shlex.join(sys.argv[1:] if argv is None else argv),
            "trainer": "LocalTrainer", "dataset": "MovieLens-100K from PyPI recbole (dataset_example/ml-100k)",
            "epochs": args.epochs, "batch_size": args.batch_size, "optimizer": "Adam", "lr": args.lr,
            "schedule": "cosine annealing per epoch" if args.schedule == "cosine" else "constant",
            "negatives_per_positive": args.negatives, "loss": "BCEWithLogitsLoss", "seed": args.seed,
            "seconds": round(seconds, 1)},
    }
    write_model_folder(args.out, model, card, hr_at_10=result["hr"], ndcg_at_10=result["ndcg"])
    print(f"HR@10 {result['hr']:.4f}  NDCG@10 {result['ndcg']:.4f} after {args.epochs} epochs in {seconds:.0f} s; "
          f"model folder written to {args.out}")
    return result["hr"]


if __name__ == "__main__":
    main()
