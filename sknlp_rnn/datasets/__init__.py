"""Data sets: generated ones, and loaders for those that PyPI packages ship."""

from ._human_numbers import human_numbers, number_to_words
from ._loaders import load_diamonds, load_movielens, load_tweet_sentiment

__all__ = [
    "human_numbers",
    "load_diamonds",
    "load_movielens",
    "load_tweet_sentiment",
    "number_to_words",
]
