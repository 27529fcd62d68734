"""The one private base of the estimators that train a torch module.

:class:`BaseTorchEstimator` declares what every such estimator provides (the
hooks below) and does the rest: it resolves the device, seeds torch from
``random_state``, builds the skorch net that runs the training loop and keeps it
as ``net_``, and predicts in batches without gradients. Depends on torch,
skorch, scikit-learn, numpy and the modules ``_batches``, ``_device``,
``_nets`` and ``_optim``; it never imports persistence.
"""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted
from skorch.callbacks import EarlyStopping, GradientNormClipping, ProgressBar

from ._batches import RowSplit
from ._device import (
    PRECISIONS,
    check_precision,
    deterministic_kernels,
    fused_adam_available,
    resolve_device,
)
from ._nets import TorchNet, pack_weights
from ._optim import SCHEDULES, schedule_callbacks
from .exceptions import DeviceFallbackWarning, NotFittedError

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}

# Epochs with at least this many batches get a progress bar at verbose=1.
_PROGRESS_BAR_MIN_BATCHES = 50
# early_stopping: "auto" switches it on above this many training samples, and
# then holds out this fraction and waits this many epochs unless
# validation_fraction and patience say otherwise.
EARLY_STOPPING_MIN_SAMPLES = 10_000
EARLY_STOPPING_FRACTION = 0.1
EARLY_STOPPING_PATIENCE = 6


def epochs_for_steps(n_train, batch_size, steps, min_epochs, max_epochs):
    """Epochs that give ``n_train`` samples in batches of ``batch_size`` at
    least ``steps`` optimizer steps, within ``[min_epochs, max_epochs]``
    (the ``max_epochs="auto"`` rule of the estimators that step-count).

    Examples
    --------
    >>> from sknlp_rnn._base import epochs_for_steps
    >>> epochs_for_steps(14_000, 1536, 150, 4, 50), epochs_for_steps(40, 32, 150, 4, 50)
    (15, 50)
    """
    batches = math.ceil(n_train / batch_size)
    return min(max_epochs, max(min_epochs, math.ceil(steps / batches)))


class BaseTorchEstimator(BaseEstimator):
    """Behaviour shared by the estimators that train a torch module (private).

    A subclass stores its hyperparameters in a keyword-only ``__init__``,
    validates its input and learns data-dependent sizes in ``fit``, then calls
    :meth:`_fit_net`, which builds the net from the hooks below and trains it.
    Prediction goes through :meth:`_forward`.

    The hooks every estimator provides:

    - ``_build_module()``: the torch module (fresh weights) from the
      hyperparameters and the fitted sizes; its ``forward`` returns
      ``(output, aux_loss)`` (see :mod:`sknlp_rnn._nets`). Loading a saved
      model calls it too, then loads the weights;
    - ``_net_class``: the :class:`~sknlp_rnn._nets.TorchNet` (sub)class;
    - ``_criterion``: the torch loss class applied to the module's output;
    - ``_net_kwargs()``: extra arguments of the net (default none);
    - ``_net_callbacks()``: the estimator's own skorch callbacks (default
      none); the shared ones (learning-rate schedule, clipping, early
      stopping, progress bar) and the user's ``callbacks`` come after them;
    - ``_auto_max_epochs(n_train, early_stopping)``: the epochs of
      ``max_epochs="auto"``, for the estimators that offer it.
    """

    _net_class = TorchNet
    _criterion = None

    _parameter_constraints: dict = {
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), callable],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "lr_schedule": [StrOptions(set(SCHEDULES))],
        "validation_fraction": [None, Interval(Real, 0, 1, closed="neither")],
        "validation_split": [StrOptions({"random", "tail"})],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "warm_start": ["boolean"],
        "patience": [None, Interval(Integral, 1, None, closed="left")],
        "callbacks": [None, list],
        "device": [str],
        "precision": [StrOptions(set(PRECISIONS))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # -- the hooks ------------------------------------------------------------------

    def _build_module(self):
        raise NotImplementedError(f"{type(self).__name__} must define _build_module().")

    def _net_kwargs(self):
        return {}

    def _net_callbacks(self):
        return []

    # -- fitting helpers ------------------------------------------------------------

    def _torch_seed(self):
        """Draw the torch seed for this fit from ``random_state``."""
        return int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )

    def _optimizer_class(self):
        if isinstance(self.optimizer, str):
            return OPTIMIZERS[self.optimizer]
        return self.optimizer

    def _optimizer_options(self):
        """Extra optimizer arguments: fused Adam/AdamW where torch has it.

        A fused optimizer updates every parameter in one kernel per step
        instead of a few per parameter tensor.
        """
        if self.optimizer in ("adam", "adamw") and fused_adam_available(self.device_):
            return {"optimizer__fused": True}
        return {}

    def _train_split(self, n_samples, seed, stratify=None):
        """A skorch ``train_split`` for ``validation_fraction``, or ``None``.

        ``validation_split="tail"`` validates on the last rows (data in time
        order); ``"random"`` on rows drawn with ``seed``, stratified by
        ``stratify`` (class codes) when every class has two rows or more.
        """
        fraction = self._plan["validation_fraction"]
        if fraction is None:
            return None
        n_valid = int(np.floor(fraction * n_samples))
        if n_valid < 1 or n_valid >= n_samples:
            raise ValueError(
                f"validation_fraction={fraction} leaves {n_valid} of "
                f"{n_samples} samples for validation; use a larger fraction, more "
                "data, or validation_fraction=None."
            )
        rows = np.arange(n_samples)
        if getattr(self, "validation_split", "random") == "tail":
            return RowSplit(rows[:-n_valid], rows[-n_valid:])
        if stratify is not None:
            _, counts = np.unique(stratify, return_counts=True)
            if counts.min() < 2 or n_valid < len(counts):
                stratify = None
        train, valid = train_test_split(
            rows, test_size=n_valid, stratify=stratify, random_state=seed
        )
        return RowSplit(np.sort(train), np.sort(valid))

    def _sample_weight(self, sample_weight, n_samples, factor=None):
        """Validated ``sample_weight`` (times ``factor``, e.g. class weights),
        scaled to mean 1, or ``None`` when every sample weighs the same.

        Scaled so, a batch's loss is the mean of its weighted sample losses
        and ``lr`` keeps its meaning; equal weights train exactly as none.
        """
        if sample_weight is None and factor is None:
            return None
        weight = _check_sample_weight(
            sample_weight, np.empty((n_samples, 0)), ensure_non_negative=True
        )
        if factor is not None:
            weight = weight * factor
        total = weight.sum()
        if not total > 0:
            raise ValueError(
                "sample_weight must have a positive sum; every weight is zero."
            )
        if np.all(weight == weight[0]):
            return None
        return weight * (n_samples / total)

    def _continuing(self):
        """Whether this ``fit`` continues the fitted net (``warm_start``)."""
        return bool(getattr(self, "warm_start", False)) and hasattr(self, "net_")

    def _training_plan(self, n_samples):
        """The training settings of a fit on ``n_samples`` samples, with every
        data-dependent choice made: a dict of ``max_epochs``, ``lr_schedule``,
        ``validation_fraction`` and ``patience``.

        ``early_stopping`` (``True``, or ``"auto"`` above
        ``EARLY_STOPPING_MIN_SAMPLES`` samples) fills a missing
        ``validation_fraction`` and ``patience`` in. Where an estimator offers
        ``"auto"``, ``lr_schedule`` is ``"plateau"`` with early stopping and
        ``"one_cycle"`` without, and ``max_epochs`` its own rule
        (:meth:`_auto_max_epochs`).
        """
        stopping = getattr(self, "early_stopping", False)
        if stopping == "auto":
            stopping = n_samples > EARLY_STOPPING_MIN_SAMPLES
        fraction, patience = self.validation_fraction, self.patience
        if stopping:
            fraction = EARLY_STOPPING_FRACTION if fraction is None else fraction
            patience = EARLY_STOPPING_PATIENCE if patience is None else patience
        max_epochs, schedule = self.max_epochs, self.lr_schedule
        if max_epochs == "auto":
            n_valid = 0 if fraction is None else int(np.floor(fraction * n_samples))
            max_epochs = self._auto_max_epochs(n_samples - n_valid, stopping)
        if schedule == "auto":
            schedule = "plateau" if stopping else "one_cycle"
        return {
            "early_stopping": bool(stopping),
            "max_epochs": max_epochs,
            "lr_schedule": schedule,
            "validation_fraction": fraction,
            "patience": patience,
        }

    def _auto_max_epochs(self, n_train, early_stopping):
        """``max_epochs="auto"`` for ``n_train`` training samples (those left
        after the validation split), for the estimators that offer it."""
        raise NotImplementedError(f"{type(self).__name__} has no max_epochs='auto'.")

    def _callbacks(self, *, has_valid, n_batches):
        """The learning-rate schedule, clipping (``clip_norm``), early stopping,
        a progress bar, the user's."""
        plan = self._plan
        monitor = "valid_loss" if has_valid else "train_loss"
        callbacks = schedule_callbacks(plan["lr_schedule"], monitor=monitor)
        clip_norm = getattr(self, "clip_norm", None)
        if clip_norm is not None:
            callbacks.append(("clip", GradientNormClipping(clip_norm)))
        if plan["patience"] is not None:
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor=monitor,
                        patience=plan["patience"],
                        load_best=True,
                        sink=print if self.verbose else _silent,
                    ),
                )
            )
        if self.verbose and n_batches >= _PROGRESS_BAR_MIN_BATCHES:
            callbacks.append(("progress", ProgressBar()))
        for i, cb in enumerate(self.callbacks or []):
            callbacks.append(cb if isinstance(cb, tuple) else (f"user_{i}", cb))
        return callbacks

    def _fit_net(self, X, y, *, sample_weight=None, stratify=None):
        """Build the net from the hooks and train it on ``(X, y)``.

        The module is built, and training runs, in a forked torch RNG seeded
        from ``random_state``, so two fits give identical models and the
        caller's global RNG is untouched; on CUDA a seeded fit also runs with
        deterministic kernels (``_device.deterministic_kernels``).
        ``sample_weight`` (from :meth:`_sample_weight`) weighs each sample's
        loss; ``stratify`` (class codes) makes a random validation split
        stratified. With ``warm_start`` and a fitted net, training continues
        from its weights, optimizer state and random generator state
        (:meth:`_continue_net`). Sets ``net_``, ``history_``, ``device_``,
        ``n_iter_`` and ``max_epochs_`` (the epochs this fit may run).
        """
        seed = self._torch_seed()
        n_samples = len(X) if not isinstance(X, dict) else len(next(iter(X.values())))
        self._plan = self._training_plan(n_samples)
        self.max_epochs_ = self._plan["max_epochs"]
        train_split = self._train_split(n_samples, seed, stratify=stratify)
        target_shape = None
        if sample_weight is not None:
            y, target_shape = pack_weights(y, sample_weight)
        if self._continuing():
            return self._continue_net(X, y, train_split, target_shape)
        self.device_ = resolve_device(self.device)
        check_precision(self.precision, self.device_)
        n_batches = int(np.ceil(n_samples / self.batch_size))
        with self._training_rng(seed):
            net = self._net_class(
                module=self._build_module(),
                criterion=self._criterion,
                criterion__reduction="mean" if target_shape is None else "none",
                optimizer=self._optimizer_class(),
                optimizer__weight_decay=self.weight_decay,
                **self._optimizer_options(),
                lr=self.lr,
                max_epochs=self._plan["max_epochs"],
                batch_size=self.batch_size,
                train_split=train_split,
                callbacks=[
                    *self._net_callbacks(),
                    *self._callbacks(
                        has_valid=train_split is not None, n_batches=n_batches
                    ),
                ],
                device=self.device_,
                verbose=int(bool(self.verbose)),
                precision=self.precision,
                target_shape=target_shape,
                **self._net_kwargs(),
            )
            net.fit(X, y)
        return self._fitted(net)

    def _continue_net(self, X, y, train_split, target_shape):
        """Train the fitted net ``max_epochs`` more epochs (``warm_start``).

        The weights, the optimizer's state and the torch random generator carry
        on from the previous fit, so with a constant schedule two fits of 5
        epochs equal one of 10. ``lr`` and ``max_epochs`` are read again; the
        rates restart from ``lr`` (a schedule runs again over the new
        epochs); the architecture, optimizer and callbacks stay those of the
        first fit.
        """
        net = self.net_
        net.max_epochs = self._plan["max_epochs"]
        net.reset_lrs(self.lr)
        net.train_split = train_split
        net.target_shape = target_shape
        net.criterion_.reduction = "mean" if target_shape is None else "none"
        with self._training_rng(None):
            net.partial_fit(X, y)
        return self._fitted(net)

    @contextmanager
    def _training_rng(self, seed):
        """A forked torch RNG for one fit, seeded with ``seed`` (``None``:
        restored from the end of the previous fit), with deterministic kernels
        on CUDA for a seeded estimator; its final state is kept for a
        warm-started fit."""
        device = torch.device(self.device_)
        devices = [device] if device.type == "cuda" else []
        reproducible = self.random_state is not None
        with (
            torch.random.fork_rng(devices=devices),
            deterministic_kernels(self.device_, enabled=reproducible),
        ):
            state = getattr(self, "_rng_state", None)
            if seed is None and state is not None:
                torch.random.set_rng_state(torch.from_numpy(state["cpu"]))
                if devices and state.get("cuda") is not None:
                    torch.cuda.set_rng_state(torch.from_numpy(state["cuda"]), device)
            else:
                torch.manual_seed(seed if seed is not None else self._torch_seed())
            yield
            # numpy copies: plain data for pickles and the safe format
            self._rng_state = {
                "cpu": torch.random.get_rng_state().numpy(),
                "cuda": torch.cuda.get_rng_state(device).numpy() if devices else None,
            }

    def _fitted(self, net):
        self.net_ = net
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        return net

    # -- prediction helpers ---------------------------------------------------------

    def _check_fitted(self):
        try:
            check_is_fitted(self, "net_")
        except _SklearnNotFittedError as exc:
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' "
                "with appropriate arguments before using this estimator."
            ) from exc

    def _forward(self, X):
        """Batched, gradient-free forward pass in eval mode, returned as numpy.

        The caller's global torch RNG is left as it was (each DataLoader pass
        draws a seed from it).
        """
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            out = self.net_.forward(X, training=False, device="cpu")
        return out.numpy()

    def __setstate__(self, state):
        self.__dict__.update(state)
        net = state.get("net_")
        saved = state.get("device_")
        if net is not None and saved is not None and str(net.device) != saved:
            warnings.warn(
                f"This {type(self).__name__} was trained on {saved!r}, which is not "
                f"available here; it was loaded on {str(net.device)!r}.",
                DeviceFallbackWarning,
                stacklevel=2,
            )
            self.device_ = str(net.device)


def _silent(*args, **kwargs):
    """A print replacement that prints nothing (for verbose=0)."""
