"""Prediction leaves the caller's global random state alone, for every estimator.

Every prediction, transform and scoring method of every public estimator (the
tiny fitted cases of ``sknlp_rnn._testing``) is called between two snapshots
of the global torch and numpy random states, which must be equal.
"""

import numpy as np
import pytest
import torch

from sknlp_rnn._testing import case, fitted_case, public_estimators


def _calls(est, X, y):
    """``{method: zero-argument call}`` for the methods ``est`` has."""
    calls = {
        method: (lambda m=method: getattr(est, m)(X))
        for method in (
            "predict",
            "predict_proba",
            "decision_function",
            "transform",
            "predict_tokens",
            "perplexity",
        )
        if hasattr(est, method)
    }
    if hasattr(est, "score"):
        calls["score"] = lambda: est.score(X) if y is None else est.score(X, y)
    if hasattr(est, "inverse_transform"):
        Xt = est.transform(X)
        calls["inverse_transform"] = lambda: est.inverse_transform(Xt)
    if hasattr(est, "generate"):
        calls["generate"] = lambda: est.generate(X[:2], n_tokens=3, random_state=0)
    if hasattr(est, "recommend"):
        user, item = X.iloc[0, 0], X.iloc[0, 1]
        calls["recommend"] = lambda: est.recommend(user, n=2)
        calls["similar_items"] = lambda: est.similar_items(item, n=2)
    return calls


def _same_numpy_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


@pytest.mark.parametrize("name, cls", public_estimators())
def test_prediction_leaves_the_global_rng_alone(name, cls):
    est, X = fitted_case(cls)
    y = case(cls)[2]
    calls = _calls(est, X, y)
    assert calls, f"{name} has no prediction or transform method to check"
    for method, call in calls.items():
        torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
        call()
        assert torch.equal(torch.get_rng_state(), torch_state), (
            f"{name}.{method} advanced the global torch RNG"
        )
        assert _same_numpy_state(np.random.get_state(), numpy_state), (
            f"{name}.{method} advanced the global numpy RNG"
        )
