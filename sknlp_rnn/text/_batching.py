"""Token-id validation and length-aware batching for the text estimators, and
the constraints of the parameters they share.

Depends on torch, scikit-learn and numpy.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, validate_data

from ..nn._encoder import CELLS, INITS, NONLINEARITIES

#: ``_parameter_constraints`` of the parameters both recurrent text estimators
#: take: the encoder's architecture, gradient clipping and the token ids.
TEXT_RNN_CONSTRAINTS = {
    "embedding_dim": [Interval(Integral, 1, None, closed="left")],
    "hidden_size": [Interval(Integral, 1, None, closed="left")],
    "n_layers": [Interval(Integral, 1, None, closed="left")],
    "cell": [StrOptions(set(CELLS))],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "clip_norm": [None, Interval(Real, 0, None, closed="neither")],
    "pad_idx": [Interval(Integral, 0, None, closed="left")],
    "unk_idx": [Interval(Integral, 0, None, closed="left")],
    "max_vocab_size": [Interval(Integral, 1, None, closed="left")],
    "nonlinearity": [StrOptions(set(NONLINEARITIES))],
    "init": [StrOptions(set(INITS))],
}


def _is_ragged(X):
    """True for a list/tuple/Series of id sequences (documents, not a matrix)."""
    if sp.issparse(X) or (isinstance(X, np.ndarray) and X.dtype != object):
        return False
    if hasattr(X, "to_numpy") and getattr(X, "ndim", 2) == 2:
        return False
    try:
        rows = list(X)
    except TypeError:
        return False
    return bool(rows) and all(isinstance(r, (list, tuple, np.ndarray)) for r in rows)


def pad_rows(rows, pad_idx, width=None):
    """Right-pad id sequences of unequal lengths into one matrix.

    The matrix keeps the rows' common dtype (so floats and NaN still reach
    validation); ``width`` defaults to the longest row.
    """
    rows = [np.asarray(r) for r in rows]
    dtype = np.result_type(np.int64, *(r.dtype for r in rows if r.size))
    longest = max((len(r) for r in rows), default=0)
    width = max(longest, 1) if width is None else width
    out = np.full((len(rows), width), pad_idx, dtype=dtype)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def check_token_ids(estimator, X, y=None, *, pad_idx, reset, any_width=False):
    """Validate token-id rows and return them as an int64 matrix (and ``y``).

    Accepts a 2-D array/DataFrame of ids, or a list of id sequences of any
    lengths, right-padded with ``pad_idx`` (after ``fit``, to the fitted width).
    As for any scikit-learn estimator, a matrix must have as many columns after
    ``fit`` as in ``fit``: ``Vocab`` always pads to the width it learned.
    With ``any_width=True`` (language models, whose rows are sequences to
    continue) rows of any width are accepted after ``fit``.
    """
    name = type(estimator).__name__
    if _is_ragged(X):
        width = None if reset or any_width else estimator.n_features_in_
        longest = max(len(r) for r in X)
        if width is not None and longest > width:
            raise ValueError(
                f"{name} was fitted on rows of {width} token ids, got a row of "
                f"{longest}; truncate rows (e.g. Vocab(max_len={width}))."
            )
        X = pad_rows(X, pad_idx, width)
    if isinstance(X, np.ndarray) and X.dtype == object:
        X = _object_to_numbers(X, name)
    kwargs = {"dtype": None, "reset": reset}
    if any_width and not reset:
        X = check_array(X, dtype=None, input_name="X", estimator=estimator)
    elif y is None:
        X = validate_data(estimator, X, **kwargs)
    else:
        X, y = validate_data(estimator, X, y, **kwargs)
    if X.dtype.kind not in "iuf" and X.dtype != bool:
        raise TypeError(
            f"{name} expects integer token ids (the output of Vocab), got an array "
            f"of dtype {X.dtype}. Turn text into ids with Tokenizer and Vocab first."
        )
    if X.dtype.kind == "f" and not np.array_equal(X, np.round(X)):
        raise ValueError(f"{name} expects integer token ids, got non-integer floats.")
    if X.size and X.min() < 0:
        raise ValueError(
            f"Negative values in data passed to {name}: token ids must be >= 0."
        )
    X = X.astype(np.int64, copy=False)
    return X if y is None else (X, y)


def fitted_vocab_size(estimator, X, special_names):
    """Embedding rows needed for the ids in ``X`` and the special ids.

    Raises ``ValueError`` before anything is allocated when two of the special
    ids named in ``special_names`` (attributes of ``estimator``; ``None`` ones
    are skipped) are equal, or when the largest id is not below the estimator's
    ``max_vocab_size``.
    """
    specials = {n: getattr(estimator, n) for n in special_names}
    specials = {n: v for n, v in specials.items() if v is not None}
    if len(set(specials.values())) < len(specials):
        names = list(specials)
        listing = ", ".join(f"{n}={v}" for n, v in specials.items())
        raise ValueError(
            f"{', '.join(names[:-1])} and {names[-1]} must be different ids, got "
            f"{listing}."
        )
    largest = {"X": int(X.max(initial=0)), **specials}
    where, top = max(largest.items(), key=lambda item: item[1])
    limit = estimator.max_vocab_size
    if top >= limit:
        source = f"X holds token id {top}" if where == "X" else f"{where}={top}"
        raise ValueError(
            f"{source}, so the embedding would need {top + 1} rows, more than "
            f"max_vocab_size={limit}. Token ids should count from 0 (as Vocab "
            f"numbers them); raise max_vocab_size if the vocabulary really is "
            "that large."
        )
    return top + 1


def _object_to_numbers(X, name):
    """Convert an object array of numbers; strings get an actionable error."""
    try:
        return X.astype(np.float64)
    except ValueError as exc:
        raise TypeError(
            f"{name} expects integer token ids (the output of Vocab), got an object "
            "array that holds strings. Turn text into ids with Tokenizer and Vocab "
            "first."
        ) from exc
