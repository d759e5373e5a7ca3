"""ImageSet: labelled images read from local disk or any Hadoop path (through Spark), then transformed."""
from __future__ import annotations

import functools
import os
from typing import Any, Sequence

import numpy as np

from .decode import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, check_color
from .outcomes import finish_read, label_records, summarise
from .labels import LabelMap
from .reading import ON_ERROR, ReadOptions, ReadReport, list_local_files, read_partition
from .record import ImageRecord, record_rng
from .sources import label_source
from .transform import Transformer, apply_partition


class ImageSet:
    """Images with labels, held locally (a list) or distributed (an RDD of :class:`ImageRecord`).

    Build one with :meth:`read`, :meth:`from_arrays` or :meth:`from_records`;
    :meth:`transform` applies a transformer chain (lazily on Spark, inside
    ``mapPartitions``); :meth:`to_arrays` and :meth:`to_rdd` feed the trainers.

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
        >>> trainer.fit(train.transform(aug).to_rdd(), ...)
    """

    def __init__(self, records: list[ImageRecord] | None = None, rdd: Any = None, labels: LabelMap | None = None,
                 report: ReadReport | None = None, cached: Any = None) -> None:
        if (records is None) == (rdd is None):
            raise ValueError("an ImageSet holds either local records or an RDD")
        self._records, self._rdd = records, rdd
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
                (Spark only; default: as Spark's scan splits them).

        Returns:
            the images with labels filled in; a local read is sorted by path, a
            Spark read is in the scan's order (fixed for a given set of files).

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
            from .spark_read import read_spark
            records, labels, report, cached = read_spark(os.fspath(path), spark, options, fixed, num_partitions)
            return cls(rdd=records, labels=labels, report=report, cached=cached)
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

    @property
    def is_distributed(self) -> bool:
        """Whether the records live in an RDD."""
        return self._rdd is not None

    @property
    def rdd(self) -> Any:
        """The RDD of :class:`ImageRecord` (distributed sets only)."""
        if self._rdd is None:
            raise ValueError("this ImageSet is local: it has no RDD (read it with spark=...)")
        return self._rdd

    def records(self) -> list[ImageRecord]:
        """All records (collected to the driver when distributed)."""
        if self._rdd is None:
            return list(self._records or [])
        from bigdl_runtime.spark.errors import worker_errors
        with worker_errors():
            return self._rdd.collect()

    def __len__(self) -> int:
        if self._rdd is None:
            return len(self._records or [])
        from bigdl_runtime.spark.errors import worker_errors
        with worker_errors():
            return self._rdd.count()

    def _derive(self, records: list[ImageRecord] | None = None, rdd: Any = None) -> "ImageSet":
        return type(self)(records=records, rdd=rdd, labels=self.labels, report=self.report, cached=self._cached)

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
        if self._rdd is None:
            return self._derive(records=[chain.run(r, epoch) for r in self._records or []])
        from bigdl_runtime.spark.errors import tagged
        task = tagged(functools.partial(apply_partition, chain.to_json(), int(epoch)))
        return self._derive(rdd=self._rdd.mapPartitions(task))

    def split(self, fraction: float, seed: int = 0) -> tuple["ImageSet", "ImageSet"]:
        """Split into ``(first, rest)``; a record goes first with probability ``fraction``.

        The choice depends only on ``(seed, record key)``, so a split is the
        same locally and on Spark and stable when images are added.
        """
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"split fraction must be in (0, 1), got {fraction}")
        goes_first = functools.partial(_goes_first, float(fraction), int(seed))
        if self._rdd is None:
            records = self._records or []
            return (self._derive(records=[r for r in records if goes_first(r)]),
                    self._derive(records=[r for r in records if not goes_first(r)]))
        return (self._derive(rdd=self._rdd.filter(goes_first)),
                self._derive(rdd=self._rdd.filter(lambda r: not goes_first(r))))

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

    def to_rdd(self, spark: Any = None) -> Any:
        """An RDD of ``(image, label)`` pairs (or images alone when unlabelled), what the DistributedTrainer takes.

        Args:
            spark: needed only to distribute a local set.
        """
        if self._rdd is None:
            if spark is None:
                raise ValueError("to_rdd of a local ImageSet needs spark=")
            rdd = spark.sparkContext.parallelize(self._records or [])
        else:
            rdd = self._rdd
        return rdd.map(_sample)

    def __repr__(self) -> str:
        where = f"rdd with {self._rdd.getNumPartitions()} partitions" if self._rdd is not None \
            else f"{len(self._records or [])} local records"
        return f"ImageSet({where}, labels={self.labels})"


_SPLIT_STREAM = 0xFFFF  # a stream position no transformer chain reaches


def _sample(record: ImageRecord) -> Any:
    return record.image if record.label is None else (record.image, record.label)


def _goes_first(fraction: float, seed: int, record: ImageRecord) -> bool:
    return bool(record_rng(seed, record.key(), 0, _SPLIT_STREAM).random() < fraction)


def _file_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
