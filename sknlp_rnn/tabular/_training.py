"""Training plumbing shared by the tabular estimators (private).

One whole-tensor batch iterator (:class:`WholeTensorBatches`, for a matrix or
a dict of arrays), one skorch net using it (:class:`TabularNet`, and
:class:`PenalizedTabularNet` adding the modules' L2 penalty), and one
one-cycle learning-rate callback (:class:`OneCycle`), and one optimizer for
sparse embedding gradients (:class:`LazyAdam`).
EntityEmbeddingRegressor and CollabFilterRegressor both train through them.

Depends on torch, skorch and numpy.
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np
import torch
from skorch.callbacks import Callback
from torch.optim.adam import adam as functional_adam

from .._base import _Net
from .._device import fused_adam_available

# Rows per batch when evaluating (validation loss, prediction): no gradients,
# and the tabular modules give the same output whatever the batch.
PREDICT_BATCH_SIZE = 4096

# Fraction of the one-cycle steps spent warming up (fast.ai's fit_one_cycle).
ONE_CYCLE_PCT_START = 0.25
# Fewer steps than this keep ``lr`` constant: too short to warm up and anneal.
ONE_CYCLE_MIN_STEPS = 5


def _unwrap(dataset):
    """The base skorch Dataset behind ``dataset`` (or Subsets of it) and the
    row indices (``None``: all rows)."""
    indices = None
    while isinstance(dataset, torch.utils.data.Subset):
        sub = torch.as_tensor(np.asarray(dataset.indices), dtype=torch.int64)
        indices = sub if indices is None else sub[indices]
        dataset = dataset.dataset
    return dataset, indices


def _on_device(dataset, device):
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


class TabularNet(_Net):
    """skorch net whose batches are cut on the device from whole tensors.

    The training data go to the net's device once per ``fit``; every batch is
    then an index into them (:class:`WholeTensorBatches`). Evaluation batches
    hold at least ``PREDICT_BATCH_SIZE`` rows.
    """

    def get_iterator(self, dataset, training=False):
        base, indices = _unwrap(dataset)
        X, y = _on_device(base, self.device or "cpu")
        if training:
            shuffle = self.get_params_for("iterator_train").get("shuffle", True)
            batch_size = self.batch_size
        else:
            shuffle, batch_size = False, max(self.batch_size, PREDICT_BATCH_SIZE)
        return WholeTensorBatches(X, y, indices, batch_size, shuffle)


class PenalizedTabularNet(TabularNet):
    """:class:`TabularNet` adding ``penalty * module.last_penalty`` to training losses.

    The module stores ``last_penalty`` (an L2 term over the embedding rows the
    batch looked up) in each training forward pass. With ``lazy_adam``, Adam
    is replaced by :class:`LazyAdam`.
    """

    def __init__(self, *args, penalty=0.0, lazy_adam=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.penalty = penalty
        self.lazy_adam = lazy_adam

    def initialize_optimizer(self, *args, **kwargs):
        """With ``lazy_adam``, an ``optimizer`` of ``torch.optim.Adam`` becomes
        :class:`LazyAdam` (same arguments): sparse embedding gradients then
        update only the rows a batch touched."""
        if not (self.lazy_adam and self.optimizer is torch.optim.Adam):
            return super().initialize_optimizer(*args, **kwargs)
        named = self.get_all_learnable_params()
        args, kwargs = self.get_params_for_optimizer("optimizer", named)
        self.optimizer_ = LazyAdam(*args, **kwargs)
        return self

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        penalty, self.module_.last_penalty = self.module_.last_penalty, None
        if training and self.penalty and penalty is not None:
            loss = loss + self.scaled_for_backward(self.penalty * penalty)
        return loss


class LazyAdam(torch.optim.Optimizer):
    """Adam that updates only the embedding rows a batch touched.

    Parameters with dense gradients get Adam's usual update. A parameter with
    a sparse gradient (``nn.Embedding(sparse=True)``) has only the rows in
    its gradient updated, moments included ("lazy" Adam, as
    ``torch.optim.SparseAdam``): a step then costs in proportion to the batch,
    not to the size of the user and item tables, and rows absent from a batch
    keep their moments instead of decaying them. Bias corrections count each
    parameter's steps. ``lr`` and ``betas`` live in the parameter groups, so
    :class:`OneCycle` schedules them.

    Parameters
    ----------
    params : iterable of tensors or dicts
        Parameters or parameter groups.
    lr : float, default=1e-3
        Learning rate.
    betas : tuple of (float, float), default=(0.9, 0.999)
        Decay rates of the first and second moments.
    eps : float, default=1e-8
        Added to the denominator.
    weight_decay : float, default=0.0
        L2 penalty added to the gradient (of the touched rows only, for a
        sparse gradient), as Adam's ``weight_decay``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            dense = []
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    self._sparse_step(param, group)
                else:
                    dense.append(param)
            if dense:
                self._dense_step(dense, group)
        return loss

    def _dense_step(self, params, group):
        """Adam on dense gradients: torch's functional Adam, fused where it can."""
        fused = fused_adam_available(params[0].device) and all(
            p.dtype.is_floating_point for p in params
        )
        states = [self.state[p] for p in params]
        for param, state in zip(params, states, strict=True):
            if not state:
                device = param.device if fused else None
                state["step"] = torch.zeros((), dtype=torch.float32, device=device)
                state["exp_avg"] = torch.zeros_like(param)
                state["exp_avg_sq"] = torch.zeros_like(param)
        beta1, beta2 = group["betas"]
        functional_adam(
            params,
            [p.grad for p in params],
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [],
            [s["step"] for s in states],
            foreach=False,
            fused=fused,
            amsgrad=False,
            beta1=beta1,
            beta2=beta2,
            lr=group["lr"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
            maximize=False,
        )

    def _sparse_step(self, param, group):
        """Adam on the rows in ``param``'s sparse gradient only."""
        state = self.state[param]
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(param)
            state["exp_avg_sq"] = torch.zeros_like(param)
        state["step"] += 1
        (beta1, beta2), step = group["betas"], state["step"]
        grad, decay = param.grad.coalesce(), group["weight_decay"]
        rows, values = grad.indices()[0], grad.values()
        if decay:
            values = values.add(param.index_select(0, rows), alpha=decay)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        mean = exp_avg.index_select(0, rows).lerp_(values, 1 - beta1)
        square = exp_avg_sq.index_select(0, rows).mul_(beta2)
        square.addcmul_(values, values, value=1 - beta2)
        exp_avg.index_copy_(0, rows, mean)
        exp_avg_sq.index_copy_(0, rows, square)
        denom = square.div_(1 - beta2**step).sqrt_().add_(group["eps"])
        update = mean.div_(denom).mul_(-group["lr"] / (1 - beta1**step))
        param.index_add_(0, rows, update)


class OneCycle(Callback):
    """The one-cycle learning-rate policy, stepped after every training batch.

    Over all training batches of ``max_epochs`` epochs (counted exactly from
    the training set at the first epoch), the rate warms up from ``lr / 25``
    to ``lr`` during the first ``ONE_CYCLE_PCT_START`` (a quarter) of the
    steps, then anneals (cosine) to nearly zero (Smith, 2018; fast.ai's
    ``fit_one_cycle``). With an optimizer that has momentum (Adam's first
    beta, or SGD/RMSprop ``momentum > 0``), the momentum moves the opposite
    way between 0.95 and 0.85. Fits of fewer than ``ONE_CYCLE_MIN_STEPS``
    batches in all keep ``lr`` constant. Each training batch's rate is
    recorded in the history as ``event_lr``.
    """

    def on_train_begin(self, net, **kwargs):
        self.scheduler_ = None
        self.steps_ = None

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if self.steps_ is not None:
            return
        self.steps_ = net.max_epochs * -(-len(dataset_train) // net.batch_size)
        if self.steps_ < ONE_CYCLE_MIN_STEPS:
            return
        defaults = net.optimizer_.defaults
        self.scheduler_ = torch.optim.lr_scheduler.OneCycleLR(
            net.optimizer_,
            max_lr=net.lr,
            total_steps=self.steps_,
            pct_start=ONE_CYCLE_PCT_START,
            cycle_momentum="betas" in defaults or defaults.get("momentum", 0) > 0,
        )

    def on_batch_end(self, net, training=False, **kwargs):
        scheduler = self.scheduler_
        if not training or scheduler is None:
            return
        # the rate this batch used, as skorch's LRScheduler records it
        net.history.record_batch("event_lr", scheduler.get_last_lr()[0])
        if scheduler.last_epoch < scheduler.total_steps - 1:  # ends at the minimum
            scheduler.step()


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
        for start in range(0, len(x_cat), PREDICT_BATCH_SIZE):
            rows = slice(start, start + PREDICT_BATCH_SIZE)
            out = copy(x_cat[rows].to(device), x_cont[rows].to(device))
            outputs.append(out.cpu())
    return torch.cat(outputs).numpy()
