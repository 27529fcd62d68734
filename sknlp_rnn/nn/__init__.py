"""Plain ``torch.nn`` modules behind the estimators (torch only, no scikit-learn)."""

from ._classifier import RNNClassifierModule
from ._collab import CollabNN, DotProductBias, embedding_size, sigmoid_range
from ._encoder import RNNEncoder
from ._language_model import LanguageModelModule
from ._tabular import ConcatEmbeddings, SingleRowBatchNorm1d, TabularModule

__all__ = [
    "CollabNN",
    "ConcatEmbeddings",
    "DotProductBias",
    "LanguageModelModule",
    "RNNClassifierModule",
    "RNNEncoder",
    "SingleRowBatchNorm1d",
    "TabularModule",
    "embedding_size",
    "sigmoid_range",
]
