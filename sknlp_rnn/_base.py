"""The one private base of the estimators that train a torch module.

:class:`BaseTorchEstimator` declares what every such estimator provides (the
hooks below) and does the rest: it resolves the device, seeds torch from
``random_state``, builds the skorch net that runs the training loop and keeps it
as ``net_``, and predicts in batches without gradients. Depends on torch,
skorch, scikit-learn, numpy and the modules ``_device`` and ``_nets``; it never
imports persistence.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import EarlyStopping, GradientNormClipping, ProgressBar
from skorch.dataset import ValidSplit

from ._device import (
    PRECISIONS,
    check_precision,
    deterministic_kernels,
    fused_adam_available,
    resolve_device,
)
from ._nets import TorchNet
from .exceptions import DeviceFallbackWarning, NotFittedError

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}

# Epochs with at least this many batches get a progress bar at verbose=1.
_PROGRESS_BAR_MIN_BATCHES = 50


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
      none); the shared ones (clipping, early stopping, progress bar) and the
      user's ``callbacks`` come after them;
    - ``_epochs()``: the number of epochs to train (default ``max_epochs``;
      an estimator that resolves ``max_epochs="auto"`` in ``fit`` returns it).
    """

    _net_class = TorchNet
    _criterion = None

    _parameter_constraints: dict = {
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "optimizer": [StrOptions(set(OPTIMIZERS)), callable],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "validation_fraction": [None, Interval(Real, 0, 1, closed="neither")],
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

    def _epochs(self):
        return self.max_epochs

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
        """A skorch ``ValidSplit`` for ``validation_fraction``, or ``None``."""
        if self.validation_fraction is None:
            return None
        n_valid = int(np.floor(self.validation_fraction * n_samples))
        if n_valid < 1 or n_valid >= n_samples:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves {n_valid} of "
                f"{n_samples} samples for validation; use a larger fraction, more "
                "data, or validation_fraction=None."
            )
        stratified = False
        if stratify is not None:
            _, counts = np.unique(stratify, return_counts=True)
            stratified = bool(counts.min() >= 2 and n_valid >= len(counts))
        return ValidSplit(
            self.validation_fraction, stratified=stratified, random_state=seed
        )

    def _callbacks(self, *, has_valid, n_batches):
        """Clipping (``clip_norm``), early stopping, a progress bar, the user's."""
        callbacks = []
        clip_norm = getattr(self, "clip_norm", None)
        if clip_norm is not None:
            callbacks.append(("clip", GradientNormClipping(clip_norm)))
        if self.patience is not None:
            monitor = "valid_loss" if has_valid else "train_loss"
            callbacks.append(
                (
                    "early_stopping",
                    EarlyStopping(
                        monitor=monitor,
                        patience=self.patience,
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

    def _fit_net(self, X, y, *, stratify=None):
        """Build the net from the hooks and train it on ``(X, y)``.

        The module is built, and training runs, in a forked torch RNG seeded
        from ``random_state``, so two fits give identical models and the
        caller's global RNG is untouched; on CUDA a seeded fit also runs with
        deterministic kernels (``_device.deterministic_kernels``). ``stratify``
        (class codes) makes the validation split stratified. Sets ``net_``,
        ``history_``, ``device_`` and ``n_iter_``.
        """
        self.device_ = resolve_device(self.device)
        check_precision(self.precision, self.device_)
        seed = self._torch_seed()
        n_samples = len(X) if not isinstance(X, dict) else len(next(iter(X.values())))
        train_split = self._train_split(n_samples, seed, stratify=stratify)
        n_batches = int(np.ceil(n_samples / self.batch_size))
        devices = (
            [torch.device(self.device_)] if self.device_.startswith("cuda") else []
        )
        reproducible = self.random_state is not None
        with (
            torch.random.fork_rng(devices=devices),
            deterministic_kernels(self.device_, enabled=reproducible),
        ):
            torch.manual_seed(seed)
            net = self._net_class(
                module=self._build_module(),
                criterion=self._criterion,
                optimizer=self._optimizer_class(),
                optimizer__weight_decay=self.weight_decay,
                **self._optimizer_options(),
                lr=self.lr,
                max_epochs=self._epochs(),
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
                **self._net_kwargs(),
            )
            net.fit(X, y)
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
