"""Spark ML pipeline stages for networks, transfer learning helpers, and Spark-scale inference.

Names are imported lazily so ``import zoo.pipeline.inference`` does not load
the estimator machinery (and vice versa).

Examples:
    >>> from zoo.pipeline import NNClassifier, NNImageReader
    >>> model = Pipeline(stages=[StringIndexer(...), VectorAssembler(...), NNClassifier(net)]).fit(df)
"""
from __future__ import annotations

from zoo._lazy import lazy_getattr

#: public name -> module that defines it
_EXPORTS = {
    "NNEstimator": "zoo.pipeline.estimator",
    "NNClassifier": "zoo.pipeline.estimator",
    "NNModel": "zoo.pipeline.model",
    "NNClassifierModel": "zoo.pipeline.model",
    "NNFeatureExtractor": "zoo.pipeline.model",
    "NNImageReader": "zoo.pipeline.image_reader",
    "as_graph": "zoo.pipeline.transfer",
    "cut": "zoo.pipeline.transfer",
    "with_new_head": "zoo.pipeline.transfer",
    "predict": "zoo.pipeline.inference",
    "ModelTransformer": "zoo.pipeline.inference",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
