"""Model cards: the ``model.toml`` next to each shipped model's weights.

A card is a small TOML document (read with :mod:`tomllib`, written by
:func:`write_card`, which only needs the plain subset cards use: strings,
numbers, booleans, arrays of those, and tables)::

    name = "lenet5-fashion-mnist"
    builder = "zoo.models.lenet5"
    file = "model.bigdl"
    sha256 = "3f1c..."
    input_shape = [1, 28, 28]          # one sample, without the batch dimension
    labels = ["T-shirt/top", ...]

    [preprocessing]                    # what predict_images applies, see zoo.catalog.preprocess
    kind = "image"
    ...
    [metrics]                          # measured on held-out data by the recipe
    [training]                         # the recipe and its command

Examples:
    >>> card = read_card("models/lenet5-fashion-mnist/model.toml")
    >>> card["metrics"]["top1"]
    0.9115
"""
from __future__ import annotations

import hashlib
import math
import os
import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: keys every card must have, and the type each must hold
REQUIRED = {"name": str, "builder": str, "file": str, "sha256": str, "input_shape": list,
            "preprocessing": dict, "metrics": dict, "training": dict}


def sha256_of(path: str | os.PathLike) -> str:
    """The hex SHA-256 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    """Parse and check the card at ``path``.

    Raises:
        ValueError: naming the card, when it is not valid TOML or misses a
            required key (or holds it with the wrong type).
    """
    path = Path(path)
    try:
        card = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"model card '{path}': not valid TOML ({err})") from err
    for key, kind in REQUIRED.items():
        if key not in card:
            raise ValueError(f"model card '{path}': missing required key '{key}'")
        if not isinstance(card[key], kind):
            raise ValueError(f"model card '{path}': '{key}' must be a {kind.__name__}, "
                             f"got {type(card[key]).__name__}")
    return card


def write_card(path: str | os.PathLike, card: dict[str, Any]) -> None:
    """Write ``card`` as TOML to ``path`` (top-level values first, then one table per dict).

    Raises:
        TypeError: for a value TOML cannot hold here (None, nested lists of tables, objects).
    """
    scalars = {k: v for k, v in card.items() if not isinstance(v, dict)}
    lines = [f"{_key(k)} = {_value(v, k)}" for k, v in scalars.items()]
    for table, content in card.items():
        if isinstance(content, dict):
            lines.extend(_table(table, content))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def _table(name: str, content: dict[str, Any]) -> list[str]:
    lines = ["", f"[{name}]"]
    lines += [f"{_key(k)} = {_value(v, f'{name}.{k}')}" for k, v in content.items() if not isinstance(v, dict)]
    for key, sub in content.items():
        if isinstance(sub, dict):
            lines.extend(_table(f"{name}.{_key(key)}", sub))
    return lines


def _key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else _string(key)


def _string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or (hasattr(value, "dtype") and getattr(value, "dtype").kind in "iu"):
        return str(int(value))
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value, "dtype").kind == "f"):
        number = float(value)
        if not math.isfinite(number):
            raise TypeError(f"card value '{where}' is {number}: TOML cards hold finite numbers only")
        return repr(number)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v, f"{where}[{i}]") for i, v in enumerate(value)) + "]"
    raise TypeError(f"card value '{where}' has type {type(value).__name__}, which a card cannot hold")


def write_model_folder(folder: str | os.PathLike, model: Any, card: dict[str, Any],
                       file: str = "model.bigdl", **metadata: Any) -> dict[str, Any]:
    """Save ``model`` into ``folder`` and write its card with the file's SHA-256.

    The model file carries the card's name, labels, input shape and
    preprocessing as metadata too, so it stays self-describing on its own.

    Args:
        folder: e.g. ``models/lenet5-fashion-mnist`` (created if missing).
        model: the trained module.
        card: every card key except ``file`` and ``sha256`` (filled in here).
        file: the weights file name inside ``folder``.
        metadata: extra metadata for the model file.

    Returns:
        the card as written.
    """
    from bigdl_runtime.serialization import save_model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_model(model, folder / file, name=card["name"], labels=list(card.get("labels", [])),
               input_shape=list(card["input_shape"]), preprocessing=card["preprocessing"], **metadata)
    full = {"name": card["name"], "file": file, "sha256": sha256_of(folder / file),
            **{k: v for k, v in card.items() if k not in ("name", "file", "sha256")}}
    write_card(folder / "model.toml", full)
    read_card(folder / "model.toml")  # what we wrote must read back
    return full
