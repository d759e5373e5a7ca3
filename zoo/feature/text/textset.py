"""TextSet: labelled texts from a list, a folder per label or a DataFrame, locally or on Spark, to id arrays."""
from __future__ import annotations

import functools
import operator
import os
from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

import numpy as np

from ..image.labels import LabelMap, folder_label, strip_file_scheme
from .tokenize import Tokenizer
from .vocab import WordIndex, shape_sequence


@dataclass(eq=False)  # holds arrays: compare fields explicitly
class TextRecord:
    """One text on its way to an id sequence.

    Attributes:
        text: the raw text.
        label: class index or None.
        source: file path or row index, for error messages.
        tokens: after :meth:`TextSet.tokenize`.
        ids: after :meth:`TextSet.to_sequences`, int64 ``(length,)``.
    """

    text: str
    label: int | None = None
    source: str | None = None
    tokens: list[str] | None = None
    ids: np.ndarray | None = None


class TextSet:
    """Texts with labels, held locally (a list) or distributed (an RDD of :class:`TextRecord`).

    The steps return new TextSets: :meth:`tokenize` -> :meth:`build_word_index`
    -> :meth:`to_sequences` -> :meth:`to_arrays` / :meth:`to_rdd`. The same
    code runs on both; on Spark the word counts are a ``reduceByKey``.

    Attributes:
        labels: the class map when labels are names (None for integer labels).
        tokenizer, word_index: what the steps used (save both with the model).

    Examples:
        >>> texts = TextSet.from_folder("data/reviews")                 # data/reviews/<label>/*.txt
        >>> prepared = texts.tokenize(Tokenizer()).build_word_index(max_words=20000, min_freq=2)
        >>> x, y = prepared.to_sequences(200).to_arrays()
        >>> prepared.word_index.save("model/words.json")
    """

    def __init__(self, records: list[TextRecord] | None = None, rdd: Any = None, labels: LabelMap | None = None,
                 tokenizer: Tokenizer | None = None, word_index: WordIndex | None = None) -> None:
        if (records is None) == (rdd is None):
            raise ValueError("a TextSet holds either local records or an RDD")
        self._records, self._rdd = records, rdd
        self.labels, self.tokenizer, self.word_index = labels, tokenizer, word_index

    @classmethod
    def from_list(cls, texts: Sequence[str], labels: Sequence[Any] | None = None,
                  classes: LabelMap | Sequence[str] | None = None, spark: Any = None) -> "TextSet":
        """From texts and optional labels (class indices, or names mapped through ``classes``).

        Args:
            texts: the texts.
            labels: ints, or names (then ``classes`` or the sorted names give the indices).
            classes: class names in index order.
            spark: distribute the records through this session.
        """
        if labels is not None and len(labels) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
        label_map, indices = _label_indices(labels, classes)
        records = [TextRecord(text=_check_text(t, f"row {i}"), label=None if indices is None else indices[i],
                              source=f"row {i}") for i, t in enumerate(texts)]
        if spark is not None:
            return cls(rdd=spark.sparkContext.parallelize(records), labels=label_map)
        return cls(records=records, labels=label_map)

    @classmethod
    def from_folder(cls, path: str | os.PathLike, spark: Any = None, extensions: Sequence[str] | None = (".txt",),
                    classes: LabelMap | Sequence[str] | None = None, encoding: str = "utf-8") -> "TextSet":
        """One file per text, one folder per label (``path/<label>/<file>.txt``), read recursively.

        With ``spark``, ``path`` may be any Hadoop URI; the files are read by
        Spark's ``binaryFile`` source. Undecodable bytes become U+FFFD.
        """
        endings = None if extensions is None else tuple(e.lower() for e in extensions)
        if spark is not None:
            source = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(os.fspath(path))
            listed = [strip_file_scheme(p) for p in source.inputFiles()]
            listed = [p for p in listed if endings is None or p.lower().endswith(endings)]
            if not listed:
                raise FileNotFoundError(f"no text files under {path!r} with endings {endings}")
            label_map = _fixed(classes) or LabelMap(folder_label(p) for p in listed)
            _check_known({folder_label(p) for p in listed}, label_map)
            files = source.select("path", "content").rdd.map(lambda row: (strip_file_scheme(row.path), row.content))
            files = files.filter(lambda pc: endings is None or pc[0].lower().endswith(endings))
            # Spark's scan leaves out zero-byte files: they are empty texts, added back here
            scanned = {strip_file_scheme(row.path) for row in source.select("path").collect()}
            empty = [(p, b"") for p in listed if p not in scanned]
            if empty:
                files = files.union(spark.sparkContext.parallelize(empty, 1))
            return cls(rdd=files.map(functools.partial(_file_record, label_map, encoding)), labels=label_map)
        from ..image.reading import list_local_files
        paths = [p for p in list_local_files(os.fspath(path)) if endings is None or p.lower().endswith(endings)]
        if not paths:
            raise FileNotFoundError(f"no text files under {path!r} with endings {endings}")
        label_map = _fixed(classes) or LabelMap(folder_label(p) for p in paths)
        _check_known({folder_label(p) for p in paths}, label_map)
        records = []
        for p in paths:
            with open(p, "rb") as f:
                records.append(_file_record(label_map, encoding, (p, f.read())))
        return cls(records=records, labels=label_map)

    @classmethod
    def from_dataframe(cls, df: Any, text_col: str = "text", label_col: str | None = "label",
                       classes: LabelMap | Sequence[str] | None = None) -> "TextSet":
        """A distributed set from a DataFrame; a string label column is mapped through the sorted names."""
        for col in [text_col] + ([label_col] if label_col else []):
            if col not in df.columns:
                raise ValueError(f"column {col!r} is not in the DataFrame's columns {df.columns}")
        label_map = None
        if label_col is not None and dict(df.dtypes)[label_col] == "string":
            names = [r[0] for r in df.select(label_col).distinct().collect()]
            label_map = _fixed(classes) or LabelMap(names)
            _check_known(names, label_map)
        rows = df.select(text_col, *([label_col] if label_col else [])).rdd.zipWithIndex()
        return cls(rdd=rows.map(functools.partial(_row_record, label_map)), labels=label_map)

    @property
    def is_distributed(self) -> bool:
        """Whether the records live in an RDD."""
        return self._rdd is not None

    def records(self) -> list[TextRecord]:
        """All records (collected when distributed)."""
        return list(self._records or []) if self._rdd is None else self._rdd.collect()

    def __len__(self) -> int:
        return len(self._records or []) if self._rdd is None else self._rdd.count()

    def _map(self, fn: Any, **state: Any) -> "TextSet":
        kept = {"labels": self.labels, "tokenizer": self.tokenizer, "word_index": self.word_index, **state}
        if self._rdd is None:
            return type(self)(records=[fn(r) for r in self._records or []], **kept)
        return type(self)(rdd=self._rdd.map(fn), **kept)

    def tokenize(self, tokenizer: Tokenizer | None = None) -> "TextSet":
        """Split every text with ``tokenizer`` (default: lower-case, punctuation removed)."""
        tokenizer = tokenizer or Tokenizer()
        return self._map(functools.partial(_tokenized, tokenizer), tokenizer=tokenizer)

    def build_word_index(self, max_words: int | None = None, min_freq: int = 1) -> "TextSet":
        """Count the tokens and keep the vocabulary (see :meth:`WordIndex.from_counts`)."""
        self._need_tokens()
        if self._rdd is None:
            index = WordIndex.build((r.tokens for r in self._records or []), max_words, min_freq)
        else:
            counts = (self._rdd.flatMap(lambda r: r.tokens).map(lambda w: (w, 1)).reduceByKey(operator.add)
                      .filter(lambda wc: wc[1] >= min_freq))
            top = counts.takeOrdered(max_words, key=lambda wc: (-wc[1], wc[0])) if max_words is not None \
                else counts.collect()
            index = WordIndex.from_counts(top, max_words, min_freq)
        return type(self)(records=self._records, rdd=self._rdd, labels=self.labels, tokenizer=self.tokenizer,
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
        return self._map(functools.partial(_encoded, index, length, padding, truncating), word_index=index)

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``(ids int64 (N, length), labels int64 (N,) or None)``."""
        records = self.records()
        if not records or any(r.ids is None for r in records):
            raise ValueError("to_arrays needs a non-empty TextSet after to_sequences()")
        x = np.stack([r.ids for r in records])
        if any(r.label is None for r in records):
            return x, None
        return x, np.array([r.label for r in records], dtype=np.int64)

    def to_rdd(self) -> Any:
        """An RDD of ``(ids, label)`` pairs (ids alone when unlabelled) for the DistributedTrainer."""
        if self._rdd is None:
            raise ValueError("this TextSet is local: build it with spark= to get an RDD")
        return self._rdd.map(lambda r: r.ids if r.label is None else (r.ids, r.label))

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


def _file_record(labels: LabelMap, encoding: str, path_content: tuple[str, bytes]) -> TextRecord:
    path, content = path_content
    return TextRecord(text=bytes(content).decode(encoding, errors="replace"), label=labels.index(folder_label(path)),
                      source=path)


def _row_record(labels: LabelMap | None, row_index: tuple[Any, int]) -> TextRecord:
    row, i = row_index
    text = _check_text(row[0], f"row {i}")
    label = None
    if len(row) > 1:
        if row[1] is None:
            raise ValueError(f"row {i}: null label")
        label = labels.index(row[1]) if labels is not None else int(row[1])
    return TextRecord(text=text, label=label, source=f"row {i}")


def _tokenized(tokenizer: Tokenizer, record: TextRecord) -> TextRecord:
    return replace(record, tokens=tokenizer(record.text))


def _encoded(index: WordIndex, length: int, padding: str, truncating: str, record: TextRecord) -> TextRecord:
    return replace(record, ids=shape_sequence(index.encode(record.tokens or []), length, padding, truncating))
