"""Setting Spark ML Params from constructor keywords, with errors that list the known names."""
from __future__ import annotations

from typing import Any

from pyspark.ml.param import Params


def set_params(stage: Params, params: dict[str, Any]) -> None:
    """Set each ``name=value`` of ``params`` on ``stage`` (type-converted by the Param).

    Raises:
        TypeError: a name that is not one of the stage's Params, or a value of the wrong type.
    """
    known = sorted(p.name for p in stage.params)
    for name, value in params.items():
        if not stage.hasParam(name):
            raise TypeError(f"{type(stage).__name__}: unknown parameter '{name}'; known: {known}")
        stage._set(**{name: value})
