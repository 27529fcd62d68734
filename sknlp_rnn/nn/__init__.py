"""Plain ``torch.nn`` modules behind the estimators (torch only, no scikit-learn).

Every module's ``forward`` returns ``(output, aux_loss)``: the output the
estimator predicts from, and a scalar loss the module adds to the training
loss (a penalty on its own activations or weights), or ``None``.
"""

from ._classifier import RNNClassifierModule
from ._collab import CollabNN, DotProductBias, IdTables
from ._encoder import RNNEncoder
from ._language_model import LanguageModelModule
from ._layers import (
    ConcatEmbeddings,
    SingleRowBatchNorm1d,
    embedding_size,
    sigmoid_range,
)
from ._tabular import TabularModule

__all__ = [
    "CollabNN",
    "ConcatEmbeddings",
    "DotProductBias",
    "IdTables",
    "LanguageModelModule",
    "RNNClassifierModule",
    "RNNEncoder",
    "SingleRowBatchNorm1d",
    "TabularModule",
    "embedding_size",
    "sigmoid_range",
]
