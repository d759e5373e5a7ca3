"""The catalog of pretrained models shipped in ``models/`` (each trained here by a recipe in ``scripts/``).

Every model is a folder with a card (``model.toml``: builder, weights file and its
SHA-256, input shape, preprocessing, labels, the held-out metrics the recipe
measured and the command that trained it) and the weights in the runtime's
protobuf model format. The checksum is verified before anything is loaded.

Examples:
    >>> import zoo
    >>> zoo.list_models()
    ['lenet5-fashion-mnist', ...]
    >>> zoo.model_card("lenet5-fashion-mnist")["metrics"]["top1"]
    0.91
    >>> net = zoo.load_pretrained("lenet5-fashion-mnist")
    >>> net.predict_images(["shoe.png"], top_k=2)
    [[('Sneaker', 0.93), ('Sandal', 0.05)]]
"""
from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any

from .cards import read_card, sha256_of, write_card, write_model_folder
from .locate import ENV_VAR, model_folders, model_roots
from .pretrained import PretrainedModel

__all__ = ["ChecksumError", "PretrainedModel", "UnknownModelError", "list_models", "load_pretrained",
           "model_card", "model_folder", "model_roots", "read_card", "sha256_of", "verify", "write_card",
           "write_model_folder", "ENV_VAR"]


class UnknownModelError(LookupError):
    """No model of that name in the catalog (the message lists close matches)."""


class ChecksumError(ValueError):
    """A model file does not have the SHA-256 its card records (tampered or damaged)."""


def list_models() -> list[str]:
    """The names of all models in the catalog, sorted."""
    return sorted(model_folders())


def model_folder(name: str) -> Path:
    """The folder holding model ``name``'s card and files.

    Raises:
        UnknownModelError: with close matches of a misspelt name and the known names.
    """
    folders = model_folders()
    if name in folders:
        return folders[name]
    close = [n for n in sorted(folders) if n.startswith(name)][:3]          # "lenet5" -> "lenet5-fashion-mnist"
    close += [n for n in difflib.get_close_matches(name, list(folders), n=3, cutoff=0.5) if n not in close]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    roots = ", ".join(str(r) for r in model_roots()) or "none found"
    raise UnknownModelError(f"no pretrained model named {name!r}; {hint}known models: {sorted(folders)} "
                            f"(searched {roots}; more roots via ${ENV_VAR})")


def model_card(name: str) -> dict[str, Any]:
    """Model ``name``'s card as a dict (a copy: changing it changes nothing)."""
    card = read_card(model_folder(name) / "model.toml")
    if card["name"] != name:
        raise ValueError(f"model card '{model_folder(name) / 'model.toml'}' names '{card['name']}', "
                         f"but its folder is '{name}'")
    return copy.deepcopy(card)


def verify(name: str) -> dict[str, Any]:
    """Check that model ``name``'s weights file (and any extra files) match the card's SHA-256.

    Returns:
        the card.

    Raises:
        FileNotFoundError: a file the card names is missing.
        ChecksumError: a file's SHA-256 differs from the card's.
    """
    card, folder = model_card(name), model_folder(name)
    expected = {card["file"]: card["sha256"], **card.get("files", {})}
    for file, digest in expected.items():
        path = folder / file
        if not path.is_file():
            raise FileNotFoundError(f"pretrained model '{name}': file '{path}' named by its card is missing")
        actual = sha256_of(path)
        if actual != digest:
            raise ChecksumError(f"pretrained model '{name}': '{path}' has SHA-256 {actual}, but its card records "
                                f"{digest}; the file is damaged or was modified (re-run "
                                f"{card['training'].get('recipe', 'its recipe')} or restore it)")
    return card


def load_pretrained(name: str) -> PretrainedModel:
    """Load catalog model ``name`` after verifying its checksums.

    Returns:
        a :class:`PretrainedModel` in evaluation mode (``.model`` is the network,
        ``.card`` its card, ``predict_images`` / ``predict_texts`` apply the card's
        preprocessing).

    Raises:
        UnknownModelError, FileNotFoundError, ChecksumError: see :func:`model_folder` and :func:`verify`.
    """
    from bigdl_runtime.serialization import load_model

    card = verify(name)
    folder = model_folder(name)
    return PretrainedModel(load_model(folder / card["file"]), card, folder)
