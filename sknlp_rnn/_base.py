"""The one private base shared by every sknlp_rnn estimator.

It resolves the device, seeds torch from ``random_state``, builds the skorch net
that runs the training loop and keeps it as ``net_``, and predicts in batches
without gradients. Depends on torch, skorch, scikit-learn and numpy.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    GradientNormClipping,
    ProgressBar,
)
from skorch.dataset import ValidSplit, get_len, unpack_data
from skorch.exceptions import DeviceWarning
from skorch.utils import TeeGenerator

from ._device import (
    PRECISIONS,
    check_precision,
    deterministic_kernels,
    fused_adam_available,
    resolve_device,
    to_float32,
)
from .exceptions import DeviceFallbackWarning, NotFittedError

OPTIMIZERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
}

# Epochs with at least this many batches get a progress bar at verbose=1.
_PROGRESS_BAR_MIN_BATCHES = 50

# Net attributes (prefixes) pickled through skorch's device-mapping path.
_DEVICE_BOUND_ATTRIBUTES = ("module", "criterion", "callbacks", "grad_scaler_")


class _ScaleGrad(torch.autograd.Function):
    """Identity on the loss value; multiplies its gradient by the loss scale.

    So the recorded loss stays unscaled while backward runs on the scaled loss,
    as float16 training with a ``GradScaler`` needs.
    """

    @staticmethod
    def forward(ctx, loss, scale):
        ctx.save_for_backward(scale)
        return loss.clone()

    @staticmethod
    def backward(ctx, grad):
        (scale,) = ctx.saved_tensors
        return grad * scale, None


class _Net(NeuralNet):
    """skorch net used by every estimator.

    Its changes to skorch:

    - ``precision`` (``"32"``, ``"bf16"``, ``"fp16"``): forward passes run under
      ``torch.autocast`` in that dtype (``infer``), losses and outputs are
      computed/returned in float32 (``get_loss``, ``evaluation_step``), and
      ``"fp16"`` on CUDA scales the loss with a ``torch.amp.GradScaler``
      (``train_step``); float16 is never used on CPU.
    - Unpickling a CUDA-trained net on a CPU-only machine is silent here,
      because the owning estimator warns with our own
      :class:`~sknlp_rnn.exceptions.DeviceFallbackWarning` instead.

    Subclasses that override ``train_step_single`` keep mixed precision as long
    as they compute outputs with ``infer`` and losses with ``get_loss``.
    """

    def __init__(self, *args, precision="32", **kwargs):
        super().__init__(*args, **kwargs)
        self.precision = precision

    def _autocast(self):
        dtype = PRECISIONS.get(self.precision)
        device_type = torch.device(self.device or "cpu").type
        if dtype is None or (dtype is torch.float16 and device_type != "cuda"):
            return contextlib.nullcontext()
        return torch.autocast(device_type=device_type, dtype=dtype)

    def initialize(self):
        super().initialize()
        # Attributes that may hold device tensors besides skorch's own
        # (``module_``, ``optimizer_``, ``criterion_``): the module instance
        # passed as ``module`` (the same object as ``module_``), callbacks that
        # keep weights or an optimizer (early stopping's best weights, the
        # one-cycle scheduler) and the float16 grad scaler. skorch pickles
        # these through its device-mapping path, so a model trained on a GPU
        # unpickles on a machine without one.
        self.cuda_dependent_attributes_ = [
            *self.cuda_dependent_attributes_,
            *(
                name
                for name in _DEVICE_BOUND_ATTRIBUTES
                if name not in self.cuda_dependent_attributes_
            ),
        ]
        on_cuda = torch.device(self.device or "cpu").type == "cuda"
        self.grad_scaler_ = (
            torch.amp.GradScaler("cuda")
            if self.precision == "fp16" and on_cuda
            else None
        )
        return self

    def train_step_single(self, batch, **fit_params):
        # skorch's step, except that modules switch to training mode only when
        # they are not in it: walking every submodule at every batch is a
        # measurable part of a step when batches are cheap (tabular, collab).
        if not self.module_.training:
            self._set_training(True)
        Xi, yi = unpack_data(batch)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def infer(self, x, **fit_params):
        with self._autocast():
            return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(to_float32(y_pred), y_true, X=X, training=training)
        return self.scaled_for_backward(loss) if training else loss

    def scaled_for_backward(self, loss):
        """``loss`` whose gradient is multiplied by the float16 loss scale.

        The value is unchanged (so it is recorded unscaled); without float16
        loss scaling this is ``loss`` itself. Subclasses that compute their
        training loss outside ``get_loss`` pass it through here.
        """
        scaler = getattr(self, "grad_scaler_", None)  # None under accelerate
        if scaler is None or not loss.requires_grad:
            return loss
        scale = scaler.scale(torch.ones((), device=loss.device))
        return _ScaleGrad.apply(loss, scale)

    def train_step(self, batch, **fit_params):
        # skorch's step without the optimizer closure (only LBFGS re-evaluates
        # the loss; it keeps skorch's step): with cheap batches that
        # bookkeeping is a measurable part of the step. With float16 loss
        # scaling, backward ran on the scaled loss: the gradients are unscaled
        # before callbacks (gradient clipping) see them, and the scaler skips
        # steps whose gradients overflowed.
        optimizers = [getattr(self, name + "_") for name in self._optimizers]
        if any(isinstance(opt, torch.optim.LBFGS) for opt in optimizers):
            return super().train_step(batch, **fit_params)
        scaler = getattr(self, "grad_scaler_", None)  # None under accelerate
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        step = self.train_step_single(batch, **fit_params)
        if scaler is not None:
            for optimizer in optimizers:
                scaler.unscale_(optimizer)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        for optimizer in optimizers:
            if scaler is None:
                optimizer.step()
            else:
                scaler.step(optimizer)
        if scaler is not None:
            scaler.update()
        return step

    def notify(self, method_name, **cb_kwargs):
        """skorch's ``notify``, skipping callbacks that do not override the hook.

        Most callbacks act once per epoch; calling their empty per-batch
        methods three times a step is a measurable share of a cheap step.
        """
        getattr(self, method_name)(self, **cb_kwargs)
        default = getattr(Callback, method_name, None)
        for _, cb in self.callbacks_:
            if getattr(type(cb), method_name, None) is not default:
                getattr(cb, method_name)(self, **cb_kwargs)

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """One pass over ``iterator``, reading the batch losses once at the end.

        skorch's loop reads each batch loss with ``.item()``, which waits for
        the device to finish the batch; here the detached losses are kept on
        the device and read together after the pass (one synchronisation per
        epoch), then recorded per batch as skorch does. A loss that is not
        finite stops ``fit`` with a ``ValueError``.
        """
        if iterator is None:
            return
        losses, sizes = [], []
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            losses.append(step["loss"].detach())
            sizes.append(_batch_len(batch))
            self.notify("on_batch_end", batch=batch, training=training, **step)
        values = torch.stack(losses).float().tolist() if losses else []
        records = self.history[-1]["batches"][
            len(self.history[-1]["batches"]) - len(values) :
        ]
        for record, value, size in zip(records, values, sizes, strict=True):
            record[prefix + "_loss"] = value
            record[prefix + "_batch_size"] = size
        self.history.record(prefix + "_batch_count", len(values))
        bad = [i for i, value in enumerate(values) if not math.isfinite(value)]
        if bad:
            raise ValueError(
                f"The {prefix} loss became {values[bad[0]]} in batch {bad[0] + 1} "
                f"of epoch {len(self.history)}. Likely causes: targets or inputs "
                "too large for float32 (rescale them, e.g. log_target=True or "
                "standardise), or a learning rate too high (lower lr)."
            )

    def evaluation_step(self, batch, training=False):
        return to_float32(super().evaluation_step(batch, training=training))

    def __setstate__(self, state):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeviceWarning)
            super().__setstate__(state)


class BaseRNNEstimator(BaseEstimator):
    """Behaviour shared by the public estimators (private).

    Subclasses store their hyperparameters in a keyword-only ``__init__``,
    validate and learn data-dependent sizes in ``fit``, build their torch module
    and call :meth:`_fit_net`. Prediction goes through :meth:`_forward`.
    """

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

    # -- fitting helpers ---------------------------------------------------------

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

    def _callbacks(self, *, has_valid, n_batches, clip_norm=None):
        """Our callbacks (clipping, early stopping, progress bar) + the user's."""
        callbacks = []
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

    def _fit_net(
        self,
        build_module,
        X,
        y,
        *,
        criterion,
        net_class=_Net,
        stratify=None,
        clip_norm=None,
        iterator_train_shuffle=True,
        callbacks=(),
        **net_kwargs,
    ):
        """Build the skorch net and train it on ``(X, y)``.

        ``build_module`` is a zero-argument callable returning the torch module;
        it is called, and training runs, in a forked torch RNG seeded from
        ``random_state``, so two fits give identical models and the caller's
        global RNG is untouched; on CUDA a seeded fit also runs with
        deterministic kernels (``_device.deterministic_kernels``). Extra
        keyword arguments go to ``net_class``.
        Sets ``net_``, ``history_``, ``device_`` and ``n_iter_``.
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
            net = net_class(
                module=build_module(),
                criterion=criterion,
                optimizer=self._optimizer_class(),
                optimizer__weight_decay=self.weight_decay,
                **self._optimizer_options(),
                lr=self.lr,
                max_epochs=self.max_epochs,
                batch_size=self.batch_size,
                train_split=train_split,
                callbacks=[
                    *callbacks,
                    *self._callbacks(
                        has_valid=train_split is not None,
                        n_batches=n_batches,
                        clip_norm=clip_norm,
                    ),
                ],
                iterator_train__shuffle=iterator_train_shuffle,
                device=self.device_,
                verbose=int(bool(self.verbose)),
                precision=self.precision,
                **net_kwargs,
            )
            net.fit(X, y)
        self.net_ = net
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        return net

    # -- prediction helpers ------------------------------------------------------

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

    # -- persistence -------------------------------------------------------------

    def save(self, path):
        """Save this estimator in the safe format (JSON + safetensors, no pickle).

        Parameters
        ----------
        path : str, path-like or binary file object
            Where to write the zip file.

        Returns
        -------
        path : str, path-like or file object
            The ``path`` argument.

        See Also
        --------
        sknlp_rnn.save : The same as a function; also saves Pipelines.
        sknlp_rnn.load : Read the file back.
        """
        from ._persistence import save

        return save(self, path)

    @classmethod
    def load(cls, path, *, device=None):
        """Load an estimator of this class written by :meth:`save`.

        Parameters
        ----------
        path : str, path-like or binary file object
            A file written by :meth:`save` or :func:`sknlp_rnn.save`.
        device : str or None, default=None
            Device for the net; ``None`` keeps the saved one when it exists
            here, else the CPU.

        Returns
        -------
        estimator : instance of this class
            The fitted estimator.

        See Also
        --------
        sknlp_rnn.load : Load any saved object (Pipelines too).
        """
        from ._persistence import load

        obj = load(path, device=device)
        if not isinstance(obj, cls):
            raise TypeError(
                f"The file holds a {type(obj).__name__}, not a {cls.__name__}; "
                "use sknlp_rnn.load to read any saved object."
            )
        return obj

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


def _batch_len(batch):
    """Rows in a batch: the target's length when it is a tensor (cheap), else
    skorch's ``get_len`` of the inputs."""
    if isinstance(batch, (tuple, list)):
        if len(batch) > 1 and torch.is_tensor(batch[1]) and batch[1].dim():
            return batch[1].shape[0]
        return get_len(batch[0])
    return get_len(batch)


def _silent(*args, **kwargs):
    """A print replacement that prints nothing (for verbose=0)."""
