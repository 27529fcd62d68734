"""The skorch net behind EntityEmbeddingRegressor and its fast batching (private).

Depends on torch, skorch and numpy.
"""

from __future__ import annotations

import numpy as np
import torch

from .._base import _Net

# Rows per batch at prediction time (batch norm uses running statistics then,
# so the batch size does not change predictions).
_PREDICT_BATCH_SIZE = 4096


class _BatchSlicer:
    """Re-iterable mini-batches cut from whole tensors (no per-row collation).

    Training order is a fresh permutation each epoch, drawn from a generator
    seeded from torch's global RNG (as ``torch.utils.data.RandomSampler``
    does), so a seeded fit sees the same batches every time.
    """

    def __init__(self, X, y, indices, batch_size, shuffle):
        self.X = {key: torch.as_tensor(value) for key, value in X.items()}
        self.y = None if y is None else torch.as_tensor(y)
        self.indices = (
            None if indices is None else torch.as_tensor(np.asarray(indices))
        )
        self.n = len(next(iter(self.X.values()))) if indices is None else len(indices)
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return -(-self.n // self.batch_size)

    def __iter__(self):
        order = self.indices
        if self.shuffle:
            seed = int(torch.empty((), dtype=torch.int64).random_().item())
            generator = torch.Generator().manual_seed(seed)
            order = torch.randperm(self.n, generator=generator)
            if self.indices is not None:
                order = self.indices[order]
        for start in range(0, self.n, self.batch_size):
            rows = (
                slice(start, start + self.batch_size)
                if order is None
                else order[start : start + self.batch_size]
            )
            Xb = {key: value[rows] for key, value in self.X.items()}
            yield Xb, None if self.y is None else self.y[rows]


class TabularNet(_Net):
    """skorch net whose batches are sliced from whole tensors."""

    def get_iterator(self, dataset, training=False):
        base, indices = dataset, None
        if isinstance(dataset, torch.utils.data.Subset):
            base, indices = dataset.dataset, dataset.indices
        if not isinstance(getattr(base, "X", None), dict):
            return super().get_iterator(dataset, training=training)
        batch_size = (
            self.batch_size if training else max(self.batch_size, _PREDICT_BATCH_SIZE)
        )
        return _BatchSlicer(base.X, base.y, indices, batch_size, shuffle=training)
