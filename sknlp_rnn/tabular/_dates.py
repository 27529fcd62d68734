"""DateFeatures: expand date columns into calendar parts.

Depends on numpy, pandas and scikit-learn.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ._validation import check_frame, column_names, finish_output, select_columns

DATE_PARTS = (
    "year",
    "month",
    "week",
    "day",
    "dayofweek",
    "dayofyear",
    "is_month_end",
    "is_month_start",
    "is_quarter_end",
    "is_quarter_start",
    "is_year_end",
    "is_year_start",
    "elapsed",
)

_FLAGS = {p for p in DATE_PARTS if p.startswith("is_")}
_EPOCH = pd.Timestamp("1970-01-01")
# Output part name -> pandas ``.dt`` accessor, where they differ.
_ACCESSORS = {"dayofweek": "day_of_week", "dayofyear": "day_of_year"}


def _is_datetime(column):
    return pd.api.types.is_datetime64_any_dtype(column.dtype)


def to_datetime(column, name):
    """A column as a datetime Series (strings are parsed); clear error if not."""
    if _is_datetime(column):
        return column.reset_index(drop=True)
    try:
        return pd.to_datetime(column.reset_index(drop=True), errors="raise")
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(
            f"Column {name!r} could not be read as dates ({exc}). Pass datetime "
            "values or strings in one consistent format."
        ) from exc


def date_parts(dates, parts):
    """The requested calendar parts of a datetime Series, as float64 arrays.

    Missing dates (NaT) give NaN in every part. ``elapsed`` counts seconds
    since 1970-01-01 (UTC for time-zone-aware dates); ``week`` is the ISO week;
    ``dayofweek`` counts from Monday = 0.
    """
    missing = dates.isna().to_numpy()
    out = {}
    for part in parts:
        if part == "week":
            values = dates.dt.isocalendar()["week"]
        elif part == "elapsed":
            epoch = _EPOCH if dates.dt.tz is None else _EPOCH.tz_localize("UTC")
            values = (dates - epoch).dt.total_seconds()
        else:
            values = getattr(dates.dt, _ACCESSORS.get(part, part))
        values = pd.Series(values).to_numpy(dtype=np.float64, na_value=np.nan)
        if part in _FLAGS:
            values[missing] = np.nan
        out[part] = values
    return out


class DateFeatures(TransformerMixin, BaseEstimator):
    """Expand date columns into year, month, week, day and calendar flags.

    Each date column (datetime values, or strings that pandas can parse) is
    replaced by float columns named ``<column>_<part>``: ``year``, ``month``,
    ``week`` (ISO), ``day``, ``dayofweek`` (Monday = 0), ``dayofyear``, the
    flags ``is_month_end``, ``is_month_start``, ``is_quarter_end``,
    ``is_quarter_start``, ``is_year_end``, ``is_year_start`` (1.0 or 0.0) and
    ``elapsed`` (seconds since 1970-01-01). A missing date (NaT) gives NaN in
    every part, for a downstream imputer or :class:`EntityEmbeddingRegressor`
    to handle. Other columns pass through unchanged, in place.

    Parameters
    ----------
    date_columns : "from_dtype", "all" or array-like, default="from_dtype"
        Date columns: ``"from_dtype"`` takes the columns of datetime dtype;
        otherwise ``"all"``, a list of names, integer positions or a boolean
        mask. String columns of dates must be named.
    parts : tuple of str, default=DATE_PARTS
        Which parts to produce, in this order (any subset of the 13 above).
    drop : bool, default=True
        Drop the original date column; with ``False`` it is kept just before
        its parts.

    Attributes
    ----------
    is_date_ : ndarray of shape ``(n_features_in_,)``, dtype=bool
        Which input columns are expanded.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape ``(n_features_in_,)``
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    CategoricalEncoder : Turns parts such as ``dayofweek`` into codes.
    EntityEmbeddingRegressor : Can embed the parts named as categorical.

    Examples
    --------
    >>> import pandas as pd
    >>> from sknlp_rnn import DateFeatures
    >>> X = pd.DataFrame({"day": ["2015-07-31", "2015-08-01"], "shop": [1, 2]})
    >>> dates = DateFeatures(date_columns=["day"], parts=("month", "dayofweek"))
    >>> dates.fit_transform(X)
    array([[7., 4., 1.],
           [8., 5., 2.]])
    >>> list(dates.get_feature_names_out())
    ['day_month', 'day_dayofweek', 'shop']
    """

    _parameter_constraints: dict = {
        "date_columns": [StrOptions({"from_dtype", "all"}), "array-like"],
        "parts": ["array-like"],
        "drop": ["boolean"],
    }

    def __init__(self, *, date_columns="from_dtype", parts=DATE_PARTS, drop=True):
        self.date_columns = date_columns
        self.parts = parts
        self.drop = drop

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags

    def fit(self, X, y=None):
        """Find the date columns and check that they can be read as dates.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The table.
        y : None
            Ignored.

        Returns
        -------
        self : DateFeatures
            The fitted transformer.
        """
        self._validate_params()
        unknown = [p for p in self.parts if p not in DATE_PARTS]
        if unknown or not len(self.parts):
            raise ValueError(
                f"parts must be a non-empty subset of {DATE_PARTS}; got unknown "
                f"part(s) {unknown!r}."
                if unknown
                else "parts must not be empty."
            )
        X = check_frame(self, X, reset=True)
        selected = select_columns(
            self.date_columns,
            X,
            names=getattr(self, "feature_names_in_", None),
            param="date_columns",
            predicate=_is_datetime,
        )
        self.is_date_ = np.zeros(X.shape[1], dtype=bool)
        self.is_date_[selected] = True
        names = column_names(self)
        for j in selected:
            to_datetime(X.iloc[:, j], names[j])
        return self

    def transform(self, X):
        """Replace each date column by its parts.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            A table with the training columns.

        Returns
        -------
        X_out : ndarray or DataFrame of shape (n_samples, n_features_out)
            Parts as float64 (NaN for missing dates), the other columns
            unchanged; a DataFrame with ``set_output(transform="pandas")``.
        """
        check_is_fitted(self, "is_date_")
        X = check_frame(self, X, reset=False)
        names = column_names(self)
        columns = []
        for j, name in enumerate(names):
            column = X.iloc[:, j].reset_index(drop=True)
            if not self.is_date_[j]:
                columns.append(column)
                continue
            dates = to_datetime(column, name)
            if not self.drop:
                columns.append(column)
            columns.extend(date_parts(dates, self.parts).values())
        frame = pd.DataFrame(dict(enumerate(columns)))
        frame.columns = self.get_feature_names_out()
        return finish_output(self, frame, X.index)

    def get_feature_names_out(self, input_features=None):
        """Output column names (``<column>_<part>`` for the date parts).

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input names; defaults to ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        names : ndarray of str
            The output column names.
        """
        check_is_fitted(self, "is_date_")
        names = _check_feature_names_in(self, input_features)
        out = []
        for name, is_date in zip(names, self.is_date_, strict=True):
            if not is_date or not self.drop:
                out.append(name)
            if is_date:
                out.extend(f"{name}_{part}" for part in self.parts)
        return np.asarray(out, dtype=object)
