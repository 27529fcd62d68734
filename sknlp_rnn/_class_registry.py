"""The classes the safe format may write and rebuild (private).

A saved file names classes by ``"module:qualname"``. Loading looks each name up
in the tables below, which are built from class objects this module imports
itself; nothing is ever imported because a file names it, and a name that is
not in a table is refused. Saving uses the same tables, so what can be written
is exactly what can be read back. A new estimator, net or loss that the format
must carry is added here. Depends on torch, skorch, scikit-learn, numpy and
sknlp_rnn's estimator modules (``text``, ``tabular``, ``_base``).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
)
from skorch.dataset import Dataset as SkorchDataset

from ._base import _Net
from .tabular import (
    CategoricalEncoder,
    CollabFilterRegressor,
    DateFeatures,
    EntityEmbeddingRegressor,
)
from .tabular._training import PenalizedTabularNet, TabularNet
from .text import RNNTextClassifier, SequenceLMRegressor, Tokenizer, Vocab
from .text._classifier import _BucketNet
from .text._stream import StreamNet

__all__ = [
    "ESTIMATORS",
    "NETS",
    "NET_CLASS_PARAMS",
    "VALUE_CLASSES",
    "class_path",
]


def class_path(cls):
    """The ``"module:qualname"`` name a file uses for ``cls``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _table(classes):
    return {class_path(cls): cls for cls in classes}


# Estimators whose state may be saved: ours and the scikit-learn ones they use.
ESTIMATORS = _table(
    [
        CategoricalEncoder,
        CollabFilterRegressor,
        DateFeatures,
        EntityEmbeddingRegressor,
        RNNTextClassifier,
        SequenceLMRegressor,
        Tokenizer,
        Vocab,
        Pipeline,
        FrozenEstimator,
        OrdinalEncoder,
        OneHotEncoder,
        StandardScaler,
        MinMaxScaler,
        SimpleImputer,
        MissingIndicator,
    ]
)

# The skorch nets our estimators train with.
NETS = _table([_Net, _BucketNet, StreamNet, TabularNet, PenalizedTabularNet])

_OPTIMIZERS = [
    obj
    for obj in (getattr(torch.optim, name) for name in torch.optim.__all__)
    if isinstance(obj, type)
    and issubclass(obj, torch.optim.Optimizer)
    and obj is not torch.optim.Optimizer
]
_LOSSES = [torch.nn.CrossEntropyLoss, torch.nn.MSELoss]
_LOADERS = [torch.utils.data.DataLoader]
_DATASETS = [SkorchDataset]
_NUMPY_TYPES = sorted(
    {t for t in np.sctypeDict.values() if t is not np.void}, key=class_path
)

# Classes that may appear as values (hyperparameters, net parameters, dtypes).
VALUE_CLASSES = _table([*_OPTIMIZERS, *_LOSSES, *_LOADERS, *_DATASETS, *_NUMPY_TYPES])

# The class-valued parameters of a net, and the classes each one may hold.
NET_CLASS_PARAMS = {
    "criterion": frozenset(_LOSSES),
    "optimizer": frozenset(_OPTIMIZERS),
    "iterator_train": frozenset(_LOADERS),
    "iterator_valid": frozenset(_LOADERS),
    "dataset": frozenset(_DATASETS),
}
