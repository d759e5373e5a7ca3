"""A real Spark standalone cluster on loopback: an executor killed mid-training changes nothing, in both modes
(per-iteration jobs: the lost tasks are retried; gang: the barrier stage restarts from its newest checkpoint).

The cluster's driver is its own SparkSession, which cannot share a process
with the session-wide ``spark`` fixture, so the training runs in a subprocess
(``scripts/spark_cluster_fault_demo.py``) and the test reads its JSON result.
About 50 s wall time on two busy cores (three daemons, a driver and three
executor JVMs start).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.standalone_cluster import ClusterError, find_java, marked_processes, standalone_cluster

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(find_java() is None, reason="Spark needs Java 17+: no java on PATH or JAVA_HOME")]


@pytest.mark.parametrize("mode", ["iteration", "gang"])
def test_training_survives_an_executor_kill(tmp_path: Path, mode: str) -> None:
    work, out = tmp_path / "cluster", tmp_path / "result.json"
    # a gang iteration of this tiny model takes ~2 ms: many iterations, so the kill lands mid-run,
    # after a few checkpoints the restarted gang resumes from
    length = ["--iterations", "8", "--kill-after", "3"] if mode == "iteration" else \
        ["--iterations", "600", "--kill-after", "12", "--checkpoint-every", "5"]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "spark_cluster_fault_demo.py"), *length,
         "--work-dir", str(work), "--summary-dir", str(tmp_path), "--json", str(out), "--mode", mode],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    result = json.loads(out.read_text())
    assert all(result["checks"].values()), result["checks"]
    assert result["killed"]["iterations_done"] < result["iterations"]
    assert result["failed_tasks"] >= 1                    # the kill interrupted a running task
    assert result["executors_launched"] == ["0", "1", "2"]  # the master replaced the dead executor
    assert result["max_abs_weight_diff"] == 0.0           # bit-identical to the local[2] run
    assert marked_processes(work) == []                   # no JVM or Python worker left behind


def test_a_worker_that_cannot_start_is_reported_with_its_log(tmp_path: Path) -> None:
    with pytest.raises(ClusterError, match=r"(?s)worker-0 exited while starting.*worker-0\.log"):
        with standalone_cluster(num_workers=1, memory="lots", work_dir=tmp_path, timeout=120.0):
            pass  # pragma: no cover - never reached
    assert marked_processes(tmp_path) == []
