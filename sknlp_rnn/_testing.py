"""Tiny fitted-estimator cases shared by the tests (private).

``CASES`` maps a public class name to a function returning ``(estimator, X, y)``
on a few rows of made-up data, with costly settings shrunk, so generic tests
(persistence, pickling, GPU, demo) cover every estimator in
``sknlp_rnn.__all__``. A new public estimator gets an entry here; the tests fail
with a message saying so until it has one. Depends on torch, numpy and pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

# Methods whose outputs must survive a save/load round trip unchanged.
OUTPUT_METHODS = ("predict", "predict_proba", "decision_function", "transform")

_TRAIN = {"max_epochs": 2, "random_state": 0}


def _token_ids(n=24, width=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randint(2, 12, size=(n, width))
    X[:, -1] = 1  # some padding
    y = np.where((X == 3).any(1), "yes", "no")
    return X, y


def _texts():
    return [
        "The movie was great , great fun !",
        "Awful . I did NOT like it at all",
        "what a lovely day",
        "so so bad , sooooo bad",
    ]


def _text_classifier(cls):
    X, y = _token_ids()
    return cls(embedding_dim=4, hidden_size=4, **_TRAIN), X, y


def _language_model(cls):
    X, _ = _token_ids()
    return cls(embedding_dim=4, hidden_size=4, batch_size=4, bptt=4, **_TRAIN), X, None


def _tokenizer(cls):
    return cls(), _texts(), None


def _vocab(cls):
    docs = [text.lower().split() for text in _texts()]
    return cls(), docs, None


def _frame(n=24, seed=0):
    rng = np.random.RandomState(seed)
    return pd.DataFrame(
        {
            "color": pd.Categorical(rng.choice(["red", "green", "blue"], n)),
            "size": rng.choice(["S", "M", "L"], n).astype(object),
            "weight": rng.normal(size=n),
            "when": pd.date_range("2020-01-01", periods=n, freq="7D"),
        }
    )


def _entity_embedding(cls):
    X = _frame().drop(columns="when")
    y = X["weight"].to_numpy() * 2 + (X["color"] == "red").to_numpy()
    return (
        cls(hidden_sizes=(4,), categorical_features=["color", "size"], **_TRAIN),
        X,
        y,
    )


def _categorical_encoder(cls):
    return cls(), _frame()[["color", "size"]], None


def _date_features(cls):
    return cls(), _frame()[["when"]], None


def _collab(cls):
    rng = np.random.RandomState(0)
    users = rng.choice(["ann", "bob", "cy", "dee"], 40)
    items = rng.randint(100, 108, size=40)
    X = pd.DataFrame({"user": users, "item": items})
    y = rng.uniform(1, 5, size=40).round(1)
    return cls(n_factors=3, batch_size=8, **_TRAIN), X, y


CASES = {
    "RNNTextClassifier": _text_classifier,
    "SequenceLMRegressor": _language_model,
    "Tokenizer": _tokenizer,
    "Vocab": _vocab,
    "EntityEmbeddingRegressor": _entity_embedding,
    "CategoricalEncoder": _categorical_encoder,
    "DateFeatures": _date_features,
    "CollabFilterRegressor": _collab,
}


def _ulmfit_classifier(cls):
    from sknlp_rnn import SequenceLMRegressor

    X, y = _token_ids()
    lm = _language_model(SequenceLMRegressor)[0].fit(X)
    return (
        cls(
            encoder=lm,
            embedding_dim=4,
            hidden_size=4,
            freeze_encoder_epochs=1,
            **_TRAIN,
        ),
        X,
        y,
    )


def _language_model_with_cache(cls):
    est, X, y = _language_model(cls)
    return est.set_params(cache_size=8), X, y


def _collab_side_implicit(cls):
    est, X, y = _collab(cls)
    X = X.assign(day=np.arange(len(X)) % 5)
    return est.set_params(implicit=True), X, y


# Fitted states that the plain cases do not reach (a pretrained encoder, the
# neural cache, side features with implicit feedback): ``(label, class name,
# case)`` for the tests that inspect whole fitted objects (pickles, devices).
VARIANTS = [
    ("ULMFiT", "RNNTextClassifier", _ulmfit_classifier),
    ("cache", "SequenceLMRegressor", _language_model_with_cache),
    ("side+implicit", "CollabFilterRegressor", _collab_side_implicit),
]


def tolerance(device):
    """``rtol``/``atol`` for two float32 computations of one model's output.

    Tight on the CPU. On CUDA, cuDNN chooses RNN kernels by batch shape and may
    compute in TF32 (a 10-bit mantissa), so the same output computed in two
    ways (in chunks or whole, in other batches) agrees to about 1e-3.
    """
    if torch.device(device).type == "cpu":
        return {"rtol": 1e-5, "atol": 1e-6}
    return {"rtol": 2e-3, "atol": 2e-4}


def public_estimators():
    """``(name, class)`` for every estimator class in ``sknlp_rnn.__all__``."""
    from sklearn.base import BaseEstimator

    import sknlp_rnn

    out = []
    for name in sknlp_rnn.__all__:
        obj = getattr(sknlp_rnn, name)
        if isinstance(obj, type) and issubclass(obj, BaseEstimator):
            out.append((name, obj))
    return out


def fitted_case(name, cls):
    """Fit the tiny case for ``name``; returns ``(estimator, X)``."""
    est, X, y = CASES[name](cls)
    est.fit(X) if y is None else est.fit(X, y)
    return est, X


def outputs(est, X):
    """``{method: output}`` for the prediction/transform methods ``est`` has."""
    return {
        method: getattr(est, method)(X)
        for method in OUTPUT_METHODS
        if hasattr(est, method)
    }
