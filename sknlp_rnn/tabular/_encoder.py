"""CategoricalEncoder: category columns -> integer codes with 0 for unknown.

Depends on numpy, pandas and scikit-learn.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import OrdinalEncoder
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from ._validation import (
    check_frame,
    column_names,
    finish_output,
    is_categorical_dtype,
    select_columns,
    unseen_column,
    warn_unseen_columns,
)

# Index label of the unknown slot (row 0) of every embedding table.
UNKNOWN_LABEL = "<unknown>"


def object_column(column):
    """A column as an ``(n, 1)`` object array with every missing value as NaN."""
    values = column.to_numpy(dtype=object, na_value=np.nan, copy=True)
    values[pd.isna(values)] = np.nan
    return values.reshape(-1, 1)


class CategoricalEncoder(TransformerMixin, BaseEstimator):
    """Encode categorical columns as integer codes, keeping 0 for unknown.

    Each selected column gets its own scikit-learn
    :class:`~sklearn.preprocessing.OrdinalEncoder`; its codes are shifted by
    one so that code ``0`` is shared by missing values, categories never seen
    in ``fit`` and (with ``min_frequency``) rare categories. Seen categories
    get ``1..n``, in sorted order, or in the declared order for pandas
    ``category`` columns (declared categories absent from the training data map
    to 0). The other columns pass through unchanged, in place.

    Parameters
    ----------
    categorical_features : "from_dtype", "all" or array-like, default="from_dtype"
        Columns to encode: ``"from_dtype"`` takes DataFrame columns of object,
        string, category or boolean dtype (for arrays: string or boolean arrays,
        and object columns holding strings or booleans); ``"all"`` every column;
        or a list of column names, integer positions, or a boolean mask.
        Integer-coded categories (e.g. store ids) must be named explicitly.
    min_frequency : int, float or None, default=None
        Categories seen fewer times than this (an int) or in a smaller fraction
        of the rows (a float in (0, 1)) are encoded as 0.

    Attributes
    ----------
    is_categorical_ : ndarray of shape ``(n_features_in_,)``, dtype=bool
        Which input columns are encoded.
    categories_ : list of ndarray
        For each encoded column, the categories with codes ``1..n`` in order.
    cardinalities_ : list of int
        For each encoded column, the number of codes including the 0 slot.
    ordinal_encoders_ : list of OrdinalEncoder
        The fitted scikit-learn encoder of each encoded column.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape ``(n_features_in_,)``
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    sklearn.preprocessing.OrdinalEncoder : The encoder used for each column.
    EntityEmbeddingRegressor : Learns an embedding vector for each code.

    Examples
    --------
    >>> import pandas as pd
    >>> from sknlp_rnn import CategoricalEncoder
    >>> X = pd.DataFrame({"shop": ["a", "b", "a", None], "sales": [1.0, 2, 3, 4]})
    >>> enc = CategoricalEncoder().fit(X)
    >>> enc.cardinalities_
    [3]
    >>> enc.transform(pd.DataFrame({"shop": ["b", "zz"], "sales": [5.0, 6]}))
    array([[2., 5.],
           [0., 6.]])
    """

    _parameter_constraints: dict = {
        "categorical_features": [StrOptions({"from_dtype", "all"}), "array-like"],
        "min_frequency": [
            None,
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
        ],
    }

    def __init__(self, *, categorical_features="from_dtype", min_frequency=None):
        self.categorical_features = categorical_features
        self.min_frequency = min_frequency

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    def fit(self, X, y=None):
        """Learn the categories of each categorical column.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The table.
        y : None
            Ignored.

        Returns
        -------
        self : CategoricalEncoder
            The fitted encoder.
        """
        self._validate_params()
        X = check_frame(self, X, reset=True)
        selected = select_columns(
            self.categorical_features,
            X,
            names=getattr(self, "feature_names_in_", None),
            param="categorical_features",
            predicate=is_categorical_dtype,
        )
        self.is_categorical_ = np.zeros(X.shape[1], dtype=bool)
        self.is_categorical_[selected] = True
        self.ordinal_encoders_, self.categories_ = [], []
        for j in selected:
            encoder, categories = self._fit_column(X.iloc[:, j])
            self.ordinal_encoders_.append(encoder)
            self.categories_.append(categories)
        self.cardinalities_ = [len(c) + 1 for c in self.categories_]
        return self

    def _fit_column(self, column):
        """Fit one OrdinalEncoder; return it and its categories in code order."""
        categories = "auto"
        if isinstance(column.dtype, pd.CategoricalDtype):
            # Declared order; declared categories absent from the data are left
            # out, so that they map to 0 like any unseen value.
            used = column.cat.remove_unused_categories().cat.categories
            if len(used):
                categories = [np.asarray(used, dtype=object)]
        encoder = OrdinalEncoder(
            categories=categories,
            handle_unknown="use_encoded_value",
            unknown_value=-1,
            encoded_missing_value=-1,
            min_frequency=self.min_frequency,
        ).set_output(transform="default")  # numpy even under a global pandas output
        encoder.fit(object_column(column))
        seen = [c for c in encoder.categories_[0] if not pd.isna(c)]
        if not seen:
            return encoder, np.array([], dtype=object)
        codes = encoder.transform(np.array(seen, dtype=object).reshape(-1, 1))
        codes = codes.ravel().astype(np.int64)
        n_frequent = len(seen) - len(_infrequent(encoder))
        kept = sorted((k, i) for i, k in enumerate(codes) if 0 <= k < n_frequent)
        return encoder, np.array([seen[i] for _, i in kept], dtype=object)

    def _encode(self, X, *, owner=None):
        """Codes ``(n, n_categorical)`` int64 of the categorical columns of X.

        Warns, in the name of ``owner`` (default: this encoder), about columns
        none of whose non-missing values was seen in ``fit``.
        """
        columns = np.flatnonzero(self.is_categorical_)
        names = column_names(self)
        codes = np.zeros((X.shape[0], len(columns)), dtype=np.int64)
        unseen = []
        for k, (j, encoder) in enumerate(
            zip(columns, self.ordinal_encoders_, strict=True)
        ):
            values = object_column(X.iloc[:, j])
            raw = encoder.transform(values).ravel().astype(np.int64)
            n_frequent = self.cardinalities_[k] - 1
            codes[:, k] = np.where((raw >= 0) & (raw < n_frequent), raw + 1, 0)
            present = ~pd.isna(values.ravel())
            known = [c for c in encoder.categories_[0] if not pd.isna(c)]
            unseen.append(unseen_column(names[j], values, raw < 0, known, present))
        warn_unseen_columns(owner or self, unseen, stacklevel=4)
        return codes

    def transform(self, X):
        """Replace each categorical column by its codes.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            A table with the training columns. A categorical column none of
            whose non-missing values was seen in ``fit`` (categories fitted as
            ``"a"``, ``"b"`` and passed as ``1``, ``2``, say) gets an
            :class:`~sknlp_rnn.exceptions.UnseenCategoriesWarning` naming it.

        Returns
        -------
        X_out : ndarray or DataFrame of shape (n_samples, n_features)
            Codes (int64, 0 for unknown, missing or rare) in the categorical
            columns, the other columns unchanged. A numpy array of the columns'
            common dtype, or a DataFrame keeping each column's dtype with
            ``set_output(transform="pandas")``.
        """
        check_is_fitted(self, "ordinal_encoders_")
        X = check_frame(self, X, reset=False)
        codes = self._encode(X)
        parts, k = {}, 0
        for j in range(X.shape[1]):
            if self.is_categorical_[j]:
                parts[j] = codes[:, k]
                k += 1
            else:
                parts[j] = X.iloc[:, j].reset_index(drop=True)
        frame = pd.DataFrame(parts)
        frame.columns = self.get_feature_names_out()
        return finish_output(self, frame, X.index)

    def get_feature_names_out(self, input_features=None):
        """Output column names: the input column names, in order.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input names; defaults to ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        names : ndarray of str
            The output column names.
        """
        check_is_fitted(self, "ordinal_encoders_")
        return _check_feature_names_in(self, input_features)

    def _categorical_names(self):
        """Display names of the encoded columns."""
        return [
            name
            for name, cat in zip(column_names(self), self.is_categorical_, strict=True)
            if cat
        ]


def _infrequent(encoder):
    """The infrequent categories of a one-column OrdinalEncoder (maybe none)."""
    infrequent = getattr(encoder, "infrequent_categories_", [None])[0]
    return [] if infrequent is None else list(infrequent)


# -- learned embeddings as tables and features (EntityEmbeddingRegressor) ----------


def embedding_frames(embedding_sizes, categories, tables):
    """``{column: DataFrame}`` of embedding ``tables`` (row 0: the unknown
    slot), indexed by ``UNKNOWN_LABEL`` and the column's ``categories``."""
    frames = {}
    for name, cats, table in zip(embedding_sizes, categories, tables, strict=True):
        index = pd.Index([UNKNOWN_LABEL, *cats], dtype=object, name=name)
        weights = table.detach().cpu().numpy().astype(np.float64)
        frames[name] = pd.DataFrame(weights, index=index)
    return frames


def embedding_features(codes, continuous, tables, is_categorical):
    """Columns in input order: each categorical column's embedding rows
    (``tables[k][codes[:, k]]``), each continuous column as given."""
    tables = iter(tables)
    parts, n_cat = [], 0
    for j, categorical in enumerate(is_categorical):
        if categorical:
            parts.append(next(tables)[codes[:, n_cat]])
            n_cat += 1
        else:
            parts.append(continuous[:, [j - n_cat]])
    return np.hstack(parts)


def embedding_feature_names(names, widths, is_categorical):
    """Names of :func:`embedding_features`' columns: ``c_0 ... c_{d-1}`` for a
    categorical column ``c`` of width ``d``, a continuous column's own name."""
    widths = iter(widths)
    out = []
    for name, categorical in zip(names, is_categorical, strict=True):
        out += [f"{name}_{k}" for k in range(next(widths))] if categorical else [name]
    return np.asarray(out, dtype=object)
