"""Batches for the skorch nets: whole tensors, token streams, length buckets.

Every iterator here yields ``(X, y)`` batches for the nets of ``_nets``:

- :class:`WholeTensorBatches` cuts batches by index from tensors that were
  copied to the net's device once per fit (:func:`on_device`), for the tabular
  estimators;
- :class:`StreamBatches` walks ``n_streams`` parallel cuts of one token stream
  in windows of about ``bptt`` tokens (truncated BPTT), for the language model;
- :func:`bucket_loader` groups documents of similar length
  (:class:`BucketBatchSampler`) and trims pad columns (:func:`trim_collate`),
  for the text classifier.

A leaf module: depends on torch, skorch's dataset helpers and numpy.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler
from torch.utils.data.dataloader import default_collate


def unwrap_subsets(dataset):
    """The base skorch Dataset behind ``dataset`` (or Subsets of it) and the
    row indices (``None``: all rows)."""
    indices = None
    while isinstance(dataset, torch.utils.data.Subset):
        sub = torch.as_tensor(np.asarray(dataset.indices), dtype=torch.int64)
        indices = sub if indices is None else sub[indices]
        dataset = dataset.dataset
    return dataset, indices


class RowSplit:
    """A skorch ``train_split``: fixed training and validation rows.

    Called with the training ``Dataset``, returns the two ``Subset`` views of
    it. The rows are chosen by the estimator (a random, stratified or tail
    split), so a warm-started fit can validate on the same rows.
    """

    def __init__(self, train_rows, valid_rows):
        self.train_rows = np.asarray(train_rows, dtype=np.int64)
        self.valid_rows = np.asarray(valid_rows, dtype=np.int64)

    def __call__(self, dataset, y=None, **fit_params):
        return (
            torch.utils.data.Subset(dataset, self.train_rows.tolist()),
            torch.utils.data.Subset(dataset, self.valid_rows.tolist()),
        )


def on_device(dataset, device):
    """``(X, y)`` of a skorch Dataset as tensors on ``device``, copied once.

    The copies are kept on the dataset object, which lives for one ``fit``:
    every epoch's batches are then cut on the device, with no host-to-device
    copy per batch.
    """
    cached = getattr(dataset, "_sknlp_device_tensors", None)
    if cached is None or cached[0] != str(device):

        def move(value):
            return None if value is None else torch.as_tensor(value).to(device)

        if isinstance(dataset.X, dict):
            X = {key: move(value) for key, value in dataset.X.items()}
        else:
            X = move(dataset.X)
        cached = (str(device), X, move(dataset.y))
        dataset._sknlp_device_tensors = cached
    return cached[1], cached[2]


class WholeTensorBatches:
    """Re-iterable mini-batches cut from whole tensors (no per-row collation).

    ``X`` is a tensor or a dict of tensors (passed to the module as keyword
    arguments); each batch is one index (or slice) of every tensor, on the
    tensors' device. Rows are ``indices`` (all rows when ``None``), in a fresh
    ``torch.randperm`` order each pass when ``shuffle``, drawn on that device
    from torch's random generator, so a seeded fit sees the same batches
    every time.
    """

    def __init__(self, X, y, indices, batch_size, shuffle):
        if isinstance(X, dict):
            self.X = {key: torch.as_tensor(value) for key, value in X.items()}
            first = next(iter(self.X.values()))
        else:
            self.X = first = torch.as_tensor(X)
        self.device = first.device
        self.y = None if y is None else torch.as_tensor(y)
        self.indices = None if indices is None else indices.to(self.device)
        self.n = len(first) if indices is None else len(indices)
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return -(-self.n // self.batch_size)

    def _take(self, rows):
        if isinstance(self.X, dict):
            Xb = {key: value[rows] for key, value in self.X.items()}
        else:
            Xb = self.X[rows]
        return Xb, None if self.y is None else self.y[rows]

    def __iter__(self):
        order = self.indices
        if self.shuffle:
            order = torch.randperm(self.n, device=self.device)
            if self.indices is not None:
                order = self.indices[order]
        for start in range(0, self.n, self.batch_size):
            stop = start + self.batch_size
            yield self._take(slice(start, stop) if order is None else order[start:stop])


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
    >>> from sknlp_rnn._batches import StreamBatches
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


def row_lengths(X, pad_idx):
    """Length of each row up to and including its last non-pad token."""
    if torch.is_tensor(X):
        positions = torch.arange(1, X.shape[1] + 1, device=X.device)
        return ((X != pad_idx) * positions).amax(1)
    return ((X != pad_idx) * np.arange(1, X.shape[1] + 1)).max(1)


def trim_collate(batch, pad_idx):
    """Collate a batch, cut the pad columns every row of it has, and measure it.

    Returns ``[{"tokens": ids, "lengths": lengths}, *rest]``: the row lengths
    are computed here, on the host, and stay there (packed sequences read
    them from host memory; measuring on a GPU would wait for it every batch).
    """
    Xb, *rest = default_collate(batch)
    lengths = np.maximum(row_lengths(Xb.numpy(), pad_idx), 1)
    width = int(lengths.max(initial=1))
    return [{"tokens": Xb[:, :width], "lengths": torch.from_numpy(lengths)}, *rest]


class BucketBatchSampler(Sampler):
    """Batches of rows of similar length, in random order.

    Rows are shuffled, cut into pools of ``pool_batches * batch_size``, each pool
    is sorted by length and cut into batches, and the batches are shuffled, so
    little compute goes to pads while every epoch still sees new batches.

    Parameters
    ----------
    lengths : array-like of int
        Real length of each row.
    batch_size : int
        Rows per batch.
    pool_batches : int, default=50
        Batches per sorted pool.

    Examples
    --------
    >>> from sknlp_rnn._batches import BucketBatchSampler
    >>> batches = list(BucketBatchSampler([1, 9, 2, 8], batch_size=2))
    >>> sorted(sorted(b) for b in batches)
    [[0, 2], [1, 3]]
    """

    def __init__(self, lengths, batch_size, pool_batches=50):
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.pool_batches = pool_batches

    def __len__(self):
        return int(np.ceil(len(self.lengths) / self.batch_size))

    def __iter__(self):
        order = torch.randperm(len(self.lengths)).numpy()
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool):
            chunk = order[start : start + pool]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches += [
                chunk[i : i + self.batch_size].tolist()
                for i in range(0, len(chunk), self.batch_size)
            ]
        for i in torch.randperm(len(batches)).tolist():
            yield batches[i]


def dataset_tokens(dataset):
    """The id matrix behind a skorch Dataset or a ``Subset`` of one."""
    base, indices = unwrap_subsets(dataset)
    tokens = np.asarray(base.X)
    return tokens if indices is None else tokens[indices.numpy()]


def bucket_loader(dataset, batch_size, pad_idx, **kwargs):
    """A DataLoader with length-bucketed batches and pad trimming (training)."""
    lengths = row_lengths(dataset_tokens(dataset), pad_idx)
    return DataLoader(
        dataset,
        batch_sampler=BucketBatchSampler(lengths, batch_size),
        collate_fn=partial(trim_collate, pad_idx=pad_idx),
        **kwargs,
    )


def ordered_loader(dataset, batch_size, pad_idx):
    """A DataLoader over rows in order, with pad trimming (evaluation)."""
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        collate_fn=partial(trim_collate, pad_idx=pad_idx),
    )
