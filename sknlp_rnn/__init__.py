"""scikit-learn estimators for recurrent neural nets and embedding models.

Language models, text classifiers, entity-embedding regression and
collaborative filtering, trained with PyTorch through skorch.
"""

from ._class_registry import register_estimators
from ._lr_find import lr_find
from ._persistence import load, save
from ._version import __version__
from .tabular import (
    CategoricalEncoder,
    CollabFilterRegressor,
    DateFeatures,
    EntityEmbeddingRegressor,
)
from .text import RNNTextClassifier, SequenceLMRegressor, Tokenizer, Vocab

# The estimators the safe format may save and load: exactly the public ones.
register_estimators(
    CategoricalEncoder,
    CollabFilterRegressor,
    DateFeatures,
    EntityEmbeddingRegressor,
    RNNTextClassifier,
    SequenceLMRegressor,
    Tokenizer,
    Vocab,
)

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
    "lr_find",
    "save",
]
