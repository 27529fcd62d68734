"""Safe persistence: ``save(estimator, path)`` and ``load(path)``.

A saved model is one zip file holding three members and no pickled code:

- ``metadata.json``: format version, library versions, the class of the saved
  object and its whole state (hyperparameters and fitted attributes) as tagged
  JSON;
- ``weights.safetensors``: the torch weights of every fitted net (safetensors);
- ``arrays.safetensors``: the numeric numpy arrays of the state (safetensors).

Loading only rebuilds classes from an allowlist (our estimators and nets, a few
scikit-learn transformers, torch optimizers and losses, numpy scalar types);
everything else is plain data. Models rebuild their torch module with their
``_build_module()`` method, load the weights into it and wrap it in a ready
skorch net. Depends on torch, skorch, safetensors, scikit-learn, pandas, numpy.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import warnings
import zipfile

import torch

from ._state_codec import (
    _Reader,
    _version,
    _Writer,
)
from .exceptions import DeviceFallbackWarning, VersionMismatchWarning

__all__ = ["load", "save"]

FORMAT_VERSION = 1
_META, _WEIGHTS, _ARRAYS = "metadata.json", "weights.safetensors", "arrays.safetensors"


def save(estimator, path):
    """Save a fitted (or unfitted) estimator in the safe sknlp_rnn format.

    The file is a zip holding the hyperparameters and fitted state as JSON and
    the weights and numeric arrays as safetensors: loading it runs no pickled
    code. Works for every sknlp_rnn estimator and transformer, for Pipelines of
    them and for the scikit-learn transformers they use inside.

    Parameters
    ----------
    estimator : estimator or Pipeline
        What to save. Parameters that hold code (skorch ``callbacks``, an
        optimizer class outside ``torch.optim``) cannot be saved: a
        ``TypeError`` says which one.
    path : str, path-like or binary file object
        Where to write the zip file (``.zip`` or any suffix you like).

    Returns
    -------
    path : str, path-like or file object
        The ``path`` argument.

    See Also
    --------
    load : Read a file written by ``save``.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from sknlp_rnn import RNNTextClassifier, load, save
    >>> X = np.array([[2, 3, 4], [5, 6, 1], [2, 4, 1], [6, 5, 5]])
    >>> clf = RNNTextClassifier(hidden_size=4, max_epochs=2, random_state=0)
    >>> clf = clf.fit(X, ["a", "b", "a", "b"])
    >>> buffer = io.BytesIO()
    >>> _ = save(clf, buffer)
    >>> clone = load(buffer)
    >>> bool(np.array_equal(clone.predict_proba(X), clf.predict_proba(X)))
    True
    """
    from safetensors.numpy import save as save_arrays
    from safetensors.torch import save as save_weights

    writer = _Writer()
    root = writer.encode(estimator, "the estimator")
    meta = {
        "format": "sknlp_rnn",
        "format_version": FORMAT_VERSION,
        "sknlp_rnn_version": _version(),
        "sklearn_version": _lib_version("sklearn"),
        "torch_version": torch.__version__,
        "object": root,
    }
    target = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(_META, json.dumps(meta, allow_nan=False))
        zf.writestr(_WEIGHTS, save_weights(writer.weights))
        zf.writestr(_ARRAYS, save_arrays(writer.arrays))
    return path


def load(path, *, device=None):
    """Load an estimator written by :func:`save`.

    Only data is read: classes come from an allowlist (sknlp_rnn estimators and
    their skorch nets, a few scikit-learn transformers, torch optimizers and
    losses), weights from safetensors. A model saved on a GPU loads on the CPU
    of a machine without one, with a
    :class:`~sknlp_rnn.exceptions.DeviceFallbackWarning`.

    Parameters
    ----------
    path : str, path-like or binary file object
        A file written by :func:`save`.
    device : str or None, default=None
        Device for the loaded nets (``"cpu"``, ``"cuda"``); ``None`` keeps the
        device each net was saved on when it exists here, else uses the CPU.

    Returns
    -------
    estimator : estimator or Pipeline
        The saved object, ready to predict.

    Warns
    -----
    VersionMismatchWarning
        When the file was written by another sknlp_rnn version.
    DeviceFallbackWarning
        When a net saved on CUDA is loaded on the CPU because CUDA is missing.

    See Also
    --------
    save : Write the file.
    """
    from safetensors.numpy import load as load_arrays
    from safetensors.torch import load as load_weights

    source = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    if hasattr(source, "seek"):
        source.seek(0)
    try:
        with zipfile.ZipFile(source) as zf:
            meta = json.loads(zf.read(_META))
            weights = load_weights(zf.read(_WEIGHTS))
            arrays = load_arrays(zf.read(_ARRAYS))
    except (zipfile.BadZipFile, KeyError) as exc:
        raise ValueError(
            f"{path!r} is not a file written by sknlp_rnn.save ({exc})."
        ) from exc
    if meta.get("format") != "sknlp_rnn":
        raise ValueError(f"{path!r} is not a file written by sknlp_rnn.save.")
    if meta["format_version"] > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} uses format version {meta['format_version']}; this "
            f"sknlp_rnn ({_version()}) reads up to {FORMAT_VERSION}. Upgrade sknlp_rnn."
        )
    if meta["sknlp_rnn_version"] != _version():
        warnings.warn(
            f"This file was saved by sknlp_rnn {meta['sknlp_rnn_version']} and is "
            f"loaded by sknlp_rnn {_version()}; check its predictions.",
            VersionMismatchWarning,
            stacklevel=2,
        )
    if device is not None:
        from ._base import resolve_device

        device = resolve_device(device)
    reader = _Reader(weights, arrays, device)
    obj = reader.decode(meta["object"])
    for saved in sorted(set(reader.fallbacks)):
        warnings.warn(
            f"This model was trained on {saved!r}, which is not available here; "
            "it was loaded on 'cpu'.",
            DeviceFallbackWarning,
            stacklevel=2,
        )
    return obj


def _lib_version(name):
    try:
        return importlib.import_module(name).__version__
    except (ImportError, AttributeError):
        return None


def _save_bytes(estimator):
    """The bytes :func:`save` would write (for tests and size checks)."""
    buffer = io.BytesIO()
    save(estimator, buffer)
    return buffer.getvalue()
