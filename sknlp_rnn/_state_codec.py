"""Encoding of an estimator's state for the safe format (private).

``_Writer`` turns hyperparameters and fitted attributes into tagged JSON plus
numpy arrays and torch weights (stored as safetensors by ``_persistence``);
``_Reader`` rebuilds them, instantiating only allowlisted classes. Depends on
torch, skorch, scikit-learn, pandas, scipy and numpy.
"""

from __future__ import annotations

import importlib
import math

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from skorch import NeuralNet
from skorch.history import History

# scikit-learn classes that may be rebuilt, by public import path.
_SKLEARN_CLASSES = {
    "sklearn.pipeline.Pipeline",
    "sklearn.frozen.FrozenEstimator",
    "sklearn.preprocessing.OrdinalEncoder",
    "sklearn.preprocessing.OneHotEncoder",
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.MinMaxScaler",
    "sklearn.impute.SimpleImputer",
    "sklearn.impute.MissingIndicator",
}
# Packages whose classes may be referenced by import path, and the base class a
# class reference must derive from (so loading cannot instantiate anything else).
_CLASS_REF_BASES = {
    "torch": (
        torch.nn.Module,
        torch.optim.Optimizer,
        torch.utils.data.DataLoader,
        torch.utils.data.Dataset,
    ),
    "skorch": (torch.utils.data.Dataset, torch.utils.data.DataLoader),
    "sknlp_rnn": (
        torch.nn.Module,
        torch.utils.data.Dataset,
        torch.utils.data.DataLoader,
    ),
}
# Net parameters that only matter for training: not stored, rebuilt empty.
_NET_SKIPPED = {"module", "callbacks", "train_split", "_params_to_validate"}
_BUILTIN_TYPES = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "object": object,
}


def _version():
    from . import __version__

    return __version__


def _import(module, qualname):
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _class_path(cls):
    return f"{cls.__module__}:{cls.__qualname__}"


def _estimator_path(cls):
    """Import path of an estimator class that may be saved, or ``None``."""
    if cls.__module__.split(".")[0] == "sknlp_rnn":
        return _class_path(cls)
    for public in _SKLEARN_CLASSES:
        module, _, name = public.rpartition(".")
        try:
            if _import(module, name) is cls:
                return f"{module}:{name}"
        except (ImportError, AttributeError):
            continue
    return None


def _resolve_estimator(path):
    module, _, qualname = path.partition(":")
    top = module.split(".")[0]
    allowed = top == "sknlp_rnn" or f"{module}.{qualname}" in _SKLEARN_CLASSES
    if not allowed:
        raise ValueError(f"Refusing to load estimator class {path!r}: not allowed.")
    cls = _import(module, qualname)
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        raise ValueError(f"Refusing to load {path!r}: not an estimator class.")
    return cls


def _class_ref_allowed(cls):
    if isinstance(cls, type) and issubclass(cls, np.generic):
        return True
    bases = _CLASS_REF_BASES.get(cls.__module__.split(".")[0], ())
    return isinstance(cls, type) and issubclass(cls, bases)


class _Writer:
    """Turns an object graph into tagged JSON plus two tensor tables."""

    def __init__(self):
        self.weights, self.arrays = {}, {}

    def _array_key(self, value):
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.ascontiguousarray(value)
        return key

    def encode(self, value, where):  # noqa: C901 - one branch per supported type
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and not isinstance(value, np.integer):
            return value
        if isinstance(value, float) and not isinstance(value, np.floating):
            return value if math.isfinite(value) else {"$t": "float", "v": repr(value)}
        if isinstance(value, list) and not isinstance(value, History):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, (tuple, set, frozenset)):
            kind = {tuple: "tuple", set: "set", frozenset: "frozenset"}[type(value)]
            items = sorted(value, key=repr) if kind != "tuple" else value
            return {
                "$t": kind,
                "v": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(items)],
            }
        if isinstance(value, dict) and all(isinstance(k, str) for k in value):
            return {
                "$t": "map",
                "v": {k: self.encode(v, f"{where}[{k!r}]") for k, v in value.items()},
            }
        if isinstance(value, dict):
            items = [
                [self.encode(k, where), self.encode(v, f"{where}[{k!r}]")]
                for k, v in value.items()
            ]
            return {"$t": "dict", "v": items}
        if isinstance(value, np.ndarray):
            return self._encode_array(value, where)
        if isinstance(value, np.generic):
            inline = value.dtype.kind in "biuf"
            return {
                "$t": "npscalar",
                "dtype": value.dtype.str,
                "v": self.encode(value.item(), where)
                if inline
                else self._encode_array(np.asarray(value).reshape(1), where),
            }
        if isinstance(value, np.dtype):
            return {"$t": "npdtype", "v": value.str if value.kind != "O" else "O"}
        if isinstance(value, type):
            return self._encode_class(value, where)
        if isinstance(value, slice):
            return {"$t": "slice", "v": [value.start, value.stop, value.step]}
        if isinstance(value, History):
            return {"$t": "history", "v": self.encode(list(value), where)}
        if isinstance(value, np.random.RandomState):
            return {"$t": "randomstate", "v": self.encode(value.get_state(), where)}
        if isinstance(value, torch.Tensor):
            key = f"t{len(self.weights)}"
            self.weights[key] = value.detach().cpu().contiguous()
            return {"$t": "tensor", "key": key}
        if isinstance(value, (pd.DataFrame, pd.Series, pd.Index, pd.Timestamp)):
            return self._encode_pandas(value, where)
        if sp.issparse(value):
            csr = value.tocsr()
            return {
                "$t": "sparse",
                "format": value.format,
                "array": isinstance(value, sp.sparray),
                "shape": list(value.shape),
                "v": [
                    self._encode_array(a, where)
                    for a in (csr.data, csr.indices, csr.indptr)
                ],
            }
        if isinstance(value, BaseEstimator):
            return self.encode_estimator(value, where)
        raise TypeError(
            f"Cannot save {where}: objects of type {type(value).__qualname__} are "
            "not supported by the safe format (it stores data, not code). Use "
            "joblib for objects you trust, or remove this attribute."
        )

    def _encode_array(self, value, where):
        if value.dtype.kind in "biuf":
            return {"$t": "ndarray", "key": self._array_key(value)}
        if value.dtype.kind in "mM":
            return {
                "$t": "datetime_array",
                "dtype": value.dtype.str,
                "key": self._array_key(value.view(np.int64)),
            }
        if value.dtype.kind in "OUS":
            items = [self.encode(v, f"{where}[...]") for v in value.ravel().tolist()]
            return {
                "$t": "object_array",
                "dtype": value.dtype.str if value.dtype.kind != "O" else "O",
                "shape": list(value.shape),
                "v": items,
            }
        raise TypeError(f"Cannot save {where}: arrays of dtype {value.dtype}.")

    def _encode_class(self, cls, where):
        if cls in _BUILTIN_TYPES.values():
            return {"$t": "builtin_type", "v": cls.__name__}
        if not _class_ref_allowed(cls):
            raise TypeError(
                f"Cannot save {where}: the class {cls.__module__}.{cls.__qualname__} "
                "is not on the allowlist of the safe format (numpy scalar types, "
                "torch optimizers, losses and modules). Use a string option such "
                "as optimizer='adam', or persist with joblib."
            )
        return {"$t": "class", "v": _class_path(cls)}

    def _encode_pandas(self, value, where):
        if isinstance(value, pd.Timestamp):
            return {"$t": "timestamp", "v": value.isoformat()}
        if isinstance(value, pd.MultiIndex):
            raise TypeError(f"Cannot save {where}: MultiIndex is not supported.")
        if isinstance(value, pd.RangeIndex):
            return {
                "$t": "rangeindex",
                "v": [value.start, value.stop, value.step],
                "name": self.encode(value.name, where),
            }
        if isinstance(value, pd.Index):
            return {
                "$t": "index",
                "dtype": str(value.dtype),
                "v": self._encode_values(value, where),
                "name": self.encode(value.name, where),
            }
        if isinstance(value, pd.Series):
            return {
                "$t": "series",
                "dtype": str(value.dtype),
                "v": self._encode_values(value, where),
                "index": self._encode_pandas(value.index, where),
                "name": self.encode(value.name, where),
            }
        return {
            "$t": "dataframe",
            "columns": self._encode_pandas(value.columns, where),
            "index": self._encode_pandas(value.index, where),
            "v": [
                self._encode_pandas(value.iloc[:, i], f"{where}[{col!r}]")
                for i, col in enumerate(value.columns)
            ],
        }

    def _encode_values(self, value, where):
        if isinstance(value.dtype, pd.CategoricalDtype):
            return {
                "$t": "categorical",
                "categories": self._encode_pandas(value.dtype.categories, where),
                "ordered": bool(value.dtype.ordered),
                "codes": self._encode_array(np.asarray(value.array.codes), where),
            }
        if isinstance(value.dtype, np.dtype) and value.dtype.kind in "biufmM":
            return self._encode_array(value.to_numpy(), where)
        return self._encode_array(value.to_numpy(dtype=object), where)

    def encode_estimator(self, est, where):
        path = _estimator_path(type(est))
        if path is None:
            raise TypeError(
                f"Cannot save {where}: {type(est).__qualname__} is not one of the "
                "estimators the safe format can rebuild (sknlp_rnn estimators, "
                f"{', '.join(sorted(_SKLEARN_CLASSES))}). Use joblib for objects you "
                "trust."
            )
        state = dict(est.__getstate__())  # may be the live __dict__
        if state.get("callbacks"):
            raise TypeError(
                f"Cannot save {where}: its 'callbacks' parameter holds skorch "
                "callbacks, which are code. Drop them before saving with "
                "est.set_params(callbacks=None) (they only act during fit), or "
                "persist with joblib."
            )
        net = state.pop("net_", None)
        out = {"$t": "estimator", "class": path, "net": None}
        if net is not None:
            out["net"] = self._encode_net(net, f"{where}.net_")
        if net is not None and state.get("history_") is net.history:
            state["history_"] = _NetHistory
        out["state"] = {
            key: (
                {"$t": "net_history"}
                if value is _NetHistory
                else self.encode(value, f"{where}.{key}")
            )
            for key, value in state.items()
        }
        return out

    def _encode_net(self, net, where):
        if not (isinstance(net, NeuralNet) and getattr(net, "initialized_", False)):
            raise TypeError(f"Cannot save {where}: not an initialised skorch net.")
        if type(net).__module__.split(".")[0] not in ("sknlp_rnn", "skorch"):
            raise TypeError(
                f"Cannot save {where}: net class {type(net).__qualname__} is not "
                "defined in sknlp_rnn or skorch."
            )
        params = {
            k: v
            for k, v in net.get_params(deep=False).items()
            if k not in _NET_SKIPPED
            and not k.startswith(("callbacks__", "module__", "train_split__"))
        }
        prefix = f"n{sum(1 for k in self.weights if k.startswith('n'))}"
        aliases, seen = {}, {}
        for part, target in (("module", net.module_), ("criterion", net.criterion_)):
            for key, tensor in target.state_dict().items():
                name = f"{prefix}.{part}.{key}"
                # Tied weights (a decoder sharing the embedding) are stored once.
                ident = (tensor.data_ptr(), tensor.shape, tensor.stride(), tensor.dtype)
                if tensor.numel() and ident in seen:
                    aliases[name] = seen[ident]
                    continue
                seen[ident] = name
                self.weights[name] = tensor.detach().cpu().contiguous()
        return {
            "class": _class_path(type(net)),
            "prefix": prefix,
            "aliases": aliases,
            "device": str(net.device),
            "params": self.encode(params, where),
            "history": self.encode(net.history, f"{where}.history"),
        }


class _NetHistory:
    """Marker: the estimator's ``history_`` is its net's history."""


class _Reader:
    """Rebuilds objects written by :class:`_Writer`."""

    def __init__(self, weights, arrays, device):
        self.weights, self.arrays, self.device = weights, arrays, device
        self.fallbacks = []

    def decode(self, value):  # noqa: C901 - one branch per tag
        if isinstance(value, list):
            return [self.decode(v) for v in value]
        if not isinstance(value, dict):
            return value
        tag = value["$t"]
        if tag == "float":
            return float(value["v"])
        if tag in ("tuple", "set", "frozenset"):
            items = [self.decode(v) for v in value["v"]]
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
        if tag == "map":
            return {k: self.decode(v) for k, v in value["v"].items()}
        if tag == "dict":
            return {self.decode(k): self.decode(v) for k, v in value["v"]}
        if tag == "ndarray":
            return self.arrays[value["key"]].copy()
        if tag == "datetime_array":
            return self.arrays[value["key"]].view(np.dtype(value["dtype"])).copy()
        if tag == "object_array":
            return self._object_array(value)
        if tag == "npscalar":
            dtype = np.dtype(value["dtype"])
            decoded = self.decode(value["v"])
            if isinstance(decoded, np.ndarray):
                return decoded.astype(dtype)[0]
            return dtype.type(decoded)
        if tag == "npdtype":
            return np.dtype(value["v"])
        if tag == "builtin_type":
            return _BUILTIN_TYPES[value["v"]]
        if tag == "class":
            return self._class(value["v"])
        if tag == "slice":
            return slice(*value["v"])
        if tag == "history":
            return History(self.decode(value["v"]))
        if tag == "randomstate":
            rng = np.random.RandomState()
            rng.set_state(self.decode(value["v"]))
            return rng
        if tag == "tensor":
            return self.weights[value["key"]].clone()
        if tag == "sparse":
            make = sp.csr_array if value["array"] else sp.csr_matrix
            parts = tuple(self.decode(v) for v in value["v"])
            return make(parts, shape=tuple(value["shape"])).asformat(value["format"])
        if tag == "timestamp":
            return pd.Timestamp(value["v"])
        if tag in ("rangeindex", "index", "series", "dataframe"):
            return self._pandas(value)
        if tag == "estimator":
            return self.decode_estimator(value)
        raise ValueError(f"Unknown entry {tag!r} in the saved file.")

    def _object_array(self, value):
        items = [self.decode(v) for v in value["v"]]
        dtype = np.dtype(value["dtype"])
        if dtype.kind == "O":
            return _object_list(items).reshape(value["shape"])
        return np.array(items, dtype=dtype).reshape(value["shape"])

    def _class(self, path):
        module, _, qualname = path.partition(":")
        if module.split(".")[0] not in ("numpy", *_CLASS_REF_BASES):
            raise ValueError(f"Refusing to load class {path!r}: not allowed.")
        cls = _import(module, qualname)
        if not _class_ref_allowed(cls):
            raise ValueError(f"Refusing to load class {path!r}: not allowed.")
        return cls

    def _values(self, value, dtype):
        if isinstance(value, dict) and value.get("$t") == "categorical":
            categories = self._pandas(value["categories"])
            codes = self.decode(value["codes"])
            return pd.Categorical.from_codes(
                codes, categories=categories, ordered=value["ordered"]
            )
        values = self.decode(value)
        if dtype == "object":
            return values
        dtype = pd.api.types.pandas_dtype(dtype)
        if isinstance(dtype, np.dtype):
            return values.astype(dtype, copy=False)
        return pd.array(values, dtype=dtype)

    def _pandas(self, value):
        tag = value["$t"]
        if tag == "rangeindex":
            return pd.RangeIndex(*value["v"], name=self.decode(value["name"]))
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
        columns = self._pandas(value["columns"])
        frame = pd.concat([self._pandas(col) for col in value["v"]], axis=1)
        if not len(value["v"]):
            frame = pd.DataFrame(index=self._pandas(value["index"]))
        frame.columns = columns
        return frame

    def decode_estimator(self, value):
        cls = _resolve_estimator(value["class"])
        obj = cls.__new__(cls)
        state = {
            key: (
                None
                if isinstance(v, dict) and v.get("$t") == "net_history"
                else self.decode(v)
            )
            for key, v in value["state"].items()
        }
        if value["net"] is None:
            obj.__setstate__(state)
            return obj
        obj.__dict__.update(state)
        net = self._decode_net(obj, value["net"])
        obj.net_ = net
        if "history_" in state and state["history_"] is None:
            obj.history_ = net.history
        if "device_" in state and state["device_"] != str(net.device):
            obj.device_ = str(net.device)
        return obj

    def _target_device(self, saved):
        if self.device is not None:
            return self.device
        if torch.device(saved).type == "cuda" and not torch.cuda.is_available():
            self.fallbacks.append(saved)
            return "cpu"
        return saved

    def _decode_net(self, est, spec):
        module, _, qualname = spec["class"].partition(":")
        if module.split(".")[0] not in ("sknlp_rnn", "skorch"):
            raise ValueError(f"Refusing to load net class {spec['class']!r}.")
        net_class = _import(module, qualname)
        if not (isinstance(net_class, type) and issubclass(net_class, NeuralNet)):
            raise ValueError(f"Refusing to load {spec['class']!r}: not a skorch net.")
        params = self.decode(spec["params"])
        params["device"] = self._target_device(spec["device"])
        with torch.random.fork_rng(devices=[]):
            module_ = est._build_module()
        net = net_class(module=module_, callbacks=None, train_split=None, **params)
        net.initialize()
        prefix = spec["prefix"]
        weights = dict(self.weights)
        for name, source in spec.get("aliases", {}).items():
            weights[name] = weights[source]
        for part, target in (("module", net.module_), ("criterion", net.criterion_)):
            head = f"{prefix}.{part}."
            tensors = {
                k[len(head) :]: v for k, v in weights.items() if k.startswith(head)
            }
            target.load_state_dict(tensors, strict=True)
        net.history_ = self.decode(spec["history"])
        return net


def _object_list(items):
    """A 1-D object array holding ``items`` as they are (lists stay elements)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out
