"""ImageSet: labelled images read from local disk or any Hadoop path (through Spark), then transformed.

A distributed set is a DataFrame of record rows (:mod:`zoo.feature.image.arrow_records`): reading,
transforming, splitting and collecting it move Arrow batches between the JVM and the Python workers,
never pickled records."""
from __future__ import annotations

import functools
import os
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .decode import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, check_color
from .outcomes import finish_read, label_records, summarise
from .labels import LabelMap
from .reading import ON_ERROR, ReadOptions, ReadReport, list_local_files, read_partition
from .record import ImageRecord, record_rng
from .sources import label_source
from .transform import Transformer


class ImageSet:
    """Images with labels, held locally (a list) or distributed (a Spark DataFrame of record rows).

    Build one with :meth:`read`, :meth:`from_arrays` or :meth:`from_records`
    (:meth:`distribute` moves a local set to Spark); :meth:`transform` applies a
    transformer chain (lazily on Spark, inside ``mapInArrow``); :meth:`to_arrays`
    and :meth:`to_dataframe` feed the trainers.

    Attributes:
        labels: the class map (None when unlabelled).
        report: what :meth:`read` skipped (None for in-memory sets).

    Examples:
        >>> train = ImageSet.read("hdfs://nn/data/train", spark)          # label = parent folder
        >>> train.labels.names
        ['cat', 'dog']
        >>> train.report.summary()
        'read 2000 images; skipped 1 bad, ...'
        >>> aug = RandomResizedCrop(224, 224, seed=1) >> HFlip(seed=2) >> PixelScale() >> ToTensor()
        >>> trainer.fit(train.transform(aug).to_dataframe(), feature_shape=(3, 224, 224), ...)
    """

    def __init__(self, records: list[ImageRecord] | None = None, frame: Any = None, labels: LabelMap | None = None,
                 report: ReadReport | None = None, cached: Any = None) -> None:
        if (records is None) == (frame is None):
            raise ValueError("an ImageSet holds either local records or a DataFrame of record rows")
        self._records, self._frame = records, frame
        self.labels, self.report = labels, report
        self._cached = cached

    @classmethod
    def read(cls, path: str | os.PathLike, spark: Any = None, with_label: Any = "folder", on_error: str = "skip",
             max_pixels: int | None = DEFAULT_MAX_PIXELS, color: str = "rgb",
             extensions: Sequence[str] | None = IMAGE_EXTENSIONS, classes: LabelMap | Sequence[str] | None = None,
             num_partitions: int | None = None) -> "ImageSet":
        """Read and decode images.

        Args:
            path: a folder (read recursively), a file or a glob; with ``spark`` any
                Hadoop URI (``hdfs://``, ``s3a://``, ``file://``), read through
                Spark's ``binaryFile`` source and decoded on the executors.
            spark: a SparkSession, or None to read local files in this process.
            with_label: ``"folder"`` (the parent folder's name), a CSV path of
                ``path,label`` rows (paths may be relative: a row matches an image
                whose path ends with it), a DataFrame with ``path`` and ``label``
                columns (or its first two), or None for unlabelled images.
            on_error: ``"skip"`` bad images (counted in :attr:`report`, with a warning)
                or ``"raise"`` a :class:`BadImageError` naming the first one.
            max_pixels: larger images are refused as decompression bombs (None: no limit).
            color: ``"rgb"`` (H, W, 3) or ``"gray"`` (H, W, 1).
            extensions: file endings to read (None: all files); others are counted as ignored.
            classes: a fixed class map (e.g. the one saved with a model) or a list of
                names in index order; by default the sorted label names found.
            num_partitions: spread the files over this many partitions before decoding
                (Spark only; default: the scan's splits, coalesced to about two per core,
                see :func:`zoo.feature.image.spark_read.binary_files`).

        Returns:
            the images with labels filled in; a local read is sorted by path, a
            Spark read is in the scan's order (fixed for a given set of files),
            decoded once by one job into a cached DataFrame of record rows
            (:meth:`unpersist` frees it; see :mod:`zoo.feature.image.spark_read`).

        Raises:
            BadImageError: with ``on_error="raise"``.
            ValueError: a label not in ``classes``, or an invalid argument.
            FileNotFoundError: nothing at ``path`` (local reads).
        """
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        check_color(color)
        source, table = label_source(with_label, spark)
        endings = None if extensions is None else tuple(e.lower() for e in extensions)
        options = ReadOptions(source, table, endings, max_pixels, color, on_error)
        fixed = classes if isinstance(classes, LabelMap) or classes is None else LabelMap(classes, sort=False)
        if spark is not None:
            from .spark_read import read_cached
            frame, labels, report = read_cached(os.fspath(path), spark, options, fixed, num_partitions,
                                                _record_schema, _records_batch)
            return cls(frame=frame, labels=labels, report=report, cached=frame)
        files = list_local_files(os.fspath(path))
        outcomes = list(read_partition(options, ((p, _file_bytes(p)) for p in files)))
        labels, report = finish_read([summarise(options, outcomes)], options, fixed)
        records = list(label_records(labels, (o for o in outcomes if o[0] == "ok")))
        return cls(records=records, labels=labels, report=report)

    @classmethod
    def from_arrays(cls, images: Sequence[np.ndarray] | np.ndarray, labels: Sequence[int] | np.ndarray | None = None,
                    classes: LabelMap | Sequence[str] | None = None) -> "ImageSet":
        """A local set from in-memory ``(H, W, C)`` images (record ``i`` gets index ``i``).

        Args:
            images: the images (a stacked array or a list of arrays).
            labels: class indices, one per image, or None.
            classes: names of the classes in index order (optional).
        """
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        names = classes if isinstance(classes, LabelMap) or classes is None else LabelMap(classes, sort=False)
        records = [ImageRecord(image=np.asarray(img), index=i, label=None if labels is None else int(labels[i]),
                               label_name=None if labels is None or names is None else names.name(int(labels[i])))
                   for i, img in enumerate(images)]
        return cls(records=records, labels=names)

    @classmethod
    def from_records(cls, records: Sequence[ImageRecord], labels: LabelMap | None = None) -> "ImageSet":
        """A local set holding ``records`` as they are."""
        return cls(records=list(records), labels=labels)

    def distribute(self, spark: Any, num_partitions: int | None = None) -> "ImageSet":
        """This local set as a distributed one (its records sent to Spark as Arrow batches).

        Args:
            spark: the SparkSession.
            num_partitions: spread the records over this many partitions (default: Spark's parallelism).
        """
        import pyarrow as pa

        from .arrow_records import record_schema, records_batch
        if self._frame is not None:
            raise ValueError("this ImageSet is distributed already")
        records = self._records or []
        n = num_partitions or spark.sparkContext.defaultParallelism
        step = max(1, -(-len(records) // n))
        table = pa.Table.from_batches([records_batch(records[i:i + step]) for i in range(0, len(records), step)]
                                      or [records_batch([])])
        frame = spark.createDataFrame(table, schema=record_schema()).repartition(n)
        return type(self)(frame=frame, labels=self.labels, report=self.report)

    @property
    def is_distributed(self) -> bool:
        """Whether the records live in Spark."""
        return self._frame is not None

    @property
    def frame(self) -> Any:
        """The DataFrame of record rows (distributed sets only; see :mod:`zoo.feature.image.arrow_records`)."""
        if self._frame is None:
            raise ValueError("this ImageSet is local: it has no DataFrame (read it with spark=..., or distribute)")
        return self._frame

    def records(self) -> list[ImageRecord]:
        """All records (collected to the driver as Arrow batches when distributed)."""
        if self._frame is None:
            return list(self._records or [])
        from bigdl_runtime.spark.errors import worker_errors

        from .arrow_records import batch_records
        with worker_errors():
            return batch_records(self._frame.toArrow())

    def __len__(self) -> int:
        if self._frame is None:
            return len(self._records or [])
        from bigdl_runtime.spark.errors import worker_errors
        with worker_errors():
            return self._frame.count()

    def _derive(self, records: list[ImageRecord] | None = None, frame: Any = None) -> "ImageSet":
        return type(self)(records=records, frame=frame, labels=self.labels, report=self.report, cached=self._cached)

    def _map_batches(self, task: Any, schema: Any = None) -> Any:
        """``mapInArrow`` of ``task`` (errors tagged) over the record rows."""
        from bigdl_runtime.spark.errors import streamed

        from .arrow_records import record_schema
        return self.frame.mapInArrow(streamed(task), schema or record_schema())

    def unpersist(self) -> None:
        """Release the decoded images a Spark :meth:`read` cached (shared by the sets derived from it)."""
        if self._cached is not None:
            self._cached.unpersist()

    def transform(self, chain: Transformer, epoch: int = 0) -> "ImageSet":
        """Apply a transformer chain to every record (lazily on Spark).

        On Spark the chain travels as its JSON config and is rebuilt inside
        each task; per-record random streams make the result identical to a
        local run. Errors name the transformer and the record's path.

        Args:
            chain: a transformer or :class:`Pipeline`.
            epoch: selects the random draws (vary it per training epoch).
        """
        if not isinstance(chain, Transformer):
            raise TypeError(f"transform needs a Transformer or Pipeline, got {type(chain).__name__}")
        if self._frame is None:
            return self._derive(records=[chain.run(r, epoch) for r in self._records or []])
        return self._derive(frame=self._map_batches(functools.partial(_transformed, chain.to_json(), int(epoch))))

    def split(self, fraction: float, seed: int = 0) -> tuple["ImageSet", "ImageSet"]:
        """Split into ``(first, rest)``; a record goes first with probability ``fraction``.

        The choice depends only on ``(seed, record key)``, so a split is the
        same locally and on Spark and stable when images are added.
        """
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"split fraction must be in (0, 1), got {fraction}")
        if self._frame is None:
            records = self._records or []
            first = [_goes_first(fraction, seed, r.key()) for r in records]
            return (self._derive(records=[r for r, f in zip(records, first) if f]),
                    self._derive(records=[r for r, f in zip(records, first) if not f]))
        return tuple(self._derive(frame=self._map_batches(functools.partial(_split, float(fraction), int(seed), side)))
                     for side in (True, False))  # type: ignore[return-value]

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        """Stack all images into one array and the labels into int64 (None when unlabelled).

        Raises:
            ValueError: images of different shapes (resize first), naming the first odd one.
        """
        records = self.records()
        if not records:
            raise ValueError("the ImageSet is empty")
        shape = records[0].image.shape
        for rec in records:
            if rec.image.shape != shape:
                raise ValueError(f"{rec.where()} has shape {rec.image.shape}, {records[0].where()} has {shape}: "
                                 f"resize or crop to one size before to_arrays")
        x = np.stack([r.image for r in records])
        if any(r.label is None for r in records):
            return x, None
        return x, np.array([r.label for r in records], dtype=np.int64)

    def to_dataframe(self) -> Any:
        """The images as float32 model inputs, for ``DistributedTrainer.fit`` / ``zoo.predict`` (lazy).

        Columns: ``path``, ``index``, ``features`` (each image's values as float32 bytes in C order:
        give the images' shape, e.g. ``(3, 224, 224)`` after ``ToTensor``, as
        ``feature_shape`` / ``input_shape``) and ``label`` (long; null for unlabelled records).
        Distributed sets only (see :meth:`distribute`).

        Examples:
            >>> df = train.transform(chain, epoch=0).to_dataframe()
            >>> DistributedTrainer(net, loss, opt, spark).fit(df, feature_shape=(3, 224, 224), batch_size=64)
        """
        from pyspark.sql.types import BinaryType, LongType, StringType, StructField, StructType

        schema = StructType([StructField("path", StringType()), StructField("index", LongType()),
                             StructField("features", BinaryType(), False), StructField("label", LongType())])
        return self._map_batches(_samples, schema)

    def __repr__(self) -> str:
        where = "distributed" if self._frame is not None else f"{len(self._records or [])} local records"
        return f"ImageSet({where}, labels={self.labels})"


_SPLIT_STREAM = 0xFFFF  # a stream position no transformer chain reaches


def _record_schema(labels: LabelMap | None) -> Any:
    """Record rows have the same columns, labelled or not (an unlabelled record's label is null)."""
    from .arrow_records import record_schema
    return record_schema()


def _records_batch(records: Sequence[ImageRecord], labelled: bool) -> Any:
    from .arrow_records import records_batch
    return records_batch(records)


def _goes_first(fraction: float, seed: int, key: str) -> bool:
    return bool(record_rng(seed, key, 0, _SPLIT_STREAM).random() < fraction)


def _transformed(chain_json: str, epoch: int, batches: Iterable[Any]) -> Iterator[Any]:
    """The transform task: each batch of record rows through the chain (rebuilt from its JSON config)."""
    from .arrow_records import batch_records, records_batch
    from .transform import Pipeline

    chain = Pipeline.from_json(chain_json)
    for batch in batches:
        yield records_batch([chain.run(r, epoch) for r in batch_records(batch)])


def _split(fraction: float, seed: int, first: bool, batches: Iterable[Any]) -> Iterator[Any]:
    """The split task: the rows of each batch on ``first``'s side, chosen from the keys alone (no image decoded)."""
    import pyarrow as pa

    for batch in batches:
        paths, indices = batch.column("path").to_pylist(), batch.column("index").to_pylist()
        keys = [ImageRecord(np.zeros(0), path=p, index=i).key() for p, i in zip(paths, indices)]
        yield batch.filter(pa.array([_goes_first(fraction, seed, k) == first for k in keys]))


def _samples(batches: Iterable[Any]) -> Iterator[Any]:
    """The to_dataframe task: record rows -> (path, index, float32 bytes, label)."""
    import pyarrow as pa

    from .arrow_records import batch_records, tensor_column
    for batch in batches:
        yield pa.RecordBatch.from_arrays([batch.column("path"), batch.column("index"),
                                          tensor_column(batch_records(batch)), batch.column("label")],
                                         names=["path", "index", "features", "label"])


def _file_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
