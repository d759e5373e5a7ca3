"""Where labels come from: the parent folder, a CSV of ``path,label`` rows, or a DataFrame."""
from __future__ import annotations

import os
from typing import Any

from bigdl_runtime.train.local_fs import uri_scheme

from .labels import parse_label_csv, strip_file_scheme


def label_source(with_label: Any, spark: Any = None) -> tuple[str | None, dict[str, str] | None]:
    """Resolve :meth:`ImageSet.read`'s ``with_label`` into ``(source, table)``.

    Args:
        with_label: ``"folder"``, None, a CSV path (local, or any Hadoop URI when
            ``spark`` is given), or a DataFrame of ``(path, label)``.
        spark: the session, needed for CSVs behind a non-file URI.

    Returns:
        ``("folder", None)``, ``(None, None)`` or ``("table", {path: label name})``.
    """
    if with_label is None:
        return None, None
    if isinstance(with_label, str) and with_label == "folder":
        return "folder", None
    if isinstance(with_label, (str, os.PathLike)):
        return "table", _csv_table(os.fspath(with_label), spark)
    if hasattr(with_label, "columns") and hasattr(with_label, "collect"):
        return "table", _dataframe_table(with_label)
    raise TypeError(f"with_label must be 'folder', a CSV path, a DataFrame of (path, label) or None, "
                    f"got {type(with_label).__name__}")


def _csv_table(path: str, spark: Any) -> dict[str, str]:
    scheme = uri_scheme(path)
    if scheme not in (None, "file"):
        if spark is None:
            raise ValueError(f"reading the label CSV {path} needs a SparkSession (spark=...)")
        from bigdl_runtime.spark.hadoop_fs import require_input

        require_input(path, spark, "label CSV")
        text = "\n".join(spark.read.text(path).toArrow().column("value").to_pylist())   # lines as one Arrow table
    else:
        with open(strip_file_scheme(path), encoding="utf-8") as f:
            text = f.read()
    table = parse_label_csv(text, path)
    if not table:
        raise ValueError(f"the label CSV {path} has no rows")
    return table


def _dataframe_table(df: Any) -> dict[str, str]:
    columns = list(df.columns)
    if "path" in columns and "label" in columns:
        path_col, label_col = "path", "label"
    elif len(columns) >= 2:
        path_col, label_col = columns[0], columns[1]
    else:
        raise ValueError(f"a label DataFrame needs (path, label) columns, got {columns}")
    table: dict[str, str] = {}
    rows = df.select(path_col, label_col).toArrow()                 # to the driver as Arrow batches, not Rows
    for i, (path, label) in enumerate(zip(rows.column(0).to_pylist(), rows.column(1).to_pylist())):
        if path is None or label is None:
            raise ValueError(f"label DataFrame row {i}: null path or label ({path!r}, {label!r})")
        table[str(path)] = str(label)
    if not table:
        raise ValueError("the label DataFrame is empty")
    return table
