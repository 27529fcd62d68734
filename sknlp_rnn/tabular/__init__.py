"""Tabular estimators: categorical encoding, date parts and entity embeddings."""

from ._dates import DateFeatures
from ._encoder import CategoricalEncoder
from ._entity_embedding import EntityEmbeddingRegressor

__all__ = ["CategoricalEncoder", "DateFeatures", "EntityEmbeddingRegressor"]
