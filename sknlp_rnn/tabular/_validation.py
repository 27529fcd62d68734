"""Input checks, column selection and id tables of the tabular estimators (private).

Depends on numpy, pandas and scikit-learn.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Number, Real

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_array, check_consistent_length
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.validation import validate_data

from ..exceptions import UnseenCategoriesWarning
from ..nn import embedding_size


def check_frame(estimator, X, *, reset):
    """Validate ``X`` and return it as a DataFrame.

    Arrays and lists are checked with :func:`~sklearn.utils.check_array` (2-D,
    not empty, not complex, any dtype) and wrapped with integer column labels
    ``0..n_features-1``. ``n_features_in_`` and ``feature_names_in_`` are set
    (``reset=True``) or checked (``reset=False``) by scikit-learn's
    ``validate_data``, whose errors name the missing or unexpected columns.
    """
    if sparse.issparse(X):
        raise TypeError(
            f"{type(estimator).__name__} does not accept sparse input; pass a "
            "dense array or a pandas DataFrame."
        )
    if not isinstance(X, pd.DataFrame):
        X = check_array(X, dtype=None, ensure_all_finite=False, input_name="X")
        validate_data(estimator, X, reset=reset, skip_check_array=True)
        return pd.DataFrame(X, copy=False)
    validate_data(estimator, X, reset=reset, skip_check_array=True)
    n_samples, n_features = X.shape
    if n_samples < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 "
            "is required."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 "
            "is required."
        )
    return X


FLOAT32_MAX = float(np.finfo(np.float32).max)
"""The largest float32 (about 3.4e38): the nets compute in float32."""


def check_float32_target(y):
    """Raise ``ValueError`` when a finite target value does not fit in float32."""
    values = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    rows, cols = np.nonzero(np.abs(values) > FLOAT32_MAX)
    if rows.size:
        raise ValueError(
            f"y holds {values[rows[0], cols[0]]:g} (row {rows[0]}), beyond the "
            f"float32 range (+/-{FLOAT32_MAX:.3g}) the model trains in; rescale "
            "the target (e.g. divide it by a constant)."
        )


def check_target(estimator, y, n_samples, *, log_target=False):
    """Validate a regression target; return it as ``(n, n_outputs)`` float64.

    Also returns whether ``y`` was 1-D. With ``log_target`` the target must be
    strictly positive and its log is returned.
    """
    if y is None:
        raise ValueError(
            f"{type(estimator).__name__} requires y to be passed, but the target "
            "y is None."
        )
    y = check_array(
        y, ensure_2d=False, dtype="numeric", input_name="y", ensure_min_samples=1
    )
    if y.ndim not in (1, 2):
        raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}.")
    check_consistent_length(np.empty(n_samples), y)
    target = np.asarray(y, dtype=np.float64).reshape(n_samples, -1)
    check_float32_target(target)
    if log_target:
        if (target <= 0).any():
            raise ValueError(
                "log_target=True needs a strictly positive target, but y has "
                f"values <= 0 (min={target.min():g})."
            )
        target = np.log(target)
    return target, y.ndim == 1


def column_names(estimator):
    """Display names of the training columns (``x0, x1, ...`` for arrays)."""
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        return [str(name) for name in names]
    return [f"x{j}" for j in range(estimator.n_features_in_)]


def is_categorical_dtype(column):
    """Whether a column counts as categorical under ``"from_dtype"``.

    DataFrame columns: object, string (``str``), category and boolean dtypes.
    Array columns (object dtype): those holding strings or booleans.
    """
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return True
    if not isinstance(dtype, np.dtype):  # pandas extension dtypes
        return pd.api.types.is_string_dtype(dtype)
    if dtype.kind in "US":
        return True
    if dtype.kind == "O":
        values = column.dropna()
        return any(isinstance(v, (str, bool, np.bool_)) for v in values)
    return False


def select_columns(spec, X, *, names, param, predicate):
    """Resolve a column specification into a sorted list of column positions.

    ``spec`` is ``"from_dtype"`` (columns for which ``predicate(column)`` is
    true), ``"all"``, or a list of names, integer positions or a boolean mask.
    ``names`` are the training column names (``None`` for arrays); ``param`` is
    the parameter name used in error messages.
    """
    n_features = X.shape[1]
    if isinstance(spec, str):
        if spec == "all":
            return list(range(n_features))
        return [j for j in range(n_features) if predicate(X.iloc[:, j])]
    items = list(np.asarray(spec, dtype=object).ravel()) if len(spec) else []
    if not items:
        return []
    if all(isinstance(v, (bool, np.bool_)) for v in items):
        if len(items) != n_features:
            raise ValueError(
                f"{param} as a boolean mask needs one entry per column "
                f"({n_features}), got {len(items)}."
            )
        return [j for j, keep in enumerate(items) if keep]
    if all(isinstance(v, str) for v in items):
        if names is None:
            raise ValueError(
                f"{param} names columns ({items!r}) but X has no column names; "
                "pass a DataFrame or use integer positions. In a Pipeline, a step "
                "that outputs numpy arrays drops the names: call "
                'set_output(transform="pandas") on it (or on the pipeline).'
            )
        known = list(names)
        missing = [v for v in items if v not in known]
        if missing:
            raise ValueError(
                f"{param} names column(s) {missing!r} that are not in X; its "
                f"columns are {known!r}."
            )
        return sorted({known.index(v) for v in items})
    if all(isinstance(v, Integral) and not isinstance(v, bool) for v in items):
        bad = [v for v in items if not -n_features <= v < n_features]
        if bad:
            raise ValueError(
                f"{param} has column position(s) {bad!r} out of range for X with "
                f"{n_features} columns."
            )
        return sorted({int(v) % n_features for v in items})
    raise ValueError(
        f"{param} must be 'from_dtype', 'all', or a list of column names, integer "
        f"positions or a boolean mask; got {spec!r}."
    )


def wants_pandas(estimator):
    """Whether ``set_output(transform="pandas")`` is in force for ``estimator``."""
    return _get_output_config("transform", estimator)["dense"] == "pandas"


def finish_output(estimator, frame, index):
    """Return the transformed ``frame`` as the configured container.

    With pandas output the DataFrame keeps each column's dtype and the input's
    index; otherwise it becomes one numpy array of the columns' common dtype.
    """
    if wants_pandas(estimator):
        frame.index = index
        return frame
    return frame.to_numpy()


# -- unseen values at prediction time ------------------------------------------


def _kind(value):
    """A coarse type for messages: int and np.int64 are both "number"."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, (str, np.str_)):
        return "str"
    if isinstance(value, Number):
        return "number"
    return type(value).__name__


def unseen_column(name, values, unseen, known, present=None):
    """Describe column ``name`` if every present value of it is unseen, else None.

    ``values`` is the column, ``unseen`` marks the values not seen in ``fit``,
    ``present`` the non-missing ones (default: all) and ``known`` holds the
    fitted values (none: no warning, as nothing was learned), for a hint when
    the types differ.
    """
    values = np.asarray(values, dtype=object).ravel()
    present = np.ones(len(values), bool) if present is None else present
    if not len(known) or not present.any() or not np.asarray(unseen)[present].all():
        return None  # nothing was learned, nothing to compare, or a value is known
    example = values[present][0]
    text = f"{name!r} ({int(present.sum())} value(s), e.g. {example!r}"
    if len(known) and _kind(known[0]) != _kind(example):
        text += (
            f"; fitted on {_kind(known[0])} values such as {known[0]!r}, got "
            f"{_kind(example)} values"
        )
    return text + ")"


def warn_unseen_columns(estimator, described, *, stacklevel):
    """Warn with :class:`UnseenCategoriesWarning` about the columns described."""
    described = [d for d in described if d is not None]
    if described:
        warnings.warn(
            f"{type(estimator).__name__}: no value of column(s) "
            f"{', '.join(described)} was seen in fit, so every row uses the "
            "unknown slot for it. Pass the ids and categories with the types and "
            "spellings they had in fit (e.g. int, not str).",
            UnseenCategoriesWarning,
            stacklevel=stacklevel + 1,
        )


# -- ids of CollabFilterRegressor ---------------------------------------------


def check_id_matrix(estimator, X, y=None, *, reset):
    """Validate a matrix of ids (user, item, side columns) and the ratings.

    Returns the id matrix as given (any hashable ids) and, with ``y``, the
    ratings as float32 (refused beyond the float32 range). Raises ``ValueError``
    for complex values, fewer than two columns, or missing ids.
    """
    name = type(estimator).__name__
    if reset:
        X, y = validate_data(estimator, X, y, dtype=None, y_numeric=True, reset=True)
    else:
        X = validate_data(estimator, X, dtype=None, reset=False)
    if X.dtype.kind == "c":
        raise ValueError(f"Complex data not supported by {name}.")
    if X.shape[1] < 2:
        raise ValueError(
            f"{name} needs at least two columns (user id, item id); got "
            f"{X.shape[1]} feature(s)."
        )
    if X.dtype == object and pd.isna(X).any():
        raise ValueError(
            f"Input X contains NaN or None ids; {name} needs every user and "
            "item id. Drop those rows or give them an id of their own."
        )
    if y is not None:
        check_float32_target(y)
    return X if y is None else (X, y.astype(np.float32))


def learn_ids(column):
    """Distinct ids of one column, sorted when the ids are comparable."""
    try:
        ids = pd.unique(pd.Series(column, dtype=column.dtype))
    except TypeError as exc:
        raise TypeError(_UNHASHABLE.format(exc)) from exc
    try:
        return np.sort(ids)
    except TypeError:  # mixed types such as strings and numbers
        return ids


def encode_ids(column, ids):
    """Positions of ``column`` in ``ids`` plus one; 0 for ids not in ``ids``."""
    try:
        return pd.Index(ids).get_indexer(column).astype(np.int64) + 1
    except TypeError as exc:
        raise TypeError(_UNHASHABLE.format(exc)) from exc


_UNHASHABLE = (
    "CollabFilterRegressor ids must be hashable values such as a string or a "
    "number ({})."
)


def check_n(n):
    """Raise ValueError unless ``n`` is a positive int."""
    if not isinstance(n, Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive int; got {n!r}.")


# y_range="auto": the training range of the target widened on each side by this
# fraction of its span (a sigmoid only approaches its bounds).
Y_RANGE_MARGIN = 0.1


def target_range(y_range, target, *, log_target=False):
    """Output bounds ``(low, high)`` per target column, or ``None``.

    The one ``y_range`` rule of the tabular estimators: ``"auto"`` widens the
    training range of ``target`` by ``Y_RANGE_MARGIN`` (10%) of its span on
    each side (a constant target by 10% of its magnitude, at least 0.1); a
    pair ``(low, high)`` is in the units of ``y`` (so it is logged when
    ``log_target``, and must then be positive) and must contain every training
    target; ``None`` leaves the output unbounded.

    Parameters
    ----------
    y_range : None, "auto" or pair of float
        The estimator's ``y_range``.
    target : ndarray of shape (n_samples, n_outputs)
        The training target the net fits (``log(y)`` with ``log_target``).
    log_target : bool, default=False
        Whether ``target`` is ``log(y)``.

    Returns
    -------
    bounds : tuple of (ndarray, ndarray) or None
        Lower and upper bound per output, in the units of ``target``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknlp_rnn.tabular._validation import target_range
    >>> low, high = target_range("auto", np.array([[1.0], [5.0]]))
    >>> float(low[0]), float(high[0])
    (0.6, 5.4)
    """
    if y_range is None:
        return None
    low, high = target.min(axis=0), target.max(axis=0)
    if isinstance(y_range, str):  # "auto"
        span = high - low
        span = np.where(span > 0, span, np.maximum(np.abs(high), 1.0))
        return low - Y_RANGE_MARGIN * span, high + Y_RANGE_MARGIN * span
    try:
        pair = np.asarray(y_range, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        pair = np.array([])
    if pair.size != 2 or not pair[0] < pair[1]:
        raise ValueError(
            "y_range must be None, 'auto' or a pair (low, high) with low < high; "
            f"got {y_range!r}."
        )
    if log_target:
        if pair[0] <= 0:
            raise ValueError(
                f"With log_target=True, y_range must be positive, got {y_range!r}."
            )
        pair = np.log(pair)
    if (low < pair[0]).any() or (high > pair[1]).any():
        raise ValueError(
            f"Training targets span [{low.min():g}, {high.max():g}], outside "
            f"y_range={y_range!r}; the model could never predict them. Widen "
            "y_range, use y_range='auto', or clip the targets."
        )
    return np.full(target.shape[1], pair[0]), np.full(target.shape[1], pair[1])


def check_hidden_layers(hidden_sizes, dropout=0.0):
    """Validate ``hidden_sizes`` (positive ints) and ``dropout`` (one rate, or
    one per hidden layer, each in [0, 1)) beyond their types."""
    sizes = list(hidden_sizes)
    if not all(isinstance(s, Integral) and s >= 1 for s in sizes):
        raise ValueError(
            f"hidden_sizes must be a tuple of positive ints, got {hidden_sizes!r}."
        )
    if isinstance(dropout, Real):
        return
    dropout = list(dropout)
    if len(dropout) != len(sizes):
        raise ValueError(
            f"dropout has {len(dropout)} values for {len(sizes)} hidden layers; "
            "give one float or one per layer."
        )
    if not all(isinstance(p, Real) and 0 <= p < 1 for p in dropout):
        raise ValueError(f"dropout values must be in [0, 1), got {dropout!r}.")


def resolve_embedding_sizes(spec, names, is_categorical, cardinalities):
    """``embedding_sizes`` (``"auto"`` or a dict keyed by column name or
    index) as ``{categorical column name: width}``; the rule of
    :func:`sknlp_rnn.nn.embedding_size` where the dict is silent."""
    cat_names = [n for n, c in zip(names, is_categorical, strict=True) if c]
    sizes = {
        name: embedding_size(n)
        for name, n in zip(cat_names, cardinalities, strict=True)
    }
    if isinstance(spec, str):  # "auto"
        return sizes
    for key, width in spec.items():
        name = names[key] if isinstance(key, Integral) and key < len(names) else key
        if name not in sizes:
            raise ValueError(
                f"embedding_sizes has key {key!r}, which is not a categorical "
                f"column; the categorical columns are {cat_names!r}."
            )
        if not isinstance(width, Integral) or width < 1:
            raise ValueError(
                f"embedding_sizes[{key!r}] must be a positive int, got {width!r}."
            )
        sizes[name] = int(width)
    return sizes


def continuous_pipeline():
    """The preprocessing of continuous columns: median imputation with "was
    missing" indicator columns, then standardisation; numpy output even under
    a global ``set_config(transform_output="pandas")``."""
    imputer = SimpleImputer(
        strategy="median", add_indicator=True, keep_empty_features=True
    )
    return make_pipeline(imputer, StandardScaler()).set_output(transform="default")


def continuous_values(X, is_categorical, names):
    """The continuous columns of frame ``X`` as float64; inf and values
    beyond float32 (which the nets compute in) become NaN, to be imputed."""
    columns = np.flatnonzero(~np.asarray(is_categorical))
    out = np.empty((X.shape[0], len(columns)), dtype=np.float64)
    for k, j in enumerate(columns):
        column = X.iloc[:, j]
        try:
            if pd.api.types.is_datetime64_any_dtype(
                column.dtype
            ) or pd.api.types.is_timedelta64_dtype(column.dtype):
                raise TypeError("dates are not numbers; expand them first")
            out[:, k] = column.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"Column {names[j]!r} (dtype {column.dtype}) is continuous but "
                f"not numeric: {exc}. List it in categorical_features, or "
                "expand dates with DateFeatures."
            ) from exc
    out[~(np.abs(out) <= FLOAT32_MAX)] = np.nan
    return out
