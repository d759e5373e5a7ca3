"""Checkpoint storage from inside a Spark task, where there is no JVM gateway: ``pyarrow.fs``.

The driver reaches Hadoop paths through its JVM (:mod:`bigdl_runtime.spark.hadoop_fs`);
a Python worker cannot. The gang trainer's tasks write checkpoints themselves,
so they use :func:`task_filesystem`: plain paths and ``file://`` URIs on the
local disk, and every other URI (``hdfs://``, ``s3://``, ``gs://``, ``abfs://``)
through ``pyarrow.fs.FileSystem.from_uri`` (HDFS needs ``libhdfs`` and the
Hadoop ``CLASSPATH`` on the executors, as on any Hadoop cluster).
"""
from __future__ import annotations

import os
import posixpath
import uuid
from typing import Any

from ..train.local_fs import FileSystem, PathLike, default_filesystem, uri_scheme


def task_filesystem(path: PathLike) -> FileSystem:
    """The filesystem a task uses for ``path`` (local disk, or pyarrow for other schemes)."""
    if uri_scheme(path) in (None, "file"):
        return default_filesystem(path)
    return ArrowFileSystem()


class ArrowFileSystem:
    """:class:`~bigdl_runtime.train.local_fs.FileSystem` over ``pyarrow.fs``; paths are URIs (strings)."""

    def __init__(self) -> None:
        self._resolved: dict[str, tuple[Any, str]] = {}

    def _resolve(self, uri: PathLike) -> tuple[Any, str]:
        """``(pyarrow filesystem, path inside it)`` for ``uri``."""
        from pyarrow import fs as pafs

        text = os.fspath(uri)
        found = self._resolved.get(text)
        if found is None:
            found = self._resolved[text] = pafs.FileSystem.from_uri(text)
        return found

    def _type(self, uri: PathLike) -> Any:
        from pyarrow import fs as pafs

        fs, path = self._resolve(uri)
        return fs.get_file_info(path).type, pafs.FileType

    def join(self, path: PathLike, name: str) -> str:
        return posixpath.join(os.fspath(path), name)

    def read_bytes(self, path: PathLike) -> bytes:
        if not self.exists(path):
            raise FileNotFoundError(f"no such file: '{os.fspath(path)}'")
        fs, p = self._resolve(path)
        with fs.open_input_stream(p) as stream:
            return stream.read()

    def write_bytes_atomic(self, path: PathLike, data: bytes) -> None:
        """Write a temporary file next to ``path``, then move it over (delete first where moves cannot replace)."""
        parent = posixpath.dirname(os.fspath(path))
        tmp = posixpath.join(parent, f".{posixpath.basename(os.fspath(path))}.{uuid.uuid4().hex}.tmp")
        self.mkdirs(parent)
        fs, p_tmp = self._resolve(tmp)
        with fs.open_output_stream(p_tmp) as stream:
            stream.write(data)
        if self.exists(path):
            self.delete(path)
        fs.move(p_tmp, self._resolve(path)[1])

    def exists(self, path: PathLike) -> bool:
        kind, types = self._type(path)
        return kind != types.NotFound

    def isdir(self, path: PathLike) -> bool:
        kind, types = self._type(path)
        return kind == types.Directory

    def listdir(self, path: PathLike) -> list[str]:
        from pyarrow import fs as pafs

        if not self.isdir(path):
            raise FileNotFoundError(f"no such directory: '{os.fspath(path)}'")
        fs, p = self._resolve(path)
        return sorted(posixpath.basename(info.path.rstrip("/")) for info in fs.get_file_info(pafs.FileSelector(p)))

    def mkdirs(self, path: PathLike) -> None:
        fs, p = self._resolve(path)
        fs.create_dir(p, recursive=True)

    def rename(self, src: PathLike, dst: PathLike) -> None:
        if not self.exists(src):
            raise FileNotFoundError(f"rename: no such file or directory '{os.fspath(src)}'")
        if self.exists(dst):
            raise FileExistsError(f"rename: the target '{os.fspath(dst)}' exists")
        fs, p_src = self._resolve(src)
        fs.move(p_src, self._resolve(dst)[1])

    def delete(self, path: PathLike, recursive: bool = False) -> None:
        fs, p = self._resolve(path)
        if self.isdir(path):
            if not recursive and self.listdir(path):
                raise OSError(f"delete: the directory '{os.fspath(path)}' is not empty")
            fs.delete_dir(p)
        elif self.exists(path):
            fs.delete_file(p)
        else:
            raise FileNotFoundError(f"delete: no such file or directory '{os.fspath(path)}'")
