"""Checkpoint storage on any Hadoop-compatible filesystem, through the SparkSession's JVM.

:class:`HadoopFileSystem` implements the checkpoint
:class:`~bigdl_runtime.train.local_fs.FileSystem` protocol with
``org.apache.hadoop.fs.FileSystem`` (HDFS, S3A, GCS, ABFS, viewfs, file, ...:
whatever connectors the Spark installation has, configured by its Hadoop
configuration). It runs on the driver, where the py4j gateway lives.

Bytes do not travel through py4j (which moves a ``byte[]`` as base64 text:
50 MB took about 6 s to read): like Spark's own ``parallelize``, the Python
side stages the data in a driver-local temporary file and the JVM copies
between that file and the target with ``copyFromLocalFile`` /
``copyToLocalFile`` (50 MB in well under a second).

Examples:
    >>> fs = filesystem_for("hdfs://nn:8020/runs/mnist", spark)
    >>> save_checkpoint("hdfs://nn:8020/runs/mnist", model, optimizer, trainer_state, fs=fs)
"""
from __future__ import annotations

import contextlib
import errno
import os
import posixpath
import tempfile
from pathlib import Path
from typing import Any, Iterator

from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

from ..train.local_fs import FileSystem, default_filesystem, temporary_name, uri_scheme

# Java exception class -> Python exception, checked in order (subclasses first)
_ERRORS = (("java.io.FileNotFoundException", FileNotFoundError),
           ("org.apache.hadoop.fs.FileAlreadyExistsException", FileExistsError),
           ("org.apache.hadoop.fs.PathIsNotEmptyDirectoryException", OSError),
           ("java.io.IOException", OSError))


def filesystem_for(path: str | os.PathLike, spark: SparkSession | None = None) -> FileSystem:
    """The filesystem that stores ``path``.

    A plain path is on the driver's local disk (:class:`LocalFileSystem`), as
    in BigDL; a URI with a scheme (``file://``, ``hdfs://``, ``s3a://``,
    ``viewfs://``, ...) goes through Hadoop's FileSystem when ``spark`` is
    given. Without ``spark`` only plain paths and ``file://`` URIs work.

    Raises:
        ValueError: a scheme other than ``file`` and no SparkSession.
    """
    if spark is None or uri_scheme(path) is None:
        return default_filesystem(path)
    return HadoopFileSystem(spark, os.fspath(path))


def require_input(path: str | os.PathLike, spark: SparkSession, what: str) -> None:
    """Check, before Spark's readers run on ``path``, that it names something.

    Spark's file sources log a Java stack trace (and raise an ``AnalysisException``) for a
    missing path; readers call this first to fail with a plain message. ``path`` is resolved
    as Spark resolves it: a plain path is on the default filesystem (``fs.defaultFS``), and
    globs are expanded.

    Args:
        path: a file, folder or glob; any Hadoop URI.
        spark: the session whose Hadoop configuration resolves ``path``.
        what: what is read, for the message (e.g. ``"images"``).

    Raises:
        FileNotFoundError: nothing exists at ``path`` (naming it and ``what``).
    """
    path = os.fspath(path)
    if not HadoopFileSystem(spark, path).glob(path):
        raise FileNotFoundError(errno.ENOENT, f"no {what} found: nothing exists at this path", path)


class HadoopFileSystem:
    """:class:`~bigdl_runtime.train.local_fs.FileSystem` on the Hadoop filesystem of ``uri``.

    Args:
        spark: the session whose JVM and Hadoop configuration
            (``spark.sparkContext._jsc.hadoopConfiguration()``) are used.
        uri: any path on the filesystem (its scheme and authority pick it); all
            paths given to the methods must be on the same filesystem.

    Paths are strings (URIs). Hadoop's ``rename`` never replaces an existing
    file, so :meth:`write_bytes_atomic` deletes the old file before renaming
    the new one into place: readers of a path being replaced may find it
    missing for a moment, never partial. Driver only: the object holds py4j
    references and cannot be sent to executors.
    """

    def __init__(self, spark: SparkSession, uri: str) -> None:
        self._jvm = spark.sparkContext._jvm
        self.uri = uri
        with self._errors(uri):
            self._fs = self._path(uri).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())

    def __repr__(self) -> str:
        return f"HadoopFileSystem({self._fs.getUri().toString()!r})"

    def join(self, path: str, name: str) -> str:
        return f"{path.rstrip('/')}/{name}"

    def read_bytes(self, path: str) -> bytes:
        with self._staging() as local, self._errors(path):
            if self._fs.getFileStatus(self._path(path)).isDirectory():
                raise IsADirectoryError(errno.EISDIR, "is a directory", path)
            # delSrc=False, useRawLocalFileSystem=True: no .crc file next to the staged copy
            self._fs.copyToLocalFile(False, self._path(path), self._local_path(local), True)
            with open(local, "rb") as f:
                return f.read()

    def write_bytes_atomic(self, path: str, data: bytes) -> None:
        parent, name = posixpath.split(path.rstrip("/"))
        tmp = self.join(parent, temporary_name(name))
        with self._staging() as local, self._errors(path):
            with open(local, "wb") as f:
                f.write(data)
            self._fs.copyFromLocalFile(False, False, self._local_path(local), self._path(tmp))
            try:
                if self._fs.exists(self._path(path)):
                    self._fs.delete(self._path(path), False)
                self._rename(tmp, path)
            except BaseException:
                self._fs.delete(self._path(tmp), False)
                raise

    def exists(self, path: str) -> bool:
        with self._errors(path):
            return bool(self._fs.exists(self._path(path)))

    def glob(self, pattern: str) -> list[str]:
        """The paths matching ``pattern`` (a path, or a Hadoop glob with ``*``, ``?``, ``[...]``, ``{a,b}``)."""
        with self._errors(pattern):
            statuses = self._fs.globStatus(self._path(pattern))
        return [] if statuses is None else sorted(str(status.getPath().toString()) for status in statuses)

    def isdir(self, path: str) -> bool:
        try:
            with self._errors(path):
                return bool(self._fs.getFileStatus(self._path(path)).isDirectory())
        except FileNotFoundError:
            return False

    def listdir(self, path: str) -> list[str]:
        with self._errors(path):
            if not self._fs.getFileStatus(self._path(path)).isDirectory():
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
            return sorted(str(status.getPath().getName()) for status in self._fs.listStatus(self._path(path)))

    def mkdirs(self, path: str) -> None:
        with self._errors(path):
            if not self._fs.mkdirs(self._path(path)):
                raise OSError(f"mkdirs: could not create '{path}'")

    def rename(self, src: str, dst: str) -> None:
        with self._errors(src):
            if not self._fs.exists(self._path(src)):
                raise FileNotFoundError(errno.ENOENT, "rename: no such file or directory", src)
            if self._fs.exists(self._path(dst)):  # Hadoop would move src *into* an existing directory
                raise FileExistsError(errno.EEXIST, "rename: the target exists", dst)
            self._rename(src, dst)

    def delete(self, path: str, recursive: bool = False) -> None:
        with self._errors(path):
            if not self._fs.exists(self._path(path)):
                raise FileNotFoundError(errno.ENOENT, "delete: no such file or directory", path)
            if not self._fs.delete(self._path(path), recursive):
                raise OSError(f"delete: could not delete '{path}'")

    # ------------------------------------------------------------------ helpers
    def _rename(self, src: str, dst: str) -> None:
        if not self._fs.rename(self._path(src), self._path(dst)):
            raise OSError(f"rename: could not rename '{src}' to '{dst}'")

    def _path(self, path: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(path)

    def _local_path(self, local: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(Path(local).as_uri())

    @staticmethod
    @contextlib.contextmanager
    def _staging() -> Iterator[str]:
        """A driver-local file name in a fresh temporary directory, removed afterwards."""
        with tempfile.TemporaryDirectory(prefix="bigdl-hadoop-") as directory:
            yield os.path.join(directory, "data")

    @contextlib.contextmanager
    def _errors(self, path: str) -> Iterator[None]:
        """Turn a Java exception into the matching Python one (naming ``path``)."""
        try:
            yield
        except Py4JJavaError as err:
            exc = err.java_exception
            for name, kind in _ERRORS:
                if self._jvm.java.lang.Class.forName(name).isInstance(exc):
                    raise kind(f"{path}: {exc.getClass().getName()}: {exc.getMessage()}") from err
            raise
