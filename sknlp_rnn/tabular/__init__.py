"""Tabular estimators: entity embeddings and collaborative filtering."""

from ._collab import CollabFilterRegressor

__all__ = ["CollabFilterRegressor"]
