"""Tests of CollabFilterRegressor: learning, unknown ids, introspection, bad input."""

import io
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

import sknlp_rnn
from sknlp_rnn import CollabFilterRegressor
from sknlp_rnn.exceptions import NotFittedError, UnseenCategoriesWarning
from sknlp_rnn.nn import sigmoid_range

FAST = {
    "n_factors": 4,
    "max_epochs": 30,
    "batch_size": 128,
    "lr": 0.02,
    "random_state": 0,
}


def low_rank_ratings(n_users=60, n_items=50, rank=2, noise=0.1, density=0.5, seed=0):
    """Ratings from a rank-``rank`` matrix plus Gaussian noise, split 80/20."""
    rng = np.random.RandomState(seed)
    users = rng.normal(size=(n_users, rank))
    items = rng.normal(size=(n_items, rank))
    full = 3.0 + 0.6 * users @ items.T + 0.3 * rng.normal(size=(1, n_items))
    mask = rng.uniform(size=full.shape) < density
    u, i = np.nonzero(mask)
    y = full[u, i] + noise * rng.normal(size=len(u))
    X = np.column_stack([u + 100, i + 500])  # ids need not start at 0
    order = rng.permutation(len(y))
    cut = int(0.8 * len(y))
    train, test = order[:cut], order[cut:]
    return X[train], y[train], X[test], y[test]


def rmse(a, b):
    return float(np.sqrt(np.mean((np.asarray(a) - np.asarray(b)) ** 2)))


@pytest.fixture(scope="module")
def ratings():
    return low_rank_ratings()


@pytest.fixture(scope="module", params=[False, True], ids=["dot", "implicit"])
def fitted(ratings, request):
    X, y, _, _ = ratings
    params = {**FAST, "factor_l2": 1e-3, "implicit": request.param}
    return CollabFilterRegressor(**params).fit(X, y)


# -- learning -------------------------------------------------------------------


def test_recovers_low_rank_matrix(ratings, fitted):
    _, y, X_test, y_test = ratings
    baseline = rmse(y_test, np.full_like(y_test, y.mean()))
    ours = rmse(y_test, fitted.predict(X_test))
    # noise level is 0.1; the global mean is ~0.94 off
    assert ours < 0.2, ours
    # SVD++ spreads more over seeds on these 1,200 ratings: 0.145x-0.173x of
    # the global mean's RMSE over seeds 0-5 (the dot model: 0.143x-0.149x)
    assert ours < (0.18 if fitted.implicit else 0.16) * baseline


def test_mlp_beats_global_mean(ratings):
    X, y, X_test, y_test = ratings
    # The MLP on 1,200 ratings needs a gentler rate and a penalty to fit
    # reliably: with FAST's settings its test RMSE ranged from 0.25x to 0.73x
    # of the global mean's over seeds 0-11 (on CPU as on CUDA); with these it
    # stayed within 0.18x-0.27x.
    params = {**FAST, "n_factors": None, "lr": 5e-3, "batch_size": 64}
    model = CollabFilterRegressor(
        model="mlp", hidden_sizes=(32,), factor_l2=0.01, **params
    )
    model.set_params(max_epochs=100).fit(X, y)
    assert model.embedding_sizes_ == [16, 14]  # the embedding-size rule
    baseline = rmse(y_test, np.full_like(y_test, y.mean()))
    assert rmse(y_test, model.predict(X_test)) < 0.4 * baseline


@pytest.mark.parametrize("side_features", ["bias", "factors"])
@pytest.mark.parametrize("model_kind", ["dot", "mlp"])
def test_side_feature_columns_are_used(model_kind, side_features):
    # the rating depends only on a third column: users and items are noise
    rng = np.random.RandomState(0)
    n = 600
    X = np.column_stack(
        [rng.randint(20, size=n), rng.randint(20, size=n), rng.randint(3, size=n)]
    )
    y = np.array([1.0, 3.0, 5.0])[X[:, 2]]
    # a side bias is one number per value, moved by at most about lr per Adam
    # step: reaching ratings 1 and 5 in 150 steps takes a larger rate
    lr = 0.1 if side_features == "bias" else FAST["lr"]
    model = CollabFilterRegressor(
        **{**FAST, "lr": lr},
        model=model_kind,
        side_features=side_features,
        factor_l2=0.0,
    ).fit(X, y)
    assert model.n_features_in_ == 3
    assert rmse(y, model.predict(X)) < 0.2
    with pytest.raises(ValueError, match="X has 2 features"):
        model.predict(X[:, :2])
    n_embedded = 2 if side_features == "bias" else 3
    assert len(model.embedding_sizes_) == n_embedded
    if model_kind == "mlp" and side_features == "factors":
        assert model.side_biases_ == {}
    else:
        biases = model.side_biases_["x2"]
        assert biases.index.tolist() == [0, 1, 2]
        assert biases.is_monotonic_increasing  # higher value, higher rating


def session_ratings(seed=0):
    """Low-rank ratings plus a per-session offset; column 2 is the session."""
    X, y, X_test, y_test = low_rank_ratings(seed=seed)
    rng = np.random.RandomState(seed)
    offsets = rng.normal(scale=0.6, size=(60, 3))  # 3 sessions per user

    def add_session(X, y):
        sessions = rng.randint(3, size=len(X))
        users = X[:, 0] - 100
        session_ids = np.array(
            [f"{u}@{s}" for u, s in zip(users, sessions, strict=True)]
        )
        frame = pd.DataFrame({"user": X[:, 0], "item": X[:, 1], "session": session_ids})
        return frame, y + offsets[users, sessions]

    return (*add_session(X, y), *add_session(X_test, y_test)), offsets


def test_session_bias_learns_day_to_day_moods():
    (X, y, X_test, y_test), offsets = session_ratings()
    params = {**FAST, "factor_l2": 1e-3}
    with_session = CollabFilterRegressor(**params).fit(X, y)
    without = CollabFilterRegressor(**params).fit(X[["user", "item"]], y)
    ours = rmse(y_test, with_session.predict(X_test))
    plain = rmse(y_test, without.predict(X_test[["user", "item"]]))
    assert ours < 0.6 * plain, (ours, plain)
    learned = with_session.side_biases_["session"]
    assert learned.index.name == "session"
    users, sessions = zip(*(key.split("@") for key in learned.index), strict=True)
    truth = offsets[np.array(users, dtype=int), np.array(sessions, dtype=int)]
    assert np.corrcoef(learned.to_numpy(), truth)[0, 1] > 0.85


@pytest.fixture(scope="module")
def sessions():
    return session_ratings()[0]


@pytest.fixture(scope="module")
def fitted_sessions(sessions):
    X, y, _, _ = sessions
    return CollabFilterRegressor(**FAST).fit(X, y)


def test_unknown_side_value_adds_nothing(sessions, fitted_sessions):
    X, _, _, _ = sessions
    model = fitted_sessions
    user, item = X["user"].iloc[0], X["item"].iloc[0]
    with pytest.warns(UnseenCategoriesWarning, match="'session'"):  # one row
        pred = model.predict(
            pd.DataFrame({"user": [user], "item": [item], "session": ["?"]})
        )
    module = model.net_.module_
    score = (
        module.global_bias.item()
        + model.user_bias_[user]
        + model.item_bias_[item]
        + model.user_factors_.loc[user] @ model.item_factors_.loc[item]
    )
    expected = sigmoid_range(torch.tensor(score), *model.y_range_).item()
    np.testing.assert_allclose(pred, [expected], rtol=1e-5)


def test_default_lr_and_batch_size_learn():
    X, y, X_test, y_test = low_rank_ratings(n_users=120, n_items=80, density=0.8)
    model = CollabFilterRegressor(n_factors=8, max_epochs=40, random_state=0)
    model.fit(X, y)
    assert model.batch_size == 1536
    baseline = rmse(y_test, np.full_like(y_test, y.mean()))
    assert rmse(y_test, model.predict(X_test)) < 0.5 * baseline


def test_validation_split_and_early_stopping(ratings):
    X, y, _, _ = ratings
    model = CollabFilterRegressor(
        **{**FAST, "max_epochs": 50}, validation_fraction=0.2, patience=2
    ).fit(X, y)
    assert "valid_loss" in model.history_[-1]
    assert model.n_iter_ <= 50


def test_constant_lr_schedule(ratings):
    X, y, _, _ = ratings
    model = CollabFilterRegressor(**FAST, lr_schedule="constant").fit(X, y)
    assert model.net_.optimizer_.param_groups[0]["lr"] == FAST["lr"]


def _random_ratings(n, seed=0):
    rng = np.random.RandomState(seed)
    X = np.column_stack([rng.randint(0, 30, n), rng.randint(0, 20, n)])
    return X, rng.uniform(1, 5, n)


@pytest.mark.parametrize(
    "n_rows, batch_size, validation_fraction, epochs",
    [
        (40, 32, None, 50),  # 2 batches: 75 epochs for 150 steps, capped at 50
        (330, 32, None, 14),  # 11 batches per epoch
        (330, 32, 0.1, 15),  # 33 rows validate: 297 train in 10 batches
        (2000, 32, None, 4),  # 63 batches: 3 epochs would do, 4 at least
    ],
)
def test_auto_epochs_give_at_least_150_steps(
    n_rows, batch_size, validation_fraction, epochs
):
    """max_epochs="auto": small data gets more epochs, large data 4."""
    X, y = _random_ratings(n_rows)
    model = CollabFilterRegressor(
        n_factors=2,
        batch_size=batch_size,
        validation_fraction=validation_fraction,
        random_state=0,
    ).fit(X, y)
    assert model.max_epochs == "auto"
    assert model.max_epochs_ == model.n_iter_ == len(model.history_) == epochs
    assert isinstance(model.max_epochs_, int)


def test_int_max_epochs_and_patience_with_auto():
    X, y = _random_ratings(330)
    model = CollabFilterRegressor(
        n_factors=2, batch_size=32, max_epochs=3, random_state=0
    ).fit(X, y)
    assert model.max_epochs_ == model.n_iter_ == 3
    stopped = CollabFilterRegressor(
        n_factors=2, batch_size=32, validation_fraction=0.1, patience=1,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    assert stopped.max_epochs_ == 15 and stopped.n_iter_ < 15
    buffer = io.BytesIO()
    sknlp_rnn.save(stopped, buffer)
    buffer.seek(0)
    assert sknlp_rnn.load(buffer).max_epochs_ == 15


@pytest.mark.parametrize("bad", ["many", 0, 2.5, None])
def test_bad_max_epochs(bad):
    with pytest.raises(ValueError, match="max_epochs"):
        CollabFilterRegressor(max_epochs=bad).fit([[1, 2], [2, 1]], [1.0, 2.0])


# -- ids, unknown ids -----------------------------------------------------------


def movie_frame():
    return pd.DataFrame(
        {
            "user": ["ann", "ann", "bob", "bob", "cy", "cy", "cy"],
            "movie": [10, 20, 10, 30, 20, 30, 40],
            "stars": [5.0, 1.0, 4.5, 2.0, 1.5, 2.5, 4.0],
        }
    )


def test_dataframe_with_string_and_int_ids():
    df = movie_frame()
    model = CollabFilterRegressor(**FAST).fit(df[["user", "movie"]], df["stars"])
    assert list(model.feature_names_in_) == ["user", "movie"]
    assert list(model.user_factors_.index) == ["ann", "bob", "cy"]
    assert model.user_factors_.index.name == "user"
    assert list(model.item_factors_.index) == [10, 20, 30, 40]
    assert model.item_factors_.shape == (4, 4)
    assert list(model.item_bias_.index) == [10, 20, 30, 40]
    assert model.recommend("ann").columns.tolist() == ["movie", "predicted_rating"]


def test_negative_and_mixed_type_ids():
    X = np.array([[-1, "a"], [-2, "b"], [-1, "b"], [3.5, "a"]], dtype=object)
    y = [1.0, 2.0, 3.0, 4.0]
    model = CollabFilterRegressor(**FAST).fit(X, y)
    assert list(model.user_factors_.index) == [-2, -1, 3.5]
    assert model.user_factors_.index.name == "user"
    assert model.item_bias_.index.name == "item"
    assert np.isfinite(model.predict(X)).all()


def test_unknown_ids_use_known_side_bias(fitted, ratings):
    X, _, _, _ = ratings
    item = X[0, 1]
    pred = fitted.predict([[-999, item], [X[0, 0], -999], [-999, -999]])
    module = fitted.net_.module_
    g = module.global_bias.detach()
    expected = [
        sigmoid_range(g + fitted.item_bias_[item], *fitted.y_range_),
        sigmoid_range(g + fitted.user_bias_[X[0, 0]], *fitted.y_range_),
        sigmoid_range(g, *fitted.y_range_),
    ]
    np.testing.assert_allclose(pred, [float(e) for e in expected], rtol=1e-5)


def test_a_whole_column_of_unseen_ids_is_warned_about():
    df = movie_frame()
    X = df[["user", "movie"]]
    model = CollabFilterRegressor(**FAST).fit(X, df["stars"])
    # ids fitted as int and passed as str: every movie is unknown
    with pytest.warns(UnseenCategoriesWarning) as record:
        pred = model.predict(X.assign(movie=X["movie"].astype(str)))
    message = str(record[0].message)
    assert len(record) == 1 and "'movie'" in message and "'user'" not in message
    assert "fitted on number values such as 10, got str values" in message
    assert np.isfinite(pred).all()
    # arrays: the columns are named user and item
    array_model = CollabFilterRegressor(**FAST).fit(X.to_numpy(), df["stars"])
    with pytest.warns(UnseenCategoriesWarning, match="'user'.*'item'"):
        array_model.predict(X.to_numpy()[:, ::-1])
    # a few new users or items are ordinary: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnseenCategoriesWarning)
        model.predict(X.assign(user=["new", *X["user"][1:]]))
        array_model.predict(np.array([["dee", 10], ["ann", 99]], dtype=object))
    # a plain list of str and int becomes a str array: the ids are str then
    with pytest.warns(UnseenCategoriesWarning, match="'item' .2 value.s., e.g. '10'"):
        array_model.predict([["dee", 10], ["ann", 99]])


def test_unknown_ids_never_nan_for_mlp(ratings):
    X, y, _, _ = ratings
    params = {**FAST, "max_epochs": 3}
    model = CollabFilterRegressor(model="mlp", **params).fit(X, y)
    pred = model.predict([[-1, X[0, 1]], [X[0, 0], -1], [-1, -1]])
    assert np.isfinite(pred).all()
    with pytest.raises(AttributeError, match="model='dot'"):
        model.user_bias_  # noqa: B018


def test_unknown_slot_stays_zero(fitted):
    module = fitted.net_.module_
    for field in range(2):
        for table in (module.factor_table(field), module.bias_table(field)):
            assert torch.count_nonzero(table[0]) == 0


# -- recommend, similar_items ---------------------------------------------------


def test_recommend_excludes_seen_items(fitted, ratings):
    X, _, _, _ = ratings
    user = X[0, 0]
    seen = set(X[X[:, 0] == user, 1])
    recs = fitted.recommend(user, n=10)
    assert len(recs) == 10
    assert not seen & set(recs["item"])
    assert recs["predicted_rating"].is_monotonic_decreasing
    everything = fitted.recommend(user, n=1000, exclude_seen=False)
    assert len(everything) == len(fitted.ids_[1])
    # ratings match predict
    np.testing.assert_allclose(
        everything["predicted_rating"],
        fitted.predict(
            np.column_stack([np.full(len(everything), user), everything["item"]])
        ),
        rtol=1e-6,
    )
    assert len(fitted.recommend(user, n=1000)) == len(fitted.ids_[1]) - len(seen)


def test_recommend_for_unknown_user_ranks_by_item_bias(fitted):
    recs = fitted.recommend("nobody", n=5)
    assert list(recs["item"]) == list(
        fitted.item_bias_.sort_values(ascending=False).index[:5]
    )


def test_similar_items(fitted):
    item = fitted.ids_[1][0]
    sim = fitted.similar_items(item, n=5)
    assert len(sim) == 5 and item not in set(sim["item"])
    assert sim["similarity"].is_monotonic_decreasing
    factors = fitted.item_factors_
    a, b = factors.loc[item].to_numpy(), factors.loc[sim["item"][0]].to_numpy()
    cosine = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert sim["similarity"][0] == pytest.approx(cosine, rel=1e-6)
    with pytest.raises(ValueError, match="not seen in fit"):
        fitted.similar_items("nope")
    with pytest.raises(ValueError, match="n must be a positive int"):
        fitted.similar_items(item, n=0)


# -- bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    "X, y, error, match",
    [
        ([[1], [2]], [1.0, 2.0], ValueError, "at least two columns"),
        ([1, 2], [1.0, 2.0], ValueError, "Expected 2D array"),
        ([[1.0, np.nan], [2.0, 1.0]], [1.0, 2.0], ValueError, "NaN"),
        (np.array([["a", None], ["b", "c"]], dtype=object), [1, 2], ValueError, "NaN"),
        ([[1, 2], [2, 1]], [1.0, np.nan], ValueError, "y contains NaN"),
        ([[1, 2], [2, 1]], [1.0, np.inf], ValueError, "y contains infinity"),
        ([[1, 2], [2, 1]], [1.0, 1e300], ValueError, "y holds 1e.300 .row 1., beyond"),
        ([[1, 2], [2, 1]], [-1e39, 1.0], ValueError, "beyond the float32 range"),
        (np.empty((0, 2)), [], ValueError, "0 sample"),
        (np.array([[{}, 1], [2, 1]], dtype=object), [1, 2], TypeError, "hashable"),
    ],
)
def test_bad_input(X, y, error, match):
    with pytest.raises(error, match=match):
        CollabFilterRegressor(**FAST).fit(X, y)


def test_rating_outside_explicit_y_range_is_an_error():
    X, y = [[1, 2], [2, 1]], [1.0, 6.0]
    with pytest.raises(ValueError, match=r"outside y_range=\(1, 5\)"):
        CollabFilterRegressor(y_range=(1, 5)).fit(X, y)
    for bad in [(5, 1), (1, 2, 3), ("a", "b")]:
        with pytest.raises(ValueError, match="low < high"):
            CollabFilterRegressor(y_range=bad).fit(X, y)
    model = CollabFilterRegressor(**FAST, y_range=(1, 6)).fit(X, y)  # bounds included
    assert model.y_range_ == (1.0, 6.0)
    preds = CollabFilterRegressor(**FAST, y_range=None).fit(X, y).predict(X)
    assert np.isfinite(preds).all()


def test_auto_y_range_widens_observed_range():
    # the rule shared with EntityEmbeddingRegressor: 10% of the span each side
    model = CollabFilterRegressor(**FAST).fit([[1, 2], [2, 1]], [0.5, 5.0])
    assert model.y_range_ == pytest.approx((0.05, 5.45))
    pred = model.predict([[1, 2], [9, 9]])
    assert ((pred > 0.05) & (pred < 5.45)).all()


def test_single_user():
    X = [["solo", item] for item in "abcdef"]
    y = [1.0, 2.0, 3.0, 4.0, 5.0, 3.0]
    params = {**FAST, "max_epochs": 200, "factor_l2": 0.0}
    model = CollabFilterRegressor(**params).fit(X, y)
    assert rmse(y, model.predict(X)) < 0.3
    assert len(model.recommend("solo")) == 0
    assert len(model.recommend("solo", exclude_seen=False)) == 6


def test_bad_hidden_sizes_and_not_fitted():
    with pytest.raises(ValueError, match="hidden_sizes"):
        CollabFilterRegressor(model="mlp", hidden_sizes=(0,)).fit([[1, 2]], [1.0])
    with pytest.raises(NotFittedError):
        CollabFilterRegressor().predict([[1, 2]])
    with pytest.raises(NotFittedError):
        CollabFilterRegressor().recommend(1)
    assert not hasattr(CollabFilterRegressor(), "user_factors_")


# -- sklearn machinery ----------------------------------------------------------


def test_grid_search(ratings):
    X, y, _, _ = ratings
    grid = GridSearchCV(
        CollabFilterRegressor(**{**FAST, "max_epochs": 10}),
        {"n_factors": [2, 4], "dropout": [0.0, 0.2], "factor_l2": [0.0, 1e-2]},
        cv=2,
        scoring="neg_root_mean_squared_error",
    ).fit(X, y)
    assert set(grid.best_params_) == {"n_factors", "dropout", "factor_l2"}
    assert grid.best_estimator_.net_.module_.factor_table(0).shape[1] in (2, 4)


def test_pipeline_and_clone(ratings):
    X, y, X_test, _ = ratings
    pipe = Pipeline([("cf", CollabFilterRegressor(**FAST))]).fit(X, y)
    np.testing.assert_array_equal(pipe.predict(X_test), pipe[-1].predict(X_test))
    assert not hasattr(clone(pipe[-1]), "net_")


def test_joblib_round_trip_is_exact(fitted, ratings, tmp_path):
    _, _, X_test, _ = ratings
    path = tmp_path / "cf.joblib"
    joblib.dump(fitted, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict(X_test), fitted.predict(X_test))
    pd.testing.assert_frame_equal(
        loaded.recommend(X_test[0, 0]), fitted.recommend(X_test[0, 0])
    )


def test_side_bias_joblib_and_safe_format_round_trips_are_exact(
    sessions, fitted_sessions, tmp_path
):
    _, _, X_test, _ = sessions
    expected = fitted_sessions.predict(X_test)
    joblib.dump(fitted_sessions, tmp_path / "cf.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "cf.joblib").predict(X_test), expected
    )
    sknlp_rnn.save(fitted_sessions, tmp_path / "cf.zip")
    restored = sknlp_rnn.load(tmp_path / "cf.zip")
    np.testing.assert_array_equal(restored.predict(X_test), expected)
    pd.testing.assert_series_equal(
        restored.side_biases_["session"], fitted_sessions.side_biases_["session"]
    )


def test_reproducible(ratings):
    X, y, X_test, _ = ratings
    params = {**FAST, "max_epochs": 5, "dropout": 0.1}
    a = CollabFilterRegressor(**params).fit(X, y).predict(X_test)
    b = CollabFilterRegressor(**params).fit(X, y).predict(X_test)
    c = CollabFilterRegressor(**{**params, "random_state": 1}).fit(X, y).predict(X_test)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# -- implicit feedback (SVD++) ------------------------------------------------


IMPLICIT = {**FAST, "implicit": True}


@pytest.fixture(scope="module")
def fitted_implicit(ratings):
    X, y, _, _ = ratings
    return CollabFilterRegressor(**IMPLICIT, factor_l2=1e-3).fit(X, y)


def test_implicit_table_is_trained_and_lists_come_from_fit(ratings, fitted_implicit):
    X, _, _, _ = ratings
    module = fitted_implicit.net_.module_
    weight = module.implicit_factors.embedding.weight.detach()
    assert weight[0].abs().sum() == 0  # the unknown slot
    assert weight[1:].abs().sum() > 0
    # user row 1 lists the items that user rated in fit
    first = fitted_implicit.ids_[0][0]
    rated = set(X[X[:, 0] == first, 1])
    start, stop = module.implicit_indptr[1:3].tolist()
    items = fitted_implicit.ids_[1][module.implicit_items[start:stop].cpu().numpy() - 1]
    assert set(items) == rated


def test_implicit_reproducible(ratings):
    X, y, X_test, _ = ratings
    params = {**IMPLICIT, "max_epochs": 5}
    a = CollabFilterRegressor(**params).fit(X, y).predict(X_test)
    b = CollabFilterRegressor(**params).fit(X, y).predict(X_test)
    np.testing.assert_array_equal(a, b)


def test_implicit_joblib_and_safe_format_round_trips_are_exact(
    fitted_implicit, ratings, tmp_path
):
    _, _, X_test, _ = ratings
    expected = fitted_implicit.predict(X_test)
    joblib.dump(fitted_implicit, tmp_path / "cf.joblib")
    loaded = joblib.load(tmp_path / "cf.joblib")
    np.testing.assert_array_equal(loaded.predict(X_test), expected)
    sknlp_rnn.save(fitted_implicit, tmp_path / "cf.zip")
    restored = sknlp_rnn.load(tmp_path / "cf.zip")
    np.testing.assert_array_equal(restored.predict(X_test), expected)


def test_grid_search_over_implicit(ratings):
    X, y, _, _ = ratings
    params = {**IMPLICIT, "max_epochs": 3}
    grid = GridSearchCV(
        CollabFilterRegressor(**params), {"implicit": [False, True]}, cv=2
    ).fit(X, y)
    assert set(grid.cv_results_["param_implicit"]) == {False, True}


def test_implicit_needs_the_dot_model(ratings):
    X, y, _, _ = ratings
    with pytest.raises(ValueError, match="implicit=True needs model='dot'"):
        CollabFilterRegressor(model="mlp", implicit=True).fit(X, y)
