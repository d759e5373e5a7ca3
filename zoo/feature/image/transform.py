"""Transformer base class, Pipeline (``a >> b``) and the JSON config that rebuilds a chain without pickle."""
from __future__ import annotations

import json
from typing import Any, Iterable, Sequence

import numpy as np

from bigdl_runtime.native_heap import retain_freed_memory
from bigdl_runtime.registry import ClassRegistry

from .record import ImageRecord, record_rng

#: transformer type name -> class, filled by subclassing :class:`Transformer`; a second class under a taken
#: name is refused unless its class statement says ``override=True`` (see :mod:`bigdl_runtime.registry`).
TRANSFORMERS = ClassRegistry("image transformer")


class Transformer:
    """One preprocessing step on an :class:`ImageRecord` (image, and boxes when present).

    Subclasses implement :meth:`apply` and :meth:`get_config` (the constructor
    arguments, JSON-compatible). Random subclasses set ``random = True`` and
    take a ``seed``; the generator handed to :meth:`apply` is derived from
    ``(seed, record key, epoch, position in the chain)`` (see
    :func:`~zoo.feature.image.record.record_rng`), so results never depend on
    processing order, partitioning or the machine.

    Calling a transformer on a numpy array returns an array; on a record, a record.
    A bare array has no path or index, so every array draws the same random
    values: wrap images in records (or use an :class:`ImageSet`) for
    per-image randomness.

    Examples:
        >>> chain = Resize(256, 256) >> CenterCrop(224, 224) >> PixelScale() >> ToTensor()
        >>> chain(np.zeros((300, 400, 3), np.uint8)).shape
        (3, 224, 224)
        >>> same = Pipeline.from_json(chain.to_json())
    """

    random: bool = False
    seed: int = 0

    def __init_subclass__(cls, override: bool = False, **kwargs: Any) -> None:
        """Register the class by name; ``class Resize(Transformer, override=True)`` replaces ours."""
        super().__init_subclass__(**kwargs)
        if not cls.__name__.startswith("_"):
            TRANSFORMERS.add(cls.__name__, cls, override)

    def apply(self, record: ImageRecord, rng: np.random.Generator | None) -> ImageRecord:
        """Transform one record (``rng`` is None for deterministic transformers)."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as JSON-compatible values."""
        raise NotImplementedError

    def decode_size(self, height: int, width: int) -> tuple[int, int] | None:
        """The smallest ``(height, width)`` an image of this size may be decoded at before this step (a resize
        needs no more than its output size), or None when the step needs every pixel (the default)."""
        return None

    def run(self, record: ImageRecord, epoch: int = 0, position: int = 0) -> ImageRecord:
        """Apply to ``record`` with this step's random stream for ``epoch`` at ``position``.

        The first call sets this process's malloc to keep freed memory for the next image
        (:func:`bigdl_runtime.native_heap.retain_freed_memory`; a chain over 300 in-memory photos took
        1.4 s instead of 0.53 s, mostly the kernel mapping fresh pages for every image's temporaries).
        """
        retain_freed_memory()
        rng = record_rng(self.seed, record.key(), epoch, position) if self.random else None
        try:
            return self.apply(record, rng)
        except (ValueError, TypeError) as err:
            raise type(err)(f"{type(self).__name__} on {record.where()}: {err}") from None

    def __call__(self, x: np.ndarray | ImageRecord, epoch: int = 0) -> Any:
        if isinstance(x, ImageRecord):
            return self.run(x, epoch)
        return self.run(ImageRecord(image=np.asarray(x)), epoch).image

    def __rshift__(self, other: "Transformer") -> "Pipeline":
        return Pipeline([*_steps(self), *_steps(other)])

    def to_config(self) -> dict[str, Any]:
        """``{"type": name, "args": {...}}``."""
        return {"type": type(self).__name__, "args": self.get_config()}

    def to_json(self) -> str:
        """The chain config (a list of :meth:`to_config` dicts) as JSON."""
        return json.dumps([step.to_config() for step in _steps(self)])

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.to_json() == other.to_json()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash(self.to_json())


class Pipeline(Transformer):
    """Transformers applied in order; step ``i`` draws from its own stream (position ``i``).

    Args:
        steps: the transformers (nested pipelines are flattened).

    Examples:
        >>> aug = Pipeline([RandomResizedCrop(224, 224, seed=1), HFlip(0.5, seed=2)])
        >>> aug.to_json()
        '[{"type": "RandomResizedCrop", ...}, {"type": "HFlip", "args": {"p": 0.5, "seed": 2}}]'
    """

    def __init__(self, steps: Sequence[Transformer] = ()) -> None:
        self.steps: list[Transformer] = []
        for step in steps:
            if not isinstance(step, Transformer):
                raise TypeError(f"Pipeline steps must be Transformers, got {type(step).__name__}")
            self.steps.extend(_steps(step))

    def run(self, record: ImageRecord, epoch: int = 0, position: int = 0) -> ImageRecord:
        for i, step in enumerate(self.steps):
            record = step.run(record, epoch, position + i)
        return record

    def decode_size(self, height: int, width: int) -> tuple[int, int] | None:
        return self.steps[0].decode_size(height, width) if self.steps else None

    def steps_config(self) -> list[dict[str, Any]]:
        """The list of ``{"type", "args"}`` dicts (what :meth:`to_json` writes)."""
        return [step.to_config() for step in self.steps]

    def __repr__(self) -> str:
        return f"Pipeline({self.steps!r})"

    def __len__(self) -> int:
        return len(self.steps)

    @classmethod
    def from_config(cls, config: Iterable[dict[str, Any]] | dict[str, Any]) -> "Pipeline":
        """Rebuild from a list of ``{"type", "args"}`` dicts (or one dict)."""
        items = [config] if isinstance(config, dict) else list(config)
        return cls([transformer_from_config(item) for item in items])

    @classmethod
    def from_json(cls, text: str) -> "Pipeline":
        """Rebuild from :meth:`Transformer.to_json` output; never runs code from the text."""
        try:
            config = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"transformer chain JSON is invalid: {err}") from None
        return cls.from_config(config)


def transformer_from_config(item: dict[str, Any]) -> Transformer:
    """Build one transformer from ``{"type": name, "args": {...}}``.

    Raises:
        ValueError: an unknown type, or arguments its constructor rejects.
    """
    if not isinstance(item, dict) or "type" not in item:
        raise ValueError(f'a transformer config must be {{"type": ..., "args": {{...}}}}, got {item!r}')
    name, args = item["type"], item.get("args", {})
    cls = TRANSFORMERS.get(name)
    if cls is None or cls is Pipeline:
        raise ValueError(f"unknown transformer type {name!r}; known: {sorted(set(TRANSFORMERS) - {'Pipeline'})}")
    if not isinstance(args, dict):
        raise ValueError(f"{name}: args must be an object, got {args!r}")
    try:
        return cls(**args)
    except TypeError as err:
        raise ValueError(f"{name}: bad arguments {args!r}: {err}") from None


def _steps(t: Transformer) -> list[Transformer]:
    return list(t.steps) if isinstance(t, Pipeline) else [t]


def pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    """``(h, w)`` from one int or a pair, all positive."""
    if isinstance(value, (int, np.integer)):
        h = w = int(value)
    else:
        if len(value) != 2:
            raise ValueError(f"{what} must be an int or (height, width), got {value!r}")
        h, w = int(value[0]), int(value[1])
    if h < 1 or w < 1:
        raise ValueError(f"{what} must be positive, got {(h, w)}")
    return h, w


def as_float(image: np.ndarray) -> np.ndarray:
    """float32 view of any numeric image (float64 stays float64)."""
    return image if image.dtype in (np.float32, np.float64) else image.astype(np.float32)


def like_input(result: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Cast a float result back to ``original``'s dtype (rounded and clipped for integer types)."""
    if original.dtype == result.dtype:
        return result
    if np.issubdtype(original.dtype, np.integer):
        info = np.iinfo(original.dtype)
        return np.clip(np.rint(result), info.min, info.max).astype(original.dtype)
    return result.astype(original.dtype)


def check_hwc(image: np.ndarray) -> None:
    """Raise unless ``image`` is ``(H, W, C)``."""
    if image.ndim != 3:
        raise ValueError(f"expected an (H, W, C) image, got shape {image.shape}")
