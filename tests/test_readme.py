"""README.md runs as written: every ```python and ```bash block is extracted and executed.

A block is preceded by an optional marker comment that the rendered README does not show:

- ``<!-- readme-test: skip: <reason> -->``: not run (only ``make demo`` / ``make test``, which install
  packages and run this very test);
- ``<!-- readme-test: setup=<name> (<what the block takes from the user>) -->``: :data:`SETUPS` ``[name]``
  first writes small stand-in data (files, tables, arrays) and defines the names the block expects from
  the user (``df``, ``spark``, ...);
- ``<!-- readme-test: continues -->``: runs in the namespace of the block before it (a follow-up snippet).

Each block runs in a fresh temporary working directory holding ``data/mnist-digits`` (the bundled images
the README's relative paths read). Cluster and HDFS locations are made local: ``hdfs://nn:8020/``,
``hdfs://nn/`` and ``hdfs:///`` become ``file://<tmp>/hdfs/``, ``spark://host:7077`` becomes ``local[2]``;
the blocks share the test session's SparkSession (``init_spark()`` returns it). A ``zoo ...`` line of a
bash block runs the console script's function (``zoo.cli:main``, checked against pyproject.toml) in this
process; other lines run in bash. Printed ``held-out accuracy <x>`` values must beat chance by far.
"""
from __future__ import annotations

import contextlib
import io
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from PIL import Image

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DIGITS = REPO / "data" / "mnist-digits"
MARKER = re.compile(r"<!-- readme-test: (skip: .+|setup=[\w-]+ \(.+\)|continues) -->")
FENCE = re.compile(r"^```(python|bash)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


@dataclass
class Block:
    """One fenced block of the README and what its marker says."""

    lang: str
    code: str
    line: int
    marker: str | None

    @property
    def setup(self) -> str | None:
        if self.marker is None or not self.marker.startswith("setup="):
            return None
        return self.marker.split("=", 1)[1].split(" ", 1)[0]


@dataclass
class Chain:
    """A block and the blocks that continue it (run in one namespace)."""

    blocks: list[Block] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"README.md:{self.blocks[0].line}"


def readme_blocks() -> list[Block]:
    text = README.read_text(encoding="utf-8")
    blocks = []
    for found in FENCE.finditer(text):
        before = text[:found.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.fullmatch(before.strip())
        blocks.append(Block(found.group(1), found.group(2), text.count("\n", 0, found.start()) + 1,
                            marker.group(1) if marker else None))
    return blocks


def chains() -> list[Chain]:
    out: list[Chain] = []
    for block in readme_blocks():
        if block.marker and block.marker.startswith("skip: "):
            continue
        if block.marker == "continues":
            assert out, f"README.md:{block.line}: a 'continues' block without a block before it"
            out[-1].blocks.append(block)
        else:
            out.append(Chain([block]))
    return out


# ------------------------------------------------------------------ stand-in data, one setup per marker name
def _png(path: Path, size: tuple[int, int], mode: str, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], 3)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)


def setup_arrays(ns: dict, tmp: Path, spark: Any) -> None:
    rng = np.random.default_rng(0)
    ns["x_train"], ns["y_train"] = rng.standard_normal((96, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 96)
    ns["x_val"], ns["y_val"] = rng.standard_normal((32, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, 32)


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = np.array([[2, 0, 0, 1], [0, 2, 0, -1], [0, 0, 2, 0]], np.float32)
    return (centres[y] + 0.4 * rng.standard_normal((n, 4))).astype(np.float32), y


def _mlp() -> Any:
    from bigdl_runtime.nn import Linear, ReLU, Sequential, random

    random.manual_seed(0)
    return Sequential(Linear(4, 16, name="fc1"), ReLU(), Linear(16, 3, name="fc2"))


def setup_table(ns: dict, tmp: Path, spark: Any) -> None:
    def frame(n: int, seed: int) -> Any:
        x, y = _blobs(n, seed)
        return spark.createDataFrame([(a.tolist(), float(b)) for a, b in zip(x, y)], ["features", "label"])

    frame(256, 0).write.parquet(str(tmp / "hdfs" / "data" / "train"))     # one batch of 256 per epoch
    ns.update(model=_mlp(), val_df=frame(64, 1), test_df=frame(64, 2))


def setup_digits(ns: dict, tmp: Path, spark: Any) -> None:
    for split, count in (("train", 6), ("test", 3)):
        for digit in "017":
            for k in range(count):
                target = tmp / "hdfs" / "data" / "digits" / split / digit / f"{k:03d}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(DIGITS / split / digit / f"{k:03d}.png", target)


def setup_photos(ns: dict, tmp: Path, spark: Any) -> None:
    _png(tmp / "boot.png", (28, 28), "L", 1)


def setup_canvas(ns: dict, tmp: Path, spark: Any) -> None:
    _png(tmp / "canvas.png", (96, 96), "L", 2)


def setup_pets(ns: dict, tmp: Path, spark: Any) -> None:
    for k in range(4):
        _png(tmp / "hdfs" / "data" / "pets" / "train" / ("cat", "dog")[k % 2] / f"{k}.png", (50, 40), "RGB", k)
    ns["spark"] = spark


def setup_reviews(ns: dict, tmp: Path, spark: Any) -> None:
    from bigdl_runtime.nn import Embedding

    texts = {"pos": ["a wonderful film", "wonderful acting, a good film"], "neg": ["a dull film", "dull and bad"]}
    for label, items in texts.items():
        for k, text in enumerate(items):
            (tmp / "data" / "reviews" / label).mkdir(parents=True, exist_ok=True)
            (tmp / "data" / "reviews" / label / f"{k}.txt").write_text(text)
    rng = np.random.default_rng(3)
    vectors = [f"{w} " + " ".join(f"{v:.4f}" for v in rng.standard_normal(50)) for w in ("a", "film", "dull")]
    (tmp / "glove.6B.50d.txt").write_text("\n".join(vectors) + "\n")
    ns["embedding_layer"] = Embedding(16, 50)


def setup_iris(ns: dict, tmp: Path, spark: Any) -> None:
    x, y = _blobs(150, 4)
    species = ["setosa", "versicolor", "virginica"]
    ns.update(spark=spark, net=_mlp(), df=spark.createDataFrame(
        [(species[b], *map(float, a)) for a, b in zip(x, y)], ["species", "a", "b", "c", "d"]))


def setup_onnx_file(ns: dict, tmp: Path, spark: Any) -> None:
    _mlp().to_onnx(str(tmp / "model.onnx"), (4,))
    ns["x"] = np.random.default_rng(5).standard_normal((3, 4))


def setup_onnx_table(ns: dict, tmp: Path, spark: Any) -> None:
    from bigdl_runtime.nn import Conv2d, Flatten, GlobalAvgPool2d, Linear, ReLU, Sequential

    small = Sequential(Conv2d(3, 4, 3, stride=4, name="conv"), ReLU(), GlobalAvgPool2d(), Flatten(),
                       Linear(4, 3, name="fc"))   # stands in for ResNet-18: the same input and a few classes
    small.to_onnx(str(tmp / "resnet18.onnx"), (3, 224, 224))
    rng = np.random.default_rng(6)
    ns.update(class_names=["cat", "dog", "fox"], df=spark.createDataFrame(
        [(i, rng.random(3 * 224 * 224).astype(np.float32).tolist()) for i in range(4)], ["id", "pixels"]))


def setup_caffe(ns: dict, tmp: Path, spark: Any) -> None:
    from tests.zoo.importers.caffe.caffe_net import CaffeNet

    net = CaffeNet(np.random.default_rng(7)).input("data", (1, 3, 8, 8))
    net.layer("conv1", "Convolution", ["data"], params="convolution_param { num_output: 4 kernel_size: 3 }",
              blobs=[net.randn(4, 3, 3, 3), net.randn(4)])
    net.layer("relu1", "ReLU", ["conv1"], ["conv1"])
    net.layer("pool5", "Pooling", ["conv1"], params="pooling_param { pool: AVE global_pooling: true }")
    net.layer("fc", "InnerProduct", ["pool5"], params="inner_product_param { num_output: 3 }",
              blobs=[net.randn(3, 4), net.randn(3)])
    net.layer("prob", "Softmax", ["fc"])
    (tmp / "deploy.prototxt").write_text(net.prototxt())
    (tmp / "bvlc_googlenet.caffemodel").write_bytes(net.caffemodel())
    (tmp / "hdfs" / "models").mkdir(parents=True)
    (tmp / "hdfs" / "models" / "deploy.prototxt").write_text(net.prototxt())
    (tmp / "hdfs" / "models" / "weights.caffemodel").write_bytes(net.caffemodel())
    ns.update(spark=spark, images=np.random.default_rng(8).standard_normal((2, 3, 8, 8)).astype(np.float32))


SETUPS: dict[str, Callable[[dict, Path, Any], None]] = {
    "arrays": setup_arrays, "table": setup_table, "digits": setup_digits, "photos": setup_photos,
    "canvas": setup_canvas, "pets": setup_pets, "reviews": setup_reviews, "iris": setup_iris,
    "onnx-file": setup_onnx_file, "onnx-table": setup_onnx_table, "caffe": setup_caffe,
}


# ------------------------------------------------------------------------------------------- running
def localised(code: str, tmp: Path) -> str:
    """``code`` with the README's cluster and HDFS locations pointing at local Spark and ``tmp/hdfs``."""
    for remote in ("hdfs://nn:8020/", "hdfs://nn/", "hdfs:///"):
        code = code.replace(remote, f"file://{tmp}/hdfs/")
    return code.replace("spark://host:7077", "local[2]")


def run_bash(block: Block, tmp: Path) -> None:
    from zoo.cli import main

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["zoo"] == "zoo.cli:main"                  # so main(argv) is what the `zoo` command runs
    for line in localised(block.code, tmp).replace("\\\n", " ").splitlines():
        argv = shlex.split(line, comments=True)
        if not argv:
            continue
        if argv[0] == "zoo":
            assert main(argv[1:]) == 0, f"README.md:{block.line}: `{line.strip()}` failed"
        else:
            done = subprocess.run(["bash", "-c", line], cwd=tmp, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, f"README.md:{block.line}: `{line.strip()}` failed:\n{done.stderr}"


def run_chain(chain: Chain, tmp: Path, spark: Any) -> str:
    """Run the chain's blocks in ``tmp``; return what they printed."""
    (tmp / "data").mkdir()
    (tmp / "data" / "mnist-digits").symlink_to(DIGITS, target_is_directory=True)
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    printed = io.StringIO()
    for block in chain.blocks:
        if block.setup is not None:
            SETUPS[block.setup](namespace, tmp, spark)
        with contextlib.redirect_stdout(printed):
            if block.lang == "bash":
                run_bash(block, tmp)
            else:
                exec(compile(localised(block.code, tmp), f"README.md:{block.line}", "exec"), namespace)  # noqa: S102
    return printed.getvalue()


def test_every_block_is_run_or_skipped_for_a_reason_and_every_setup_is_used():
    blocks = readme_blocks()
    assert len(blocks) >= 15 and {b.lang for b in blocks} == {"python", "bash"}
    text = README.read_text(encoding="utf-8")
    assert text.count("```python") + text.count("```bash") == len(blocks)      # no block escapes the pattern
    assert len(re.findall(r"<!-- readme-test", text)) == sum(b.marker is not None for b in blocks)  # all parsed
    skipped = [b for b in blocks if b.marker and b.marker.startswith("skip: ")]
    assert [b.code.split()[:2] for b in skipped] == [["make", "demo"]]            # the only exclusion
    used = {b.setup for b in blocks if b.setup}
    assert used == set(SETUPS), (used ^ set(SETUPS))
    transfer = text.split("## Transfer learning", 1)[1].split("\n## ", 1)[0]
    for code in FENCE.findall(transfer):
        assert len(code[1].strip().splitlines()) <= 15, code[1]                 # each style in <= 15 lines


@pytest.mark.parametrize("chain", chains(), ids=lambda c: c.name)
def test_readme_block_runs_as_written(chain, spark, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    printed = run_chain(chain, tmp_path, spark)
    for accuracy in re.findall(r"held-out accuracy (\d\.\d+)", printed):
        assert float(accuracy) > 0.6, printed                                   # 10 classes: chance is 0.1
