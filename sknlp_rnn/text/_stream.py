"""Token streams for language models: joining rows, the tail split, callbacks.

The language model trains on one long stream of token ids cut into
``batch_size`` parallel streams and walked in windows of about ``bptt`` tokens
(``_batches.StreamBatches``, trained by ``_nets.StreamNet``), with the hidden
state carried from window to window (truncated BPTT). This module joins rows
into the stream, splits off its tail for validation, and holds the callbacks
that reset the carried state and record perplexity and accuracy. Depends on
torch, skorch and numpy.
"""

from __future__ import annotations

import math

import numpy as np
from skorch.callbacks import Callback
from skorch.dataset import Dataset, unpack_data


def join_rows(X, *, pad_idx, bos_idx):
    """Concatenate token-id rows into one stream, dropping pads.

    Each row is put after a ``bos_idx`` token (unless it already starts with
    one); ``bos_idx=None`` joins the rows directly.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_positions)
        Token ids.
    pad_idx : int
        Padding id (removed wherever it appears).
    bos_idx : int or None
        Beginning-of-document id, or ``None``.

    Returns
    -------
    stream : ndarray of shape (n_tokens,)
        The joined int64 stream.

    Examples
    --------
    >>> import numpy as np
    >>> from sknlp_rnn.text._stream import join_rows
    >>> join_rows(np.array([[5, 6, 1], [2, 7, 1]]), pad_idx=1, bos_idx=2)
    array([2, 5, 6, 2, 7])
    """
    return join_documents(documents(X, pad_idx=pad_idx, bos_idx=bos_idx, empty=None))


def join_documents(docs):
    """Documents (lists of ids, from :func:`documents`) end to end, as one
    int64 stream."""
    return np.concatenate([np.zeros(0, dtype=np.int64), *docs])


def documents(X, *, pad_idx, bos_idx, empty):
    """Rows as lists of ids without pads, each starting with ``bos_idx``.

    A row left with no token becomes ``[empty]`` (or is kept empty when
    ``empty`` is ``None``).
    """
    rows = []
    for row in np.asarray(X):
        row = row[row != pad_idx]
        if bos_idx is not None and (row.size == 0 or row[0] != bos_idx):
            row = np.concatenate([[bos_idx], row])
        if row.size == 0 and empty is not None:
            row = np.array([empty])
        rows.append(row.astype(np.int64))
    return rows


def tail_documents(docs, start):
    """The documents that the stream's tail from position ``start`` holds.

    ``docs`` joined end to end are the stream (as ``join_rows`` joins them);
    the first document the tail cuts into keeps only its part after ``start``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknlp_rnn.text._stream import tail_documents
    >>> tail_documents([np.array([2, 5, 6]), np.array([2, 7, 8])], 4)
    [array([7, 8])]
    """
    tail, end = [], 0
    for doc in docs:
        end += len(doc)
        if end > start:
            tail.append(doc[max(0, len(doc) - (end - start)) :])
    return tail


class TailSplit:
    """skorch ``train_split``: the last ``fraction`` of the stream validates.

    Parameters
    ----------
    fraction : float
        Share of the tokens, taken from the end of the stream.
    """

    def __init__(self, fraction):
        self.fraction = fraction

    def __call__(self, dataset, y=None, groups=None):
        stream = np.asarray(dataset.X)
        cut = len(stream) - int(round(self.fraction * len(stream)))
        return Dataset(stream[:cut]), Dataset(stream[cut:])


def check_tail_split(fraction, n_tokens):
    """Raise ``ValueError`` when the tail split leaves a part under 2 tokens."""
    n_valid = int(round(fraction * n_tokens))
    if n_valid < 2 or n_tokens - n_valid < 2:
        raise ValueError(
            f"validation_fraction={fraction} leaves {n_valid} of the {n_tokens} "
            "tokens of the stream for validation; each part needs at least 2 "
            "tokens. Use a different fraction, more text, or "
            "validation_fraction=None."
        )


class ResetState(Callback):
    """Zero the module's carried state at each epoch start and before validation."""

    def on_epoch_begin(self, net, **kwargs):
        net.module_.reset_state()
        self.validating_ = False

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training and not getattr(self, "validating_", False):
            net.module_.reset_state()
            self.validating_ = True


def _perplexity(mean_loss):
    """``exp(mean_loss)``; ``inf`` where it overflows a float (a diverging
    model's loss can be finite and still above 709)."""
    return math.exp(mean_loss) if mean_loss < 709.0 else math.inf


class StreamScores(Callback):
    """Record ``train_perplexity``, ``valid_perplexity`` and ``valid_acc``.

    Perplexity is ``exp`` of the token-weighted mean cross-entropy of the pass
    (without the AR/TAR penalty); ``valid_acc`` is next-token accuracy over
    every position of the validation windows. The sums stay on the device
    during the pass and are read once at the end of the epoch.
    """

    def on_epoch_begin(self, net, **kwargs):
        self.sums_ = {"train": [0.0, 0], "valid": [0.0, 0]}
        self.correct_ = 0

    def on_batch_end(self, net, batch=None, training=False, **step):
        _, yi = unpack_data(batch)
        n = yi.numel()
        ce = step["data_loss"] if training else step["loss"]
        part = self.sums_["train" if training else "valid"]
        part[0] = part[0] + ce.detach() * n
        part[1] += n
        if not training:
            pred = step["y_pred"].argmax(-1)
            self.correct_ = self.correct_ + (pred == yi.to(pred.device)).sum()

    def on_epoch_end(self, net, **kwargs):
        for prefix, (total, n) in self.sums_.items():
            if n:
                net.history.record(
                    f"{prefix}_perplexity", _perplexity(float(total) / n)
                )
        if self.sums_["valid"][1]:
            net.history.record(
                "valid_acc", float(self.correct_) / self.sums_["valid"][1]
            )
