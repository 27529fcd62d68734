"""Reading an estimator's state back from the safe format (private).

``_Reader`` rebuilds what ``_state_writer._Writer`` wrote. Classes are looked
up only in the tables of ``_class_registry``: a file that names anything else
is refused, and nothing is imported because a file names it. Before a net's
torch module is built for real, ``_Reader`` builds it without memory (see
``_file_checks.NoAllocation``) and checks that the weights in the file have the
shapes and dtypes that the hyperparameters imply, so a file cannot make loading
allocate more than the weights it holds. Anything malformed raises
:class:`~sknlp_rnn.exceptions.ModelFileError`. Depends on torch, skorch,
scikit-learn, pandas, scipy, numpy, ``_class_registry``, ``_file_checks``,
``_state_writer`` (the format's tags) and ``exceptions``.
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from skorch.history import History

from ._class_registry import ESTIMATORS, NETS, VALUE_CLASSES
from ._file_checks import (
    DEVICE_TYPES,
    NoAllocation,
    as_dict,
    as_list,
    as_text,
    check_hyperparameters,
    check_net_params,
    check_weights,
    device_available,
    lookup,
    numpy_dtype,
    pair,
    pandas_dtype,
    weight_shapes,
)
from ._state_writer import _BUILTIN_TYPES, _SPARSE_LAYOUTS
from .exceptions import ModelFileError


class _Reader:
    """Rebuilds objects written by :class:`_Writer`.

    Raises :class:`~sknlp_rnn.exceptions.ModelFileError` for anything that
    :class:`_Writer` cannot have written; other errors met while rebuilding an
    estimator are reported as a ``ModelFileError`` naming that estimator.
    """

    def __init__(self, weights, arrays, device):
        self.weights, self.arrays, self.device = weights, arrays, device
        self.fallbacks = []

    def decode(self, value):  # noqa: C901 - one branch per tag
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        tag = value.get("$t")
        if tag == "float":
            return float(as_text(value["v"], "a float"))
        if tag in ("tuple", "set", "frozenset"):
            items = [self.decode(v) for v in as_list(value["v"], tag)]
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
        if tag == "map":
            return {k: self.decode(v) for k, v in as_dict(value["v"], "map").items()}
        if tag == "dict":
            return {
                self.decode(k): self.decode(v)
                for k, v in (pair(item) for item in as_list(value["v"], "dict"))
            }
        if tag == "ndarray":
            return self._stored(self.arrays, value["key"], "array").copy()
        if tag == "datetime_array":
            dtype = numpy_dtype(value["dtype"], kinds="mM")
            return self._stored(self.arrays, value["key"], "array").view(dtype).copy()
        if tag == "object_array":
            return self._object_array(value)
        if tag == "npscalar":
            decoded = self.decode(value["v"])
            items = decoded.ravel().tolist() if isinstance(decoded, np.ndarray) else ()
            dtype = numpy_dtype(value["dtype"], items=items)
            if isinstance(decoded, np.ndarray):
                return decoded.astype(dtype)[0]
            return dtype.type(decoded)
        if tag == "npdtype":
            return numpy_dtype(value["v"])
        if tag == "builtin_type":
            return lookup(_BUILTIN_TYPES, value["v"], "builtin type")
        if tag == "class":
            return lookup(VALUE_CLASSES, value["v"], "class")
        if tag == "slice":
            return slice(*as_list(value["v"], "slice"))
        if tag == "history":
            return History(self.decode(as_list(value["v"], "history")))
        if tag == "randomstate":
            rng = np.random.RandomState()
            rng.set_state(self.decode(value["v"]))
            return rng
        if tag == "tensor":
            return self._stored(self.weights, value["key"], "tensor").clone()
        if tag == "sparse":
            return self._sparse(value)
        if tag == "timestamp":
            return pd.Timestamp(as_text(value["v"], "a timestamp"))
        if tag in ("rangeindex", "index", "series", "dataframe"):
            return self._pandas(value)
        if tag == "estimator":
            return self.decode_estimator(value)
        raise ModelFileError(f"Unknown entry {tag!r} in the saved file.")

    @staticmethod
    def _stored(table, key, what):
        if not isinstance(key, str) or key not in table:
            raise ModelFileError(
                f"The metadata refers to the {what} {key!r}, which the file lacks."
            )
        return table[key]

    def _object_array(self, value):
        items = [self.decode(v) for v in as_list(value["v"], "object_array")]
        dtype = numpy_dtype(value["dtype"], items=items)
        if dtype.kind == "O":
            return _object_list(items).reshape(value["shape"])
        return np.array(items, dtype=dtype).reshape(value["shape"])

    def _sparse(self, value):
        fmt, layout = value["format"], value.get("layout", "csr")
        if _SPARSE_LAYOUTS.get(fmt) != layout:
            raise ModelFileError(f"Sparse format {fmt!r} stored as {layout!r}.")
        make = {
            ("csr", True): sp.csr_array,
            ("csr", False): sp.csr_matrix,
            ("csc", True): sp.csc_array,
            ("csc", False): sp.csc_matrix,
        }[layout, bool(value["array"])]
        parts = tuple(self.decode(v) for v in as_list(value["v"], "sparse"))
        shape = tuple(as_list(value["shape"], "sparse shape"))
        # From its stored layout to coo needs memory in proportion to nnz only.
        return make(parts, shape=shape).asformat(fmt)

    def _values(self, value, dtype):
        if isinstance(value, dict) and value.get("$t") == "categorical":
            categories = self._pandas(value["categories"])
            codes = self.decode(value["codes"])
            return pd.Categorical.from_codes(
                codes, categories=categories, ordered=bool(value["ordered"])
            )
        values = self.decode(value)
        if dtype == "object":
            return values
        dtype = pandas_dtype(dtype)
        if isinstance(dtype, np.dtype):
            return values.astype(dtype, copy=False)
        return pd.array(values, dtype=dtype)

    def _pandas(self, value):
        tag = value["$t"]
        if tag == "rangeindex":
            start, stop, step = (int(v) for v in as_list(value["v"], "range"))
            return pd.RangeIndex(start, stop, step, name=self.decode(value["name"]))
        if tag == "index":
            values = self._values(value["v"], value["dtype"])
            return pd.Index(values, dtype=values.dtype, name=self.decode(value["name"]))
        if tag == "series":
            return pd.Series(
                self._values(value["v"], value["dtype"]),
                index=self._pandas(value["index"]),
                name=self.decode(value["name"]),
                copy=False,
            )
        if tag != "dataframe":
            raise ModelFileError(f"Expected a pandas entry, found {tag!r}.")
        columns = self._pandas(value["columns"])
        frame = pd.concat([self._pandas(col) for col in value["v"]], axis=1)
        if not len(value["v"]):
            frame = pd.DataFrame(index=self._pandas(value["index"]))
        frame.columns = columns
        return frame

    def decode_estimator(self, value):
        cls = lookup(ESTIMATORS, value["class"], "estimator class")
        try:
            return self._estimator(cls, value)
        except (ModelFileError, Warning):
            raise
        except Exception as exc:
            raise ModelFileError(
                f"The {cls.__name__} in this file could not be rebuilt: its "
                f"saved state is damaged ({type(exc).__name__}: {exc})."
            ) from exc

    def _estimator(self, cls, value):
        obj = cls.__new__(cls)
        state = {
            key: (
                None
                if isinstance(v, dict) and v.get("$t") == "net_history"
                else self.decode(v)
            )
            for key, v in as_dict(value["state"], "estimator state").items()
        }
        if cls.__module__.split(".")[0] == "sknlp_rnn":
            _add_new_parameters(cls, state)
            check_hyperparameters(cls, state)
        if value["net"] is None:
            obj.__setstate__(state)
            return obj
        if not hasattr(cls, "_build_module"):
            raise ModelFileError(f"A {cls.__name__} has no net, but the file has one.")
        obj.__dict__.update(state)
        net = self._decode_net(obj, as_dict(value["net"], "net"))
        obj.net_ = net
        if "history_" in state and state["history_"] is None:
            obj.history_ = net.history
        if "device_" in state and state["device_"] != str(net.device):
            obj.device_ = str(net.device)
        return obj

    def _target_device(self, saved):
        if self.device is not None:
            return self.device
        try:
            device = torch.device(as_text(saved, "a device"))
        except RuntimeError as exc:
            raise ModelFileError(
                f"The file names an invalid device {saved!r}."
            ) from exc
        if device.type not in DEVICE_TYPES:
            raise ModelFileError(
                f"The file names the device {saved!r}; sknlp_rnn saves nets on "
                f"{', '.join(DEVICE_TYPES)} only."
            )
        if not device_available(device):
            self.fallbacks.append(saved)
            return "cpu"
        return str(device)

    def _decode_net(self, est, spec):
        net_class = lookup(NETS, spec["class"], "net class")
        params = as_dict(self.decode(spec["params"]), "net parameters")
        check_net_params(net_class, params)
        params["device"] = self._target_device(spec["device"])
        stored = self._net_weights(as_text(spec["prefix"], "a prefix"), spec)
        owner = type(est).__name__
        try:
            with NoAllocation(), warnings.catch_warnings():
                # Copying pretrained weights into a meta module (ULMFiT) is a
                # no-op that torch warns about; only the shapes matter here.
                warnings.filterwarnings(
                    "ignore", message=".*non-meta parameter", category=UserWarning
                )
                probe = net_class(
                    module=None, callbacks=None, train_split=None, **params
                )
                shapes = weight_shapes(est._build_module(), probe)
        except (ModelFileError, Warning):
            raise
        except Exception as exc:
            raise ModelFileError(
                f"The hyperparameters and fitted sizes of the {owner} in this file "
                f"describe a torch module that cannot be built "
                f"({type(exc).__name__}: {exc})."
            ) from exc
        check_weights(owner, shapes, stored)
        with torch.random.fork_rng(devices=[]):
            module_ = est._build_module()
        net = net_class(module=module_, callbacks=None, train_split=None, **params)
        net.initialize()
        for part, target in (("module", net.module_), ("criterion", net.criterion_)):
            target.load_state_dict(stored[part], strict=True)
        history = self.decode(spec["history"])
        if not isinstance(history, History):
            raise ModelFileError("A net's history in the file is not a history.")
        net.history_ = history
        return net

    def _net_weights(self, prefix, spec):
        """``{"module": {key: tensor}, "criterion": {...}}`` of one saved net."""
        weights = dict(self.weights)
        for name, source in as_dict(spec.get("aliases", {}), "aliases").items():
            weights[name] = self._stored(self.weights, source, "tensor")
        stored = {"module": {}, "criterion": {}}
        for part, table in stored.items():
            head = f"{prefix}.{part}."
            for key, tensor in weights.items():
                if key.startswith(head):
                    table[key[len(head) :]] = tensor
        return stored


def _add_new_parameters(cls, state):
    """Give a file saved before a hyperparameter existed its default.

    A new hyperparameter's default keeps the model the file describes
    (``stateful=True``, ``nonlinearity="tanh"``, ``init="default"``, ...), so
    an older file loads and predicts as it did; a refit of it uses today's
    defaults for the parameters it lacked.
    """
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if param.kind is param.KEYWORD_ONLY and name not in state:
            state[name] = param.default


def _object_list(items):
    """A 1-D object array holding ``items`` as they are (lists stay elements)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out
