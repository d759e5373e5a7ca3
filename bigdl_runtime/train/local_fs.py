"""The small filesystem protocol checkpoints are written through, and its local backend.

:class:`FileSystem` is what :mod:`bigdl_runtime.train.checkpoint` needs from a
storage system: whole-file reads, atomic whole-file writes (a temporary sibling
renamed into place), listing, directory creation, a directory rename that
never replaces an existing target, and deletion. :class:`LocalFileSystem`
implements it on the local disk; ``bigdl_runtime.spark.hadoop_fs.HadoopFileSystem``
implements it on any Hadoop-compatible filesystem (HDFS, S3A, GCS, ABFS, ...)
through the JVM of a SparkSession.

Temporary names start with ``.`` and end with ``.tmp`` (:func:`is_temporary`),
so a crashed writer's leftovers are recognisable and never mistaken for data.

Examples:
    >>> fs = default_filesystem("/tmp/run")           # or file:///tmp/run
    >>> fs.write_bytes_atomic(fs.join("/tmp/run", "latest"), b"checkpoint-8\\n")
    >>> default_filesystem("hdfs://nn:8020/run")     # ValueError: needs a SparkSession
"""
from __future__ import annotations

import os
import re
import shutil
import secrets
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from ..serialization.framing import atomic_write

PathLike = str | os.PathLike

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


class FileSystem(Protocol):
    """Storage for checkpoints: the operations :mod:`~bigdl_runtime.train.checkpoint` uses.

    Errors follow Python's: ``FileNotFoundError`` for a missing path,
    ``FileExistsError`` when a rename target exists, ``OSError`` otherwise.
    """

    def join(self, path: PathLike, name: str) -> PathLike:
        """The path of entry ``name`` inside directory ``path``."""

    def read_bytes(self, path: PathLike) -> bytes:
        """The whole contents of the file at ``path``."""

    def write_bytes_atomic(self, path: PathLike, data: bytes) -> None:
        """Write ``data`` to a temporary sibling of ``path``, then rename it over ``path``.

        The parent directory is created if missing. Readers never see a partial
        file; where the storage cannot rename over an existing file (HDFS) the
        old file is deleted first, so ``path`` may be briefly missing.
        """

    def exists(self, path: PathLike) -> bool: ...

    def isdir(self, path: PathLike) -> bool: ...

    def listdir(self, path: PathLike) -> list[str]:
        """Names (not paths) of the entries of directory ``path``, sorted."""

    def mkdirs(self, path: PathLike) -> None:
        """Create directory ``path`` and its missing parents (no error if it exists)."""

    def rename(self, src: PathLike, dst: PathLike) -> None:
        """Move ``src`` (file or directory) to ``dst``; ``FileExistsError`` if ``dst`` exists."""

    def delete(self, path: PathLike, recursive: bool = False) -> None:
        """Remove a file, or a directory (a non-empty one only with ``recursive``)."""


def uri_scheme(path: PathLike) -> str | None:
    """The URI scheme of ``path`` in lower case (``"hdfs"``, ``"file"``), None for a plain path.

    A single letter before ``:`` is a Windows drive, not a scheme.
    """
    match = _SCHEME.match(os.fspath(path))
    return match.group(1).lower() if match and len(match.group(1)) > 1 else None


def is_temporary(name: str) -> bool:
    """Whether ``name`` is a temporary entry left by a writer (``.<name>.<token>.tmp``)."""
    return name.startswith(".") and name.endswith(".tmp")


def temporary_name(name: str) -> str:
    """A fresh temporary name for a sibling of ``name`` (see :func:`is_temporary`)."""
    return f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def default_filesystem(path: PathLike) -> "LocalFileSystem":
    """The filesystem used for ``path`` when none is given: local paths and ``file://`` URIs only.

    Raises:
        ValueError: for any other scheme, which is reached through Spark's
            Hadoop FileSystem (``bigdl_runtime.spark.hadoop_fs.filesystem_for(path, spark)``).
    """
    scheme = uri_scheme(path)
    if scheme not in (None, "file"):
        raise ValueError(f"'{os.fspath(path)}' has the scheme '{scheme}': a SparkSession is needed to reach it "
                         "through Hadoop's FileSystem; pass fs=filesystem_for(path, spark) "
                         "(bigdl_runtime.spark.hadoop_fs)")
    return LocalFileSystem()


class LocalFileSystem:
    """:class:`FileSystem` on the local disk; accepts plain paths and ``file://`` URIs.

    Paths come back as :class:`pathlib.Path`. Writes are fsynced before the
    rename (:func:`bigdl_runtime.serialization.framing.atomic_write`).
    """

    @staticmethod
    def local(path: PathLike) -> Path:
        """``path`` as a local :class:`~pathlib.Path` (``file:///a/b``, ``file:/a/b`` -> ``/a/b``)."""
        text = os.fspath(path)
        scheme = uri_scheme(text)
        if scheme is None:
            return Path(text)
        if scheme != "file":
            raise ValueError(f"LocalFileSystem: '{text}' is not a local path (scheme '{scheme}')")
        parsed = urlparse(text)
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"LocalFileSystem: '{text}' names the host '{parsed.netloc}'")
        return Path(unquote(parsed.path))

    def join(self, path: PathLike, name: str) -> Path:
        return self.local(path) / name

    def read_bytes(self, path: PathLike) -> bytes:
        return self.local(path).read_bytes()

    def write_bytes_atomic(self, path: PathLike, data: bytes) -> None:
        target = self.local(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, data)

    def exists(self, path: PathLike) -> bool:
        return self.local(path).exists()

    def isdir(self, path: PathLike) -> bool:
        return self.local(path).is_dir()

    def listdir(self, path: PathLike) -> list[str]:
        return sorted(os.listdir(self.local(path)))

    def mkdirs(self, path: PathLike) -> None:
        self.local(path).mkdir(parents=True, exist_ok=True)

    def rename(self, src: PathLike, dst: PathLike) -> None:
        src, dst = self.local(src), self.local(dst)
        if not src.exists():
            raise FileNotFoundError(f"rename: no such file or directory '{src}'")
        if dst.exists():  # os.rename would replace a file or an empty directory
            raise FileExistsError(f"rename: the target '{dst}' exists")
        os.rename(src, dst)

    def delete(self, path: PathLike, recursive: bool = False) -> None:
        target = self.local(path)
        if target.is_dir() and not target.is_symlink():
            if recursive:
                shutil.rmtree(target)
            else:
                target.rmdir()
        else:
            target.unlink()
