"""Optimisation pieces (private): the learning-rate schedules
(:func:`schedule_callbacks`, :class:`LRSchedule`) and the optimizer for sparse
embedding gradients (:class:`LazyAdam`).

A leaf module: depends on torch, skorch and ``_device``.
"""

from __future__ import annotations

import torch
from skorch.callbacks import Callback, LRScheduler
from torch.optim.adam import adam as functional_adam

from ._device import fused_adam_available

# Fraction of the one-cycle steps spent warming up (fast.ai's fit_one_cycle).
ONE_CYCLE_PCT_START = 0.25
# Fewer steps than this keep ``lr`` constant: too short to warm up and anneal.
SCHEDULE_MIN_STEPS = 5
# The values of every estimator's ``lr_schedule``.
SCHEDULES = ("constant", "one_cycle", "cosine", "plateau")
# "plateau": the factor applied to the rates, after this many epochs without
# improvement (issue 13's measurements on large tables: 0.3 after 2 epochs).
PLATEAU_FACTOR = 0.3
PLATEAU_PATIENCE = 2
# "plateau" warms the rates up over WARMUP_EPOCHS from this fraction of them
# (as one-cycle does, from lr / 25): at the full rate from the first step, one
# diamonds seed in three settled 12% worse than the others, 4% with the
# warm-up (3 epochs of warm-up did no better than 1).
WARMUP_DIV = 25
WARMUP_EPOCHS = 1


class LazyAdam(torch.optim.Optimizer):
    """Adam that updates only the embedding rows a batch touched.

    Parameters with dense gradients get Adam's usual update. A parameter with
    a sparse gradient (``nn.Embedding(sparse=True)``) has only the rows in
    its gradient updated, moments included ("lazy" Adam, as
    ``torch.optim.SparseAdam``): a step then costs in proportion to the batch,
    not to the size of the user and item tables, and rows absent from a batch
    keep their moments instead of decaying them. Bias corrections count each
    parameter's steps. ``lr`` and ``betas`` live in the parameter groups, so
    :class:`LRSchedule` schedules them.

    Why not torch's ``SparseAdam`` (sparse table) plus ``Adam`` (the rest),
    which compute the same updates (they differ only in where ``eps`` enters
    the denominator)? One optimizer is cheaper per step:
    ``benchmarks/lazy_adam.py`` measured 0.79x their time per training step of
    the default collaborative-filtering model on MovieLens-sized ids (CPU, one
    thread), and one optimizer is what skorch and the one-cycle schedule drive.

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


class LRSchedule(Callback):
    """A per-batch learning-rate schedule over the whole fit.

    ``policy`` is ``"one_cycle"`` or ``"cosine"``. The number of steps is every
    training batch of ``max_epochs`` epochs, counted from the training set at
    the first epoch (``net.batches_per_epoch``). Each parameter group follows
    the schedule from its own base rate (``net.base_lrs_``), so
    discriminative rates keep their ratios.

    - ``"one_cycle"`` (Smith, 2018; fast.ai's ``fit_one_cycle``): the rate warms
      up from a 25th of the base rate to the base rate during the first
      ``ONE_CYCLE_PCT_START`` (a quarter) of the steps, then anneals (cosine)
      to nearly zero; with an optimizer that has momentum (Adam's first beta,
      or SGD/RMSprop ``momentum > 0``) the momentum moves the opposite way
      between 0.95 and 0.85 (``torch.optim.lr_scheduler.OneCycleLR``);
    - ``"cosine"``: from the base rate down to zero along a half cosine
      (``torch.optim.lr_scheduler.CosineAnnealingLR``).

    Fits of fewer than ``SCHEDULE_MIN_STEPS`` batches in all keep the base
    rate. Each training batch's rate is recorded in the history as
    ``event_lr``. (skorch's ``LRScheduler`` takes the step count when it is
    built, before the training set is known, hence this callback; the
    per-epoch ``"plateau"`` policy uses skorch's.)
    """

    def __init__(self, policy="one_cycle"):
        self.policy = policy

    def on_train_begin(self, net, **kwargs):
        self.scheduler_ = None
        self.steps_ = None

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if self.steps_ is not None:
            return
        epochs = WARMUP_EPOCHS if self.policy == "warmup" else net.max_epochs
        self.steps_ = epochs * net.batches_per_epoch(dataset_train)
        if self.steps_ < SCHEDULE_MIN_STEPS:
            return
        optimizer = net.optimizer_
        if self.policy in ("cosine", "warmup"):
            for group, base in zip(optimizer.param_groups, net.base_lrs_, strict=True):
                group["lr"] = group["initial_lr"] = base
        if self.policy == "cosine":
            self.scheduler_ = torch.optim.lr_scheduler.CosineAnnealingLR(
                optimizer, T_max=self.steps_
            )
            return
        if self.policy == "warmup":
            self.scheduler_ = torch.optim.lr_scheduler.LinearLR(
                optimizer, start_factor=1 / WARMUP_DIV, total_iters=self.steps_ - 1
            )
            return
        defaults = optimizer.defaults
        self.scheduler_ = torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=list(net.base_lrs_),
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
        if scheduler.last_epoch < self.steps_ - 1:  # ends at the minimum
            scheduler.step()


def schedule_callbacks(policy, *, monitor):
    """The skorch callbacks of the ``lr_schedule`` value ``policy``.

    ``"constant"`` needs none; ``"one_cycle"`` and ``"cosine"`` step after each
    training batch (:class:`LRSchedule`); ``"plateau"`` multiplies every rate
    by ``PLATEAU_FACTOR`` after ``PLATEAU_PATIENCE`` epochs without a lower
    ``monitor`` (``"valid_loss"`` or ``"train_loss"``), through skorch's
    ``LRScheduler`` and ``torch.optim.lr_scheduler.ReduceLROnPlateau``.
    """
    if policy == "constant":
        return []
    if policy == "plateau":
        scheduler = LRScheduler(
            policy=torch.optim.lr_scheduler.ReduceLROnPlateau,
            monitor=monitor,
            factor=PLATEAU_FACTOR,
            patience=PLATEAU_PATIENCE,
        )
        return [("lr_warmup", LRSchedule("warmup")), ("lr_schedule", scheduler)]
    return [("lr_schedule", LRSchedule(policy))]
