import numpy as np
import pandas as pd
import pytest

from sknlp_rnn import DateFeatures
from sknlp_rnn.tabular._dates import DATE_PARTS


def frame():
    return pd.DataFrame(
        {
            "when": pd.to_datetime(["2015-07-31", "2016-01-01", None]),
            "shop": ["a", "b", "c"],
        }
    )


def test_parts_of_known_dates():
    out = DateFeatures().set_output(transform="pandas").fit_transform(frame())
    first = out.iloc[0]
    # 2015-07-31 is a Friday, the last day of July, in ISO week 31.
    assert first["when_year"] == 2015
    assert first["when_month"] == 7
    assert first["when_week"] == 31
    assert first["when_day"] == 31
    assert first["when_dayofweek"] == 4
    assert first["when_dayofyear"] == 212
    assert first["when_is_month_end"] == 1
    assert first["when_is_month_start"] == 0
    assert first["when_is_quarter_end"] == 0
    assert first["when_is_year_start"] == 0
    assert first["when_elapsed"] == pd.Timestamp("2015-07-31").timestamp()
    second = out.iloc[1]
    assert second["when_is_year_start"] == 1
    assert second["when_is_quarter_start"] == 1
    assert second["when_week"] == 53  # ISO week of 2016-01-01
    assert out["shop"].tolist() == ["a", "b", "c"]


def test_missing_date_gives_nan_in_every_part():
    out = DateFeatures().set_output(transform="pandas").fit_transform(frame())
    parts = out.drop(columns="shop").iloc[2]
    assert parts.isna().all()
    assert len(parts) == len(DATE_PARTS)


def test_feature_names_out_and_order():
    dates = DateFeatures(parts=("year", "month")).fit(frame())
    assert list(dates.get_feature_names_out()) == ["when_year", "when_month", "shop"]
    keep = DateFeatures(parts=("day",), drop=False).fit(frame())
    assert list(keep.get_feature_names_out()) == ["when", "when_day", "shop"]
    out = keep.set_output(transform="pandas").transform(frame())
    assert out["when"].dtype.kind == "M"


def test_string_dates_are_parsed_when_named():
    X = pd.DataFrame({"d": ["2020-02-29", "2021-03-01", None], "v": [1.0, 2.0, 3.0]})
    assert not DateFeatures().fit(X).is_date_.any()
    out = DateFeatures(date_columns=["d"], parts=("month", "day")).fit_transform(X)
    np.testing.assert_array_equal(out[:2], [[2, 29, 1], [3, 1, 2]])
    assert np.isnan(out[2, :2]).all()


def test_several_date_columns_and_arrays():
    X = np.array(
        [["2020-01-01", "2020-06-30"], ["2021-12-31", "2022-01-01"]], dtype=object
    )
    dates = DateFeatures(date_columns="all", parts=("year",))
    np.testing.assert_array_equal(dates.fit_transform(X), [[2020, 2020], [2021, 2022]])
    assert list(dates.get_feature_names_out()) == ["x0_year", "x1_year"]


def test_timezone_aware_elapsed_is_utc():
    when = pd.Series(pd.to_datetime(["1970-01-01 01:00"])).dt.tz_localize(
        "Europe/Paris"
    )
    out = DateFeatures(parts=("elapsed", "day")).fit_transform(
        pd.DataFrame({"t": when})
    )
    np.testing.assert_array_equal(out, [[0.0, 1.0]])


def test_unparseable_column_is_named():
    X = pd.DataFrame({"d": ["2020-01-01", "not a date"]})
    with pytest.raises(ValueError, match="'d' could not be read as dates"):
        DateFeatures(date_columns=["d"]).fit(X)


def test_bad_parts():
    with pytest.raises(ValueError, match="hour"):
        DateFeatures(parts=("year", "hour")).fit(frame())
    with pytest.raises(ValueError, match="empty"):
        DateFeatures(parts=()).fit(frame())


def test_missing_or_extra_column_at_transform_is_named():
    dates = DateFeatures().fit(frame())
    with pytest.raises(ValueError, match="shop"):
        dates.transform(frame()[["when"]])


def test_one_row_and_all_missing_dates():
    X = pd.DataFrame({"d": pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns]")})
    assert np.isnan(DateFeatures().fit_transform(X)).all()
    one = frame().iloc[:1]
    assert DateFeatures().fit_transform(one).shape == (1, len(DATE_PARTS) + 1)
