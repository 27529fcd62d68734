"""Text estimators and transformers: tokenization, vocabularies, RNN models."""

from ._cache import tune_cache
from ._classifier import RNNTextClassifier
from ._language_model import SequenceLMRegressor
from ._tokenizer import SPECIAL_TOKENS, Tokenizer
from ._vocab import Vocab

__all__ = [
    "SPECIAL_TOKENS",
    "RNNTextClassifier",
    "SequenceLMRegressor",
    "Tokenizer",
    "Vocab",
    "tune_cache",
]
