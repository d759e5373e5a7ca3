"""Read images through Spark's ``binaryFile`` source, decoding on the executors."""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Iterable, Iterator

from pyspark import StorageLevel
from pyspark.sql import SparkSession

from bigdl_runtime.spark.errors import tagged, worker_errors

from .decode import BadImageError
from .labels import LabelMap, strip_file_scheme
from .outcomes import Summary, finish_read, label_records, summarise
from .reading import ReadOptions, ReadReport, read_file, read_partition


def read_spark(path: str, spark: SparkSession, options: ReadOptions, classes: LabelMap | None,
               num_partitions: int | None) -> tuple[Any, LabelMap | None, ReadReport, Any]:
    """Read every file under ``path`` (a folder, read recursively, or a glob; any Hadoop URI).

    One job decodes the files where Spark's scan put them (or spread over
    ``num_partitions``) and caches the outcomes; a small summary per partition
    (counts, skipped paths, label names) comes back to the driver. The record
    order is the scan's (fixed for a given set of files), not sorted by path.

    Returns:
        ``(rdd of ImageRecord, class map, report, the cached outcomes RDD)``.

    Raises:
        BadImageError: with ``on_error="raise"``, naming the first bad file (by path)
            once the job has looked at every file.
        FileNotFoundError: nothing at ``path``.
    """
    files, scanned = binary_files(path, spark, num_partitions)
    # tasks always skip bad images (a failing task would be retried for nothing);
    # with on_error="raise" the driver raises for the first one after the job
    skipping = dataclasses.replace(options, on_error="skip")
    outcomes = scanned.rdd.mapPartitions(tagged(functools.partial(_read_rows, skipping)))
    outcomes.persist(StorageLevel.MEMORY_AND_DISK)
    with worker_errors():
        parts = outcomes.mapPartitions(functools.partial(_summary_of, skipping)).collect()
    parts.append(_unscanned_files(files, outcomes, parts, skipping))
    if options.on_error == "raise":
        bad = sorted(item for part in parts for item in part.skipped)
        if bad:
            outcomes.unpersist()
            raise BadImageError(*bad[0])
    labels, report = finish_read(parts, options, classes)
    records = outcomes.filter(lambda o: o[0] == "ok").mapPartitions(functools.partial(label_records, labels))
    return records, labels, report, outcomes


def binary_files(path: str, spark: SparkSession, num_partitions: int | None) -> tuple[Any, Any]:
    """``(files, scanned)``: every file under ``path`` as ``binaryFile`` rows (path, content), and those
    rows spread over ``num_partitions`` (or as Spark's scan put them).

    Raises:
        FileNotFoundError: nothing at ``path``.
    """
    try:
        files = (spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(path)
                 .select("path", "content"))
    except Exception as err:  # AnalysisException: path does not exist
        if "PATH_NOT_FOUND" in str(err) or "does not exist" in str(err):
            raise FileNotFoundError(f"no images found at {path!r}") from None
        raise
    return files, (files if num_partitions is None else files.repartition(num_partitions))


def _unscanned_files(files: Any, outcomes: Any, parts: list[Summary], options: ReadOptions) -> Summary:
    """Files listed but never handed to a task: Spark's scan leaves out zero-byte files.

    They go through :func:`read_file` on the driver with empty content, so they
    are reported exactly as a local read reports them (a ``zero-byte file``).
    Only when the counts disagree are the scanned paths collected (a map-only
    job over the cached outcomes) to find which.
    """
    listed = [strip_file_scheme(p) for p in files.inputFiles()]
    seen = sum(p.read + len(p.skipped) + len(p.unlabelled) + len(p.ignored) for p in parts)
    if len(listed) == seen:
        return Summary()
    scanned = set(outcomes.map(_outcome_path).collect())
    unscanned = sorted(p for p in listed if p not in scanned)
    return summarise(options, [read_file(path, b"", options) for path in unscanned])


def _outcome_path(outcome: tuple[str, Any]) -> str:
    kind, payload = outcome
    if kind == "ok":
        return payload.path
    return payload[0] if kind == "bad" else payload


def _read_rows(options: ReadOptions, rows: Iterable[Any]) -> Iterator[tuple[str, object]]:
    return read_partition(options, ((row.path, row.content) for row in rows))


def _summary_of(options: ReadOptions, outcomes: Iterable[tuple[str, object]]) -> Iterator[Summary]:
    yield summarise(options, outcomes)
