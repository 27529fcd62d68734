"""The learning-rate finder: :func:`lr_find` and its :class:`LRFindResult`.

A short training run on a clone of an estimator, with the learning rate
raised exponentially from batch to batch, records the loss each rate gives
(Smith, 2017, "Cyclical learning rates", section 3.3; fast.ai's ``lr_find``).

Depends on numpy, pandas, scikit-learn and skorch; matplotlib is imported
lazily by :meth:`LRFindResult.plot` only.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import Interval, validate_params
from skorch.callbacks import Callback

__all__ = ["LRFindResult", "lr_find"]

# Settings of the clone that would disturb the sweep, applied where the
# estimator has the parameter: no held-out pass, nothing stopping or
# scheduling on its own, no epoch table. (Names of parameters an estimator may
# gain belong here too.)
_SWEEP_SETTINGS = {
    "validation_fraction": None,
    "early_stopping": False,
    "patience": None,
    "warm_start": False,
    "lr_schedule": "constant",
    "verbose": 0,
}


class _Sweep(Callback):
    """Set the learning rate of each training batch and record its loss.

    Runs after the estimator's callbacks. The rate is set in
    ``on_batch_begin``, so a scheduler that steps in ``on_batch_end`` (as the
    estimators' one-cycle policy and skorch's ``LRScheduler`` do) cannot move
    it. Every parameter group keeps its ratio to ``lr`` as the optimizer was
    built (the classifier's discriminative rates). Training stops, by raising
    ``KeyboardInterrupt``, after the last rate or when the loss diverges.
    """

    def __init__(self, rates, smoothing, diverge_factor):
        self.rates = rates
        self.smoothing = smoothing
        self.diverge_factor = diverge_factor

    def on_train_begin(self, net, **kwargs):
        self.ratios_ = [group["lr"] / net.lr for group in net.optimizer_.param_groups]
        self.lrs_, self.raw_, self.smooth_ = [], [], []
        self.diverged_ = False
        self._mean = 0.0

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training:
            return
        lr = self.rates[len(self.lrs_)]
        for group, ratio in zip(net.optimizer_.param_groups, self.ratios_, strict=True):
            group["lr"] = lr * ratio

    def on_batch_end(self, net, training=False, loss=None, **kwargs):
        if not training:
            return
        # one host synchronisation per batch: the sweep needs each loss now
        value = float(loss.item())
        step = len(self.lrs_) + 1
        self._mean = self.smoothing * self._mean + (1 - self.smoothing) * value
        smoothed = self._mean / (1 - self.smoothing**step)  # without the zero start
        self.lrs_.append(self.rates[step - 1])
        self.raw_.append(value)
        self.smooth_.append(smoothed)
        best = min(self.smooth_)
        self.diverged_ = not math.isfinite(smoothed) or (
            smoothed > self.diverge_factor * best
        )
        if self.diverged_ or step == len(self.rates):
            # skorch's fit loop (NeuralNet.partial_fit) catches KeyboardInterrupt
            # raised by a callback and ends training there, calling the
            # callbacks' on_train_end; its EarlyStopping stops the same way.
            raise KeyboardInterrupt


class LRFindResult:
    """What :func:`lr_find` measured: a loss per learning rate.

    Attributes
    ----------
    curve : DataFrame
        One row per training batch, in order: ``lr`` (the rate of that batch,
        increasing), ``loss`` (the smoothed training loss) and ``raw_loss``
        (the batch's own training loss).
    suggested_lr : float
        A tenth of the rate at which the smoothed loss is lowest, but not below
        the first rate tried.
    diverged : bool
        Whether the sweep stopped early because the smoothed loss diverged.
    """

    def __init__(self, curve, diverged):
        self.curve = curve
        self.diverged = diverged
        loss = curve["loss"].to_numpy()
        lowest = curve["lr"].iloc[int(np.argmin(np.nan_to_num(loss, nan=np.inf)))]
        self.suggested_lr = float(max(lowest / 10, curve["lr"].iloc[0]))

    def __repr__(self):
        return (
            f"LRFindResult(suggested_lr={self.suggested_lr:.3g}, "
            f"n_steps={len(self.curve)}, diverged={self.diverged})"
        )

    def plot(self, ax=None):
        """Draw the loss against the learning rate (log scale), and the suggestion.

        Needs matplotlib (the ``plot`` extra).

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            Where to draw; ``None`` draws on a new figure.

        Returns
        -------
        ax : matplotlib Axes
            The axes drawn on.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ImportError(
                "LRFindResult.plot needs matplotlib, which is not installed; "
                "install it with pip install 'sknlp-rnn[plot]' (or pip install "
                "matplotlib)."
            ) from exc
        if ax is None:
            _, ax = plt.subplots()
        curve = self.curve
        ax.plot(curve["lr"], curve["raw_loss"], color="0.75", label="batch loss")
        ax.plot(curve["lr"], curve["loss"], label="smoothed loss")
        ax.axvline(
            self.suggested_lr,
            color="C1",
            linestyle="--",
            label=f"suggested lr = {self.suggested_lr:.2g}",
        )
        ax.set(xscale="log", xlabel="learning rate", ylabel="training loss")
        # the diverging tail would squash the interesting part of the curve
        smooth = curve["loss"].to_numpy()
        low = smooth[np.isfinite(smooth)].min()
        high = max(smooth[0], low)
        margin = 0.1 * (high - low) or 0.1 * abs(high) or 1.0
        ax.set_ylim(low - margin, high + 3 * margin)
        ax.legend()
        return ax


@validate_params(
    {
        "estimator": "no_validation",
        "X": "no_validation",
        "y": "no_validation",
        "start_lr": [Interval(Real, 0, None, closed="neither")],
        "end_lr": [Interval(Real, 0, None, closed="neither")],
        "n_steps": [Interval(Integral, 2, None, closed="left")],
        "smoothing": [Interval(Real, 0, 1, closed="left")],
        "diverge_factor": [Interval(Real, 1, None, closed="neither")],
    },
    prefer_skip_nested_validation=True,
)
def lr_find(
    estimator,
    X,
    y=None,
    *,
    start_lr=1e-7,
    end_lr=10.0,
    n_steps=100,
    smoothing=0.9,
    diverge_factor=4.0,
    **fit_params,
):
    """Measure the training loss over an exponential range of learning rates.

    A clone of ``estimator`` (:func:`sklearn.base.clone`; ``estimator`` itself
    is never changed or fitted) trains for at most ``n_steps`` batches, the
    learning rate growing by the same factor from batch to batch, from
    ``start_lr`` to ``end_lr``. Each batch's training loss is recorded and
    smoothed; training stops early once the smoothed loss exceeds
    ``diverge_factor`` times its lowest value so far, or is not finite. Too
    low a rate barely moves the loss, a good one makes it fall, and too high a
    one makes it climb: pick a rate where the curve still falls steeply, before
    its minimum (Smith, 2017).

    The clone trains as ``fit`` would (same data pipeline, model, optimizer,
    callbacks, device and ``random_state``) except that it holds nothing out
    (``validation_fraction=None``), never stops early (``early_stopping=False``,
    ``patience=None``), starts afresh (``warm_start=False``),
    keeps the rate constant between the finder's steps
    (``lr_schedule="constant"``) and prints nothing. With discriminative
    learning rates (:class:`RNNTextClassifier`'s ``lr_decay``) every parameter
    group is scaled along, so the rates reported are those of ``lr``.

    Parameters
    ----------
    estimator : estimator or Pipeline
        An unfitted or fitted sknlp_rnn estimator that trains a network
        (:class:`SequenceLMRegressor`, :class:`RNNTextClassifier`,
        :class:`EntityEmbeddingRegressor`, :class:`CollabFilterRegressor`),
        or a :class:`~sklearn.pipeline.Pipeline` ending in one (its other steps
        are fitted on the clone as ``fit`` would).
    X : array-like
        Training input, as ``fit`` takes it.
    y : array-like or None, default=None
        Training target, as ``fit`` takes it (``None`` for the language model).
    start_lr : float, default=1e-7
        Learning rate of the first batch.
    end_lr : float, default=10.0
        Learning rate of the last batch; larger than ``start_lr``.
    n_steps : int, default=100
        Number of rates tried, one training batch each (the data are passed
        over as many times as that takes).
    smoothing : float, default=0.9
        Weight of the past in the exponential moving average of the loss
        (bias-corrected, so the first values are not pulled towards 0); ``0``
        keeps the raw batch losses.
    diverge_factor : float, default=4.0
        Stop once the smoothed loss exceeds this multiple of its lowest value.
    **fit_params : dict
        Passed to ``fit`` (e.g. ``sample_weight``; ``name__sample_weight`` for
        a Pipeline step, as ``Pipeline.fit`` takes it).

    Returns
    -------
    result : LRFindResult
        ``result.curve`` is a DataFrame with one row per batch: ``lr``,
        ``loss`` (smoothed) and ``raw_loss``; ``result.suggested_lr`` is a
        tenth of the rate at the minimum of the smoothed loss (not below
        ``start_lr``): the minimum is where larger steps start to hurt, and a
        tenth of it is, in practice, a rate at which the loss still falls fast
        and steadily; ``result.diverged`` says whether the sweep stopped early;
        ``result.plot(ax=None)`` draws the curve with matplotlib.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sknlp_rnn import EntityEmbeddingRegressor, lr_find
    >>> rng = np.random.RandomState(0)
    >>> X = pd.DataFrame({"shop": rng.choice(["a", "b", "c"], 200),
    ...                   "promo": rng.rand(200)})
    >>> y = X["shop"].map({"a": 1.0, "b": 2.0, "c": 3.0}) + X["promo"]
    >>> reg = EntityEmbeddingRegressor(hidden_sizes=(16,), batch_size=20,
    ...                                random_state=0)
    >>> result = lr_find(reg, X, y, start_lr=1e-5, end_lr=10.0, n_steps=60)
    >>> list(result.curve.columns)
    ['lr', 'loss', 'raw_loss']
    >>> bool(1e-5 <= result.suggested_lr <= 10.0)
    True
    >>> hasattr(reg, "net_")  # reg itself was not fitted
    False
    """
    if not end_lr > start_lr:
        raise ValueError(
            f"end_lr must be larger than start_lr, got start_lr={start_lr!r} and "
            f"end_lr={end_lr!r}."
        )
    prefix, _ = _trained_step(estimator)
    model = clone(estimator)  # copies callbacks too: the given ones stay as they are
    params = _trained_step(model)[1].get_params()
    rates = np.geomspace(start_lr, end_lr, n_steps).tolist()
    sweep = _Sweep(rates, smoothing, diverge_factor)
    settings = {k: v for k, v in _SWEEP_SETTINGS.items() if k in params}
    settings["max_epochs"] = n_steps  # every epoch has a batch at least
    settings["callbacks"] = [*(params["callbacks"] or []), ("lr_find", sweep)]
    model.set_params(**{prefix + name: value for name, value in settings.items()})
    # the net uses `sweep` itself (set after cloning), no copy
    model.fit(X, y, **fit_params)
    if not math.isfinite(sweep.raw_[0]):
        raise ValueError(
            f"The training loss was {sweep.raw_[0]} at the first batch (lr="
            f"{start_lr:g}), before the learning rate could matter: check X and y "
            "for values too large for float32 (rescale them)."
        )
    curve = pd.DataFrame(
        {"lr": sweep.lrs_, "loss": sweep.smooth_, "raw_loss": sweep.raw_}
    )
    return LRFindResult(curve, diverged=sweep.diverged_)


def _trained_step(estimator):
    """``(parameter prefix, estimator)`` of the step of ``estimator`` that
    trains a network: itself, or a Pipeline's last step."""
    prefix, final = "", estimator
    if isinstance(estimator, Pipeline):
        name, final = estimator.steps[-1]
        prefix = f"{name}__"
    params = final.get_params() if hasattr(final, "get_params") else {}
    if not {"lr", "max_epochs", "callbacks"} <= set(params):
        raise TypeError(
            "estimator must be an sknlp_rnn estimator that trains a network "
            "(SequenceLMRegressor, RNNTextClassifier, EntityEmbeddingRegressor, "
            "CollabFilterRegressor) or a Pipeline ending in one, got "
            f"{type(final).__name__}."
        )
    return prefix, final
