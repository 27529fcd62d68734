"""The classes the safe format may write and rebuild (private).

A saved file names classes by ``"module:qualname"``. Loading looks each name up
in the tables below, which are built from class objects this module imports
itself; nothing is ever imported because a file names it, and a name that is
not in a table is refused. Saving uses the same tables, so what can be written
is exactly what can be read back. A new estimator, net or loss that the format
must carry is added here; sknlp_rnn's own estimators are registered by the
package's ``__init__`` (:func:`register_estimators`, one explicit list), so
that the estimator modules may import persistence without a cycle. Depends on
torch, skorch, scikit-learn, numpy, ``_nets`` and ``_optim``.
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

from ._nets import BucketNet, StreamNet, TabularNet, TorchNet
from ._optim import LazyAdam

__all__ = [
    "ESTIMATORS",
    "NETS",
    "NET_CLASS_PARAMS",
    "VALUE_CLASSES",
    "class_path",
    "register_estimators",
]


def class_path(cls):
    """The ``"module:qualname"`` name a file uses for ``cls``."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _table(classes):
    return {class_path(cls): cls for cls in classes}


# Estimators whose state may be saved: the scikit-learn ones ours use, and
# ours (added by register_estimators).
ESTIMATORS = _table(
    [
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
NETS = _table([TorchNet, BucketNet, StreamNet, TabularNet])


def register_estimators(*classes):
    """Add sknlp_rnn's estimator classes to :data:`ESTIMATORS` (done once, by
    the package's ``__init__``)."""
    ESTIMATORS.update(_table(classes))


_OPTIMIZERS = [
    obj
    for obj in (getattr(torch.optim, name) for name in torch.optim.__all__)
    if isinstance(obj, type)
    and issubclass(obj, torch.optim.Optimizer)
    and obj is not torch.optim.Optimizer
] + [LazyAdam]
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
