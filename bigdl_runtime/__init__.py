"""bigdl_runtime: the engine (kernels, nn, optim, train, serialization, spark).

``bigdl_runtime.load(path)`` reads a model file written by ``model.save(path)``.
"""
__version__ = "0.1.0"

from .serialization import load_model as load  # noqa: E402  (needs __version__ above)

__all__ = ["load", "__version__"]
