"""Checks that loading applies to what a saved file says (private).

Used by ``_state_reader._Reader``: look-ups in the class registry, dtype and
structure checks of the metadata, validation of saved hyperparameters and net
parameters, and the comparison of a net's weights with the shapes its
hyperparameters imply, computed by building the module under
:class:`NoAllocation` (no memory, whatever the sizes). Every failure raises
:class:`~sknlp_rnn.exceptions.ModelFileError`. Depends on torch, skorch,
scikit-learn, pandas, numpy, ``_class_registry`` and ``exceptions``.
"""

from __future__ import annotations

import inspect
import re

import numpy as np
import pandas as pd
import torch
from sklearn.utils._param_validation import (
    InvalidParameterError,
    validate_parameter_constraints,
)
from skorch import NeuralNet
from torch.overrides import TorchFunctionMode

from ._class_registry import NET_CLASS_PARAMS
from .exceptions import ModelFileError

# Net parameters that only matter for training: not stored, rebuilt empty.
NET_SKIPPED = {"module", "callbacks", "train_split", "_params_to_validate"}
# Prefixed net parameters a file may hold (skorch passes them to the component).
_NET_PREFIXES = (
    "criterion__",
    "optimizer__",
    "iterator_train__",
    "iterator_valid__",
    "dataset__",
)
# Largest element of a string array (bytes) and largest string array (bytes).
_MAX_ITEMSIZE = 2**18
_MAX_STRING_ARRAY_BYTES = 2**30
# Device types a saved net may name.
DEVICE_TYPES = ("cpu", "cuda", "mps")
_PANDAS_DTYPE_NAME = re.compile(r"[\w\[\], :/+-]{1,64}")
# torch factories that take a size: inside ``NoAllocation`` they make meta tensors.
_SIZED_FACTORIES = frozenset(
    {
        torch.empty,
        torch.empty_strided,
        torch.zeros,
        torch.ones,
        torch.full,
        torch.rand,
        torch.randn,
        torch.randint,
        torch.randperm,
        torch.arange,
        torch.eye,
        torch.linspace,
        torch.logspace,
    }
)


class NoAllocation(TorchFunctionMode):
    """Build torch modules without allocating their parameters.

    Inside this context, torch factories that take a size (``torch.empty``,
    ``torch.zeros``, ...) create tensors on the ``meta`` device, which have a
    shape and a dtype but no memory, whatever the size. Tensors made from
    data (``torch.tensor``, ``torch.as_tensor``) stay ordinary tensors: their
    size is that of data already in memory, and modules may check them.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn._file_checks import NoAllocation
    >>> with NoAllocation():
    ...     layer = torch.nn.Embedding(10**11, 4)
    >>> layer.weight.device.type, tuple(layer.weight.shape)
    ('meta', (100000000000, 4))
    """

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func in _SIZED_FACTORIES and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def weight_shapes(module, net):
    """``{part: {key: (shape, dtype)}}`` of a net's module and criterion."""
    criterion = net.initialized_instance(net.criterion, net.get_params_for("criterion"))
    return {
        part: {k: (tuple(v.shape), v.dtype) for k, v in target.state_dict().items()}
        for part, target in (("module", module), ("criterion", criterion))
    }


def check_weights(owner, shapes, stored):
    """Refuse weights that differ from what the hyperparameters describe."""
    for part, expected in shapes.items():
        found = stored[part]
        missing = sorted(expected.keys() - found.keys())
        extra = sorted(found.keys() - expected.keys())
        if missing or extra:
            raise ModelFileError(
                f"The weights of the {owner} {part} in this file do not match its "
                f"hyperparameters: missing {missing[:5]}, unexpected {extra[:5]}."
            )
        for key, (shape, dtype) in sorted(expected.items()):
            tensor = found[key]
            if tuple(tensor.shape) != shape or tensor.dtype != dtype:
                raise ModelFileError(
                    f"The weights of the {owner} {part} in this file do not match "
                    f"its hyperparameters: {key!r} is {tensor.dtype} of shape "
                    f"{tuple(tensor.shape)} in the file, but the hyperparameters "
                    f"and fitted sizes describe {dtype} of shape {shape}."
                )


def check_hyperparameters(cls, state):
    """Validate the saved hyperparameters of one of our estimators."""
    try:
        validate_parameter_constraints(
            cls._parameter_constraints,
            {k: v for k, v in state.items() if k in cls._parameter_constraints},
            caller_name=cls.__name__,
        )
    except InvalidParameterError as exc:
        raise ModelFileError(f"Invalid hyperparameter in the file: {exc}") from exc


def check_net_params(net_class, params):
    """Refuse net parameters that a saved net cannot have."""
    names = set()
    for klass in net_class.__mro__:
        if "__init__" in vars(klass) and issubclass(klass, NeuralNet):
            names |= set(inspect.signature(klass.__init__).parameters)
    names -= {"self", "args", "kwargs", *NET_SKIPPED}
    for key, value in params.items():
        if key not in names and not key.startswith(_NET_PREFIXES):
            raise ModelFileError(f"Unexpected net parameter {key!r} in the file.")
        if key in NET_CLASS_PARAMS and value not in NET_CLASS_PARAMS[key]:
            raise ModelFileError(
                f"The net parameter {key!r} holds {value!r}, which is not one of "
                "the classes sknlp_rnn uses there."
            )


def device_available(device):
    if device.type == "cuda":
        index = device.index or 0
        return torch.cuda.is_available() and index < torch.cuda.device_count()
    if device.type == "mps":
        return torch.backends.mps.is_available()
    return True


def lookup(table, name, what):
    if not isinstance(name, str) or name not in table:
        raise ModelFileError(
            f"Refusing to load {what} {name!r}: the safe format only rebuilds the "
            "classes it writes, and this is not one of them."
        )
    return table[name]


def numpy_dtype(text, *, kinds="biufcmMOSU", items=()):
    """The numpy dtype named by ``text``, if the safe format can have written it."""
    try:
        dtype = np.dtype(as_text(text, "a dtype"))
    except (TypeError, ValueError) as exc:
        raise ModelFileError(f"Invalid dtype {text!r} in the file.") from exc
    if dtype.kind not in kinds or dtype.subdtype is not None or dtype.names:
        raise ModelFileError(f"Unexpected dtype {text!r} in the file.")
    if dtype.kind in "SU" and (
        dtype.itemsize > _MAX_ITEMSIZE
        or dtype.itemsize * len(items) > _MAX_STRING_ARRAY_BYTES
    ):
        raise ModelFileError(f"The string dtype {text!r} in the file is too large.")
    return dtype


def pandas_dtype(text):
    if not isinstance(text, str) or not _PANDAS_DTYPE_NAME.fullmatch(text):
        raise ModelFileError(f"Invalid pandas dtype {text!r} in the file.")
    dtype = pd.api.types.pandas_dtype(text)
    if isinstance(dtype, np.dtype):
        return numpy_dtype(text, kinds="biufcmMO")
    return dtype


def as_text(value, what):
    if not isinstance(value, str):
        raise ModelFileError(f"Expected {what} (a string) in the file, got {value!r}.")
    return value


def as_list(value, what):
    if not isinstance(value, list):
        raise ModelFileError(f"Expected a list for {what!r} in the file.")
    return value


def as_dict(value, what):
    if not isinstance(value, dict):
        raise ModelFileError(f"Expected a mapping for {what!r} in the file.")
    return value


def pair(item):
    if not (isinstance(item, list) and len(item) == 2):
        raise ModelFileError("Expected [key, value] pairs in a saved dict.")
    return item
