"""Text estimators and transformers: tokenization, vocabularies, RNN models."""

from ._classifier import RNNTextClassifier
from ._tokenizer import SPECIAL_TOKENS, Tokenizer
from ._vocab import Vocab

__all__ = ["SPECIAL_TOKENS", "RNNTextClassifier", "Tokenizer", "Vocab"]
