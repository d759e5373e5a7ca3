"""The tasks' filesystem: checkpoints written and read through pyarrow.fs like through the driver's."""
from __future__ import annotations

import numpy as np
import pytest

from bigdl_runtime.nn import Linear, Sequential, random
from bigdl_runtime.optim import SGD
from bigdl_runtime.spark.task_fs import ArrowFileSystem, task_filesystem
from bigdl_runtime.train import load_checkpoint, save_checkpoint
from bigdl_runtime.train.local_fs import LocalFileSystem


def test_local_paths_stay_local_and_other_schemes_go_through_pyarrow(tmp_path):
    assert isinstance(task_filesystem(tmp_path), LocalFileSystem)
    assert isinstance(task_filesystem(tmp_path.as_uri()), LocalFileSystem)
    assert isinstance(task_filesystem("hdfs://namenode:8020/runs"), ArrowFileSystem)


def test_a_checkpoint_round_trips_through_the_arrow_filesystem(tmp_path):
    fs = ArrowFileSystem()                 # driven with file:// URIs: the same calls hdfs:// gets
    uri = tmp_path.as_uri() + "/runs"
    random.manual_seed(0)
    model = Sequential(Linear(3, 2))
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    model.parameters()[0].grad[...] = 1.0
    optimizer.step()
    for iteration in (2, 4):
        path = save_checkpoint(uri, model, optimizer, {"state": {"iteration": iteration}}, fs=fs)
    assert path.endswith("/runs/checkpoint-4")
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["checkpoint-4", "latest"]
    random.manual_seed(1)
    other = Sequential(Linear(3, 2))
    restored = SGD(other.parameters(), lr=0.1, momentum=0.9)
    trainer = load_checkpoint(uri, other, restored, fs=fs)
    assert trainer["state"]["iteration"] == 4
    np.testing.assert_array_equal(other.parameters()[0].data, model.parameters()[0].data)
    np.testing.assert_array_equal(restored.state[0]["momentum_buffer"], optimizer.state[0]["momentum_buffer"])


def test_arrow_filesystem_errors(tmp_path):
    fs = ArrowFileSystem()
    base = tmp_path.as_uri()
    with pytest.raises(FileNotFoundError, match="no such file"):
        fs.read_bytes(base + "/missing")
    fs.write_bytes_atomic(base + "/d/a", b"1")
    fs.write_bytes_atomic(base + "/d/a", b"2")          # replaces
    assert fs.read_bytes(base + "/d/a") == b"2" and fs.listdir(base + "/d") == ["a"]
    with pytest.raises(FileExistsError):
        fs.rename(base + "/d/a", base + "/d")
    with pytest.raises(OSError, match="not empty"):
        fs.delete(base + "/d")
    fs.delete(base + "/d", recursive=True)
    assert not fs.exists(base + "/d")
