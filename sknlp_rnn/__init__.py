"""scikit-learn estimators for recurrent neural nets and embedding models.

Language models, text classifiers, entity-embedding regression and
collaborative filtering, trained with PyTorch through skorch.
"""

from .tabular import CategoricalEncoder, DateFeatures, EntityEmbeddingRegressor
from .text import RNNTextClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "CategoricalEncoder",
    "DateFeatures",
    "EntityEmbeddingRegressor",
    "RNNTextClassifier",
    "__version__",
]
