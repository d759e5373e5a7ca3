"""The checkpoint filesystem protocol: LocalFileSystem and HadoopFileSystem (Hadoop's FileSystem
on file:// URIs, through the Spark fixture) pass the same table; filesystem_for picks the backend;
a 50 MB round trip through the JVM."""
from __future__ import annotations

import os
import time

import numpy as np
import pytest

from bigdl_runtime.spark.hadoop_fs import HadoopFileSystem, filesystem_for, require_input
from bigdl_runtime.train.local_fs import LocalFileSystem, is_temporary, uri_scheme

from ..train.test_checkpoint import storage  # noqa: F401  (fixture: each backend on a fresh directory)


def test_write_read_and_replace_atomically(storage):
    fs, root = storage
    path = fs.join(fs.join(root, "new"), "f.bin")          # the parent is created
    fs.write_bytes_atomic(path, b"first")
    fs.write_bytes_atomic(path, b"\x00second\xff")
    assert fs.read_bytes(path) == b"\x00second\xff"
    fs.write_bytes_atomic(fs.join(root, "empty"), b"")
    assert fs.read_bytes(fs.join(root, "empty")) == b""
    assert fs.listdir(fs.join(root, "new")) == ["f.bin"]     # no temporary sibling left


def test_exists_isdir_listdir_mkdirs(storage):
    fs, root = storage
    fs.mkdirs(fs.join(fs.join(root, "a"), "b"))
    fs.mkdirs(fs.join(root, "a"))                            # exists already: no error
    fs.write_bytes_atomic(fs.join(root, "z.txt"), b"z")
    assert fs.listdir(root) == ["a", "z.txt"]
    assert (fs.exists(fs.join(root, "a")), fs.isdir(fs.join(root, "a"))) == (True, True)
    assert (fs.exists(fs.join(root, "z.txt")), fs.isdir(fs.join(root, "z.txt"))) == (True, False)
    assert (fs.exists(fs.join(root, "nope")), fs.isdir(fs.join(root, "nope"))) == (False, False)


def test_rename_never_replaces(storage):
    fs, root = storage
    src, dst = fs.join(root, "src"), fs.join(root, "dst")
    fs.write_bytes_atomic(fs.join(src, "f"), b"1")
    fs.mkdirs(dst)                                           # empty: POSIX rename would replace it,
    with pytest.raises(FileExistsError):                     # Hadoop would move src into it
        fs.rename(src, dst)
    assert fs.listdir(dst) == [] and fs.read_bytes(fs.join(src, "f")) == b"1"
    fs.delete(dst)
    fs.rename(src, dst)
    assert fs.listdir(root) == ["dst"] and fs.read_bytes(fs.join(dst, "f")) == b"1"
    with pytest.raises(FileNotFoundError):
        fs.rename(src, fs.join(root, "other"))


def test_delete(storage):
    fs, root = storage
    tree = fs.join(root, "tree")
    fs.write_bytes_atomic(fs.join(fs.join(tree, "sub"), "f"), b"1")
    fs.write_bytes_atomic(fs.join(root, "file"), b"1")
    with pytest.raises(OSError):
        fs.delete(tree)                                      # not empty, not recursive
    fs.delete(tree, recursive=True)
    fs.delete(fs.join(root, "file"))
    assert fs.listdir(root) == []
    with pytest.raises(FileNotFoundError):
        fs.delete(fs.join(root, "file"))


def test_missing_paths_and_directories_raise(storage):
    fs, root = storage
    with pytest.raises(FileNotFoundError):
        fs.read_bytes(fs.join(root, "nope"))
    with pytest.raises(FileNotFoundError):
        fs.listdir(fs.join(root, "nope"))
    with pytest.raises(IsADirectoryError):
        fs.read_bytes(root)


def test_filesystem_for(spark, tmp_path):
    assert isinstance(filesystem_for(tmp_path), LocalFileSystem)
    assert isinstance(filesystem_for(tmp_path.as_uri()), LocalFileSystem)
    assert isinstance(filesystem_for(str(tmp_path), spark), LocalFileSystem)     # plain path: the driver's disk
    fs = filesystem_for(tmp_path.as_uri(), spark)
    assert isinstance(fs, HadoopFileSystem) and repr(fs) == "HadoopFileSystem('file:///')"
    with pytest.raises(ValueError, match="scheme 'hdfs': a SparkSession is needed"):
        filesystem_for("hdfs://namenode:8020/runs")
    assert [uri_scheme(p) for p in ("/a/b", "C:\\a", "HDFS://nn/a", "s3a://b/k")] == [None, None, "hdfs", "s3a"]
    assert is_temporary(".checkpoint-8.12.ab.tmp") and not is_temporary("checkpoint-8")


def test_large_round_trip_through_hadoop(spark, tmp_path):
    fs = HadoopFileSystem(spark, tmp_path.as_uri())
    data = np.random.default_rng(0).integers(0, 256, 50 * 2**20, dtype=np.uint8).tobytes()
    path = fs.join(tmp_path.as_uri(), "big.bin")
    tic = time.perf_counter()
    fs.write_bytes_atomic(path, data)
    wrote = time.perf_counter() - tic
    back = fs.read_bytes(path)
    print(f"50 MB through HadoopFileSystem: write {wrote:.2f} s, read {time.perf_counter() - tic - wrote:.2f} s")
    assert back == data
    assert os.path.getsize(tmp_path / "big.bin") == len(data)


def test_glob_and_require_input(spark, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.jpg").write_bytes(b"1")
    (tmp_path / "a" / "y.txt").write_bytes(b"2")
    fs = HadoopFileSystem(spark, tmp_path.as_uri())
    assert [p.rsplit("/", 1)[1] for p in fs.glob(f"{tmp_path.as_uri()}/a/*.jpg")] == ["x.jpg"]
    assert fs.glob(f"{tmp_path.as_uri()}/a/*.png") == [] and fs.glob(f"{tmp_path.as_uri()}/nowhere") == []
    for found in (str(tmp_path / "a"), f"{tmp_path.as_uri()}/a/*.txt", tmp_path / "a" / "x.jpg"):
        require_input(found, spark, "images")          # a plain path resolves on the default filesystem
    for missing in (str(tmp_path / "nowhere"), f"{tmp_path.as_uri()}/a/*.png"):
        with pytest.raises(FileNotFoundError, match=r"no images found: nothing exists at this path: '.*(nowhere|png)'"):
            require_input(missing, spark, "images")
