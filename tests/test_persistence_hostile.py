"""Hostile and damaged files: loading refuses them with ModelFileError.

Each payload is a file written by ``save`` and then edited the way an attacker
(or a bad disk) would. Loading must refuse it before it imports anything the
file names or allocates anything the file's sizes ask for.
"""

import builtins
import importlib
import io
import json
import sys

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from sknlp_rnn import load
from sknlp_rnn._testing import (
    edited_file,
    fitted_case,
    saved_bytes,
    trained_estimators,
    zip_bytes,
    zip_members,
)
from sknlp_rnn.exceptions import ModelFileError

torch.set_num_threads(1)

NETS = dict(trained_estimators())
# Class names that must be refused before anything is imported: running
# ``numpy.f2py.__main__`` runs f2py's command line (and exits), and
# ``torch.utils.model_dump.__main__`` parses the host's ``sys.argv``.
FOREIGN_CLASSES = [
    "numpy.f2py.__main__:x",
    "torch.utils.model_dump.__main__:x",
    "sknlp_rnn._state_writer:BaseEstimator",
    "os:system",
    "subprocess:Popen",
]


@pytest.fixture(scope="module")
def saved():
    """``{name: (bytes of the saved fitted estimator, estimator, X)}``."""
    out = {}
    for name, cls in NETS.items():
        est, X = fitted_case(cls)
        out[name] = saved_bytes(est), est, X
    return out


def rezip(files):
    return io.BytesIO(zip_bytes(files))


def with_metadata_text(data, text):
    files = zip_members(data)
    files["metadata.json"] = text
    return rezip(files)


class ImportSpy:
    """Records the modules asked for through ``importlib.import_module`` and,
    with ``statements=True``, through ``import`` statements too."""

    def __init__(self, monkeypatch, *, statements=False):
        self.names = []
        real_import_module, real_import = importlib.import_module, builtins.__import__

        def import_module(name, package=None):
            self.names.append(name)
            return real_import_module(name, package)

        def spy_import(name, *args, **kwargs):
            self.names.append(name)
            return real_import(name, *args, **kwargs)

        monkeypatch.setattr(importlib, "import_module", import_module)
        if statements:
            monkeypatch.setattr(builtins, "__import__", spy_import)


class AllocationSpy(TorchFunctionMode):
    """Records the largest real (non-meta) tensor torch factories create."""

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor) and out.device.type != "meta":
            self.largest = max(self.largest, out.numel())
        return out


def set_class(meta, where, name):
    obj = meta["object"]
    if where == "estimator":
        obj["class"] = name
    elif where == "net":
        obj["net"]["class"] = name
    else:  # a class-valued net parameter
        obj["net"]["params"]["v"]["criterion"]["v"] = name


@pytest.mark.parametrize("where", ["estimator", "net", "criterion"])
@pytest.mark.parametrize("name", FOREIGN_CLASSES)
def test_foreign_classes_are_refused_before_anything_is_imported(
    saved, monkeypatch, where, name
):
    data = saved["RNNTextClassifier"][0]
    payload = edited_file(data, lambda meta: set_class(meta, where, name))
    module = name.partition(":")[0]
    imported_before = module in sys.modules
    spy = ImportSpy(monkeypatch, statements=True)
    with pytest.raises(ModelFileError, match=f"Refusing to load .*{name!r}"):
        load(payload)
    monkeypatch.undo()
    assert not [n for n in spy.names if n == module or n.startswith(module + ".")]
    assert imported_before or module not in sys.modules


def class_modules(value):
    """The modules named by the class references in saved metadata."""
    if isinstance(value, list):
        return set().union(*map(class_modules, value))
    if not isinstance(value, dict):
        return set()
    found = set().union(*map(class_modules, value.values()))
    for key in ("class", "v"):
        if isinstance(value.get(key), str) and ":" in value[key]:
            found.add(value[key].partition(":")[0])
    return found


@pytest.mark.parametrize("name", list(NETS))
def test_loading_a_valid_file_imports_nothing_it_names(saved, monkeypatch, name):
    data, est, X = saved[name]
    named = class_modules(json.loads(zip_members(data)["metadata.json"]))
    assert "torch.nn.modules.loss" in named  # the criterion's module
    spy = ImportSpy(monkeypatch)
    loaded = load(io.BytesIO(data))
    monkeypatch.undo()
    assert not named & set(spy.names)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


# Fitted sizes and hyperparameters set to sizes the weights do not have.
HUGE_SIZES = [
    ("SequenceLMRegressor", "vocab_size_", 10**11),
    ("SequenceLMRegressor", "vocab_size_", 30_000_000),
    ("SequenceLMRegressor", "hidden_size", 10**9),
    ("RNNTextClassifier", "vocab_size_", 10**11),
    ("RNNTextClassifier", "embedding_dim", 30_000_000),
    ("EntityEmbeddingRegressor", "n_continuous_", 10**11),
    ("EntityEmbeddingRegressor", "hidden_sizes", [10**9]),
    ("CollabFilterRegressor", "embedding_sizes_", [10**11]),
]


@pytest.mark.parametrize("name, key, size", HUGE_SIZES)
def test_sizes_are_checked_against_the_weights_before_allocating(
    saved, name, key, size
):
    def inflate(meta):
        meta["object"]["state"][key] = size

    payload = edited_file(saved[name][0], inflate)
    spy = AllocationSpy()
    message = "do not match its hyperparameters|cannot be built"
    with spy, pytest.raises(ModelFileError, match=message):
        load(payload)
    assert spy.largest < 10_000  # nothing bigger than the tiny real model


def test_tied_weights_are_stored_once_and_checked(saved):
    data, est, X = saved["SequenceLMRegressor"]
    meta = json.loads(zip_members(data)["metadata.json"])
    aliases = meta["object"]["net"]["aliases"]
    assert aliases == {"n0.module.decoder.weight": "n0.module.encoder.embedding.weight"}
    loaded = load(io.BytesIO(data))
    module = loaded.net_.module_
    assert module.decoder.weight is module.encoder.embedding.weight

    def drop_alias(meta):
        meta["object"]["net"]["aliases"] = {}

    with pytest.raises(ModelFileError, match=r"missing \['decoder.weight'\]"):
        load(edited_file(data, drop_alias))

    def dangling_alias(meta):
        meta["object"]["net"]["aliases"] = {"n0.module.decoder.weight": "n9.x"}

    with pytest.raises(ModelFileError, match="lacks"):
        load(edited_file(data, dangling_alias))


def nested(depth):
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [150, 100_000])
def test_deeply_nested_metadata_is_refused(saved, depth):
    data = saved["SequenceLMRegressor"][0]
    text = zip_members(data)["metadata.json"].decode()
    text = text.replace('"vocab_size_": 12', f'"vocab_size_": {nested(depth)}')
    assert nested(depth) in text
    with pytest.raises(ModelFileError, match="nested"):
        load(with_metadata_text(data, text))


def test_oversized_metadata_is_refused_before_it_is_read(saved, monkeypatch):
    import sknlp_rnn._persistence as persistence

    monkeypatch.setattr(persistence, "_MAX_METADATA_BYTES", 100)
    with pytest.raises(ModelFileError, match="metadata.json is .* bytes"):
        load(io.BytesIO(saved["RNNTextClassifier"][0]))


def edit_state(key, value):
    def edit(meta):
        meta["object"]["state"][key] = value

    return edit


def edit_net(key, value):
    def edit(meta):
        meta["object"]["net"][key] = value

    return edit


def edit_net_param(key, value):
    def edit(meta):
        meta["object"]["net"]["params"]["v"][key] = value

    return edit


# (estimator, edit, what the message must say)
BAD_METADATA = [
    ("SequenceLMRegressor", edit_state("cell", "bogus"), "'cell' parameter"),
    ("RNNTextClassifier", edit_state("dropout", 7.0), "'dropout' parameter"),
    ("CollabFilterRegressor", edit_state("model", "bogus"), "'model' parameter"),
    ("SequenceLMRegressor", edit_state("vocab_size_", -5), "cannot be built"),
    ("SequenceLMRegressor", edit_state("vocab_size_", "12"), "cannot be built"),
    ("RNNTextClassifier", edit_net("device", "meta"), "device 'meta'"),
    ("RNNTextClassifier", edit_net("device", "nonsense"), "invalid device"),
    ("RNNTextClassifier", edit_net_param("initialized_", True), "'initialized_'"),
    ("RNNTextClassifier", edit_net_param("history", []), "'history'"),
    (
        "RNNTextClassifier",
        edit_net_param("criterion", {"$t": "class", "v": "torch.optim.adam:Adam"}),
        "'criterion' holds",
    ),
    ("RNNTextClassifier", edit_net("history", []), "not a history"),
    ("RNNTextClassifier", edit_state("classes_", {"$t": "bogus"}), "'bogus'"),
    (
        "RNNTextClassifier",
        edit_state(
            "classes_",
            {"$t": "object_array", "dtype": "<U100000000", "shape": [1], "v": ["a"]},
        ),
        "too large",
    ),
    (
        "RNNTextClassifier",
        edit_state("x_", {"$t": "npscalar", "dtype": "(1000,)f8", "v": 1}),
        "Unexpected dtype",
    ),
    (
        "CollabFilterRegressor",
        edit_state(
            "x_",
            {
                "$t": "sparse",
                "format": "dia",
                "layout": "csr",
                "array": False,
                "shape": [1, 10**12],
                "v": [],
            },
        ),
        "format 'dia'",
    ),
    ("RNNTextClassifier", edit_state("classes_", {"$t": "ndarray"}), "KeyError"),
    (
        "RNNTextClassifier",
        edit_state("classes_", {"$t": "ndarray", "key": "a99"}),
        "lacks",
    ),
    ("RNNTextClassifier", lambda m: m.pop("object"), "lacks its version"),
    ("RNNTextClassifier", lambda m: m.update(format_version="1"), "format version"),
    ("RNNTextClassifier", lambda m: m.update(format="pickle"), "not a file written"),
]


@pytest.mark.parametrize(
    "name, edit, message", BAD_METADATA, ids=[m for _, _, m in BAD_METADATA]
)
def test_bad_metadata_raises_model_file_error(saved, name, edit, message):
    with pytest.raises(ModelFileError, match=message):
        load(edited_file(saved[name][0], edit))


def test_damaged_members_raise_model_file_error(saved):
    data = saved["RNNTextClassifier"][0]
    files = zip_members(data)
    cases = {
        "not a zip": io.BytesIO(b"PK\x03\x04 not really a zip"),
        "truncated zip": io.BytesIO(data[: len(data) // 2]),
        "missing member": rezip({k: v for k, v in files.items() if "weights" not in k}),
        "metadata not JSON": with_metadata_text(data, b"{not json"),
        "metadata not UTF-8": with_metadata_text(data, b"\xff\xfe\x00"),
        "huge int": with_metadata_text(data, b"1" * 5000),
        "weights truncated": rezip(
            {**files, "weights.safetensors": files["weights.safetensors"][:40]}
        ),
        "arrays garbage": rezip({**files, "arrays.safetensors": b"\x00" * 8}),
    }
    for label, payload in cases.items():
        with pytest.raises(ModelFileError):
            load(payload)
        assert label  # every case raised the one documented error


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)
    with pytest.raises(ValueError, match="not a file written by sknlp_rnn.save"):
        load(io.BytesIO(b"nonsense"))
