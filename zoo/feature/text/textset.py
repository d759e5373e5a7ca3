"""TextSet: labelled texts from a list, a folder per label or a DataFrame, locally or on Spark, to id arrays.

A distributed set is a DataFrame of text rows (:mod:`zoo.feature.text.arrow_texts`): reading, tokenising and
encoding move Arrow batches between the JVM and the Python workers (``mapInArrow``), never pickled records;
the word counts are a Spark SQL aggregation that never leaves the JVM.
"""
from __future__ import annotations

import functools
import os
from dataclasses import replace
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..image.labels import LabelMap, folder_label, strip_file_scheme
from .record import TextRecord
from .tokenize import Tokenizer
from .vocab import WordIndex, shape_sequence


class TextSet:
    """Texts with labels, held locally (a list) or distributed (a Spark DataFrame of text rows).

    The steps return new TextSets: :meth:`tokenize` -> :meth:`build_word_index`
    -> :meth:`to_sequences` -> :meth:`to_arrays` / :meth:`to_dataframe`. The same
    code runs on both; on Spark each step is a lazy ``mapInArrow`` over Arrow
    batches of text rows and the word counts are a Spark SQL ``groupBy``.

    Attributes:
        labels: the class map when labels are names (None for integer labels).
        tokenizer, word_index: what the steps used (save both with the model).

    Examples:
        >>> texts = TextSet.from_folder("data/reviews")                 # data/reviews/<label>/*.txt
        >>> prepared = texts.tokenize(Tokenizer()).build_word_index(max_words=20000, min_freq=2)
        >>> x, y = prepared.to_sequences(200).to_arrays()
        >>> prepared.word_index.save("model/words.json")
    """

    def __init__(self, records: list[TextRecord] | None = None, frame: Any = None, labels: LabelMap | None = None,
                 tokenizer: Tokenizer | None = None, word_index: WordIndex | None = None) -> None:
        if (records is None) == (frame is None):
            raise ValueError("a TextSet holds either local records or a DataFrame of text rows")
        self._records, self._frame = records, frame
        self.labels, self.tokenizer, self.word_index = labels, tokenizer, word_index
        self._encoded = False       # whether to_sequences made this set (its records hold ids)

    @classmethod
    def from_list(cls, texts: Sequence[str], labels: Sequence[Any] | None = None,
                  classes: LabelMap | Sequence[str] | None = None, spark: Any = None) -> "TextSet":
        """From texts and optional labels (class indices, or names mapped through ``classes``).

        Args:
            texts: the texts.
            labels: ints, or names (then ``classes`` or the sorted names give the indices).
            classes: class names in index order.
            spark: distribute the records through this session (one Arrow table to ``createDataFrame``).
        """
        if labels is not None and len(labels) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        label_map, indices = _label_indices(labels, classes)
        records = [TextRecord(text=_check_text(t, f"row {i}"), label=None if indices is None else indices[i],
                              source=f"row {i}") for i, t in enumerate(texts)]
        if spark is not None:
            from .arrow_texts import records_batch, text_schema

            return cls(frame=spark.createDataFrame(_table(records_batch(records)), schema=text_schema()),
                       labels=label_map)
        return cls(records=records, labels=label_map)

    @classmethod
    def from_folder(cls, path: str | os.PathLike, spark: Any = None, extensions: Sequence[str] | None = (".txt",),
                    classes: LabelMap | Sequence[str] | None = None, encoding: str = "utf-8") -> "TextSet":
        """One file per text, one folder per label (``path/<label>/<file>.txt``), read recursively.

        With ``spark``, ``path`` may be any Hadoop URI; the files are read by
        Spark's ``binaryFile`` source and decoded to text rows on the executors
        (``mapInArrow``). Undecodable bytes become U+FFFD.

        Raises:
            FileNotFoundError: nothing at ``path``, or no file there with one of ``extensions``.
            ValueError: a folder name that ``classes`` does not know.
        """
        endings = None if extensions is None else tuple(e.lower() for e in extensions)
        if spark is not None:
            return cls._read_spark(os.fspath(path), spark, endings, classes, encoding)
        from ..image.reading import list_local_files
        paths = [p for p in list_local_files(os.fspath(path)) if endings is None or p.lower().endswith(endings)]
        if not paths:
            raise FileNotFoundError(f"no text files under {path!r} with endings {endings}")
        label_map = _fixed(classes) or LabelMap(folder_label(p) for p in paths)
        _check_known({folder_label(p) for p in paths}, label_map)
        records = []
        for p in paths:
            with open(p, "rb") as f:
                records.append(_file_record(label_map, encoding, p, f.read()))
        return cls(records=records, labels=label_map)

    @classmethod
    def _read_spark(cls, path: str, spark: Any, endings: tuple[str, ...] | None,
                    classes: LabelMap | Sequence[str] | None, encoding: str) -> "TextSet":
        from bigdl_runtime.spark.errors import streamed
        from bigdl_runtime.spark.hadoop_fs import require_input

        from .arrow_texts import records_batch, text_schema

        require_input(path, spark, "text files")
        source = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(path)
        listed = [strip_file_scheme(p) for p in source.inputFiles()]
        listed = [p for p in listed if endings is None or p.lower().endswith(endings)]
        if not listed:
            raise FileNotFoundError(f"no text files under {path!r} with endings {endings}")
        label_map = _fixed(classes) or LabelMap(folder_label(p) for p in listed)
        _check_known({folder_label(p) for p in listed}, label_map)
        task = streamed(functools.partial(_file_rows, label_map, encoding, endings))
        frame = source.select("path", "content").mapInArrow(task, text_schema())
        # Spark's scan leaves out zero-byte files: they are empty texts, added back here
        scanned = {strip_file_scheme(p) for p in source.select("path").toArrow().column(0).to_pylist()}
        empty = [_file_record(label_map, encoding, p, b"") for p in listed if p not in scanned]
        if empty:
            frame = frame.unionByName(spark.createDataFrame(_table(records_batch(empty)), schema=text_schema()))
        return cls(frame=frame, labels=label_map)

    @classmethod
    def from_dataframe(cls, df: Any, text_col: str = "text", label_col: str | None = "label",
                       classes: LabelMap | Sequence[str] | None = None) -> "TextSet":
        """A distributed set from a DataFrame; a string label column is mapped through the sorted names.

        The rows become text rows in a ``mapInArrow`` (lazy); a record's ``source`` is its
        partition and position (``partition 1, row 3``), which errors name.

        Raises:
            ValueError: a missing column, a text column that is not a string, a label column
                that is neither string nor integral, labels that ``classes`` does not know;
                a null text or label fails its task naming the row.
        """
        from pyspark.sql.types import IntegralType, StringType

        for col in [text_col] + ([label_col] if label_col else []):
            if col not in df.columns:
                raise ValueError(f"column {col!r} is not in the DataFrame's columns {df.columns}")
        if not isinstance(df.schema[text_col].dataType, StringType):
            raise ValueError(f"text column {text_col!r} is {df.schema[text_col].dataType.simpleString()}, "
                             "not a string")
        label_map = None
        if label_col is not None:
            kind = df.schema[label_col].dataType
            if isinstance(kind, StringType):
                names = [n for n in df.select(label_col).distinct().toArrow().column(0).to_pylist() if n is not None]
                label_map = _fixed(classes) or LabelMap(names)
                _check_known(names, label_map)
            elif not isinstance(kind, IntegralType):
                raise ValueError(f"label column {label_col!r} is {kind.simpleString()}: labels are class names "
                                 "(string) or class indices (integers)")
        from bigdl_runtime.spark.errors import streamed

        from .arrow_texts import text_schema

        rows = df.select(text_col, *([label_col] if label_col else []))
        frame = rows.mapInArrow(streamed(functools.partial(_dataframe_rows, label_map)), text_schema())
        return cls(frame=frame, labels=label_map)

    @property
    def is_distributed(self) -> bool:
        """Whether the records live in Spark."""
        return self._frame is not None

    @property
    def frame(self) -> Any:
        """The DataFrame of text rows (distributed sets only; see :mod:`zoo.feature.text.arrow_texts`)."""
        if self._frame is None:
            raise ValueError("this TextSet is local: it has no DataFrame (build it with spark= or from a DataFrame)")
        return self._frame

    def records(self) -> list[TextRecord]:
        """All records (collected to the driver as Arrow batches when distributed)."""
        if self._frame is None:
            return list(self._records or [])
        from bigdl_runtime.spark.errors import worker_errors

        from .arrow_texts import batch_records
        with worker_errors():
            return batch_records(self._frame.toArrow())

    def __len__(self) -> int:
        if self._frame is None:
            return len(self._records or [])
        from bigdl_runtime.spark.errors import worker_errors
        with worker_errors():
            return self._frame.count()

    def _map(self, fn: Any, **state: Any) -> "TextSet":
        kept = {"labels": self.labels, "tokenizer": self.tokenizer, "word_index": self.word_index, **state}
        if self._frame is None:
            return type(self)(records=[fn(r) for r in self._records or []], **kept)
        from bigdl_runtime.spark.errors import streamed

        from .arrow_texts import mapped, text_schema
        return type(self)(frame=self._frame.mapInArrow(streamed(functools.partial(mapped, fn)), text_schema()),
                          **kept)

    def tokenize(self, tokenizer: Tokenizer | None = None) -> "TextSet":
        """Split every text with ``tokenizer`` (default: lower-case, punctuation removed)."""
        tokenizer = tokenizer or Tokenizer()
        return self._map(functools.partial(_tokenized, tokenizer), tokenizer=tokenizer)

    def build_word_index(self, max_words: int | None = None, min_freq: int = 1) -> "TextSet":
        """Count the tokens and keep the vocabulary (see :meth:`WordIndex.from_counts`).

        On Spark the tokens are counted by ``explode`` + ``groupBy`` in the JVM; only the
        kept ``(word, count)`` pairs come to the driver.
        """
        self._need_tokens()
        if self._frame is None:
            index = WordIndex.build((r.tokens for r in self._records or []), max_words, min_freq)
        else:
            index = WordIndex.from_counts(_spark_counts(self._frame, max_words, min_freq), max_words, min_freq)
        return type(self)(records=self._records, frame=self._frame, labels=self.labels, tokenizer=self.tokenizer,
                          word_index=index)

    def to_sequences(self, length: int, padding: str = "post", truncating: str = "pre",
                     word_index: WordIndex | None = None) -> "TextSet":
        """Encode tokens as ids and pad/truncate them to ``length`` (see :func:`shape_sequence`).

        Args:
            word_index: a saved index to use instead of :attr:`word_index` (e.g. at prediction time).
        """
        self._need_tokens()
        index = word_index or self.word_index
        if index is None:
            raise ValueError("to_sequences needs a word index: call build_word_index() or pass word_index=")
        shape_sequence([], length, padding, truncating)  # validates the arguments on the driver
        encoded = self._map(functools.partial(_encoded, index, length, padding, truncating), word_index=index)
        encoded._encoded = True
        return encoded

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(ids int64 (N, length), labels int64 (N,) or None)``."""
        records = self.records()
        if not records or any(r.ids is None for r in records):
            raise ValueError("to_arrays needs a non-empty TextSet after to_sequences()")
        x = np.stack([r.ids for r in records])
        if any(r.label is None for r in records):
            return x, None
        return x, np.array([r.label for r in records], dtype=np.int64)

    def to_dataframe(self) -> Any:
        """The id sequences as model inputs, for ``DistributedTrainer.fit`` / ``zoo.predict`` (lazy).

        Columns: ``source``, ``features`` (``array<long>``, the ids) and ``label`` (long; null when
        unlabelled). Distributed sets after :meth:`to_sequences` only.

        Examples:
            >>> df = texts.to_sequences(200).to_dataframe()
            >>> DistributedTrainer(net, loss, opt, spark).fit(df, batch_size=64, epochs=2)
        """
        if self._frame is None:
            raise ValueError("this TextSet is local: build it with spark= (or from a DataFrame) to get a DataFrame")
        from pyspark.sql import functions as F

        if not self._encoded:
            raise ValueError("to_dataframe needs a TextSet after to_sequences()")
        return self._frame.select("source", F.col("ids").alias("features"), "label")

    def _need_tokens(self) -> None:
        if self.tokenizer is None:
            raise ValueError("tokenize() the TextSet first")


def _check_text(text: Any, where: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text {where} is a {type(text).__name__}, not a str")
    return text


def _fixed(classes: LabelMap | Sequence[str] | None) -> LabelMap | None:
    return classes if isinstance(classes, LabelMap) or classes is None else LabelMap(classes, sort=False)


def _check_known(names: Iterable[str], labels: LabelMap) -> None:
    unknown = sorted(n for n in names if n not in labels)
    if unknown:
        raise ValueError(f"labels {unknown} are not among the classes {labels.names}")


def _label_indices(labels: Sequence[Any] | None,
                   classes: LabelMap | Sequence[str] | None) -> tuple[LabelMap | None, list[int] | None]:
    if labels is None:
        return _fixed(classes), None
    if all(isinstance(v, (int, np.integer)) for v in labels):
        return _fixed(classes), [int(v) for v in labels]
    label_map = _fixed(classes) or LabelMap(str(v) for v in labels)
    _check_known({str(v) for v in labels}, label_map)
    return label_map, [label_map.index(str(v)) for v in labels]


def _file_record(labels: LabelMap, encoding: str, path: str, content: Any) -> TextRecord:
    return TextRecord(text=bytes(content).decode(encoding, errors="replace"), label=labels.index(folder_label(path)),
                      source=path)


def _table(batch: Any) -> Any:
    import pyarrow as pa

    return pa.Table.from_batches([batch])


def _file_rows(labels: LabelMap, encoding: str, endings: tuple[str, ...] | None,
               batches: Iterable[Any]) -> Iterator[Any]:
    """The ``from_folder`` task: ``(path, content)`` batches -> text rows of the files with one of ``endings``."""
    from bigdl_runtime.spark.arrow import binary_buffers

    from .arrow_texts import records_batch
    for batch in batches:
        paths = [strip_file_scheme(p) for p in batch.column(0).to_pylist()]
        offsets, raw = binary_buffers(batch.column(1))
        records = [_file_record(labels, encoding, p, raw[offsets[i]:offsets[i + 1]]) for i, p in enumerate(paths)
                   if endings is None or p.lower().endswith(endings)]
        if records:
            yield records_batch(records)


def _dataframe_rows(labels: LabelMap | None, batches: Iterable[Any]) -> Iterator[Any]:
    """The ``from_dataframe`` task: ``(text[, label])`` batches -> text rows, sources naming partition and row."""
    from pyspark import TaskContext

    from .arrow_texts import records_batch
    context = TaskContext.get()
    partition = context.partitionId() if context is not None else 0
    offset = 0
    for batch in batches:
        texts = batch.column(0).to_pylist()
        names = batch.column(1).to_pylist() if batch.num_columns > 1 else [None] * batch.num_rows
        records = []
        for i, (text, label) in enumerate(zip(texts, names)):
            where = f"partition {partition}, row {offset + i}"
            if text is None:
                raise ValueError(f"{where}: null text")
            if batch.num_columns > 1 and label is None:
                raise ValueError(f"{where}: null label")
            index = None if label is None else labels.index(label) if labels is not None else int(label)
            records.append(TextRecord(text=text, label=index, source=where))
        offset += batch.num_rows
        yield records_batch(records)


def _spark_counts(frame: Any, max_words: int | None, min_freq: int) -> list[tuple[str, int]]:
    """The ``(word, count)`` pairs of the tokens in ``frame`` seen ``min_freq`` times or more, the ``max_words``
    most frequent (ties by word) when given; counted in the JVM."""
    from pyspark.sql import functions as F

    from bigdl_runtime.spark.errors import worker_errors

    counts = (frame.select(F.explode("tokens").alias("word")).groupBy("word").count()
              .filter(F.col("count") >= min_freq))
    if max_words is not None:
        counts = counts.orderBy(F.desc("count"), F.asc("word")).limit(max_words)
    with worker_errors():
        table = counts.toArrow()
    return list(zip(table.column("word").to_pylist(), table.column("count").to_pylist()))


def _tokenized(tokenizer: Tokenizer, record: TextRecord) -> TextRecord:
    return replace(record, tokens=tokenizer(record.text))


def _encoded(index: WordIndex, length: int, padding: str, truncating: str, record: TextRecord) -> TextRecord:
    return replace(record, ids=shape_sequence(index.encode(record.tokens or []), length, padding, truncating))
