"""Fold read outcomes into the report and the class map; give records their label index."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

from .labels import LabelMap, LabelTable, folder_label
from .reading import ReadOptions, ReadReport
from .record import ImageRecord


@dataclass
class Summary:
    """What one partition's outcomes add up to (small: no images)."""

    read: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    label_names: set[str] = field(default_factory=set)
    matched_rows: set[str] = field(default_factory=set)


def summarise(options: ReadOptions, outcomes: Iterable[tuple[str, object]]) -> Summary:
    """Count the outcomes of :func:`~zoo.feature.image.reading.read_file`."""
    out = Summary()
    table = LabelTable(options.table or {}) if options.label_source == "table" else None
    for kind, payload in outcomes:
        path = None
        if kind == "ok":
            out.read += 1
            path = payload.path  # type: ignore[union-attr]
            if payload.label_name is not None:  # type: ignore[union-attr]
                out.label_names.add(payload.label_name)  # type: ignore[union-attr]
        elif kind == "bad":
            out.skipped.append(payload)  # type: ignore[arg-type]
            path = payload[0]  # type: ignore[index]
            if options.label_source == "folder":
                out.label_names.add(folder_label(path))
        elif kind == "unlabelled":
            out.unlabelled.append(payload)  # type: ignore[arg-type]
        else:
            out.ignored.append(payload)  # type: ignore[arg-type]
        if table is not None and path is not None:
            _, row = table.lookup(path)
            out.matched_rows.add(row)  # type: ignore[arg-type]
    return out


def finish_read(parts: Iterable[Summary], options: ReadOptions,
                classes: LabelMap | None) -> tuple[LabelMap | None, ReadReport]:
    """Merge partition summaries into the report (warning when images were skipped) and the class map.

    The classes are every label of the table, or every folder holding an image
    file (a bad image's folder counts), so skipping an image never shifts indices.

    Raises:
        ValueError: labels found that ``classes`` does not know.
    """
    report = ReadReport()
    names: set[str] = set()
    matched: set[str] = set()
    for part in parts:
        report.read += part.read
        report.skipped.extend(part.skipped)
        report.unlabelled.extend(part.unlabelled)
        report.ignored.extend(part.ignored)
        names |= part.label_names
        matched |= part.matched_rows
    report.skipped.sort()
    report.unlabelled.sort()
    report.ignored.sort()
    if options.label_source == "table":
        report.missing = sorted(set(LabelTable(options.table or {}).table) - matched)
    report.warn()
    labels = None
    if options.label_source == "table":
        names |= set((options.table or {}).values())
    if options.label_source is not None:
        labels = classes if classes is not None else LabelMap(names)
        unknown = sorted(n for n in names if n not in labels)
        if unknown:
            raise ValueError(f"labels {unknown} are not among the classes {labels.names}")
    return labels, report


def label_records(labels: LabelMap | None, outcomes: Iterable[tuple[str, object]]) -> Iterator[ImageRecord]:
    """The records of ``"ok"`` outcomes with ``label`` set from ``label_name``."""
    for _, record in outcomes:
        if labels is None or record.label_name is None:  # type: ignore[union-attr]
            yield record  # type: ignore[misc]
        else:
            yield record.replace(label=labels.index(record.label_name))  # type: ignore[union-attr]
