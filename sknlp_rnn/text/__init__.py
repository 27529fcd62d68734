"""Text estimators and transformers: tokenization, vocabularies, RNN models."""

from ._classifier import RNNTextClassifier

__all__ = ["RNNTextClassifier"]
