"""Tabular estimators: categorical encoding, date parts, entity embeddings and
collaborative filtering."""

from ._collab import CollabFilterRegressor
from ._dates import DateFeatures
from ._encoder import CategoricalEncoder
from ._entity_embedding import EntityEmbeddingRegressor

__all__ = [
    "CategoricalEncoder",
    "CollabFilterRegressor",
    "DateFeatures",
    "EntityEmbeddingRegressor",
]
