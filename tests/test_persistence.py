"""Persistence: the safe format (save/load) and joblib, for every estimator."""

import io
import json
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder, StandardScaler

import sknlp_rnn
from sknlp_rnn import RNNTextClassifier, load, save
from sknlp_rnn._testing import (
    case,
    edited_file,
    fitted_case,
    missing_entries,
    outputs,
    public_estimators,
    trained_estimators,
)
from sknlp_rnn.exceptions import DeviceFallbackWarning, VersionMismatchWarning

torch.set_num_threads(1)

ESTIMATORS = public_estimators()
IDS = [name for name, _ in ESTIMATORS]


def assert_same(a, b):
    """Exact equality for arrays, frames, nested lists and scalars."""
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        assert a == b


def round_trip(obj, **kwargs):
    buffer = io.BytesIO()
    save(obj, buffer)
    return load(buffer, **kwargs)


@pytest.fixture(scope="module")
def fitted_clf():
    est, X = fitted_case(RNNTextClassifier)
    return est, X


def test_every_public_estimator_has_a_case():
    assert not missing_entries(), missing_entries()


@pytest.mark.parametrize("name, cls", ESTIMATORS, ids=IDS)
def test_safe_round_trip_is_exact(name, cls):
    est, X = fitted_case(cls)
    expected = outputs(est, X)
    loaded = round_trip(est)
    assert type(loaded) is cls
    assert loaded.get_params().keys() == est.get_params().keys()
    assert_same(outputs(loaded, X), expected)
    if hasattr(est, "history_"):
        assert loaded.history_[:, "train_loss"] == est.history_[:, "train_loss"]


@pytest.mark.parametrize("name, cls", ESTIMATORS, ids=IDS)
def test_joblib_round_trip_is_exact(name, cls, tmp_path):
    est, X = fitted_case(cls)
    joblib.dump(est, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    assert_same(outputs(loaded, X), outputs(est, X))


@pytest.mark.parametrize("name, cls", ESTIMATORS, ids=IDS)
def test_unfitted_round_trip_keeps_params(name, cls):
    est = case(cls)[0]
    loaded = round_trip(est)
    assert repr(loaded.get_params()) == repr(est.get_params())


def test_estimator_save_and_load_methods(fitted_clf, tmp_path):
    est, X = fitted_clf
    path = est.save(tmp_path / "clf.zip")
    loaded = RNNTextClassifier.load(path)
    assert_same(loaded.predict_proba(X), est.predict_proba(X))
    assert loaded.history_ is loaded.net_.history
    with pytest.raises(TypeError, match="holds a RNNTextClassifier"):
        type(
            "Other",
            (
                sknlp_rnn._persistence.SafeFormatMixin,
                sknlp_rnn._base.BaseTorchEstimator,
            ),
            {},
        ).load(path)


def test_pipeline_with_sklearn_transformers_round_trips(tmp_path):
    rng = np.random.RandomState(0)
    words = np.array(["good", "bad", "fine", "meh", "wow", "ugh"])
    X = rng.choice(words, size=(30, 5))
    y = np.where((X == "good").any(1), 1, 0)
    pipe = Pipeline(
        [
            ("ids", OrdinalEncoder(dtype=np.int64)),
            ("clf", RNNTextClassifier(hidden_size=4, max_epochs=2, random_state=0)),
        ]
    ).fit(X, y)
    for loaded in (round_trip(pipe), pickle.loads(pickle.dumps(pipe))):
        assert [name for name, _ in loaded.steps] == ["ids", "clf"]
        assert_same(loaded.predict_proba(X), pipe.predict_proba(X))
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    assert_same(joblib.load(tmp_path / "pipe.joblib").predict(X), pipe.predict(X))


def test_fitted_sklearn_transformers_and_frames_round_trip():
    frame = pd.DataFrame(
        {
            "a": ["x", "y", None, "x"],
            "b": pd.Categorical(["u", "v", "u", "w"]),
            "c": [1.0, np.nan, 3.0, 4.0],
            "d": pd.to_datetime(["2020-01-01", "2021-02-03", None, "2022-01-01"]),
        },
        index=["r1", "r2", "r3", "r4"],
    )
    enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    enc.fit(frame[["a", "b"]])
    imputer = SimpleImputer(add_indicator=True).fit(frame[["c"]])
    pipe = Pipeline([("imp", imputer), ("scale", StandardScaler())]).fit(frame[["c"]])
    loaded = round_trip(Pipeline([("enc", enc), ("fitted", pipe)]))
    loaded_enc, loaded_pipe = loaded.steps[0][1], loaded.steps[1][1]
    assert_same(
        loaded_enc.transform(frame[["a", "b"]]), enc.transform(frame[["a", "b"]])
    )
    assert_same(loaded_pipe.transform(frame[["c"]]), pipe.transform(frame[["c"]]))


def test_plain_values_round_trip():
    from sknlp_rnn._state_reader import _Reader
    from sknlp_rnn._state_writer import _Writer

    frame = pd.DataFrame(
        {"s": ["a", None, "b"], "n": [1, 2, 3], "t": pd.to_datetime(["2020"] * 3)},
        index=pd.Index([10, 20, 30], name="id"),
    )
    value = {
        "frame": frame,
        "series": frame["s"],
        "scalars": (1, 2.5, np.float32(0.1), np.int64(7), float("nan"), None, True),
        1: {(2, 3): [np.arange(3), np.array(["ab", "c"])]},
        "rng": np.random.RandomState(3),
        "types": [np.dtype("float32"), np.float64, int, torch.optim.AdamW],
        "slice": slice(0, 3, None),
        "tensor": torch.arange(4.0),
        "sparse": [
            sp.csr_matrix(np.eye(3)),
            sp.coo_array(np.eye(2, k=1)),
            sp.csc_matrix(np.arange(6.0).reshape(2, 3)),
            sp.csr_array(np.eye(2, 4)),
        ],
    }
    writer = _Writer()
    encoded = json.loads(json.dumps(writer.encode(value, "value"), allow_nan=False))
    back = _Reader(writer.weights, writer.arrays, None).decode(encoded)
    pd.testing.assert_frame_equal(back["frame"], frame)
    pd.testing.assert_series_equal(back["series"], frame["s"])
    assert repr(back["scalars"]) == repr(value["scalars"])
    assert_same(back[1][(2, 3)], value[1][(2, 3)])
    assert back["rng"].rand() == np.random.RandomState(3).rand()
    assert back["types"] == value["types"] and back["slice"] == value["slice"]
    assert torch.equal(back["tensor"], value["tensor"])
    for got, sent in zip(back["sparse"], value["sparse"], strict=True):
        assert type(got) is type(sent) and (got != sent).nnz == 0


def test_language_model_encoder_pipeline_round_trips():
    from sklearn.frozen import FrozenEstimator

    lm, X = fitted_case(sknlp_rnn.SequenceLMRegressor)
    y = np.where(X[:, 0] > 6, "big", "small")
    clf = RNNTextClassifier(encoder=FrozenEstimator(lm), max_epochs=2, random_state=0)
    pipe = Pipeline([("clf", clf)]).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # building it without memory is silent
        loaded = round_trip(pipe)
    assert_same(loaded.predict_proba(X), pipe.predict_proba(X))
    loaded_lm = loaded.named_steps["clf"].encoder.estimator
    assert_same(loaded_lm.predict_proba(X), lm.predict_proba(X))


def test_sparse_formats_without_a_safe_layout_are_refused():
    from sknlp_rnn._state_writer import _Writer

    with pytest.raises(TypeError, match="sparse 'dia' matrices are not supported"):
        _Writer().encode(sp.dia_matrix(np.eye(3)), "value")


def test_callbacks_and_foreign_classes_are_refused(fitted_clf):
    from skorch.callbacks import EpochTimer

    est, _ = fitted_clf
    with pytest.raises(TypeError, match="'callbacks' parameter holds skorch"):
        save(clone(est).set_params(callbacks=[EpochTimer()]), io.BytesIO())

    class MyAdam(torch.optim.Adam):
        pass

    with pytest.raises(TypeError, match="not on the allowlist"):
        save(clone(est).set_params(optimizer=MyAdam), io.BytesIO())
    with pytest.raises(
        TypeError, match=r"steps\[0\]\[1\]\.lr: objects of type builtin"
    ):
        save(Pipeline([("f", clone(est))]).set_params(f__lr=len), io.BytesIO())
    loaded = round_trip(clone(est).set_params(optimizer=torch.optim.AdamW))
    assert loaded.optimizer is torch.optim.AdamW


def test_load_refuses_classes_off_the_allowlist(fitted_clf):
    est, _ = fitted_clf
    buffer = io.BytesIO()
    save(est, buffer)

    def to_os_system(meta):
        meta["object"]["class"] = "os:system"

    with pytest.raises(
        ValueError, match="Refusing to load estimator class 'os:system'"
    ):
        load(edited_file(buffer.getvalue(), to_os_system))

    def evil_criterion(meta):
        meta["object"]["net"]["params"]["v"]["criterion"]["v"] = "subprocess:Popen"

    with pytest.raises(ValueError, match="Refusing to load class 'subprocess:Popen'"):
        load(edited_file(buffer.getvalue(), evil_criterion))
    with pytest.raises(ValueError, match="not a file written by sknlp_rnn.save"):
        load(io.BytesIO(pickle.dumps(est)))


def test_version_mismatch_warns(fitted_clf):
    est, X = fitted_clf
    buffer = io.BytesIO()
    save(est, buffer)

    def older(meta):
        meta["sknlp_rnn_version"] = "0.0.1"

    with pytest.warns(VersionMismatchWarning, match="saved by sknlp_rnn 0.0.1"):
        loaded = load(edited_file(buffer.getvalue(), older))
    assert_same(loaded.predict_proba(X), est.predict_proba(X))

    def newer_format(meta):
        meta["format_version"] = 99

    with pytest.raises(ValueError, match="format version 99"):
        load(edited_file(buffer.getvalue(), newer_format))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_saved_model_loads_on_cpu_with_a_warning(fitted_clf):
    est, X = fitted_clf
    buffer = io.BytesIO()
    save(est, buffer)

    def on_cuda(meta):
        meta["object"]["net"]["device"] = "cuda:0"
        meta["object"]["state"]["device_"] = "cuda:0"

    with pytest.warns(DeviceFallbackWarning, match="trained on 'cuda:0'"):
        loaded = load(edited_file(buffer.getvalue(), on_cuda))
    assert loaded.device_ == "cpu" and str(loaded.net_.device) == "cpu"
    assert_same(loaded.predict_proba(X), est.predict_proba(X))


def test_loading_leaves_the_global_torch_rng_alone(fitted_clf):
    est, _ = fitted_clf
    buffer = io.BytesIO()
    save(est, buffer)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    load(buffer, device="cpu")
    assert torch.equal(torch.rand(3), expected)


def test_text_pipeline_on_raw_strings_round_trips(tmp_path):
    if not hasattr(sknlp_rnn, "Tokenizer"):
        pytest.skip("Tokenizer/Vocab are not on this branch yet")
    texts = ["good fun", "bad day", "good good", "so bad", "fun day", "bad bad"] * 4
    y = [int("good" in t or "fun" in t) for t in texts]
    pipe = Pipeline(
        [
            ("tok", sknlp_rnn.Tokenizer()),
            ("vocab", sknlp_rnn.Vocab()),
            ("clf", RNNTextClassifier(hidden_size=4, max_epochs=2, random_state=0)),
        ]
    ).fit(texts, y)
    save(pipe, tmp_path / "pipe.zip")
    loaded = load(tmp_path / "pipe.zip")
    assert_same(loaded.predict_proba(texts), pipe.predict_proba(texts))
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    assert_same(
        joblib.load(tmp_path / "pipe.joblib").predict(texts), pipe.predict(texts)
    )


# Hyperparameters added after the first saved files (issue 14).
NEWER = (
    "lr_schedule",
    "warm_start",
    "early_stopping",
    "validation_split",
    "class_weight",
    "nonlinearity",
    "init",
    "stateful",
)


@pytest.mark.parametrize("name, cls", trained_estimators())
def test_a_file_from_before_newer_parameters_loads_and_predicts_alike(name, cls):
    est, X = fitted_case(cls)
    buffer = io.BytesIO()
    save(est, buffer)

    def forget(meta):
        state = meta["object"]["state"]
        for param in NEWER:
            state.pop(param, None)

    loaded = load(edited_file(buffer.getvalue(), forget))
    method = "predict_proba" if hasattr(est, "predict_proba") else "predict"
    np.testing.assert_array_equal(getattr(loaded, method)(X), getattr(est, method)(X))
    defaults = cls().get_params()
    assert all(loaded.get_params()[p] == defaults[p] for p in NEWER if p in defaults)
