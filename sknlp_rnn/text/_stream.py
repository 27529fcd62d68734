"""Token streams for language models: joining rows, BPTT windows, the skorch net.

The language model trains on one long stream of token ids cut into
``batch_size`` parallel streams and walked in windows of about ``bptt`` tokens,
with the hidden state carried from window to window (truncated BPTT). This
module holds the pieces that skorch calls: the window iterator, the tail
validation split, the net subclass (``get_iterator``, ``get_loss``,
``train_step_single``) and the callbacks that reset the state and record
perplexity. Depends on torch, skorch and numpy.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.dataset import Dataset, unpack_data
from skorch.utils import to_tensor

from .._base import _Net


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
    return np.concatenate(
        [np.zeros(0, dtype=np.int64)]
        + documents(X, pad_idx=pad_idx, bos_idx=bos_idx, empty=None)
    )


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


class StreamBatches:
    """Windows over ``n_streams`` parallel cuts of one token stream.

    The stream is cut into ``n_streams`` contiguous pieces of equal length (the
    few leftover tokens at its end are dropped), stacked as rows, and walked
    left to right: each batch is ``(x, y)`` with ``y`` the tokens one step
    after ``x``. Iterating again starts a new pass. With ``vary=True`` the
    window length is drawn anew for every batch from torch's random generator:
    usually about ``bptt`` (normal spread of a tenth of it), one time in ten
    about half of it, so every pass cuts the stream at different points.

    Parameters
    ----------
    stream : array-like of int of shape (n_tokens,)
        The token stream (at least 2 tokens).
    n_streams : int
        Number of parallel streams (rows of every batch); reduced so that every
        stream holds at least 2 tokens.
    bptt : int
        Window length.
    vary : bool, default=False
        Draw a random window length for each batch.

    Examples
    --------
    >>> from sknlp_rnn.text._stream import StreamBatches
    >>> x, y = next(iter(StreamBatches(range(10), n_streams=2, bptt=3)))
    >>> x.tolist(), y.tolist()
    ([[0, 1], [5, 6]], [[1, 2], [6, 7]])
    """

    def __init__(self, stream, n_streams, bptt, vary=False):
        stream = torch.as_tensor(np.asarray(stream, dtype=np.int64))
        n_streams = max(1, min(int(n_streams), len(stream) // 2))
        length = len(stream) // n_streams
        self.data = stream[: n_streams * length].view(n_streams, length)
        self.bptt = int(bptt)
        self.vary = vary

    def __len__(self):
        return max(1, math.ceil((self.data.size(1) - 1) / self.bptt))

    def window_lengths(self):
        """Lengths of the windows of one pass (they sum to ``length - 1``)."""
        total = self.data.size(1) - 1
        if not self.vary:
            # Near-equal windows, so per-batch loss means weigh tokens equally.
            return [len(a) for a in np.array_split(np.arange(total), len(self))]
        lengths, done = [], 0
        spread = max(1.0, self.bptt / 10)
        # Random numbers are drawn in blocks of a pass's expected window count
        # (a few tensor ops per pass, not per window).
        block = max(1, math.ceil(total / self.bptt))
        while done < total:
            halves = (torch.rand(block) < 0.1).tolist()
            noise = torch.randn(block).tolist()
            for half, z in zip(halves, noise, strict=True):
                base = self.bptt / 2 if half else self.bptt
                size = min(max(int(round(base + spread * z)), 2), total - done)
                lengths.append(size)
                done += size
                if done >= total:
                    break
        return lengths

    def __iter__(self):
        start = 0
        for size in self.window_lengths():
            yield (
                self.data[:, start : start + size],
                self.data[:, start + 1 : start + size + 1],
            )
            start += size


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


class StreamNet(_Net):
    """skorch net for truncated BPTT over a token stream (private).

    ``fit`` receives the joined 1-D stream. Batches come from
    :class:`StreamBatches` (never shuffled; random window lengths in training
    when ``vary_bptt``); the module carries its hidden state between batches.
    The loss is cross-entropy over every position plus, in training, activation
    regularisation ``alpha * mean(out**2)`` on the dropped-out last layer
    outputs and temporal activation regularisation ``beta * mean((raw[t] -
    raw[t-1])**2)`` on the raw ones.
    """

    def __init__(self, *args, bptt=32, vary_bptt=True, alpha=0.0, beta=0.0, **kw):
        super().__init__(*args, **kw)
        self.bptt = bptt
        self.vary_bptt = vary_bptt
        self.alpha = alpha
        self.beta = beta

    def get_iterator(self, dataset, training=False):
        return StreamBatches(
            dataset.X,
            n_streams=self.batch_size,
            bptt=self.bptt,
            vary=training and self.vary_bptt,
        )

    def loss_terms(self, y_pred, y_true, training=False):
        """Cross-entropy and the AR/TAR penalty (zero outside training)."""
        logits, raw, out = y_pred
        logits = logits.float()  # mixed precision: the loss is float32
        y_true = to_tensor(y_true, device=self.device)
        ce = self.criterion_(logits.reshape(-1, logits.size(-1)), y_true.reshape(-1))
        penalty = ce.new_zeros(())
        if training and self.alpha:
            penalty = penalty + self.alpha * out.pow(2).mean()
        if training and self.beta and raw.size(1) > 1:
            penalty = penalty + self.beta * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
        return ce, penalty

    def get_loss(self, y_pred, y_true, X=None, training=False):
        ce, penalty = self.loss_terms(y_pred, y_true, training=training)
        return ce + penalty

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        ce, penalty = self.loss_terms(y_pred, yi, training=True)
        loss = self.scaled_for_backward(ce + penalty)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred, "cross_entropy": ce.detach()}


class ResetState(Callback):
    """Zero the module's carried state at each epoch start and before validation."""

    def on_epoch_begin(self, net, **kwargs):
        net.module_.reset_state()
        self.validating_ = False

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training and not getattr(self, "validating_", False):
            net.module_.reset_state()
            self.validating_ = True


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
        ce = step["cross_entropy"] if training else step["loss"]
        part = self.sums_["train" if training else "valid"]
        part[0] = part[0] + ce.detach() * n
        part[1] += n
        if not training:
            pred = step["y_pred"][0].argmax(-1)
            self.correct_ = self.correct_ + (pred == yi.to(pred.device)).sum()

    def on_epoch_end(self, net, **kwargs):
        for prefix, (total, n) in self.sums_.items():
            if n:
                net.history.record(f"{prefix}_perplexity", math.exp(float(total) / n))
        if self.sums_["valid"][1]:
            net.history.record(
                "valid_acc", float(self.correct_) / self.sums_["valid"][1]
            )
