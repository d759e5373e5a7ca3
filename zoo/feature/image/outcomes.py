"""Fold read outcomes into the report and the class map; give records their label index."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .labels import LabelMap, LabelTable, folder_label
from .reading import ReadOptions, ReadReport
from .record import ImageRecord


@dataclass
class Summary:
    """What one partition's outcomes add up to (small: no images).

    ``shapes`` maps each shape a preprocessing chain gave (``"3x224x224"``) to the
    first path (in sort order) that got it; only chained Spark reads fill it.
    """

    read: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    label_names: set[str] = field(default_factory=set)
    matched_rows: set[str] = field(default_factory=set)
    shapes: dict[str, str] = field(default_factory=dict)

    def count(self, kind: str, payload: object, options: ReadOptions, table: LabelTable | None) -> None:
        """Add one outcome of :func:`~zoo.feature.image.reading.read_file` (``table``: the label lookup of a
        ``"table"`` read, else None)."""
        path = None
        if kind == "ok":
            self.read += 1
            path = payload.path  # type: ignore[union-attr]
            if payload.label_name is not None:  # type: ignore[union-attr]
                self.label_names.add(payload.label_name)  # type: ignore[union-attr]
        elif kind == "bad":
            self.skipped.append(payload)  # type: ignore[arg-type]
            path = payload[0]  # type: ignore[index]
            if options.label_source == "folder":
                self.label_names.add(folder_label(path))
        elif kind == "unlabelled":
            self.unlabelled.append(payload)  # type: ignore[arg-type]
        else:
            self.ignored.append(payload)  # type: ignore[arg-type]
        if table is not None and path is not None:
            _, row = table.lookup(path)
            self.matched_rows.add(row)  # type: ignore[arg-type]

    def merge(self, other: "Summary") -> "Summary":
        """Add ``other``'s counts and paths to this one (in place); returns self."""
        self.read += other.read
        self.skipped += other.skipped
        self.unlabelled += other.unlabelled
        self.ignored += other.ignored
        self.label_names |= other.label_names
        self.matched_rows |= other.matched_rows
        for shape, path in other.shapes.items():
            self.shapes[shape] = min(path, self.shapes.get(shape, path))
        return self


def summarise(options: ReadOptions, outcomes: Iterable[tuple[str, object]]) -> Summary:
    """Count the outcomes of :func:`~zoo.feature.image.reading.read_file`."""
    out = Summary()
    table = LabelTable(options.table or {}) if options.label_source == "table" else None
    for kind, payload in outcomes:
        out.count(kind, payload, options, table)
    return out


def finish_read(parts: Iterable[Summary], options: ReadOptions,
                classes: LabelMap | None) -> tuple[LabelMap | None, ReadReport]:
    """Merge partition summaries into the report (warning when images were skipped) and the class map.

    The classes are every label of the table, or every folder holding an image
    file (a bad image's folder counts), so skipping an image never shifts indices.

    Raises:
        ValueError: labels found that ``classes`` does not know.
    """
    total = Summary()
    for part in parts:
        total.merge(part)
    report = ReadReport(total.read, total.skipped, total.unlabelled, total.ignored)
    names, matched = total.label_names, total.matched_rows
    report.skipped.sort()
    report.unlabelled.sort()
    report.ignored.sort()
    if options.label_source == "table":
        report.missing = sorted(set(LabelTable(options.table or {}).table) - matched)
    report.warn()
    return class_map(names, options, classes), report


def class_map(names: set[str], options: ReadOptions, classes: LabelMap | None) -> LabelMap | None:
    """The class map of a read that found the label ``names`` (every row of a label table counts too):
    ``classes`` when given, else the sorted names; None for an unlabelled read.

    Raises:
        ValueError: labels found that ``classes`` does not know.
    """
    if options.label_source is None:
        return None
    if options.label_source == "table":
        names = names | set((options.table or {}).values())
    labels = classes if classes is not None else LabelMap(names)
    unknown = sorted(n for n in names if n not in labels)
    if unknown:
        raise ValueError(f"labels {unknown} are not among the classes {labels.names}")
    return labels


def listed_classes(paths: Iterable[str], options: ReadOptions, classes: LabelMap | None) -> LabelMap | None:
    """The class map a read of the files ``paths`` will give, known before decoding any: the label table's
    names, or the folder of every file with an image ending (a bad image's folder counts, as in
    :func:`finish_read`)."""
    names: set[str] = set()
    if options.label_source == "folder":
        names = {folder_label(p) for p in paths
                 if options.extensions is None or p.lower().endswith(options.extensions)}
    return class_map(names, options, classes)


def label_records(labels: LabelMap | None, outcomes: Iterable[tuple[str, object]]) -> Iterator[ImageRecord]:
    """The records of ``"ok"`` outcomes with ``label`` set from ``label_name``."""
    for _, record in outcomes:
        if labels is None or record.label_name is None:  # type: ignore[union-attr]
            yield record  # type: ignore[misc]
        else:
            yield record.replace(label=labels.index(record.label_name))  # type: ignore[union-attr]
