"""Readers for public data sets (local files, no downloads); each reader module is an attribute, imported on use."""
from zoo._lazy import lazy_getattr

from .fashion_mnist import CLASS_NAMES, DEFAULT_ROOT, load_fashion_mnist, read_idx

__all__ = ["CLASS_NAMES", "DEFAULT_ROOT", "load_fashion_mnist", "read_idx"]

__getattr__ = lazy_getattr(__name__, {}, ("glove", "imdb", "movielens", "packaged", "shapes"))
