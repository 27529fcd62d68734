"""The skorch net behind EntityEmbeddingRegressor and its fast batching (private).

Depends on torch, skorch and numpy.
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np
import torch
from skorch.callbacks import LRScheduler

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
        self.indices = None if indices is None else torch.as_tensor(np.asarray(indices))
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


def predict_float64(module, inputs, device):
    """Eval-mode forward pass of a float64 copy of ``module``, as numpy.

    Running the trained float32 weights in float64 makes a row's prediction
    independent of the other rows in its batch (float32 matrix products round
    differently for different batch shapes), at the cost of a transient copy.
    """
    copy = deepcopy(module).to(device=device, dtype=torch.float64).eval()
    x_cat = torch.as_tensor(inputs["x_cat"])
    x_cont = torch.as_tensor(inputs["x_cont"], dtype=torch.float64)
    outputs = []
    with torch.no_grad():
        for start in range(0, len(x_cat), _PREDICT_BATCH_SIZE):
            rows = slice(start, start + _PREDICT_BATCH_SIZE)
            out = copy(x_cat[rows].to(device), x_cont[rows].to(device))
            outputs.append(out.cpu())
    return torch.cat(outputs).numpy()


def one_cycle(lr, total_steps, optimizer_class):
    """A skorch callback running the one-cycle learning-rate policy per batch.

    The rate warms up from ``lr / 25`` to ``lr`` over the first quarter of the
    steps, then anneals (cosine) to nearly zero; with Adam/AdamW the first
    momentum moves the opposite way, between 0.95 and 0.85 (Smith, 2018; the
    fast.ai ``fit_one_cycle`` recipe).
    """
    return LRScheduler(
        policy=torch.optim.lr_scheduler.OneCycleLR,
        monitor=None,
        step_every="batch",
        max_lr=lr,
        total_steps=int(total_steps),
        pct_start=0.25,
        cycle_momentum=optimizer_class in (torch.optim.Adam, torch.optim.AdamW),
    )
