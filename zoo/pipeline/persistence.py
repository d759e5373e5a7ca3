"""Saving NN stages with Spark ML's writers: Params as Spark ML metadata, networks as model files.

A saved stage is a directory (local path or any Hadoop URI)::

    <path>/metadata/part-00000    Spark ML's JSON metadata (class, uid, params), as DefaultParamsWriter writes it
    <path>/model.bigdl            the network, in the protobuf model format
    <path>/loss.bigdl             the loss (estimators only)

Everything goes through Spark's Hadoop filesystem, so ``hdfs://`` paths work,
and a fitted ``pyspark.ml.PipelineModel`` holding NN stages next to Spark's own
saves and loads with ``PipelineModel.save`` / ``PipelineModel.load``. Loading
runs no code from the files: the class named in the metadata must be the
stage class ``load`` was called on, and the model files are read by
:func:`bigdl_runtime.serialization.model_from_bytes`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pyspark.ml.util import DefaultParamsReader, DefaultParamsWriter, MLReadable, MLReader, MLWritable, MLWriter

from bigdl_runtime.nn.module import Module
from bigdl_runtime.serialization import model_from_bytes, model_to_bytes
from bigdl_runtime.spark.hadoop_fs import HadoopFileSystem

if TYPE_CHECKING:
    from pyspark.ml.param import Params

S = TypeVar("S", bound="NNPersistable")


class NNPersistable(MLWritable, MLReadable[S], Generic[S]):
    """Mixin of the NN stages: ``save``/``write`` and ``load``/``read`` with model files beside the metadata.

    A stage lists its networks in :meth:`_saved_modules` and rebuilds itself
    from them in :meth:`_from_saved_modules`; its Params travel in the metadata.
    """

    def _saved_modules(self) -> dict[str, Module]:
        raise NotImplementedError

    @classmethod
    def _from_saved_modules(cls: type[S], modules: dict[str, Module]) -> S:
        raise NotImplementedError

    def write(self) -> MLWriter:
        return NNWriter(self)

    @classmethod
    def read(cls: type[S]) -> "NNReader[S]":
        return NNReader(cls)


class NNWriter(MLWriter):
    """Writes the stage's metadata with Spark ML's metadata writer and its networks as model files."""

    def __init__(self, instance: NNPersistable) -> None:
        super().__init__()
        self.instance = instance

    def saveImpl(self, path: str) -> None:
        modules = self.instance._saved_modules()
        DefaultParamsWriter.saveMetadata(self.instance, path, self.sparkSession,
                                         extraMetadata={"modelFiles": sorted(modules)})
        fs = HadoopFileSystem(self.sparkSession, path)
        for name, module in modules.items():
            fs.write_bytes_atomic(fs.join(path, f"{name}.bigdl"), model_to_bytes(module))


class NNReader(MLReader, Generic[S]):
    """Reads what :class:`NNWriter` wrote, for the stage class ``cls``."""

    def __init__(self, cls: type[S]) -> None:
        super().__init__()
        self.cls = cls

    def load(self, path: str) -> S:
        metadata = DefaultParamsReader.loadMetadata(path, self.sparkSession)
        expected = f"{self.cls.__module__}.{self.cls.__name__}"
        if metadata.get("class") != expected:
            raise ValueError(f"{path}: the saved stage is a {metadata.get('class')!r}, not a {expected!r}; "
                             "load it with that class")
        names = metadata.get("modelFiles")
        if not isinstance(names, list) or not all(isinstance(n, str) and n.isidentifier() for n in names):
            raise ValueError(f"{path}: the metadata has no valid 'modelFiles' list (was it saved by an NN stage?)")
        fs = HadoopFileSystem(self.sparkSession, path)
        modules = {}
        for name in names:
            file = fs.join(path, f"{name}.bigdl")
            modules[name] = model_from_bytes(fs.read_bytes(file), source=file)
        instance: Any = self.cls._from_saved_modules(modules)
        params: "Params" = instance
        params._resetUid(metadata["uid"])
        DefaultParamsReader.getAndSetParams(params, metadata)
        return instance
