"""The ``zoo`` command line: ``zoo finetune`` (the main job) and ``zoo models`` (the catalog).

Examples:
    zoo finetune                                    # bundled MNIST digits, lenet5-fashion-mnist, local[*]
    zoo finetune --images hdfs://nn:8020/data/digits --master spark://host:7077 --epochs 6 \\
                 --output hdfs://nn:8020/runs/digits
    zoo models
"""
from __future__ import annotations

import argparse
import sys
import time

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
    job.add_argument("--batch-size", type=int, default=defaults.batch_size, help="global mini-batch size")
    job.add_argument("--cut-layer", default=None, help="node the new head is attached to "
                                                       "(default: the input of the first Linear layer)")
    job.add_argument("--seed", type=int, default=defaults.seed)
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


def _finetune(args: argparse.Namespace) -> int:
    from bigdl_runtime.spark import init_spark
    from zoo.pipeline.finetune import finetune

    config = FinetuneConfig(images=args.images, model=args.model, epochs=args.epochs, output=args.output,
                            batch_size=args.batch_size, cut_layer=args.cut_layer, seed=args.seed,
                            progress=not args.no_progress)
    start = time.perf_counter()
    spark = init_spark(master=args.master, app_name="zoo-finetune")
    print(f"== zoo finetune: {config.model} on {config.images}, Spark {spark.version} master "
          f"{spark.sparkContext.master} ({spark.sparkContext.defaultParallelism} partitions) ==", flush=True)
    try:
        result = finetune(config, spark, log=lambda line: print(line, flush=True))
    except (ValueError, FileNotFoundError, LookupError) as err:
        print(f"zoo finetune: error: {err}", file=sys.stderr)
        return 1
    names = {"at_init": "pretrained backbone + untrained head (before)",
             "head_only": f"head trained, backbone frozen ({config.epochs} epochs)",
             "finetuned": f"then fine-tuned end to end (+{config.epochs} epochs)  (after)",
             "scratch": f"same network from scratch ({2 * config.epochs} epochs)"}
    print(f"\nheld-out accuracy on {result.test_images} images ({len(result.classes)} classes):")
    for key, label in names.items():
        print(f"  {label:58s} {result.accuracy[key]:7.2%}")
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
