"""Tokenizer with normalisation of case, punctuation and numbers; config stored as JSON with a model."""
from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

#: numbers (with decimal or thousands separators), words (with inner apostrophes), single symbols
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+(?:['’][^\W_]+)*|\w+|[^\w\s]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*$")
_PUNCTUATION = ("remove", "keep")
_NUMBERS = ("keep", "remove", "token")


class Tokenizer:
    """Split text into normalised tokens.

    Text is Unicode-normalised (NFKC), optionally lower-cased, and split into
    numbers (``3.14``, ``1,000``), words (``don't`` stays one token) and single
    punctuation/symbol characters.

    Args:
        lower: lower-case the text.
        punctuation: ``"remove"`` or ``"keep"`` punctuation/symbol tokens.
        numbers: ``"keep"`` them, ``"remove"`` them, or replace each by ``number_token``.
        number_token: the replacement when ``numbers="token"``.

    Examples:
        >>> Tokenizer(numbers="token")("It costs 3.50 dollars, doesn't it?")
        ['it', 'costs', '<num>', 'dollars', "doesn't", 'it']
    """

    def __init__(self, lower: bool = True, punctuation: str = "remove", numbers: str = "keep",
                 number_token: str = "<num>") -> None:
        if punctuation not in _PUNCTUATION:
            raise ValueError(f"punctuation must be one of {_PUNCTUATION}, got {punctuation!r}")
        if numbers not in _NUMBERS:
            raise ValueError(f"numbers must be one of {_NUMBERS}, got {numbers!r}")
        self.lower, self.punctuation, self.numbers, self.number_token = bool(lower), punctuation, numbers, number_token

    def __call__(self, text: str) -> list[str]:
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer takes a str, got {type(text).__name__}")
        text = unicodedata.normalize("NFKC", text)
        if self.lower:
            text = text.lower()
        tokens = []
        for token in _TOKEN.findall(text):
            if _NUMBER.match(token):
                if self.numbers == "remove":
                    continue
                if self.numbers == "token":
                    token = self.number_token
            elif self.punctuation == "remove" and not any(ch.isalnum() for ch in token):
                continue
            tokens.append(token)
        return tokens

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments."""
        return {"lower": self.lower, "punctuation": self.punctuation, "numbers": self.numbers,
                "number_token": self.number_token}

    def to_json(self) -> str:
        """:meth:`get_config` as JSON."""
        return json.dumps(self.get_config())

    @classmethod
    def from_json(cls, text: str) -> "Tokenizer":
        """Rebuild from :meth:`to_json`."""
        config = json.loads(text)
        if not isinstance(config, dict):
            raise ValueError(f"tokenizer JSON must be an object, got {text[:80]!r}")
        try:
            return cls(**config)
        except TypeError as err:
            raise ValueError(f"tokenizer JSON has bad arguments: {err}") from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tokenizer) and self.get_config() == other.get_config()

    def __repr__(self) -> str:
        return f"Tokenizer({', '.join(f'{k}={v!r}' for k, v in self.get_config().items())})"
