"""WordIndex: word -> id built from a corpus (padding 0, unknown 1), saved as JSON with a model."""
from __future__ import annotations

import json
from collections import Counter
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..json_file import JsonFile

PAD_ID = 0
UNK_ID = 1
PAD, UNK = "<pad>", "<unk>"


class WordIndex(JsonFile):
    """Word -> integer id; id 0 is padding, id 1 stands for any unknown word.

    Words are numbered from 2 by decreasing frequency, ties broken
    alphabetically, so the same counts always give the same index.

    Args:
        words: the vocabulary in id order (without ``<pad>``/``<unk>``).

    Examples:
        >>> index = WordIndex.build([["a", "b", "a"], ["c", "a", "b"]], max_words=2)
        >>> index.words, index.encode(["a", "c", "b"])
        (['a', 'b'], [2, 1, 3])
        >>> len(index)                      # rows an Embedding needs
        4
    """

    def __init__(self, words: Sequence[str]) -> None:
        self.words = [str(w) for w in words]
        if PAD in self.words or UNK in self.words:
            raise ValueError(f"{PAD!r} and {UNK!r} are reserved and cannot be vocabulary words")
        self._ids = {w: i + 2 for i, w in enumerate(self.words)}
        if len(self._ids) != len(self.words):
            raise ValueError("WordIndex words must be unique")

    @classmethod
    def from_counts(cls, counts: Mapping[str, int] | Iterable[tuple[str, int]], max_words: int | None = None,
                    min_freq: int = 1) -> "WordIndex":
        """Keep words seen at least ``min_freq`` times, the ``max_words`` most frequent of them."""
        if max_words is not None and max_words < 0:
            raise ValueError(f"max_words must be >= 0, got {max_words}")
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        items = counts.items() if isinstance(counts, Mapping) else counts
        kept = sorted(((w, c) for w, c in items if c >= min_freq), key=lambda wc: (-wc[1], wc[0]))
        if max_words is not None:
            kept = kept[:max_words]
        return cls([w for w, _ in kept])

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], max_words: int | None = None,
              min_freq: int = 1) -> "WordIndex":
        """Count the words of a tokenised corpus and keep them as in :meth:`from_counts`."""
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        return cls.from_counts(counts, max_words, min_freq)

    def __len__(self) -> int:
        """Number of ids (vocabulary + padding + unknown): an Embedding's ``num_embeddings``."""
        return len(self.words) + 2

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WordIndex) and self.words == other.words

    def __repr__(self) -> str:
        return f"WordIndex({len(self.words)} words)"

    def id(self, word: str) -> int:
        """The id of ``word`` (``UNK_ID`` when not in the vocabulary)."""
        return self._ids.get(word, UNK_ID)

    def word(self, index: int) -> str:
        """The word of an id (``<pad>`` for 0, ``<unk>`` for 1)."""
        if index == PAD_ID:
            return PAD
        if index == UNK_ID:
            return UNK
        return self.words[index - 2]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens``."""
        return [self._ids.get(t, UNK_ID) for t in tokens]

    def items(self) -> Iterable[tuple[str, int]]:
        """``(word, id)`` for every vocabulary word, in id order."""
        return ((w, i + 2) for i, w in enumerate(self.words))

    def to_json(self) -> str:
        """``{"pad": 0, "unknown": 1, "words": [...]}`` (word ``i`` has id ``i + 2``)."""
        return json.dumps({"pad": PAD_ID, "unknown": UNK_ID, "words": self.words}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> "WordIndex":
        """Rebuild from :meth:`to_json`."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("words"), list):
            raise ValueError('word index JSON must be an object {"words": [...]}')
        if data.get("pad", PAD_ID) != PAD_ID or data.get("unknown", UNK_ID) != UNK_ID:
            raise ValueError(f"word index JSON reserves pad={data.get('pad')}, unknown={data.get('unknown')}; "
                             f"this version needs pad={PAD_ID}, unknown={UNK_ID}")
        return cls(data["words"])


PADDING = ("pre", "post")


def shape_sequence(ids: Sequence[int], length: int, padding: str = "post", truncating: str = "pre") -> np.ndarray:
    """Pad or truncate one id sequence to ``length``.

    Args:
        ids: the token ids.
        length: the output length.
        padding: ``"post"`` appends padding ids (0), ``"pre"`` prepends them.
        truncating: ``"pre"`` drops tokens from the start (keeps the end), ``"post"`` from the end.

    Returns:
        int64 array ``(length,)``.

    Examples:
        >>> shape_sequence([5, 6, 7], 5).tolist(), shape_sequence([5, 6, 7], 2).tolist()
        ([5, 6, 7, 0, 0], [6, 7])
    """
    if length < 1:
        raise ValueError(f"sequence length must be >= 1, got {length}")
    if padding not in PADDING or truncating not in PADDING:
        raise ValueError(f"padding and truncating must be one of {PADDING}, got {padding!r}, {truncating!r}")
    ids = list(ids)
    if len(ids) > length:
        ids = ids[-length:] if truncating == "pre" else ids[:length]
    out = np.full(length, PAD_ID, dtype=np.int64)
    if ids:
        if padding == "post":
            out[:len(ids)] = ids
        else:
            out[length - len(ids):] = ids
    return out
