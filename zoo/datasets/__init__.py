"""Readers for public data sets (local files, no downloads)."""
from .fashion_mnist import CLASS_NAMES, DEFAULT_ROOT, load_fashion_mnist, read_idx

__all__ = ["CLASS_NAMES", "DEFAULT_ROOT", "load_fashion_mnist", "read_idx"]
