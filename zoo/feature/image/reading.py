"""What reading one file gives (a record, a bad image, an ignored file) and the read report."""
from __future__ import annotations

import glob
import os
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

from .decode import BadImageError, decode_image
from .labels import LabelTable, folder_label, strip_file_scheme
from .record import ImageRecord

if TYPE_CHECKING:
    from .transform import Transformer

ON_ERROR = ("skip", "raise")


class ImageReadWarning(UserWarning):
    """Issued when a read skipped bad images, left images without a label or ignored non-image files."""


@dataclass(frozen=True)
class ReadOptions:
    """How files become records (shipped to Spark tasks, so plain values only).

    Attributes:
        label_source: ``"folder"``, ``"table"`` or None (no labels).
        table: path -> label name when ``label_source == "table"``.
        extensions: lower-case endings to read (None: every file).
        max_pixels: decompression-bomb limit (None: no limit).
        color: ``"rgb"`` or ``"gray"``.
        on_error: ``"skip"`` or ``"raise"``.
    """

    label_source: str | None
    table: dict[str, str] | None
    extensions: tuple[str, ...] | None
    max_pixels: int | None
    color: str
    on_error: str


@dataclass
class ReadReport:
    """What a read found besides good images; nothing is dropped without a line here.

    Attributes:
        read: number of images decoded and kept.
        skipped: ``(path, reason)`` of each bad image (undecodable, truncated, empty, too large).
        unlabelled: images the label table has no row for (not kept).
        ignored: files whose name does not end with an image extension (not read).
        missing: label-table rows that matched no image.
    """

    read: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    unlabelled: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: the counts, and the paths of the first skipped, unlabelled and ignored files."""
        text = (f"read {self.read} images; skipped {len(self.skipped)} bad, {len(self.unlabelled)} unlabelled; "
                f"ignored {len(self.ignored)} non-image files; {len(self.missing)} label rows without an image")
        for what, items in (("Skipped", [f"{path} ({reason})" for path, reason in self.skipped]),
                            ("Unlabelled", self.unlabelled), ("Ignored", self.ignored)):
            if items:
                more = f" and {len(items) - 5} more" if len(items) > 5 else ""
                text += f". {what}: {'; '.join(items[:5])}{more}"
        return text

    def warn(self) -> None:
        """Issue an :class:`ImageReadWarning` with :meth:`summary` when any file was skipped, unlabelled or ignored."""
        if self.skipped or self.unlabelled or self.ignored:
            warnings.warn(self.summary(), ImageReadWarning, stacklevel=3)


def read_file(path: str, data: bytes, options: ReadOptions, table: LabelTable | None = None,
              chain: "Transformer | None" = None) -> tuple[str, object]:
    """Turn one file into an outcome.

    Args:
        path: the file's path or URI (``file:`` URIs become plain paths).
        data: its bytes.
        options: how to read.
        table: the label lookup when ``options.label_source == "table"``.
        chain: preprocessing run on the decoded image (epoch 0); a JPEG is decoded at the
            reduced size its first resize allows (:meth:`Transformer.decode_size`). An image
            the chain fails on is a bad image.

    Returns:
        ``("ok", ImageRecord)`` with ``label_name`` set (``label`` is filled later
        from the class map), ``("bad", (path, reason))``, ``("unlabelled", path)``
        or ``("ignored", path)``.

    Raises:
        BadImageError: a bad image when ``options.on_error == "raise"``.
    """
    path = strip_file_scheme(path)
    if options.extensions is not None and not path.lower().endswith(options.extensions):
        return "ignored", path
    label_name = None
    if options.label_source == "folder":
        label_name = folder_label(path)
    elif options.label_source == "table":
        label_name, _ = (table or LabelTable(options.table or {})).lookup(path)
        if label_name is None:
            return "unlabelled", path
    try:
        image = decode_image(bytes(data), path, options.max_pixels, options.color,
                             None if chain is None else chain.decode_size)
        record = ImageRecord(image=image, path=path, label_name=label_name)
        if chain is not None:
            try:
                record = chain.run(record)
            except (ValueError, TypeError) as err:
                raise BadImageError(path, f"preprocessing failed: {err}") from None
    except BadImageError as err:
        if options.on_error == "raise":
            raise
        return "bad", (path, err.reason)
    return "ok", record


def read_partition(options: ReadOptions, files: Iterable[tuple[str, bytes]]) -> Iterator[tuple[str, object]]:
    """:func:`read_file` over ``(path, bytes)`` pairs, building the label lookup once."""
    table = LabelTable(options.table or {}) if options.label_source == "table" else None
    for path, data in files:
        yield read_file(path, data, options, table)


def list_local_files(path: str) -> list[str]:
    """Absolute paths of the files under a directory (recursively), matching a glob, or the one file, sorted.

    Raises:
        FileNotFoundError: nothing exists at ``path``.
    """
    plain = strip_file_scheme(os.fspath(path))
    if os.path.isdir(plain):
        found = [os.path.join(root, name) for root, _, names in os.walk(plain) for name in names]
    elif os.path.isfile(plain):
        found = [plain]
    else:
        found = [p for p in glob.glob(plain, recursive=True) if os.path.isfile(p)]
        if not found:
            raise FileNotFoundError(f"no images found at {path!r} (not a file, a folder or a matching glob)")
    return sorted(os.path.abspath(p) for p in found)
