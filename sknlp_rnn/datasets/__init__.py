"""Data sets: generated ones, and loaders for those that PyPI packages ship."""

from ._loaders import load_diamonds, load_movielens, load_tweet_sentiment

__all__ = ["load_diamonds", "load_movielens", "load_tweet_sentiment"]
