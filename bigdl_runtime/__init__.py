"""bigdl_runtime: the engine (kernels, nn, optim, train, serialization, spark)."""
__version__ = "0.1.0"
