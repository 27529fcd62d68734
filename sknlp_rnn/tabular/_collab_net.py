"""Training machinery of CollabFilterRegressor: whole-tensor batches, the skorch
net that adds the L2 penalty, and the one-cycle learning-rate callback.

Depends on torch, skorch and numpy.
"""

from __future__ import annotations

import numpy as np
import torch
from skorch.callbacks import Callback
from skorch.utils import TeeGenerator
from torch.torch_version import TorchVersion

from .._base import _Net

# torch runs Adam's update as one fused kernel on CPU from 2.4 (CUDA earlier)
_HAS_FUSED_ADAM = TorchVersion(torch.__version__) >= (2, 4)


def _dataset_arrays(dataset):
    """The X and y tensors behind a skorch Dataset or a Subset of one."""
    indices = None
    while isinstance(dataset, torch.utils.data.Subset):
        sub = torch.as_tensor(np.asarray(dataset.indices), dtype=torch.int64)
        indices = sub if indices is None else sub[indices]
        dataset = dataset.dataset
    X = torch.as_tensor(dataset.X)
    y = None if dataset.y is None else torch.as_tensor(dataset.y)
    if indices is not None:
        X = X[indices]
        y = None if y is None else y[indices]
    return X, y


class _Batches:
    """Whole-tensor batching: each batch is one fancy-index of X and y."""

    def __init__(self, X, y, batch_size, shuffle):
        self.X, self.y = X, y
        self.batch_size = batch_size
        self.shuffle = shuffle

    def __len__(self):
        return -(-len(self.X) // self.batch_size)

    def __iter__(self):
        n = len(self.X)
        order = torch.randperm(n) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            rows = (
                order[start : start + self.batch_size]
                if self.shuffle
                else slice(start, start + self.batch_size)
            )
            yield self.X[rows], (None if self.y is None else self.y[rows])


class _CollabNet(_Net):
    """skorch net with tensor-sliced batches and an L2 penalty on the ids used.

    Its training step is skorch's without the optimizer closure (Adam never
    re-evaluates the loss): with cheap batches, that bookkeeping was a
    measurable part of the step.
    """

    def __init__(self, *args, penalty=0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.penalty = penalty

    def get_iterator(self, dataset, training=False):
        X, y = _dataset_arrays(dataset)
        if training:
            shuffle = self.get_params_for("iterator_train").get("shuffle", True)
        else:
            shuffle = False
        return _Batches(X, y, self.batch_size, shuffle)

    def train_step(self, batch, **fit_params):
        if self.grad_scaler_ is not None:  # float16 on CUDA: the base scales
            return super().train_step(batch, **fit_params)
        self.optimizer_.zero_grad()
        step = self.train_step_single(batch, **fit_params)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        self.optimizer_.step()
        return step

    def get_loss(self, y_pred, y_true, X=None, training=False):
        # evaluation forwards are float64 (see DotProductBias); the loss is float32
        loss = super().get_loss(y_pred.float(), y_true, X=X, training=training)
        penalty, self.module_.last_penalty = self.module_.last_penalty, None
        if training and self.penalty and penalty is not None:
            loss = loss + self.penalty * penalty
        return loss


class _OneCycle(Callback):
    """torch's OneCycleLR over all training batches of ``max_epochs`` epochs."""

    def on_train_begin(self, net, **kwargs):
        self.scheduler_ = None

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if self.scheduler_ is None:
            n_batches = -(-len(dataset_train) // net.batch_size)
            self.scheduler_ = torch.optim.lr_scheduler.OneCycleLR(
                net.optimizer_, max_lr=net.lr, total_steps=net.max_epochs * n_batches
            )

    def on_batch_end(self, net, training=False, **kwargs):
        if training and self.scheduler_.last_epoch < self.scheduler_.total_steps:
            self.scheduler_.step()
