"""The main job: fine-tune a pretrained catalog model on a folder of labelled images, through Spark.

Steps (what ``zoo finetune`` and ``make demo`` run):

1. load the pretrained network and its card from the catalog;
2. check the layout ``<images>/<split>/<class>/<image>`` (:func:`check_layout`), read
   ``<images>/train`` and ``<images>/test`` (label = folder name; any Hadoop URI) with
   :class:`~zoo.pipeline.NNImageReader`, preprocessed on the executors by the card's
   preprocessing (``pretrained.preprocessing()``);
3. cut the network where its feature extractor ends (the input of its first
   Linear layer: the flattened convolution features for LeNet-5), put a new
   classifier head (one Linear layer) on it and measure the held-out accuracy
   **at init** (the untrained head: chance level);
4. **head only**: train the head for ``epochs`` epochs with the backbone frozen
   (the transfer-learning baseline);
5. **fine-tuned**: unfreeze and train everything for ``epochs`` more epochs at
   a lower learning rate;
6. **scratch**: the same architecture from random weights, trained for the same
   budget (``2 * epochs`` epochs, same batches);
7. save the fine-tuned network (model file), the fitted Spark ML stage and a
   plot of the training curves under ``output``.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pyspark.ml.evaluation import MulticlassClassificationEvaluator
from pyspark.sql import DataFrame, SparkSession

from bigdl_runtime.nn import Linear, random
from bigdl_runtime.serialization import model_to_bytes
from bigdl_runtime.spark.hadoop_fs import HadoopFileSystem
from bigdl_runtime.train import History

from .estimator import NNClassifier
from .image_reader import NNImageReader
from .model import NNClassifierModel
from .transfer import FEATURES, cut, reinitialized, with_new_head

#: the folders ``zoo finetune`` reads under its images folder, each holding one folder of images per class
SPLITS = ("train", "test")
#: the bundled image folder (MNIST digits, see data/mnist-digits/README.md)
BUNDLED_IMAGES = Path(__file__).resolve().parents[2] / "data" / "mnist-digits"


@dataclass
class FinetuneConfig:
    """The job's settings (the CLI's options)."""

    images: str = str(BUNDLED_IMAGES)
    model: str = "lenet5-fashion-mnist"
    epochs: int = 4
    output: str = "runs/finetune"
    batch_size: int = 32
    head_lr: float = 0.01
    finetune_lr: float = 0.0005
    scratch_lr: float = 0.002
    cut_layer: str | None = None
    seed: int = 0
    progress: bool = True


@dataclass
class FinetuneResult:
    """Held-out accuracies, the runs' histories and where the outputs went."""

    classes: list[str]
    train_images: int
    test_images: int
    accuracy: dict[str, float] = field(default_factory=dict)      # at_init, head_only, finetuned, scratch
    histories: dict[str, History] = field(default_factory=dict)   # head_only, finetuned, scratch
    outputs: dict[str, str] = field(default_factory=dict)


def check_layout(spark: SparkSession, root: str) -> list[str]:
    """Check that ``root`` holds ``train/`` and ``test/`` folders of class folders; return the training classes.

    Runs before Spark reads anything, so a wrong path or layout fails with one line (not a Java stack trace)
    naming the folder at fault. Names starting with ``.`` or ``_`` are hidden (as Spark's file sources skip them).

    Raises:
        FileNotFoundError: ``root`` does not exist.
        ValueError: the layout is not ``<split>/<class>/<image>``: a split folder is missing, holds images
            outside class folders or no class folders at all, training has fewer than 2 classes, or the test
            split has classes training does not.
    """
    fs = HadoopFileSystem(spark, root)
    expected = f"expected the layout <images>/<split>/<class>/<image> with splits {list(SPLITS)}"
    if not fs.exists(root):
        raise FileNotFoundError(f"images folder '{root}' does not exist ({expected})")
    found: dict[str, list[str]] = {}
    for split in SPLITS:
        folder = fs.join(root, split)
        if not fs.isdir(folder):
            raise ValueError(f"'{root}' has no '{split}' folder ({expected}); it holds {_visible(fs, root)}")
        entries = _visible(fs, folder)
        found[split] = [e for e in entries if fs.isdir(fs.join(folder, e))]
        loose = [e for e in entries if e not in found[split]]
        if loose or not found[split]:
            where = "outside class folders" if found[split] else "and no class folders"
            raise ValueError(f"'{folder}' holds {len(loose)} files {where} (e.g. {loose[:3]}); {expected}: "
                             "put each image in a folder named after its class")
    if len(found["train"]) < 2:
        raise ValueError(f"'{fs.join(root, 'train')}' has {len(found['train'])} class folder {found['train']}; "
                         f"a classifier needs at least 2 ({expected})")
    unknown = sorted(set(found["test"]) - set(found["train"]))
    if unknown:
        raise ValueError(f"'{fs.join(root, 'test')}' has class folders {unknown} that "
                         f"'{fs.join(root, 'train')}' does not have ({found['train']})")
    return found["train"]


def _visible(fs: HadoopFileSystem, folder: str) -> list[str]:
    return [name for name in fs.listdir(folder) if not name.startswith((".", "_"))]


def accuracy(model: NNClassifierModel, df: DataFrame) -> float:
    """Top-1 accuracy of ``model`` on ``df`` (Spark's MulticlassClassificationEvaluator)."""
    return MulticlassClassificationEvaluator(metricName="accuracy").evaluate(model.transform(df))


def finetune(config: FinetuneConfig, spark: SparkSession, log: Callable[[str], None] = print) -> FinetuneResult:
    """Run the job (see the module doc) and return what it measured."""
    from zoo.catalog import load_pretrained

    for name in ("epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}")
    pretrained = load_pretrained(config.model)
    color, chain = pretrained.color, pretrained.preprocessing()
    layer = config.cut_layer or FEATURES
    backbone = cut(pretrained, layer)           # an unknown layer fails before any image is read
    root = config.images.rstrip("/")
    check_layout(spark, root)
    train = NNImageReader.read_images(f"{root}/train", spark, color=color)          # cached by the reader
    classes = train.schema["label"].metadata["ml_attr"]["vals"]
    test = NNImageReader.read_images(f"{root}/test", spark, color=color, classes=classes)
    result = FinetuneResult(classes, train.count(), test.count())
    log(f"[1/5] {config.model}: {pretrained.model.num_parameters()} parameters, {len(pretrained.labels)} "
        f"pretrained classes; images: {result.train_images} training and {result.test_images} held-out images "
        f"of {len(classes)} classes from {root}")

    random.manual_seed(config.seed)
    width = int(backbone.forward(_probe(pretrained.card)).size)
    network = with_new_head(backbone, Linear(width, len(classes), name="head"))
    common = {"featuresCol": "image", "featurePreprocessing": chain, "batchSize": config.batch_size,
              "optimizer": "adam", "seed": config.seed, "showProgress": config.progress,
              "validationMetrics": ["top1", "loss"]}
    result.accuracy["at_init"] = accuracy(NNClassifierModel(network, **_transform_params(common)), test)
    log(f"[2/5] cut at '{layer}' ({width} features), new head Linear({width}, {len(classes)}); held-out accuracy "
        f"with the untrained head: {result.accuracy['at_init']:.2%}")

    def run(name: str, net: Any, epochs: int, lr: float) -> NNClassifierModel:
        clf = NNClassifier(net, maxEpoch=epochs, learningRate=lr, learningRateSchedule="cosine", **common)
        fitted = clf.setValidation(test).fit(train)
        result.histories[name] = fitted.history
        result.accuracy[name] = accuracy(fitted, test)
        return fitted

    log(f"[3/5] head only: {config.epochs} epochs, backbone frozen, Adam lr {config.head_lr}")
    head = run("head_only", network, config.epochs, config.head_lr)
    log(f"      held-out accuracy {result.accuracy['head_only']:.2%}")
    log(f"[4/5] fine-tuning end to end: {config.epochs} more epochs, Adam lr {config.finetune_lr}")
    tuned = run("finetuned", head.model.unfreeze(), config.epochs, config.finetune_lr)
    log(f"      held-out accuracy {result.accuracy['finetuned']:.2%}")
    log(f"      baseline: the same architecture from scratch, {2 * config.epochs} epochs, Adam lr {config.scratch_lr}")
    random.manual_seed(config.seed)
    run("scratch", reinitialized(network), 2 * config.epochs, config.scratch_lr)
    log(f"      held-out accuracy {result.accuracy['scratch']:.2%}")

    result.outputs = _save(config, spark, tuned, pretrained.card, result)
    log(f"[5/5] saved the fine-tuned model to {result.outputs['model']}, the Spark ML stage to "
        f"{result.outputs['stage']} and the training curves to {result.outputs['plot']}")
    return result


def _probe(card: dict[str, Any]) -> Any:
    """One all-zero input of the card's input shape (to measure the backbone's output width)."""
    import numpy as np

    return np.zeros([1, *(int(d) for d in card["input_shape"])], np.float32)


def _transform_params(common: dict[str, Any]) -> dict[str, Any]:
    return {k: common[k] for k in ("featuresCol", "featurePreprocessing", "batchSize")}


def _save(config: FinetuneConfig, spark: SparkSession, tuned: NNClassifierModel, card: dict[str, Any],
          result: FinetuneResult) -> dict[str, str]:
    from .curves import plot_curves

    out = config.output.rstrip("/")
    fs = HadoopFileSystem(spark, out)
    fs.mkdirs(out)
    paths = {"model": f"{out}/finetuned.bigdl", "stage": f"{out}/nn-classifier-model", "plot": f"{out}/curves.png"}
    fs.write_bytes_atomic(paths["model"], model_to_bytes(
        tuned.model, name=f"{config.model}-finetuned", base_model=config.model, labels=result.classes,
        preprocessing=card["preprocessing"], input_shape=card["input_shape"],
        test_top1=result.accuracy["finetuned"]))
    tuned.write().overwrite().save(paths["stage"])
    picture = io.BytesIO()
    plot_curves(result.histories, picture, title=f"{config.model} fine-tuned on {Path(config.images).name}")
    fs.write_bytes_atomic(paths["plot"], picture.getvalue())
    return paths
