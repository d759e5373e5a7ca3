"""The ``zoo`` command line: ``zoo finetune`` (the main job) and ``zoo models`` (the catalog).

Examples:
    zoo finetune                                    # bundled MNIST digits, lenet5-fashion-mnist, local[*]
    zoo finetune --images hdfs://nn:8020/data/digits --master spark://host:7077 --epochs 6 \\
                 --output hdfs://nn:8020/runs/digits
    zoo models
"""
from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from typing import Any

from zoo.pipeline.finetune import FinetuneConfig


def _parser() -> argparse.ArgumentParser:
    defaults = FinetuneConfig()
    parser = argparse.ArgumentParser(prog="zoo", description="bigdl-zoo: deep learning inside Apache Spark")
    commands = parser.add_subparsers(dest="command", required=True)
    job = commands.add_parser(
        "finetune", help="fine-tune a pretrained catalog model on a folder of labelled images",
        description="Load a pretrained model from the catalog, read <images>/train and <images>/test "
                    "(one folder per class) through Spark, train a new head on the frozen backbone, fine-tune "
                    "end to end, compare with the same network trained from scratch, and save the results.")
    job.add_argument("--images", default=defaults.images,
                     help="folder with train/ and test/ subfolders of class folders; any Hadoop URI "
                          "(default: the bundled MNIST digits)")
    job.add_argument("--master", default="local[*]", help="Spark master URL (default: local[*])")
    job.add_argument("--model", default=defaults.model, help=f"catalog model (default: {defaults.model})")
    job.add_argument("--epochs", type=int, default=defaults.epochs,
                     help=f"epochs of each phase: head only, then end to end (default: {defaults.epochs}); "
                          "the from-scratch baseline gets twice as many")
    job.add_argument("--output", default=defaults.output,
                     help=f"where the model, Spark ML stage and plot go; any Hadoop URI (default: {defaults.output})")
    job.add_argument("--batch-size", type=int, default=defaults.batch_size,
                     help=f"global mini-batch size (default: {defaults.batch_size})")
    job.add_argument("--cut-layer", default=None,
                     help="node the new head is attached to (default: 'features', the input of the first Linear "
                          "layer; zoo.load_pretrained(model).cut_points() lists the names)")
    job.add_argument("--seed", type=int, default=defaults.seed, help=f"random seed (default: {defaults.seed})")
    job.add_argument("--no-progress", action="store_true", help="no progress output while training")
    commands.add_parser("models", help="list the pretrained models in the catalog")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``zoo`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "models":
        from zoo.catalog import list_models, model_card

        for name in list_models():
            card = model_card(name)
            print(f"{name:32s} {card.get('description', '')}")
        return 0
    return _finetune(args)


#: Spark master URLs the job accepts (checked before Spark starts, which would print a Java stack trace)
MASTER = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?|(spark|mesos|k8s)://\S+|yarn")


def _finetune(args: argparse.Namespace) -> int:
    from bigdl_runtime.spark import init_spark
    from zoo.pipeline.finetune import finetune

    config = FinetuneConfig(images=args.images, model=args.model, epochs=args.epochs, output=args.output,
                            batch_size=args.batch_size, cut_layer=args.cut_layer, seed=args.seed,
                            progress=not args.no_progress)
    if not MASTER.fullmatch(args.master):
        return _fail(f"--master {args.master!r} is not a Spark master URL (local[N], spark://host:port, yarn, "
                     "k8s://...)")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warning
        try:
            spark = init_spark(master=args.master, app_name="zoo-finetune")
            print(f"== zoo finetune: {config.model} on {config.images}, Spark {spark.version} master "
                  f"{spark.sparkContext.master} ({spark.sparkContext.defaultParallelism} partitions) ==", flush=True)
            result = finetune(config, spark, log=lambda line: print(line, flush=True))
        except KeyboardInterrupt:
            return _fail("interrupted", status=130)
        except Exception as err:  # noqa: BLE001 - what a user can cause gets one line, see _user_error
            message = _user_error(err)
            if message is None:
                raise
            return _fail(message)
    names = {"at_init": "pretrained backbone + untrained head (before)",
             "head_only": f"head trained, backbone frozen ({config.epochs} epochs)",
             "finetuned": f"then fine-tuned end to end (+{config.epochs} epochs)  (after)",
             "scratch": f"same network from scratch ({2 * config.epochs} epochs)"}
    print(f"\nheld-out accuracy on {result.test_images} images ({len(result.classes)} classes):")
    for key, label in names.items():
        print(f"  {label:58s} {result.accuracy[key]:7.2%}")
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


def _user_error(err: Exception) -> str | None:
    """The one-line message for an error the user's input or environment caused (None: a bug, re-raised)."""
    from bigdl_runtime.spark.errors import SparkJobError

    if isinstance(err, KeyError) and err.args:            # KeyError's str() quotes its message
        return str(err.args[0])
    if isinstance(err, (ValueError, OSError, LookupError, SparkJobError)):
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    return None


def _fail(message: str, status: int = 1) -> int:
    print(f"zoo finetune: error: {message}", file=sys.stderr, flush=True)
    return status


def _one_line_warning(message: Any, category: type, filename: str, lineno: int, file: Any = None,
                      line: Any = None) -> None:
    """Print a warning (e.g. the image reader's report) as one line, without the source line Python adds."""
    print(f"zoo finetune: warning: {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
