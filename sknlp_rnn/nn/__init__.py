"""Plain ``torch.nn`` modules behind the estimators (torch only, no scikit-learn)."""

from ._classifier import RNNClassifierModule
from ._encoder import RNNEncoder
from ._tabular import SingleRowBatchNorm1d, TabularModule, embedding_size_rule

__all__ = [
    "RNNClassifierModule",
    "RNNEncoder",
    "SingleRowBatchNorm1d",
    "TabularModule",
    "embedding_size_rule",
]
