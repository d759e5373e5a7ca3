"""Where the shipped models live, in a source checkout and in an installed wheel.

Search order (the first that exists wins, all existing roots are listed):

1. the directories in the ``BIGDL_ZOO_MODELS`` environment variable
   (``os.pathsep``-separated), for models kept outside the package;
2. the ``zoo.pretrained`` package data of an installed wheel (the build maps
   the repository's ``models/`` folder to that package);
3. ``models/`` next to the ``zoo`` package in a source checkout.

Each model is a folder ``<root>/<name>/`` holding ``model.toml`` and the files it names.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

ENV_VAR = "BIGDL_ZOO_MODELS"
CARD = "model.toml"


def model_roots() -> list[Path]:
    """Every existing directory that may hold model folders, in search order."""
    roots = [Path(p) for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p]
    spec = importlib.util.find_spec("zoo.pretrained")
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    roots.append(Path(__file__).resolve().parents[2] / "models")
    unique: list[Path] = []
    for root in roots:
        if root.is_dir() and root.resolve() not in [u.resolve() for u in unique]:
            unique.append(root)
    return unique


def model_folders() -> dict[str, Path]:
    """``name -> folder`` for every folder with a card; earlier roots shadow later ones."""
    found: dict[str, Path] = {}
    for root in model_roots():
        for card in sorted(root.glob(f"*/{CARD}")):
            found.setdefault(card.parent.name, card.parent)
    return found
