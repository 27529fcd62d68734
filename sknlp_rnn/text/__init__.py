"""Text estimators and transformers: tokenization, vocabularies, RNN models."""

from ._classifier import RNNTextClassifier
from ._language_model import SequenceLMRegressor

__all__ = ["RNNTextClassifier", "SequenceLMRegressor"]
