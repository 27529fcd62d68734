"""Plain ``torch.nn`` modules behind the estimators (torch only, no scikit-learn)."""

from ._classifier import RNNClassifierModule
from ._encoder import RNNEncoder

__all__ = ["RNNClassifierModule", "RNNEncoder"]
