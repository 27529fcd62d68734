"""Writing an estimator's state for the safe format (private).

``_Writer`` turns hyperparameters and fitted attributes into tagged JSON plus
numpy arrays and torch weights (stored as safetensors by ``_persistence``);
``_state_reader._Reader`` rebuilds them. Classes are written only through the
tables of ``_class_registry``, the same ones reading accepts. The tags and
constants of the format live here. Depends on torch, skorch, scikit-learn,
pandas, scipy, numpy, ``_class_registry`` and ``_file_checks``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from skorch import NeuralNet
from skorch.history import History

from ._class_registry import ESTIMATORS, NETS, VALUE_CLASSES, class_path
from ._file_checks import (
    NET_SKIPPED,
)

# Net parameters that only matter for training: not stored, rebuilt empty.
_NET_SKIPPED_PREFIXES = ("callbacks__", "module__", "train_split__")
_BUILTIN_TYPES = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "object": object,
}
# Sparse formats that may be saved, and the arrays stored for each.
_SPARSE_LAYOUTS = {"csr": "csr", "csc": "csc", "coo": "csr"}


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
            return self._encode_sparse(value, where)
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
        name = class_path(cls)
        if VALUE_CLASSES.get(name) is not cls:
            raise TypeError(
                f"Cannot save {where}: the class {cls.__module__}.{cls.__qualname__} "
                "is not on the allowlist of the safe format (numpy scalar types, "
                "torch optimizers and the losses and data loaders sknlp_rnn uses). "
                "Use a string option such as optimizer='adam', or persist with "
                "joblib."
            )
        return {"$t": "class", "v": name}

    def _encode_sparse(self, value, where):
        if value.format not in _SPARSE_LAYOUTS:
            raise TypeError(
                f"Cannot save {where}: sparse {value.format!r} matrices are not "
                "supported; convert to 'csr', 'csc' or 'coo' first."
            )
        layout = _SPARSE_LAYOUTS[value.format]
        stored = value.asformat(layout)
        return {
            "$t": "sparse",
            "format": value.format,
            "layout": layout,
            "array": isinstance(value, sp.sparray),
            "shape": list(value.shape),
            "v": [
                self._encode_array(a, where)
                for a in (stored.data, stored.indices, stored.indptr)
            ],
        }

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
        path = class_path(type(est))
        if ESTIMATORS.get(path) is not type(est):
            names = sorted(cls.__name__ for cls in ESTIMATORS.values())
            raise TypeError(
                f"Cannot save {where}: {type(est).__qualname__} is not one of the "
                f"estimators the safe format can rebuild ({', '.join(names)}). Use "
                "joblib for objects you trust."
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
        if NETS.get(class_path(type(net))) is not type(net):
            raise TypeError(
                f"Cannot save {where}: net class {type(net).__qualname__} is not one "
                "of the skorch nets sknlp_rnn trains with."
            )
        params = {
            k: v
            for k, v in net.get_params(deep=False).items()
            if k not in NET_SKIPPED and not k.startswith(_NET_SKIPPED_PREFIXES)
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
            "class": class_path(type(net)),
            "prefix": prefix,
            "aliases": aliases,
            "device": str(net.device),
            "params": self.encode(params, where),
            "history": self.encode(net.history, f"{where}.history"),
        }


class _NetHistory:
    """Marker: the estimator's ``history_`` is its net's history."""
