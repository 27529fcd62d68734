"""Warnings and errors raised by sknlp_rnn.

Depends on scikit-learn only.
"""

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = ["DeviceFallbackWarning", "NotFittedError", "VersionMismatchWarning"]


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
