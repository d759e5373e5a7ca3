"""Both distributed modes with five partitions on local[5], against LocalTrainer: max abs weight differences.

    python -m tests.helpers.gang_five result.json
"""
from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

import numpy as np  # noqa: E402

from bigdl_runtime.nn.losses import CrossEntropyLoss  # noqa: E402
from bigdl_runtime.spark import init_spark  # noqa: E402
from bigdl_runtime.spark.trainer import DistributedTrainer  # noqa: E402
from bigdl_runtime.train import LocalTrainer  # noqa: E402
from tests.runtime.spark.test_gang import FIT, build, data  # noqa: E402


def weights(model) -> np.ndarray:
    return np.concatenate([np.asarray(v, np.float64).ravel() for v in model.state_dict().values()])


def main(out: str) -> None:
    spark = init_spark("local[5,4]", app_name="gang-five")
    result = {}
    for kind in ("mlp", "batchnorm", "lstm"):
        # batch norm needs two samples per task and batch: five tasks get batches of 48
        args = {**FIT, "batch_size": 48} if kind == "batchnorm" else FIT
        model, optimizer = build(kind)
        LocalTrainer(model, CrossEntropyLoss(), optimizer).fit(*data(kind), **args)
        found = {"local": weights(model)}
        for mode in ("iteration", "gang"):
            model, optimizer = build(kind)
            DistributedTrainer(model, CrossEntropyLoss(), optimizer, spark, num_partitions=5,
                               mode=mode).fit(*data(kind), **args)
            found[mode] = weights(model)
        result[kind] = {"gang_vs_local": float(np.abs(found["gang"] - found["local"]).max()),
                        "iteration_vs_local": float(np.abs(found["iteration"] - found["local"]).max()),
                        "gang_vs_iteration": float(np.abs(found["gang"] - found["iteration"]).max())}
    spark.stop()
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
