"""Summary files: rows written, read back, plotted as series; resume rewrite; malformed files."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from bigdl_runtime.train import Summary, SummaryWriter, read_summary


def test_rows_written_and_read_back(tmp_path):
    path = tmp_path / "runs" / "summary.jsonl"   # parent directories are created
    with SummaryWriter(path) as w:
        for it in (1, 2, 3):
            w.add_train({"iteration": it, "epoch": 1, "loss": 1.0 / it, "lr": 0.1, "throughput": 100.0,
                         "wall_time": 0.5 * it})
        w.add_validation({"iteration": 3, "epoch": 1, "top1": 0.75, "loss": 0.4})
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[-1])["kind"] == "validation"
    s = read_summary(path)
    assert [r["iteration"] for r in s.train] == [1, 2, 3]
    assert s.validation == [{"iteration": 3, "epoch": 1, "top1": 0.75, "loss": 0.4}]
    it, loss = s.series("loss")
    np.testing.assert_array_equal(it, [1, 2, 3])
    np.testing.assert_allclose(loss, [1.0, 0.5, 1 / 3])
    it_v, top1 = s.series("top1", kind="validation")
    assert it_v.tolist() == [3] and top1.tolist() == [0.75]


def test_start_rows_replace_the_file_and_nan_survives(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text('{"kind": "train", "iteration": 99, "loss": 5.0}\n')
    start = Summary(train=[{"iteration": 1, "loss": math.nan}], validation=[{"iteration": 1, "top1": 0.5}])
    with SummaryWriter(path, start=start) as w:
        w.add_train({"iteration": 2, "loss": 0.5})
    s = read_summary(path)
    assert [r["iteration"] for r in s.train] == [1, 2]
    assert math.isnan(s.train[0]["loss"]) and s.validation == [{"iteration": 1, "top1": 0.5}]


@pytest.mark.parametrize("text, match", [
    ("not json\n", r"s.jsonl:1: not a summary row"),
    ('{"iteration": 1}\n', r"s.jsonl:1: not a summary row"),
    ('{"kind": "train", "iteration": 1}\n{"kind": "other"}\n', r"s.jsonl:2: unknown row kind 'other'"),
])
def test_malformed_file_names_the_line(tmp_path, text, match):
    path = tmp_path / "s.jsonl"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_summary(path)
