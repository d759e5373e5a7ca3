"""The ``weights=`` argument every zoo builder takes (Keras-applications style).

``weights=None`` keeps the random initialisation, ``"pretrained"`` loads the
builder's catalog model (checksum verified, see :mod:`zoo.catalog`), and a path
loads any model file saved by ``Module.save`` whose parameters fit. Weights are
matched by parameter name and shape; with ``include_top=False`` the head's
parameters in the file are ignored.
"""
from __future__ import annotations

import os

from bigdl_runtime.nn.module import Module


def apply_weights(model: Module, weights: str | os.PathLike | None, pretrained: str | None,
                  builder: str) -> Module:
    """Load ``weights`` into ``model`` (built by ``builder``) and return it.

    Args:
        model: the freshly built network.
        weights: None, ``"pretrained"`` or a model file path.
        pretrained: the catalog name ``"pretrained"`` means for this builder, or
            None when the catalog has none.
        builder: the builder's name, for error messages.

    Raises:
        ValueError: no pretrained model for the builder, or the file's parameters
            do not fit the model (names the parameters that differ).
    """
    if weights is None:
        return model
    from bigdl_runtime.serialization import load_model

    if weights == "pretrained":
        if pretrained is None:
            raise ValueError(f"{builder}: no pretrained weights in the catalog for this configuration; "
                             "use weights=None or a model file path")
        from zoo.catalog import load_pretrained

        source = load_pretrained(pretrained).model
        where = f"catalog model '{pretrained}'"
    else:
        source = load_model(weights)
        where = f"model file '{os.fspath(weights)}'"
    mine, theirs = model.state_dict(), source.state_dict()
    missing = [k for k in mine if k not in theirs]
    wrong = [f"{k} {theirs[k].shape} != {mine[k].shape}"
             for k in mine if k in theirs and theirs[k].shape != mine[k].shape]
    if missing or wrong:
        raise ValueError(f"{builder}: {where} does not fit this model: "
                         + "; ".join(filter(None, [f"missing {missing[:5]}" if missing else "",
                                                    f"shape mismatch {wrong[:5]}" if wrong else ""])))
    model.load_state_dict({k: theirs[k] for k in mine})
    return model
