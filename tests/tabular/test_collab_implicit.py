"""CollabFilterRegressor with implicit feedback (``implicit=True``, SVD++)."""

import joblib
import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV

import sknlp_rnn
from sknlp_rnn import CollabFilterRegressor
from sknlp_rnn.nn import sigmoid_range

FAST = {
    "n_factors": 4,
    "max_epochs": 30,
    "batch_size": 128,
    "lr": 0.02,
    "random_state": 0,
    "implicit": True,
}


def low_rank_ratings(n_users=60, n_items=50, noise=0.1, seed=0):
    rng = np.random.RandomState(seed)
    users, items = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    full = 3.0 + 0.6 * users @ items.T
    u, i = np.nonzero(rng.uniform(size=full.shape) < 0.5)
    y = full[u, i] + noise * rng.normal(size=len(u))
    X = np.column_stack([u + 100, i + 500])
    cut = int(0.8 * len(y))
    return X[:cut], y[:cut], X[cut:], y[cut:]


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


@pytest.fixture(scope="module")
def ratings():
    return low_rank_ratings()


@pytest.fixture(scope="module")
def fitted(ratings):
    X, y, _, _ = ratings
    return CollabFilterRegressor(**FAST, weight_decay=1e-3).fit(X, y)


def test_recovers_low_rank_matrix(ratings, fitted):
    _, y, X_test, y_test = ratings
    baseline = rmse(y_test, np.full_like(y_test, y.mean()))
    ours = rmse(y_test, fitted.predict(X_test))
    assert ours < 0.25, ours
    assert ours < 0.2 * baseline


def test_implicit_table_is_trained_and_lists_come_from_fit(ratings, fitted):
    X, _, _, _ = ratings
    module = fitted.net_.module_
    weight = module.implicit_factors.weight.detach()
    assert weight[0].abs().sum() == 0  # the unknown slot
    assert weight[1:].abs().sum() > 0
    # user row 1 lists the items that user rated in fit
    first = fitted.ids_[0][0]
    rated = set(X[X[:, 0] == first, 1])
    start, stop = module.implicit_indptr[1:3].tolist()
    items = fitted.ids_[1][module.implicit_items[start:stop].numpy() - 1]
    assert set(items) == rated


def test_unknown_user_gets_known_item_bias(fitted, ratings):
    X, _, _, _ = ratings
    item = X[0, 1]
    pred = fitted.predict([[-1, item], [-1, -1]])
    g = fitted.net_.module_.global_bias.detach()
    expected = [
        sigmoid_range(g + fitted.item_bias_[item], *fitted.y_range_),
        sigmoid_range(g, *fitted.y_range_),
    ]
    np.testing.assert_allclose(pred, [float(e) for e in expected], rtol=1e-5)


def test_reproducible(ratings):
    X, y, X_test, _ = ratings
    params = {**FAST, "max_epochs": 5}
    a = CollabFilterRegressor(**params).fit(X, y).predict(X_test)
    b = CollabFilterRegressor(**params).fit(X, y).predict(X_test)
    np.testing.assert_array_equal(a, b)


def test_joblib_and_safe_format_round_trips_are_exact(fitted, ratings, tmp_path):
    _, _, X_test, _ = ratings
    expected = fitted.predict(X_test)
    joblib.dump(fitted, tmp_path / "cf.joblib")
    loaded = joblib.load(tmp_path / "cf.joblib")
    np.testing.assert_array_equal(loaded.predict(X_test), expected)
    sknlp_rnn.save(fitted, tmp_path / "cf.zip")
    restored = sknlp_rnn.load(tmp_path / "cf.zip")
    np.testing.assert_array_equal(restored.predict(X_test), expected)


def test_grid_search_over_implicit(ratings):
    X, y, _, _ = ratings
    params = {**FAST, "max_epochs": 3}
    grid = GridSearchCV(
        CollabFilterRegressor(**params), {"implicit": [False, True]}, cv=2
    ).fit(X, y)
    assert set(grid.cv_results_["param_implicit"]) == {False, True}


def test_implicit_needs_the_dot_model(ratings):
    X, y, _, _ = ratings
    with pytest.raises(ValueError, match="implicit=True needs model='dot'"):
        CollabFilterRegressor(model="mlp", implicit=True).fit(X, y)
