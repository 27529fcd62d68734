import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from sknlp_rnn import CategoricalEncoder
from sknlp_rnn.exceptions import UnseenCategoriesWarning


def test_codes_start_at_one_and_zero_is_unknown_or_missing():
    X = pd.DataFrame({"c": ["b", "a", None, "b"], "v": [1.0, 2.0, 3.0, 4.0]})
    enc = CategoricalEncoder().fit(X)
    assert enc.is_categorical_.tolist() == [True, False]
    assert list(enc.categories_[0]) == ["a", "b"]
    assert enc.cardinalities_ == [3]
    out = enc.transform(pd.DataFrame({"c": ["a", "b", "zz", np.nan], "v": [0.0] * 4}))
    assert out[:, 0].tolist() == [1, 2, 0, 0]
    assert out[:, 1].tolist() == [0.0] * 4


def test_a_whole_column_of_unseen_categories_is_warned_about():
    X = pd.DataFrame({"c": ["a", "b", "c", "d"], "k": ["x", "y", "x", "y"]})
    enc = CategoricalEncoder().fit(X)
    numbers = pd.DataFrame({"c": [1, 2, None, 4], "k": ["x", "y", "z", None]})
    with pytest.warns(UnseenCategoriesWarning) as record:
        out = enc.transform(numbers)
    assert len(record) == 1
    message = str(record[0].message)
    assert message.startswith("CategoricalEncoder: no value of column(s) 'c' (3 ")
    assert "fitted on str values such as 'a', got number values" in message
    assert "'k'" not in message
    assert out[:, 0].tolist() == [0, 0, 0, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnseenCategoriesWarning)
        enc.transform(pd.DataFrame({"c": ["zz", "a"], "k": ["q", "x"]}))  # a few
        enc.transform(pd.DataFrame({"c": [None, np.nan], "k": ["x", "y"]}))  # missing
        # a column that held no category in fit has nothing to compare with
        empty = CategoricalEncoder(categorical_features="all").fit(
            pd.DataFrame({"c": pd.Series([None, None], dtype=object)})
        )
        empty.transform(pd.DataFrame({"c": ["a", "b"]}))


def test_all_categorical_output_is_int64():
    X = np.array([["x", "p"], ["y", "q"], ["x", "q"]], dtype=object)
    out = CategoricalEncoder().fit_transform(X)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [[1, 1], [2, 2], [1, 2]])


@pytest.mark.parametrize(
    ("min_frequency", "expected"), [(2, [1, 1, 0, 2, 2, 0]), (0.3, [1, 1, 0, 2, 2, 0])]
)
def test_min_frequency_maps_rare_categories_to_zero(min_frequency, expected):
    X = pd.DataFrame({"c": ["a", "a", "r", "b", "b", "s"]})
    enc = CategoricalEncoder(min_frequency=min_frequency).fit(X)
    assert list(enc.categories_[0]) == ["a", "b"]
    assert enc.cardinalities_ == [3]
    assert enc.transform(X)[:, 0].tolist() == expected


def test_category_dtype_keeps_declared_order_and_unused_levels_map_to_zero():
    dtype = pd.CategoricalDtype(["low", "mid", "high", "never"], ordered=True)
    X = pd.DataFrame({"c": pd.Series(["high", "low", "mid", "high"], dtype=dtype)})
    enc = CategoricalEncoder().fit(X)
    assert list(enc.categories_[0]) == ["low", "mid", "high"]
    new = pd.DataFrame({"c": pd.Series(["never", "mid", None], dtype=dtype)})
    assert enc.transform(new)[:, 0].tolist() == [0, 2, 0]
    empty = pd.DataFrame({"c": pd.Series([None, None], dtype=dtype)})
    enc = CategoricalEncoder().fit(empty)
    assert enc.cardinalities_ == [1]
    assert enc.transform(new)[:, 0].tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    "column",
    [
        pd.Series(["u", "v", None, "u"]),  # default string dtype (pandas 3: str)
        pd.Series(["u", "v", pd.NA, "u"], dtype="string"),
        pd.Series(["u", "v", None, "u"], dtype=object),
        pd.Series(["u", "v", None, "u"], dtype="category"),
    ],
)
def test_string_like_dtypes_and_missing_markers(column):
    enc = CategoricalEncoder().fit(pd.DataFrame({"c": column}))
    assert enc.is_categorical_.tolist() == [True]
    assert enc.transform(pd.DataFrame({"c": column}))[:, 0].tolist() == [1, 2, 0, 1]


def test_bool_and_nullable_bool_columns_are_categorical():
    X = pd.DataFrame(
        {
            "b": [True, False, True],
            "nb": pd.Series([True, pd.NA, False], dtype="boolean"),
            "v": [1.0, 2.0, 3.0],
        }
    )
    enc = CategoricalEncoder().fit(X)
    assert enc.is_categorical_.tolist() == [True, True, False]
    out = enc.transform(X)
    assert out[:, 0].tolist() == [2, 1, 2]
    assert out[:, 1].tolist() == [2, 0, 1]


def test_integer_coded_categories_need_naming():
    X = pd.DataFrame({"store": [10, 20, 10, 30], "v": [0.5, 1.5, 2.5, 3.5]})
    assert not CategoricalEncoder().fit(X).is_categorical_.any()
    enc = CategoricalEncoder(categorical_features=["store"]).fit(X)
    assert list(enc.categories_[0]) == [10, 20, 30]
    assert enc.transform(pd.DataFrame({"store": [30, 99], "v": [0.0, 0.0]}))[
        :, 0
    ].tolist() == [3, 0]


@pytest.mark.parametrize(
    "spec", [["b"], [1], [-2], [False, True, False], np.array([False, True, False])]
)
def test_column_selection_by_name_position_and_mask(spec):
    X = pd.DataFrame({"a": [1, 2], "b": [3, 4], "c": [5.0, 6.0]})
    enc = CategoricalEncoder(categorical_features=spec).fit(X)
    assert enc.is_categorical_.tolist() == [False, True, False]


def test_all_selects_every_column():
    X = np.array([[1.0, 2.0], [1.0, 3.0]])
    enc = CategoricalEncoder(categorical_features="all").fit(X)
    np.testing.assert_array_equal(enc.transform(X), [[1, 1], [1, 2]])
    assert enc.cardinalities_ == [2, 3]


@pytest.mark.parametrize(
    ("spec", "X", "match"),
    [
        (["nope"], pd.DataFrame({"a": [1]}), "'nope'"),
        (["a"], np.array([[1]]), "no column names"),
        ([5], np.array([[1, 2]]), "out of range"),
        ([True], np.array([[1, 2]]), "boolean mask"),
        ([1.5], np.array([[1, 2]]), "must be"),
    ],
)
def test_bad_column_selection(spec, X, match):
    with pytest.raises(ValueError, match=match):
        CategoricalEncoder(categorical_features=spec).fit(X)


def test_feature_names_and_pandas_output_keep_dtypes_and_index():
    X = pd.DataFrame(
        {"c": ["a", "b", "a"], "v": [1.5, 2.5, 3.5], "s": ["x", "y", "x"]},
        index=[7, 8, 9],
    )
    enc = CategoricalEncoder(categorical_features=["c"]).set_output(transform="pandas")
    out = enc.fit_transform(X)
    assert list(enc.get_feature_names_out()) == ["c", "v", "s"]
    assert list(out.columns) == ["c", "v", "s"]
    assert list(out.index) == [7, 8, 9]
    assert out["c"].dtype == np.int64
    assert out["v"].dtype == np.float64
    assert out["s"].tolist() == ["x", "y", "x"]


def test_array_input_feature_names():
    enc = CategoricalEncoder().fit(np.array([["a", "b"]], dtype=object))
    assert list(enc.get_feature_names_out()) == ["x0", "x1"]


def test_missing_or_extra_column_at_transform_is_named():
    X = pd.DataFrame({"c": ["a", "b"], "v": [1.0, 2.0]})
    enc = CategoricalEncoder().fit(X)
    with pytest.raises(ValueError, match="v"):
        enc.transform(X[["c"]])
    with pytest.raises(ValueError, match="extra"):
        enc.transform(X.assign(extra=1.0))
    with pytest.raises(ValueError, match="2 features"):
        CategoricalEncoder().fit(X.to_numpy()).transform(np.array([["a"]]))


def test_single_level_all_missing_and_one_row():
    X = pd.DataFrame(
        {"one": ["k", "k", "k"], "none": pd.Series([None] * 3, dtype=object)}
    )
    enc = CategoricalEncoder(categorical_features="all").fit(X)
    assert enc.cardinalities_ == [2, 1]
    np.testing.assert_array_equal(enc.transform(X), [[1, 0]] * 3)
    row = pd.DataFrame({"c": ["z"]})
    assert CategoricalEncoder().fit(row).transform(row).tolist() == [[1]]


def test_bad_input():
    enc = CategoricalEncoder()
    with pytest.raises(ValueError, match="0 sample"):
        enc.fit(pd.DataFrame({"c": pd.Series([], dtype=object)}))
    with pytest.raises(ValueError, match="min_frequency"):
        CategoricalEncoder(min_frequency=0).fit([["a"]])
    with pytest.raises(TypeError, match="sparse"):
        from scipy import sparse

        enc.fit(sparse.csr_matrix(np.eye(2)))


def test_clone_keeps_params():
    enc = CategoricalEncoder(categorical_features=["a"], min_frequency=3)
    assert clone(enc).get_params() == enc.get_params()
