import io
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
import torch
from sklearn.compose import make_column_transformer
from sklearn.dummy import DummyRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OrdinalEncoder
from sklearn.utils import estimator_checks as ec

from sknlp_rnn import DateFeatures, EntityEmbeddingRegressor
from sknlp_rnn._testing import check_instances
from sknlp_rnn.exceptions import NotFittedError, UnseenCategoriesWarning

FAST = {"hidden_sizes": (16,), "max_epochs": 40, "lr": 2e-2, "batch_size": 64}


def model(**params):
    return EntityEmbeddingRegressor(**{**FAST, "random_state": 0, **params})


@pytest.fixture(scope="module")
def fitted(shops_table):
    """The shops table and a regressor trained on it (shared, read-only)."""
    X, y = shops_table
    X, y = X.copy(), y.copy()
    return X, y, model().fit(X, y)


def test_learns_category_effects_far_better_than_a_baseline(fitted):
    X, y, reg = fitted
    assert reg.encoder_.is_categorical_.tolist() == [True, True, False]
    baseline = DummyRegressor().fit(X, y).score(X, y)
    assert baseline < 0.01
    assert reg.score(X, y) > 0.95
    assert reg.n_iter_ == FAST["max_epochs"]


def test_embeddings_are_frames_indexed_by_category(fitted):
    X, y, reg = fitted
    assert set(reg.embeddings_) == {"shop", "promo"}
    shop = reg.embeddings_["shop"]
    assert list(shop.index) == ["<unknown>", "a", "b", "c", "d"]
    # fast.ai rule with the unknown slot counted: round(1.6 * 5 ** 0.56) = 4
    assert reg.embedding_sizes_ == {"shop": 4, "promo": 3}
    assert shop.shape == (5, 4)
    weights = reg.net_.module_.embeddings.tables()[0].detach().cpu().numpy()
    np.testing.assert_allclose(shop.to_numpy(), weights)


def test_embedding_sizes_dict_overrides_the_rule(shops):
    X, y = shops
    reg = model(max_epochs=1, embedding_sizes={"shop": 7}).fit(X, y)
    assert reg.embedding_sizes_ == {"shop": 7, "promo": 3}
    reg = model(max_epochs=1, embedding_sizes={0: 2}).fit(X, y)
    assert reg.embedding_sizes_["shop"] == 2
    with pytest.raises(ValueError, match="'temp'.*not a categorical"):
        model(embedding_sizes={"temp": 2}).fit(X, y)
    with pytest.raises(ValueError, match="positive int"):
        model(embedding_sizes={"shop": 0}).fit(X, y)


def test_min_frequency_sends_rare_categories_to_the_unknown_row(shops):
    X, y = shops
    X = X.assign(shop=np.where(np.arange(len(X)) < 3, "rare", X["shop"]))
    reg = model(max_epochs=1, min_frequency=5).fit(X, y)
    assert list(reg.embeddings_["shop"].index) == ["<unknown>", "a", "b", "c", "d"]
    rare, unknown = X.iloc[:1], X.iloc[:1].assign(shop="never seen")
    with pytest.warns(UnseenCategoriesWarning, match="'shop'"):
        from_unknown = reg.predict(unknown)
    np.testing.assert_array_equal(reg.predict(rare), from_unknown)  # seen: no warning


def test_unseen_and_missing_categories_use_the_unknown_slot(fitted):
    X, y, reg = fitted
    rows = X.iloc[:3].copy()
    unseen = rows.assign(shop=["zzz", "yyy", "xxx"])
    missing = rows.assign(shop=[None, np.nan, None])
    with pytest.warns(UnseenCategoriesWarning, match="'shop'"):
        pred = reg.predict(unseen)
    assert np.isfinite(pred).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnseenCategoriesWarning)  # missing is not unseen
        np.testing.assert_array_equal(pred, reg.predict(missing))
        # one unseen value among seen ones is an ordinary new category
        reg.predict(rows.assign(shop=["zzz", "a", None]))


def test_a_whole_column_of_unseen_categories_is_warned_about(fitted):
    X, y, reg = fitted
    rows = X.iloc[:5]
    # categories fitted as "a".."d", passed as 1..4: all unknown, so warned
    as_numbers = rows.assign(shop=rows["shop"].map({"a": 1, "b": 2, "c": 3, "d": 4}))
    with pytest.warns(UnseenCategoriesWarning) as record:
        pred = reg.predict(as_numbers)
    assert len(record) == 1
    message = str(record[0].message)
    assert "EntityEmbeddingRegressor" in message and "'shop'" in message
    assert "fitted on str values such as 'a', got number values" in message
    assert "'promo'" not in message
    assert np.isfinite(pred).all()


def test_nan_and_inf_in_continuous_columns_are_imputed(shops):
    X, y = shops
    X = X.copy()
    X.loc[:9, "temp"] = np.nan
    X.loc[10:14, "temp"] = np.inf
    reg = model(max_epochs=5).fit(X, y)
    # one missing-indicator column joins the continuous inputs
    assert reg.n_continuous_ == 2
    new = X.iloc[20:23].copy()
    with_nan = new.assign(temp=np.nan)
    with_inf = new.assign(temp=[np.inf, -np.inf, np.nan])
    np.testing.assert_array_equal(reg.predict(with_nan), reg.predict(with_inf))
    assert np.isfinite(reg.predict(X)).all()


def test_finite_values_beyond_float32_are_imputed_like_inf(fitted, shops):
    X, y, reg = fitted
    new = X.iloc[20:24].copy()
    with_inf = new.assign(temp=[np.inf, -np.inf, np.inf, -np.inf])
    huge = new.assign(temp=[1e300, -1e300, 1e39, -3.5e38])
    np.testing.assert_array_equal(reg.predict(huge), reg.predict(with_inf))
    assert np.isfinite(reg.predict(huge)).all()
    # in fit too: the huge training values are imputed, as inf would be
    X, y = shops
    X_inf, X_huge = X.copy(), X.copy()
    X_inf.loc[:4, "temp"] = np.inf
    X_huge.loc[:4, "temp"] = [1e300, -1e300, 1e39, np.finfo(np.float64).max, -1e39]
    fit_inf, fit_huge = (
        model(max_epochs=3).fit(X_inf, y),
        model(max_epochs=3).fit(X_huge, y),
    )
    np.testing.assert_array_equal(fit_huge.predict(X_huge), fit_inf.predict(X_inf))
    assert np.isfinite(fit_huge.predict(X_huge)).all()


def test_values_that_overflow_once_standardised_give_finite_predictions(shops):
    X, y = shops
    X = X.assign(temp=X["temp"] * 1e-6)  # a small scale: 3e38 / 1e-6 > float32
    reg = model(max_epochs=3).fit(X, y)
    new = X.iloc[:3].assign(temp=[3e38, -3e38, 1e38])
    assert np.isfinite(reg.predict(new)).all()


@pytest.mark.parametrize("huge", [1e39, -1e300, np.finfo(np.float64).max])
def test_target_beyond_float32_raises(shops, huge):
    X, y = shops
    y = y.copy()
    y[3] = huge
    with pytest.raises(ValueError, match=r"y holds .* \(row 3\), beyond the float32"):
        model().fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_target_raises(shops, bad):
    X, y = shops
    y = y.copy()
    y[3] = bad
    with pytest.raises(ValueError, match="y contains"):
        model().fit(X, y)


def test_missing_or_extra_column_at_predict_is_named(shops):
    X, y = shops
    reg = model(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="temp"):
        reg.predict(X[["shop", "promo"]])
    with pytest.raises(ValueError, match="surplus"):
        reg.predict(X.assign(surplus=1.0))
    arr = model(max_epochs=1, categorical_features=[0]).fit(X.to_numpy(), y)
    with pytest.raises(ValueError, match="2 features.*expecting 3"):
        arr.predict(X.to_numpy()[:, :2])


def test_single_level_and_all_nan_columns(shops):
    X, y = shops
    X = X.assign(
        const=["k"] * len(X),
        empty_cat=pd.Series([None] * len(X), dtype=object),
        empty_num=np.nan,
    )
    reg = model(max_epochs=3, categorical_features=["shop", "const", "empty_cat"])
    reg.fit(X, y)
    assert reg.encoder_.cardinalities_ == [5, 2, 1]
    assert list(reg.embeddings_["const"].index) == ["<unknown>", "k"]
    assert reg.embeddings_["empty_cat"].shape[0] == 1
    assert np.isfinite(reg.predict(X)).all()


def test_one_row_fit_and_single_row_last_batch(shops):
    X, y = shops
    for batch_norm in ("continuous", "all"):
        reg = model(max_epochs=2, batch_norm=batch_norm).fit(X.iloc[:1], y[:1])
        assert np.isfinite(reg.predict(X)).all()
    # 33 rows with batches of 32: the last training batch holds one row
    reg = model(max_epochs=2, batch_norm="all").fit(X.iloc[:33], y[:33])
    assert np.isfinite(reg.predict(X)).all()


def test_target_shapes(shops):
    X, y = shops
    assert model(max_epochs=2).fit(X, y).predict(X).shape == (len(X),)
    col = model(max_epochs=2).fit(X, y[:, None])
    assert col.predict(X).shape == (len(X), 1)
    two = model(max_epochs=20).fit(X, np.column_stack([y, -2 * y]))
    pred = two.predict(X)
    assert pred.shape == (len(X), 2) and two.n_outputs_ == 2
    assert np.corrcoef(pred[:, 0], y)[0, 1] > 0.95
    assert np.corrcoef(pred[:, 1], -2 * y)[0, 1] > 0.95


def test_log_target(shops):
    X, y = shops
    positive = np.exp(y / 2)
    reg = model(log_target=True, max_epochs=20).fit(X, positive)
    pred = reg.predict(X)
    assert (pred > 0).all()
    assert np.median(np.abs(np.log(pred) - y / 2)) < 0.1
    with pytest.raises(ValueError, match="strictly positive"):
        model(log_target=True).fit(X, y - 10)


def test_y_range(fitted):
    X, y, unbounded = fitted
    assert unbounded.y_range_ is None  # the default
    reg = model(y_range="auto", max_epochs=2).fit(X, y)
    low, high = reg.y_range_
    span = y.max() - y.min()
    np.testing.assert_allclose(low, [y.min() - 0.1 * span])
    np.testing.assert_allclose(high, [y.max() + 0.1 * span])
    tight = model(y_range=(y.min(), y.min() + 1.1 * span), max_epochs=5).fit(X, y)
    pred = tight.predict(X)
    assert pred.min() >= y.min() and pred.max() <= y.min() + 1.1 * span
    with pytest.raises(ValueError, match="outside y_range"):
        model(y_range=(0.0, 1.0)).fit(X, y)
    assert model(y_range=None, max_epochs=2).fit(X, y).y_range_ is None
    logged = model(log_target=True, y_range="auto", max_epochs=2).fit(X, np.exp(y))
    np.testing.assert_allclose(logged.y_range_[1], np.exp(y.max() + 0.1 * span))
    with pytest.raises(ValueError, match="low < high"):
        model(y_range=(1.0, 0.0)).fit(X, y)
    with pytest.raises(ValueError, match="positive"):
        model(y_range=(0.0, 5.0), log_target=True).fit(X, np.exp(y))


def test_plain_mlp_on_numeric_arrays():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 3))
    y = np.sin(X[:, 0]) + X[:, 1] ** 2
    reg = model(hidden_sizes=(32, 32)).fit(X, y)
    assert reg.embeddings_ == {}
    assert reg.encoder_.cardinalities_ == []
    assert reg.score(X, y) > 0.9


def test_architecture_validation(shops):
    X, y = shops
    with pytest.raises(ValueError, match="dropout has 1 values for 2 hidden"):
        model(hidden_sizes=(4, 4), dropout=(0.1,)).fit(X, y)
    with pytest.raises(ValueError, match="hidden_sizes"):
        model(hidden_sizes=(4, 0)).fit(X, y)
    with pytest.raises(ValueError, match="dropout values"):
        model(hidden_sizes=(4,), dropout=(1.5,)).fit(X, y)
    reg = model(hidden_sizes=(8, 4), dropout=(0.1, 0.2), max_epochs=1).fit(X, y)
    layers = [type(m).__name__ for m in reg.net_.module_.layers]
    assert layers == ["Linear", "ReLU", "Dropout"] * 2 + ["Linear"]
    drops = [m.p for m in reg.net_.module_.layers if type(m).__name__ == "Dropout"]
    assert drops == [0.1, 0.2]
    bn = model(hidden_sizes=(8,), batch_norm="all", max_epochs=1).fit(X, y)
    names = [type(m).__name__ for m in bn.net_.module_.layers]
    assert names == ["Linear", "ReLU", "SingleRowBatchNorm1d", "Linear"]
    assert isinstance(reg.net_.module_.bn_continuous, torch.nn.Identity)
    cont = model(batch_norm="continuous", max_epochs=1).fit(X, y)
    assert cont.net_.module_.bn_continuous.num_features == 1
    linear = model(hidden_sizes=(), max_epochs=1).fit(X, y)
    assert np.isfinite(linear.predict(X)).all()


def test_non_numeric_continuous_column_is_named():
    X = pd.DataFrame({"s": ["a", "b"], "d": pd.to_datetime(["2020-01-01"] * 2)})
    with pytest.raises(TypeError, match="'s'.*not numeric"):
        model(categorical_features=[]).fit(X, [1.0, 2.0])
    with pytest.raises(TypeError, match="'d'.*DateFeatures"):
        model().fit(X, [1.0, 2.0])


def test_pandas_dtypes_category_nullable_and_bool():
    X = pd.DataFrame(
        {
            "cat": pd.Series(["x", "y", "x", "z"] * 10, dtype="category"),
            "s": pd.Series(["p", pd.NA, "q", "p"] * 10, dtype="string"),
            "flag": [True, False] * 20,
            "n": pd.Series([1, pd.NA, 3, 4] * 10, dtype="Int64"),
        }
    )
    y = np.arange(40, dtype=float)
    reg = model(max_epochs=2).fit(X, y)
    assert reg.encoder_.is_categorical_.tolist() == [True, True, True, False]
    assert list(reg.embeddings_["cat"].index) == ["<unknown>", "x", "y", "z"]
    assert np.isfinite(reg.predict(X)).all()


def test_reproducible_with_random_state(shops):
    X, y = shops
    a = model(max_epochs=3, dropout=0.2).fit(X, y).predict(X)
    b = model(max_epochs=3, dropout=0.2).fit(X, y).predict(X)
    c = model(max_epochs=3, dropout=0.2, random_state=1).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_joblib_round_trip_is_exact(shops):
    X, y = shops
    reg = model(max_epochs=2).fit(X, y)
    buffer = io.BytesIO()
    joblib.dump(reg, buffer)
    buffer.seek(0)
    loaded = joblib.load(buffer)
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    pd.testing.assert_frame_equal(loaded.embeddings_["shop"], reg.embeddings_["shop"])


def test_validation_split_and_early_stopping(shops):
    X, y = shops
    reg = model(max_epochs=30, validation_fraction=0.25, patience=2).fit(X, y)
    assert "valid_loss" in reg.history_[-1]
    assert reg.n_iter_ <= 30


def test_lr_schedule(fitted, shops):
    X, y, reg = fitted
    # one-cycle: ends far below the peak rate
    assert reg.net_.optimizer_.param_groups[0]["lr"] < FAST["lr"] / 100
    lrs = [batch["event_lr"] for epoch in reg.history_ for batch in epoch["batches"]]
    assert max(lrs) == pytest.approx(FAST["lr"], rel=0.05)
    assert lrs[0] == pytest.approx(FAST["lr"] / 25, rel=0.05)
    flat = model(lr_schedule="constant", max_epochs=2).fit(*shops)
    assert flat.net_.optimizer_.param_groups[0]["lr"] == FAST["lr"]


def test_mixed_precision_on_cpu(shops):
    X, y = shops
    reg = model(precision="bf16").fit(X, y)
    assert reg.predict(X).dtype == np.float64
    assert reg.score(X, y) > 0.9
    with pytest.raises(ValueError, match="fp16"):
        model(precision="fp16", device="cpu").fit(X, y)


def test_verbose_prints_epochs(shops, capsys):
    X, y = shops
    model(max_epochs=2, verbose=1).fit(X, y)
    assert "train_loss" in capsys.readouterr().out


def test_pipeline_with_date_features():
    rng = np.random.RandomState(0)
    days = pd.date_range("2021-01-01", periods=140, freq="D")
    X = pd.DataFrame(
        {
            "date": days,
            "shop": rng.choice(["a", "b"], size=140),
            "temp": rng.normal(size=140),
        }
    )
    weekend = (days.day_of_week >= 5).astype(float)
    y = 2.0 * weekend + (X["shop"] == "b") + 0.3 * X["temp"]
    X.loc[[3, 50], "date"] = pd.NaT  # missing dates: NaN parts, handled downstream
    pipe = make_pipeline(
        DateFeatures(parts=("dayofweek", "month", "elapsed")).set_output(
            transform="pandas"
        ),
        model(categorical_features=["date_dayofweek", "shop"], batch_size=32),
    )
    pipe.fit(X, y)
    reg = pipe[-1]
    assert list(reg.feature_names_in_) == [
        "date_dayofweek",
        "date_month",
        "date_elapsed",
        "shop",
        "temp",
    ]
    assert len(reg.embeddings_["date_dayofweek"]) == 8
    assert reg.n_continuous_ == 5  # month, elapsed, temp + 2 missing indicators
    assert pipe.score(X, y) > 0.9


def test_names_after_a_numpy_step_point_to_set_output():
    X = pd.DataFrame(
        {
            "date": pd.date_range("2021-01-01", periods=60, freq="D"),
            "shop": ["a", "b", "c"] * 20,
        }
    )
    y = (np.arange(60.0) % 3) + (X["date"].dt.day_of_week >= 5)
    steps = [
        ("dates", DateFeatures(parts=("dayofweek", "month"))),
        (
            "model",
            model(categorical_features=["date_dayofweek", "shop"], max_epochs=3),
        ),
    ]
    with pytest.raises(ValueError, match=r'set_output\(transform="pandas"\)'):
        Pipeline(steps).fit(X, y)
    pipe = Pipeline(steps).set_output(transform="pandas").fit(X, y)
    assert list(pipe[-1].embeddings_) == ["date_dayofweek", "shop"]
    assert pipe.predict(X).shape == (60,)


def test_pipeline_with_numpy_output_between_steps():
    X = pd.DataFrame(
        {
            "date": pd.date_range("2021-01-01", periods=60, freq="D"),
            "shop": ["a", "b", "c"] * 20,
        }
    )
    y = np.arange(60.0) % 3
    pipe = make_pipeline(DateFeatures(parts=("dayofweek",)), model(max_epochs=3))
    pipe.fit(X, y)
    # the object array from DateFeatures: strings are categorical, floats are not
    assert pipe[-1].encoder_.is_categorical_.tolist() == [False, True]
    assert pipe.predict(X).shape == (60,)


def test_grid_search_over_hidden_sizes_and_dropout(shops):
    X, y = shops
    grid = GridSearchCV(
        model(max_epochs=5),
        {"hidden_sizes": [(8,), (16, 8)], "dropout": [0.0, 0.3]},
        cv=2,
    )
    grid.fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert grid.best_params_["hidden_sizes"] in [(8,), (16, 8)]
    assert np.isfinite(grid.predict(X)).all()


# -- transform: the learned embeddings as features ----------------------------


def test_categories_become_their_embedding_rows_in_column_order(fitted):
    X, _, reg = fitted
    out = reg.transform(X)
    # shop (4 dims), promo (a boolean: categorical, 3 dims), temp as it is
    names = ["shop_0", "shop_1", "shop_2", "shop_3", "promo_0", "promo_1"]
    assert list(reg.get_feature_names_out()) == [*names, "promo_2", "temp"]
    assert out.shape == (len(X), 8) and out.dtype == np.float64
    tables = reg.net_.module_.embeddings.tables()
    shop, promo = (t.detach().cpu().numpy() for t in tables)
    codes = reg.encoder_.transform(X)[:, :2].astype(int)
    np.testing.assert_array_equal(out[:, :4], shop[codes[:, 0]])
    np.testing.assert_array_equal(out[:, 4:7], promo[codes[:, 1]])
    np.testing.assert_array_equal(out[0, :4], reg.embeddings_["shop"].loc[X["shop"][0]])
    np.testing.assert_array_equal(out[:, 7], X["temp"])  # raw, not standardised


def test_unknown_missing_and_non_finite_values(fitted):
    X, _, reg = fitted
    rows = X.iloc[:3].assign(shop=["never seen", None, "a"])
    rows["temp"] = [np.nan, np.inf, 1.5]
    out = reg.transform(rows)
    unknown = reg.embeddings_["shop"].loc["<unknown>"].to_numpy()
    np.testing.assert_array_equal(out[:2, :4], [unknown, unknown])
    np.testing.assert_array_equal(out[2, :4], reg.embeddings_["shop"].loc["a"])
    np.testing.assert_array_equal(out[:, 7], [np.nan, np.nan, 1.5])


def test_pandas_output_and_names_for_arrays(fitted):
    X, y, reg = fitted
    rows = X.iloc[5:8]
    frame = reg.set_output(transform="pandas").transform(rows)
    reg.set_output(transform="default")
    assert list(frame.columns) == list(reg.get_feature_names_out())
    assert list(frame.index) == [5, 6, 7]
    np.testing.assert_array_equal(frame.to_numpy(), reg.transform(rows))
    with sklearn.config_context(transform_output="pandas"):  # global, fit included
        assert isinstance(model(max_epochs=1).fit(X, y).transform(rows), pd.DataFrame)
    on_array = model(max_epochs=1, categorical_features=[0]).fit(X.to_numpy(), y)
    assert list(on_array.get_feature_names_out()) == [
        "x0_0", "x0_1", "x0_2", "x0_3", "x1", "x2"
    ]  # fmt: skip
    assert on_array.get_feature_names_out(["s", "p", "t"])[0] == "s_0"


# scikit-learn's output-container checks, which parametrize_with_checks (in
# tests/test_common.py) does not yield; they fit on arrays and transform frames
# (and the reverse), which sklearn rightly warns about
@pytest.mark.filterwarnings("ignore:X (has|does not have valid) feature names")
@pytest.mark.parametrize(
    "check",
    [
        ec.check_set_output_transform,
        ec.check_set_output_transform_pandas,
        ec.check_global_output_transform_pandas,
        ec.check_transformer_get_feature_names_out,
        ec.check_transformer_get_feature_names_out_pandas,
    ],
    ids=lambda check: check.__name__,
)
def test_sklearn_output_checks(check):
    est = check_instances(EntityEmbeddingRegressor)[0]
    check(type(est).__name__, est)


def test_transform_needs_a_fitted_model(shops):
    X, _ = shops
    with pytest.raises(NotFittedError):
        model().transform(X)
    with pytest.raises(NotFittedError):
        model().get_feature_names_out()


def test_embeddings_feed_gradient_boosting_in_a_pipeline(shops):
    X, y = shops
    pipe = Pipeline(
        [
            ("embed", model(max_epochs=10)),
            ("hgb", HistGradientBoostingRegressor(max_iter=20, random_state=0)),
        ]
    )
    pred = pipe.fit(X, y).predict(X)
    assert pred.shape == y.shape
    assert pipe.named_steps["hgb"].n_features_in_ == 8
    assert pipe.score(X, y) > 0.9


def test_embeddings_of_a_high_cardinality_category_carry_its_effect():
    # 300 stores (more than the 255 categories gradient boosting handles
    # natively), each with its own effect, ~7 training rows per store
    rng = np.random.RandomState(0)
    effect, store = rng.normal(size=300), rng.randint(300, size=3000)
    temp = rng.normal(size=3000)
    X = pd.DataFrame({"store": [f"s{k}" for k in store], "temp": temp})
    y = effect[store] + 0.5 * temp + 0.3 * rng.normal(size=3000)
    train, test = slice(0, 2000), slice(2000, None)
    hgb = HistGradientBoostingRegressor(random_state=0)
    embedded = make_pipeline(model(max_epochs=20), hgb)
    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    coded = make_pipeline(
        make_column_transformer((ordinal, ["store"]), remainder="passthrough"), hgb
    )
    errors = {}
    for name, pipe in [("embedded", embedded), ("coded", coded)]:
        pipe.fit(X[train], y[train])
        errors[name] = mean_squared_error(y[test], pipe.predict(X[test]))
    # measured: 0.135 against 0.599 for the codes and 1.294 for the mean
    assert errors["embedded"] < 0.5 * errors["coded"]
    assert errors["embedded"] < 0.2 * np.var(y[test])
