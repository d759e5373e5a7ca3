"""Read images through Spark's ``binaryFile`` source: decoded (and preprocessed) on the executors through Arrow.

One ``mapInArrow`` turns each Arrow batch of ``(path, content)`` rows into an
Arrow batch of the good images, encoded as the caller asks (Spark image structs
for :class:`~zoo.pipeline.NNImageReader`, record rows for a distributed
:class:`~zoo.feature.image.ImageSet`, preprocessed float32 tensors). The
result is cached and counted: that one job decodes every file once, and what it
found besides good images (bad, unlabelled and non-image files) comes back to
the driver in an accumulator of small per-task :class:`Summary` objects. The
class map is known before the job (from the file listing or the label table),
so each task writes the label indices itself. Zero-byte files, which Spark's
scan leaves out, are found by comparing the listing with the count.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
from typing import Callable, Iterable, Iterator

import pyarrow as pa
from pyspark import Accumulator, AccumulatorParam
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from bigdl_runtime.spark.arrow import binary_buffers
from bigdl_runtime.spark.errors import streamed, worker_errors
from bigdl_runtime.spark.hadoop_fs import require_input

from .decode import BadImageError
from .labels import LabelMap, LabelTable, strip_file_scheme
from .outcomes import Summary, finish_read, listed_classes, summarise
from .reading import ReadOptions, ReadReport, read_file
from .record import ImageRecord

#: decoded bytes per output Arrow batch (a batch is cut after the image that reaches it)
MAX_BATCH_BYTES = 8 << 20
#: rows per batch of the cache (Spark's ``spark.sql.inMemoryColumnarStorage.batchSize``, 10,000 by default, grows
#: one buffer per column by doubling until the batch is in: GBs for decoded images, whose copies cost the JVM more
#: than the rest of the read: 2,000 224x224 float32 tensors cost 6.2-6.5 JVM CPU-s to read and cache with 10,000,
#: 2.6-3.0 s with 16 or 256, the same as not caching them)
CACHE_BATCH_ROWS = 16
#: files per task the default partitioning aims at, at least (fewer tasks are cheaper; more balance the cores)
TASKS_PER_CORE = 2


@dataclasses.dataclass(frozen=True)
class ReadJob:
    """What every decoding task needs (picklable).

    Attributes:
        options: how to read (``on_error`` is always ``"skip"`` in tasks: the driver raises).
        classes: the class names in index order (None: unlabelled).
        chain: a preprocessing chain's JSON config, or "".
        encode: ``(good records of a batch, labelled)`` -> one Arrow batch of the result's schema (``labelled``:
            the read has a class map).
        summary: the accumulator each task adds its :class:`Summary` to.
    """

    options: ReadOptions
    classes: tuple[str, ...] | None
    chain: str
    encode: Callable[[list[ImageRecord], bool], pa.RecordBatch]
    summary: Accumulator


def read_cached(path: str, spark: SparkSession, options: ReadOptions, classes: LabelMap | None,
                num_partitions: int | None, schema: Callable[[LabelMap | None], StructType],
                encode: Callable[[list[ImageRecord], bool], pa.RecordBatch],
                chain: str = "") -> tuple[DataFrame, LabelMap | None, ReadReport]:
    """Decode every file under ``path`` once, into a cached DataFrame of the good images.

    Args:
        path: a folder (read recursively) or a glob; any Hadoop URI.
        spark: the session.
        options: how to read (``on_error="raise"`` raises after the job, naming the first bad file).
        classes: a fixed class map, or None for the sorted names found.
        num_partitions: decode in this many tasks (default: see :func:`binary_files`).
        schema: ``labels -> `` the Spark schema of ``encode``'s batches (with any column metadata), which is
            what is cached: no projection between the decoding and the cache, so no copy of every tensor.
        encode: ``(a task's good records, labelled)`` -> an Arrow batch (labels already set from the class map).
        chain: a preprocessing chain's JSON config run on each image in the task (its tensors
            must all have one shape), or "".

    Returns:
        ``(cached DataFrame, class map, report)``; ``unpersist()`` on the DataFrame frees the images.

    Raises:
        BadImageError: with ``on_error="raise"``, naming the first bad file (by path).
        ValueError: labels that ``classes`` does not know; a chain giving several shapes.
        FileNotFoundError: nothing at ``path``.
    """
    files, scanned = binary_files(path, spark, num_partitions)
    listed = sorted(strip_file_scheme(p) for p in files.inputFiles())
    labels = listed_classes(listed, options, classes)
    summaries = spark.sparkContext.accumulator(Summary(), _Summaries())
    job = ReadJob(dataclasses.replace(options, on_error="skip"), None if labels is None else tuple(labels.names),
                  chain, encode, summaries)
    result = scanned.mapInArrow(streamed(functools.partial(_decode_task, job)), schema(labels))
    with cache_batch_rows(spark, CACHE_BATCH_ROWS), worker_errors():
        result.persist()    # MEMORY_AND_DISK_DESER: no serialising of the cached batches
        result.count()
    summary: Summary = summaries.value
    if summary.read + len(summary.skipped) + len(summary.unlabelled) + len(summary.ignored) != len(listed):
        summary.merge(_unscanned(files, listed, job.options))
    try:
        if options.on_error == "raise" and summary.skipped:
            raise BadImageError(*sorted(summary.skipped)[0])
        if len(summary.shapes) > 1:
            raise ValueError("the preprocessing chain gives tensors of several shapes: " + ", ".join(
                f"{shape} (e.g. {first})" for shape, first in sorted(summary.shapes.items()))
                + "; end it with a fixed-size step (Resize, CenterCrop)")
        labels, report = finish_read([summary], options, labels)
    except Exception:
        result.unpersist()
        raise
    return result, labels, report


@contextlib.contextmanager
def cache_batch_rows(spark: SparkSession, rows: int) -> Iterator[None]:
    """Within the block, caches built by this session hold ``rows`` rows per column batch (the session's own
    setting is restored after: it is read when a cache is built)."""
    key = "spark.sql.inMemoryColumnarStorage.batchSize"
    before = spark.conf.get(key, None)
    spark.conf.set(key, str(rows))
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


def binary_files(path: str, spark: SparkSession, num_partitions: int | None) -> tuple[DataFrame, DataFrame]:
    """``(files, scanned)``: every file under ``path`` as ``binaryFile`` rows (path, content), and those rows
    in the partitions to decode them in.

    ``num_partitions`` repartitions (a shuffle of the files' bytes). By default the
    scan's splits (Spark packs files into splits of ``spark.sql.files.maxPartitionBytes``,
    counting ``openCostInBytes``, 4 MB, per file: 2,000 photos make ~65 splits) are
    coalesced, without a shuffle, to :data:`TASKS_PER_CORE` tasks per core
    (``defaultParallelism``), or spread over the cores when the scan gave fewer splits.

    Raises:
        FileNotFoundError: nothing at ``path``.
    """
    require_input(path, spark, "images")
    files = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(path).select("path", "content")
    if num_partitions is not None:
        return files, files.repartition(num_partitions)
    cores = spark.sparkContext.defaultParallelism
    splits = files._jdf.rdd().getNumPartitions()
    if splits > TASKS_PER_CORE * cores:
        return files, files.coalesce(TASKS_PER_CORE * cores)
    return files, (files.repartition(cores) if splits < cores else files)


def _unscanned(files: DataFrame, listed: list[str], options: ReadOptions) -> Summary:
    """Files listed but never handed to a task (Spark's scan leaves out zero-byte files), read on the driver
    with empty content so they are reported exactly as a local read reports them (``zero-byte file``)."""
    scanned = {strip_file_scheme(row.path) for row in files.select("path").collect()}
    return summarise(options, [read_file(p, b"", options) for p in listed if p not in scanned])


def _decode_task(job: ReadJob, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The task: each ``(path, content)`` batch -> batches of the good images (at most
    :data:`MAX_BATCH_BYTES` of pixels each); the outcomes' summary goes to the accumulator."""
    from .transform import Pipeline

    options = job.options
    table = LabelTable(options.table or {}) if options.label_source == "table" else None
    chain = Pipeline.from_json(job.chain) if job.chain else None
    index = None if job.classes is None else {name: i for i, name in enumerate(job.classes)}
    summary = Summary()
    for batch in batches:
        paths = batch.column(0).to_pylist()
        offsets, raw = binary_buffers(batch.column(1))
        good: list[ImageRecord] = []
        size = 0
        for i, path in enumerate(paths):  # one file at a time: Pillow decodes one image per call
            kind, record = read_file(path, raw[offsets[i]:offsets[i + 1]], options, table, chain)
            summary.count(kind, record, options, table)
            if kind != "ok":
                continue
            if index is not None and record.label_name is not None:
                record.label = index[record.label_name]
            if chain is not None:
                shape = "x".join(str(d) for d in record.image.shape)
                summary.shapes[shape] = min(record.path, summary.shapes.get(shape, record.path))
            good.append(record)
            size += record.image.nbytes
            if size >= MAX_BATCH_BYTES:  # decoded pixels are many times the files' bytes: bound each batch
                yield job.encode(good, job.classes is not None)
                good, size = [], 0
        if good:
            yield job.encode(good, job.classes is not None)
    job.summary.add(summary)


class _Summaries(AccumulatorParam):
    """Merges the tasks' :class:`Summary` objects."""

    def zero(self, value: Summary) -> Summary:
        return Summary()

    def addInPlace(self, value1: Summary, value2: Summary) -> Summary:
        return value1.merge(value2)
