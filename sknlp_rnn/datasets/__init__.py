"""Data sets: generated corpora (no download) in the style of ``sklearn.datasets``."""

from ._human_numbers import human_numbers, number_to_words

__all__ = ["human_numbers", "number_to_words"]
