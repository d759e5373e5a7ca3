"""Text preprocessing: tokenize and normalise, build a word index, shape id sequences, load GloVe vectors.

Examples:
    >>> from zoo.feature.text import TextSet, Tokenizer, load_glove
    >>> texts = TextSet.from_folder("data/news").tokenize(Tokenizer(numbers="token"))
    >>> texts = texts.build_word_index(max_words=20000, min_freq=2).to_sequences(500)
    >>> x, y = texts.to_arrays()
    >>> load_glove(model.embedding, "glove.6B.100d.txt", texts.word_index).summary()
"""
from .glove import Coverage, glove_matrix, load_glove
from .textset import TextRecord, TextSet
from .tokenize import Tokenizer
from .vocab import PAD_ID, UNK_ID, WordIndex, shape_sequence

__all__ = ["PAD_ID", "UNK_ID", "Coverage", "TextRecord", "TextSet", "Tokenizer", "WordIndex", "glove_matrix",
           "load_glove", "shape_sequence"]
