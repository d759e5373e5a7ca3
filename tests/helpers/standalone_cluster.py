"""A real Spark standalone cluster on loopback, from the pip ``pyspark`` package.

One master and N workers run as separate JVMs (``bin/spark-class ...Master`` /
``...Worker``), each worker launching its own executor JVM for an application,
so tests and scripts can exercise what ``local[N]`` never does: tasks in other
processes, shuffles between block managers, and an executor dying mid-run.

The pip package has ``bin/spark-class`` and the jars, but not the
``sbin/start-master.sh`` family, so the daemons are started directly. Every
process of the cluster (daemons, executors, their Python workers) carries a
marker in its environment, which is how :func:`standalone_cluster` finds and
stops all of them afterwards and checks that none is left. Linux only (reads
``/proc``).

Examples:
    >>> with standalone_cluster(num_workers=2) as cluster:
    ...     spark = init_spark(cluster.master_url, conf=cluster.driver_conf())
    ...     ...
    ...     kill_executor(spark.sparkContext.applicationId)
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pyspark

#: The pip package directory is a usable SPARK_HOME (bin/spark-class and jars/).
SPARK_HOME = os.path.dirname(pyspark.__file__)
HOST = "127.0.0.1"
#: Environment variable set on every process of a cluster; its value is the cluster's work dir.
MARKER = "BIGDL_STANDALONE_CLUSTER"
EXECUTOR_CLASS = "org.apache.spark.executor.CoarseGrainedExecutorBackend"


class ClusterError(RuntimeError):
    """The cluster did not come up, or did not go down cleanly."""


def find_java() -> str | None:
    """The ``java`` executable Spark will use (``$JAVA_HOME/bin/java``, else on PATH), or None."""
    home = os.environ.get("JAVA_HOME")
    if home and os.access(os.path.join(home, "bin", "java"), os.X_OK):
        return os.path.join(home, "bin", "java")
    return shutil.which("java")


def free_port() -> int:
    """A TCP port on loopback that was free a moment ago."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _has_marker(pid: int, value: str) -> bool:
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"{MARKER}={value}".encode() in environ


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def marked_processes(work_dir: str | os.PathLike) -> list[int]:
    """Live processes that belong to the cluster whose work dir is ``work_dir``."""
    value = str(work_dir)
    return [pid for pid in _pids() if pid != os.getpid() and _alive(pid) and _has_marker(pid, value)]


def executor_processes(app_id: str) -> dict[str, int]:
    """``{executor id: pid}`` of the live executor JVMs of application ``app_id``."""
    found = {}
    for pid in _pids():
        args = _cmdline(pid)
        if EXECUTOR_CLASS in args and "--app-id" in args and args[args.index("--app-id") + 1] == app_id \
                and _alive(pid):
            found[args[args.index("--executor-id") + 1]] = pid
    return found


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if _alive(p)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def busy_executors(ui_url: str, app_id: str, timeout: float = 30.0) -> list[str]:
    """Ids of the executors of ``app_id`` that are running tasks now, from the driver's REST API.

    Args:
        ui_url: the driver's web UI (``spark.sparkContext.uiWebUrl``; needs ``spark.ui.enabled``).
        app_id: the application (``spark.sparkContext.applicationId``).
        timeout: seconds to wait for the answer (the first one takes seconds: the REST service starts lazily).
    """
    with urllib.request.urlopen(f"{ui_url}/api/v1/applications/{app_id}/executors", timeout=timeout) as response:
        executors = json.load(response)
    return sorted((e["id"] for e in executors if e["id"] != "driver" and e["isActive"] and e["activeTasks"] > 0),
                  key=int)


def kill_executor(app_id: str, executor_id: str | None = None, timeout: float = 30.0) -> tuple[str, int]:
    """SIGKILL one executor JVM of ``app_id`` and wait until it is gone.

    Args:
        app_id: the application (``spark.sparkContext.applicationId``).
        executor_id: which executor; default the one with the smallest id.
        timeout: seconds to wait for the process to disappear.

    Returns:
        ``(executor id, pid)`` of the killed process.
    """
    executors = executor_processes(app_id)
    if not executors:
        raise ClusterError(f"no live executor process for application {app_id}")
    if executor_id is None:
        executor_id = min(executors, key=int)
    if executor_id not in executors:
        raise ClusterError(f"executor {executor_id} of {app_id} is not running; live: {sorted(executors)}")
    pid = executors[executor_id]
    os.kill(pid, signal.SIGKILL)
    if _wait_gone([pid], timeout):
        raise ClusterError(f"executor {executor_id} (pid {pid}) still alive {timeout}s after SIGKILL")
    return executor_id, pid


@dataclass
class StandaloneCluster:
    """A running cluster: its URLs, work dir and daemon processes."""

    master_url: str
    webui_url: str
    work_dir: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def status(self) -> dict:
        """The master's JSON status (workers, cores, applications)."""
        with urllib.request.urlopen(f"{self.webui_url}/json/", timeout=5) as response:
            return json.load(response)

    def driver_conf(self) -> dict[str, str]:
        """Spark settings for a driver of this cluster: bind and advertise loopback."""
        return {"spark.driver.host": HOST, "spark.driver.bindAddress": HOST}

    def executors_launched(self, app_id: str) -> list[str]:
        """Ids of every executor the workers have launched for ``app_id`` (dead ones included)."""
        return sorted((p.name for p in self.work_dir.glob(f"worker-*/{app_id}/*") if p.is_dir()), key=int)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of every daemon's log, for error messages."""
        parts = []
        for name in self.processes:
            text = (self.work_dir / f"{name}.log").read_text(errors="replace").splitlines()
            parts.append(f"--- {name}.log\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)


def _environment(work_dir: Path) -> dict[str, str]:
    java = find_java()
    if java is None:
        raise ClusterError("no java found: set JAVA_HOME or put java on PATH (Spark needs Java 17+)")
    env = dict(os.environ)
    env.update({
        "SPARK_HOME": SPARK_HOME,
        "JAVA_HOME": os.path.dirname(os.path.dirname(os.path.realpath(java))),
        "PYSPARK_PYTHON": sys.executable,
        "SPARK_LOCAL_IP": HOST,
        # The REST submission server has a fixed port (6066): two clusters would collide.
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        MARKER: str(work_dir),
    })
    return env


def _wait_ready(cluster: StandaloneCluster, num_workers: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        dead = [name for name, p in cluster.processes.items() if p.poll() is not None]
        if dead:
            raise ClusterError(f"{', '.join(dead)} exited while starting\n{cluster.log_tail()}")
        with contextlib.suppress(OSError, ValueError):
            status = cluster.status()
            if status.get("status") == "ALIVE" and status.get("aliveworkers") == num_workers:
                return
        time.sleep(0.5)
    raise ClusterError(f"cluster not ready after {timeout}s ({status.get('aliveworkers', 0)} of {num_workers} "
                       f"workers alive)\n{cluster.log_tail()}")


def _stop(cluster: StandaloneCluster, timeout: float) -> list[int]:
    """Stop every process of the cluster by pid; return the pids still alive afterwards."""
    daemons = list(cluster.processes.values())
    for p in reversed(daemons):  # workers first: each stops its executors on the way out
        if p.poll() is None:
            p.terminate()
    for p in daemons:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout)
    for pid in [p.pid for p in daemons if p.poll() is None] + marked_processes(cluster.work_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for p in daemons:
        p.wait()
    return _wait_gone(marked_processes(cluster.work_dir), timeout)


@contextlib.contextmanager
def standalone_cluster(num_workers: int = 2, cores: int = 1, memory: str = "1g",
                       work_dir: str | os.PathLike | None = None,
                       timeout: float = 180.0) -> Iterator[StandaloneCluster]:
    """Start a master and ``num_workers`` workers on 127.0.0.1; stop them all on exit.

    Args:
        num_workers: worker daemons (each launches one executor per application).
        cores: cores each worker offers (so each executor runs that many tasks at once).
        memory: memory each worker offers (an executor asks for ``spark.executor.memory``, 1g by default).
        work_dir: where logs (``master.log``, ``worker-<i>.log``) and executor dirs
            go; default a fresh temporary directory, removed afterwards.
        timeout: seconds to wait for the workers to register, and for processes to stop.

    Yields:
        the :class:`StandaloneCluster` (``master_url`` is ``spark://127.0.0.1:<port>``).

    Raises:
        ClusterError: java missing, a daemon died or the workers did not register
            in time (with the log tails), or a process survived the shutdown.
    """
    owned = work_dir is None
    root = Path(tempfile.mkdtemp(prefix="spark-cluster-") if owned else work_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    env = _environment(root)
    port, webui = free_port(), free_port()
    cluster = StandaloneCluster(f"spark://{HOST}:{port}", f"http://{HOST}:{webui}", root)
    spark_class = os.path.join(SPARK_HOME, "bin", "spark-class")
    commands = {"master": ["org.apache.spark.deploy.master.Master", "--host", HOST, "--port", str(port),
                           "--webui-port", str(webui)]}
    for i in range(num_workers):
        commands[f"worker-{i}"] = ["org.apache.spark.deploy.worker.Worker", cluster.master_url, "--host", HOST,
                                   "--cores", str(cores), "--memory", memory, "--webui-port", "0",
                                   "--work-dir", str(root / f"worker-{i}")]
    leftover: list[int] = []
    try:
        for name, args in commands.items():
            with open(root / f"{name}.log", "wb") as log:
                cluster.processes[name] = subprocess.Popen(
                    ["bash", spark_class, *args], stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        _wait_ready(cluster, num_workers, timeout)
        yield cluster
    finally:
        leftover = _stop(cluster, timeout)
        if owned and not leftover:
            shutil.rmtree(root, ignore_errors=True)
    if leftover:
        raise ClusterError(f"processes of the cluster in {root} still alive after stop: {leftover}")
