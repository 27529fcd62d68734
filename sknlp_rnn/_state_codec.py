"""Encoding of an estimator's state for the safe format (private).

``_Writer`` turns hyperparameters and fitted attributes into tagged JSON plus
numpy arrays and torch weights (stored as safetensors by ``_persistence``);
``_Reader`` rebuilds them. Classes are written and read only through the tables
of ``_class_registry``: a file that names anything else is refused, and nothing
is imported because a file names it. Before a net's torch module is built for
real, ``_Reader`` builds it without memory (see ``_file_checks.NoAllocation``) and
checks that the weights in the file have the shapes and dtypes that the
hyperparameters imply, so a file cannot make loading allocate more than the
weights it holds (the checks live in ``_file_checks``). Anything malformed
raises :class:`~sknlp_rnn.exceptions.ModelFileError`. Depends on torch, skorch,
scikit-learn, pandas, scipy, numpy, ``_class_registry``, ``_file_checks`` and
``exceptions``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from sklearn.base import BaseEstimator
from skorch import NeuralNet
from skorch.history import History

from ._class_registry import ESTIMATORS, NETS, VALUE_CLASSES, class_path
from ._file_checks import (
    DEVICE_TYPES,
    NET_SKIPPED,
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
from .exceptions import ModelFileError

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


def _object_list(items):
    """A 1-D object array holding ``items`` as they are (lists stay elements)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out
