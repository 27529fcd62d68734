"""Warnings and errors raised by sknlp_rnn.

Depends on scikit-learn only.
"""

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "DeviceFallbackWarning",
    "ModelFileError",
    "NotFittedError",
    "UnseenCategoriesWarning",
    "VersionMismatchWarning",
]


class NotFittedError(_SklearnNotFittedError):
    """Raised when a method that needs a fitted estimator is called before ``fit``.

    Subclasses scikit-learn's :class:`~sklearn.exceptions.NotFittedError`, so code
    that catches scikit-learn's error (or ``ValueError``/``AttributeError``)
    catches this one too.

    Examples
    --------
    >>> from sknlp_rnn import RNNTextClassifier
    >>> from sknlp_rnn.exceptions import NotFittedError
    >>> try:
    ...     RNNTextClassifier().predict([[2, 3]])
    ... except NotFittedError as exc:
    ...     print(type(exc).__name__)
    NotFittedError
    """


class DeviceFallbackWarning(UserWarning):
    """Warned when a model saved on a device that is absent here is loaded on CPU.

    Examples
    --------
    >>> import warnings
    >>> from sknlp_rnn.exceptions import DeviceFallbackWarning
    >>> warnings.simplefilter("error", DeviceFallbackWarning)  # make it an error
    >>> warnings.resetwarnings()
    """


class VersionMismatchWarning(UserWarning):
    """Warned when a model saved by another sknlp_rnn version is loaded.

    Examples
    --------
    >>> import warnings
    >>> from sknlp_rnn.exceptions import VersionMismatchWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", VersionMismatchWarning)
    """


class ModelFileError(ValueError):
    """Raised when :func:`sknlp_rnn.load` cannot load a file safely.

    The message says what is wrong: the file is not a zip written by
    :func:`sknlp_rnn.save`, a member is missing, damaged or too large, the
    metadata names a class the safe format does not rebuild, holds an invalid
    hyperparameter, or describes weights of other shapes than the file holds.
    Loading checks all of this before it builds anything large, and a damaged
    file raises this error rather than whatever the parser met. Subclasses
    ``ValueError``.

    Examples
    --------
    >>> import io
    >>> from sknlp_rnn import load
    >>> from sknlp_rnn.exceptions import ModelFileError
    >>> try:
    ...     load(io.BytesIO(b"not a model"))
    ... except ModelFileError as exc:
    ...     print(exc)
    The file object is not a file written by sknlp_rnn.save: not a zip file.
    """


class UnseenCategoriesWarning(UserWarning):
    """Warned when every value of an id or category column is unseen at predict.

    Unseen values use the learned "unknown" slot, which is right for a few new
    users or categories; a whole column of them usually means the ids changed
    type or spelling since ``fit`` (ids fitted as int and passed as str, or
    categories fitted as ``"a"``, ``"b"`` and passed as ``1``, ``2``), and every
    prediction silently becomes the fallback. The message names the column.
    Raised by :class:`~sknlp_rnn.CollabFilterRegressor` (user, item and side
    columns), :class:`~sknlp_rnn.EntityEmbeddingRegressor` and
    :class:`~sknlp_rnn.CategoricalEncoder` (categorical columns); a column with
    only missing values does not count.

    Examples
    --------
    >>> import warnings
    >>> from sknlp_rnn import CategoricalEncoder
    >>> from sknlp_rnn.exceptions import UnseenCategoriesWarning
    >>> enc = CategoricalEncoder(categorical_features="all").fit([["a"], ["b"]])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     codes = enc.transform([[1], [2]])
    >>> codes.ravel().tolist(), caught[0].category.__name__
    ([0, 0], 'UnseenCategoriesWarning')
    """
