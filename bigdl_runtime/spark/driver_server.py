"""A TCP server on the driver that the tasks of a fit connect to (the gang's coordinator, the per-iteration hub).

It listens on the driver's bind address (``spark.driver.bindAddress``, by default ``spark.driver.host``) and
tells the tasks ``spark.driver.host`` (the address the executors already use to reach the driver, e.g. a
Kubernetes service name while the driver binds to its pod's address), accepts connections on a daemon
thread and serves each one on a thread of its own.
"""
from __future__ import annotations

import socket
import threading
from typing import Callable

from pyspark.sql import SparkSession


def driver_address(spark: SparkSession) -> tuple[str, str]:
    """``(host, bind)``: the address executors reach the driver at (``spark.driver.host``, else this host's
    name) and the one the driver binds to (``spark.driver.bindAddress``, else the host)."""
    conf = spark.sparkContext.getConf()
    host = conf.get("spark.driver.host", socket.gethostname())
    return host, conf.get("spark.driver.bindAddress", host)


class DriverServer:
    """Accepts connections on ``bind`` (default ``host``; an ephemeral port) and runs ``serve(connection)`` for each
    on its own thread; :attr:`address` is ``(host, port)``, what the tasks connect to.

    ``serve`` owns the connection (it should close it). :meth:`close` stops accepting and waits up to
    ``join_timeout`` seconds for the connections being served.
    """

    def __init__(self, host: str, serve: Callable[[socket.socket], None], name: str, bind: str | None = None) -> None:
        self._serve = serve
        self._closed = threading.Event()
        self._server = socket.create_server((bind or host, 0))
        self._server.settimeout(0.2)
        #: ``(host, port)`` the tasks connect to
        self.address = (host, self._server.getsockname()[1])
        self._served: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name=name, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._server.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            served = threading.Thread(target=self._serve, args=(conn,), name=f"{self._thread.name}-conn",
                                      daemon=True)
            with self._lock:
                self._served = [t for t in self._served if t.is_alive()]
                self._served.append(served)
            served.start()

    def close(self, join_timeout: float = 30.0) -> None:
        """Stop accepting; wait for the connections being served to end."""
        self._closed.set()
        self._thread.join(timeout=5)
        self._server.close()
        with self._lock:
            served = list(self._served)
        for thread in served:
            thread.join(timeout=join_timeout)
