"""Plain ``torch.nn`` modules behind the estimators (torch only, no scikit-learn)."""

from ._classifier import RNNClassifierModule
from ._encoder import RNNEncoder
from ._language_model import LanguageModelModule

__all__ = ["LanguageModelModule", "RNNClassifierModule", "RNNEncoder"]
