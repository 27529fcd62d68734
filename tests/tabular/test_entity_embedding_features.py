"""EntityEmbeddingRegressor.transform: learned embeddings as features."""

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_squared_error
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OrdinalEncoder
from sklearn.utils import estimator_checks as ec

from sknlp_rnn import EntityEmbeddingRegressor
from sknlp_rnn._testing import check_instances
from sknlp_rnn.exceptions import NotFittedError

FAST = {"hidden_sizes": (16,), "max_epochs": 40, "lr": 2e-2, "batch_size": 64}


def model(**params):
    return EntityEmbeddingRegressor(**{**FAST, "random_state": 0, **params})


@pytest.fixture(scope="module")
def fitted(shops_table):
    X, y = shops_table
    X, y = X.copy(), y.copy()
    return X, y, model().fit(X, y)


def test_categories_become_their_embedding_rows_in_column_order(fitted):
    X, _, reg = fitted
    out = reg.transform(X)
    # shop (4 dims), promo (a boolean: categorical, 3 dims), temp as it is
    names = ["shop_0", "shop_1", "shop_2", "shop_3", "promo_0", "promo_1"]
    assert list(reg.get_feature_names_out()) == [*names, "promo_2", "temp"]
    assert out.shape == (len(X), 8) and out.dtype == np.float64
    shop, promo = (t.detach().numpy() for t in reg.net_.module_.embeddings.tables())
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
