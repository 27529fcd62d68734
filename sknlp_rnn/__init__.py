"""scikit-learn estimators for recurrent neural nets and embedding models.

Language models, text classifiers, entity-embedding regression and
collaborative filtering, trained with PyTorch through skorch.
"""

from ._persistence import load, save
from .tabular import (
    CategoricalEncoder,
    CollabFilterRegressor,
    DateFeatures,
    EntityEmbeddingRegressor,
)
from .text import RNNTextClassifier, SequenceLMRegressor, Tokenizer, Vocab

__version__ = "0.1.0.dev0"

__all__ = [
    "CategoricalEncoder",
    "CollabFilterRegressor",
    "DateFeatures",
    "EntityEmbeddingRegressor",
    "RNNTextClassifier",
    "SequenceLMRegressor",
    "Tokenizer",
    "Vocab",
    "__version__",
    "load",
    "save",
]
