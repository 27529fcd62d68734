"""Safe persistence: ``save(estimator, path)`` and ``load(path)``.

A saved model is one zip file holding three members and no pickled code:

- ``metadata.json``: format version, library versions, the class of the saved
  object and its whole state (hyperparameters and fitted attributes) as tagged
  JSON;
- ``weights.safetensors``: the torch weights of every fitted net (safetensors);
- ``arrays.safetensors``: the numeric numpy arrays of the state (safetensors).

Loading only rebuilds classes from the registry in ``_class_registry`` (our
estimators and nets, a few scikit-learn transformers, torch optimizers and
losses, numpy scalar types) and imports nothing a file names; everything else is
plain data. Members are size-checked before they are read, the metadata's
nesting depth is bounded, and each net's weights are checked against the shapes
its hyperparameters imply before its torch module is built. Every problem with
the file raises :class:`~sknlp_rnn.exceptions.ModelFileError`.
:class:`SafeFormatMixin` gives estimator classes ``save``/``load`` methods.
Depends on torch, safetensors, scikit-learn, ``_device`` (device resolution),
``_state_writer``, ``_state_reader``, ``_version`` and ``exceptions``;
``_base`` never imports this module (the estimator modules import both).
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile
import zlib

import sklearn
import torch
from safetensors import SafetensorError
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays
from safetensors.torch import load as load_weights
from safetensors.torch import save as save_weights

from ._device import resolve_device
from ._state_reader import _Reader
from ._state_writer import _Writer
from ._version import __version__
from .exceptions import DeviceFallbackWarning, ModelFileError, VersionMismatchWarning

__all__ = ["SafeFormatMixin", "load", "save"]

FORMAT_VERSION = 1
_META, _WEIGHTS, _ARRAYS = "metadata.json", "weights.safetensors", "arrays.safetensors"
# Largest metadata.json read (bytes) and deepest nesting of its JSON.
_MAX_METADATA_BYTES = 2**29
_MAX_DEPTH = 100
# Errors that reading a damaged zip member can raise.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
)


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
    writer = _Writer()
    root = writer.encode(estimator, "the estimator")
    meta = {
        "format": "sknlp_rnn",
        "format_version": FORMAT_VERSION,
        "sknlp_rnn_version": __version__,
        "sklearn_version": sklearn.__version__,
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

    Only data is read: classes come from a registry of the exact classes the
    format writes (sknlp_rnn estimators and their skorch nets, a few
    scikit-learn transformers, torch optimizers and losses, numpy scalar
    types), and nothing is imported because the file names it; weights come from
    safetensors and are checked against the shapes the hyperparameters imply
    before any torch module is built. A model saved on a GPU loads on the CPU of
    a machine without one, with a
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

    Raises
    ------
    ModelFileError
        When the file is not one written by :func:`save`, is damaged, names a
        class outside the registry, holds invalid hyperparameters or weights
        that do not match them. The message says which.

    Warns
    -----
    VersionMismatchWarning
        When the file was written by another sknlp_rnn version.
    DeviceFallbackWarning
        When a net saved on CUDA is loaded on the CPU because CUDA is missing.

    See Also
    --------
    save : Write the file.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from sknlp_rnn import Vocab, load, save
    >>> vocab = Vocab().fit([["a", "b"], ["b", "c"]])
    >>> buffer = io.BytesIO()
    >>> _ = save(vocab, buffer)
    >>> load(buffer).transform([["b", "c"]]).tolist() == vocab.transform(
    ...     [["b", "c"]]
    ... ).tolist()
    True
    """
    if device is not None:
        device = resolve_device(device)
    name = _describe(path)
    meta, weights, arrays = _read_members(path, name)
    _check_header(meta, name)
    if meta["sknlp_rnn_version"] != __version__:
        warnings.warn(
            f"This file was saved by sknlp_rnn {meta['sknlp_rnn_version']} and is "
            f"loaded by sknlp_rnn {__version__}; check its predictions.",
            VersionMismatchWarning,
            stacklevel=2,
        )
    reader = _Reader(weights, arrays, device)
    try:
        obj = reader.decode(meta["object"])
    except (ModelFileError, Warning):
        raise
    except Exception as exc:
        raise ModelFileError(
            f"{name} could not be loaded: its content is damaged "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    for saved in sorted(set(reader.fallbacks)):
        warnings.warn(
            f"This model was trained on {saved!r}, which is not available here; "
            "it was loaded on 'cpu'.",
            DeviceFallbackWarning,
            stacklevel=2,
        )
    return obj


class SafeFormatMixin:
    """``save`` and ``load`` methods for an estimator class (the safe format).

    Mixed into the public estimators that train a torch module, so that
    ``model.save(path)`` and ``RNNTextClassifier.load(path)`` work as
    :func:`save` and :func:`load` do.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> from sknlp_rnn import RNNTextClassifier
    >>> X = np.array([[2, 3, 4], [5, 6, 1], [2, 4, 1], [6, 5, 5]])
    >>> clf = RNNTextClassifier(hidden_size=4, max_epochs=1, random_state=0)
    >>> buffer = clf.fit(X, ["a", "b", "a", "b"]).save(io.BytesIO())
    >>> type(RNNTextClassifier.load(buffer)).__name__
    'RNNTextClassifier'
    """

    def save(self, path):
        """Save this estimator in the safe format (JSON + safetensors, no pickle).

        Parameters
        ----------
        path : str, path-like or binary file object
            Where to write the zip file.

        Returns
        -------
        path : str, path-like or file object
            The ``path`` argument.

        See Also
        --------
        sknlp_rnn.save : The same as a function; also saves Pipelines.
        sknlp_rnn.load : Read the file back.
        """
        return save(self, path)

    @classmethod
    def load(cls, path, *, device=None):
        """Load an estimator of this class written by :meth:`save`.

        Parameters
        ----------
        path : str, path-like or binary file object
            A file written by :meth:`save` or :func:`sknlp_rnn.save`.
        device : str or None, default=None
            Device for the net; ``None`` keeps the saved one when it exists
            here, else the CPU.

        Returns
        -------
        estimator : instance of this class
            The fitted estimator.

        See Also
        --------
        sknlp_rnn.load : Load any saved object (Pipelines too).
        """
        obj = load(path, device=device)
        if not isinstance(obj, cls):
            raise TypeError(
                f"The file holds a {type(obj).__name__}, not a {cls.__name__}; "
                "use sknlp_rnn.load to read any saved object."
            )
        return obj


def _describe(path):
    """How messages name the file."""
    if isinstance(path, (str, os.PathLike)):
        return repr(os.fspath(path))
    return "The file object"


def _read_members(path, name):
    """``(metadata, weights, arrays)`` read from the zip, or ModelFileError."""
    source = os.fspath(path) if isinstance(path, (str, os.PathLike)) else path
    if hasattr(source, "seek"):
        source.seek(0)
    not_ours = f"{name} is not a file written by sknlp_rnn.save"
    try:
        zf = zipfile.ZipFile(source)
    except _ZIP_ERRORS as exc:
        raise ModelFileError(f"{not_ours}: not a zip file.") from exc
    with zf:
        members = set(zf.namelist())
        missing = [m for m in (_META, _WEIGHTS, _ARRAYS) if m not in members]
        if missing:
            raise ModelFileError(f"{not_ours}: it has no {', '.join(missing)}.")
        if zf.getinfo(_META).file_size > _MAX_METADATA_BYTES:
            raise ModelFileError(
                f"{name} is refused: its {_META} is "
                f"{zf.getinfo(_META).file_size} bytes, more than the "
                f"{_MAX_METADATA_BYTES} this version reads."
            )
        try:
            raw = {m: zf.read(m) for m in (_META, _WEIGHTS, _ARRAYS)}
        except _ZIP_ERRORS as exc:
            raise ModelFileError(f"{name} is a damaged zip file ({exc}).") from exc
    try:
        meta = json.loads(raw[_META])
    except RecursionError as exc:
        raise ModelFileError(f"{name}: {_META} is nested too deeply.") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, huge ints
        raise ModelFileError(f"{name}: {_META} is not valid JSON ({exc}).") from exc
    _check_depth(meta, name)
    tables = []
    for member, read in ((_WEIGHTS, load_weights), (_ARRAYS, load_arrays)):
        try:
            tables.append(read(raw[member]))
        except (SafetensorError, ValueError, TypeError, OverflowError) as exc:
            raise ModelFileError(f"{name}: {member} is damaged ({exc}).") from exc
    return meta, *tables


def _check_depth(meta, name):
    """Refuse metadata nested deeper than any file ``save`` writes."""
    level = [meta]
    for _ in range(_MAX_DEPTH):
        level = [
            child
            for node in level
            if isinstance(node, (dict, list))
            for child in (node.values() if isinstance(node, dict) else node)
        ]
        if not level:
            return
    raise ModelFileError(
        f"{name}: {_META} is nested more than {_MAX_DEPTH} levels deep."
    )


def _check_header(meta, name):
    if not isinstance(meta, dict) or meta.get("format") != "sknlp_rnn":
        raise ModelFileError(f"{name} is not a file written by sknlp_rnn.save.")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"{name} has an invalid format version {version!r}.")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{name} uses format version {version}; this sknlp_rnn "
            f"({__version__}) reads up to {FORMAT_VERSION}. Upgrade sknlp_rnn."
        )
    if not isinstance(meta.get("sknlp_rnn_version"), str) or "object" not in meta:
        raise ModelFileError(f"{name} lacks its version or its saved object.")
