import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback

from sknlp_rnn import (
    EntityEmbeddingRegressor,
    RNNTextClassifier,
    SequenceLMRegressor,
    Tokenizer,
    Vocab,
    lr_find,
)
from sknlp_rnn._optim import LRSchedule
from sknlp_rnn._testing import case, fitted_case, trained_estimators

TRAINED = [cls for _, cls in trained_estimators()]


def shops(n=240, seed=0):
    """A learnable table: category and continuous effects plus a little noise."""
    rng = np.random.RandomState(seed)
    shop = rng.choice(["a", "b", "c", "d"], size=n)
    temp = rng.normal(size=n)
    X = pd.DataFrame({"shop": shop, "temp": temp})
    y = pd.Series(shop).map({"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0}).to_numpy()
    return X, y + 0.5 * temp + 0.05 * rng.normal(size=n)


class GroupRates(Callback):
    """Record every parameter group's rate of each training batch.

    The record is a class attribute: ``clone`` deep-copies callbacks, so an
    instance attribute would fill the copy's.
    """

    seen = []

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            GroupRates.seen.append([g["lr"] for g in net.optimizer_.param_groups])


@pytest.fixture
def group_rates():
    GroupRates.seen = []
    yield GroupRates
    GroupRates.seen = []


@pytest.mark.parametrize("cls", TRAINED, ids=lambda cls: cls.__name__)
def test_every_estimator_gives_a_rising_rate_curve_and_stays_unfitted(cls):
    est, X, y = case(cls)
    before = est.get_params()
    result = lr_find(est, X, y, start_lr=1e-4, end_lr=1.0, n_steps=12)
    curve = result.curve
    assert list(curve.columns) == ["lr", "loss", "raw_loss"]
    assert 2 <= len(curve) <= 12
    assert np.all(np.diff(curve["lr"]) > 0)
    assert curve["lr"].iloc[0] == pytest.approx(1e-4)
    assert curve["lr"].iloc[-1] <= 1.0 * (1 + 1e-12)
    assert np.isfinite(curve["raw_loss"]).all()
    assert 1e-4 <= result.suggested_lr <= 1.0
    assert est.get_params() == before
    assert not hasattr(est, "net_")


def test_a_learnable_problem_falls_then_diverges():
    X, y = shops()
    reg = EntityEmbeddingRegressor(
        hidden_sizes=(16,), batch_size=16, y_range=None, random_state=0
    )
    result = lr_find(reg, X, y, start_lr=1e-5, end_lr=100.0, n_steps=100)
    loss = result.curve["loss"].to_numpy()
    lowest = int(np.argmin(loss))
    assert loss[lowest] < 0.5 * loss[0]  # it learns ...
    assert result.diverged  # ... until the rate is too high,
    assert len(loss) < 100  # which stops the sweep early
    assert loss[-1] > 4.0 * loss[lowest]
    lr = result.curve["lr"].to_numpy()
    assert result.suggested_lr == pytest.approx(lr[lowest] / 10)
    assert "diverged=True" in repr(result)


def test_a_non_finite_loss_stops_the_sweep_without_an_error():
    est, X, y = case(EntityEmbeddingRegressor)
    est.set_params(y_range=None, optimizer="sgd")
    result = lr_find(
        est, X, y, start_lr=1e-3, end_lr=1e12, n_steps=60, diverge_factor=1e300
    )
    assert result.diverged
    assert not np.isfinite(result.curve["raw_loss"].iloc[-1])
    assert np.isfinite(result.suggested_lr)
    assert 1e-3 <= result.suggested_lr < result.curve["lr"].iloc[-1]


def test_a_fitted_estimator_is_left_as_it_was():
    est, X = fitted_case(EntityEmbeddingRegressor)
    _, _, y = case(EntityEmbeddingRegressor)
    net, pred = est.net_, est.predict(X)
    lr_find(est, X, y, n_steps=5)
    assert est.net_ is net
    np.testing.assert_array_equal(est.predict(X), pred)


def test_rates_hold_under_a_scheduler_and_the_estimators_settings(group_rates, capsys):
    # a one-cycle scheduler in the user's callbacks, stepping every batch
    est, X, y = case(EntityEmbeddingRegressor)
    scheduler = LRSchedule("one_cycle")
    est.set_params(
        callbacks=[group_rates(), ("sched", scheduler)],
        validation_fraction=0.25,
        patience=1,
        verbose=1,
    )
    result = lr_find(est, X, y, start_lr=1e-4, end_lr=1e-1, n_steps=10)
    assert len(result.curve) == 10
    seen = np.array(group_rates.seen)[:, 0]
    np.testing.assert_allclose(seen, result.curve["lr"])
    assert capsys.readouterr().out == ""  # no epoch table: verbose=0 on the clone
    assert est.validation_fraction == 0.25  # the estimator kept its settings
    assert not hasattr(scheduler, "scheduler_")  # and its callbacks: copies ran


def test_discriminative_rates_scale_together(group_rates):
    est, X, y = case(RNNTextClassifier)
    est.set_params(lr=1e-2, lr_decay=2.0, n_layers=2, callbacks=[group_rates()])
    result = lr_find(est, X, y, start_lr=1e-5, end_lr=1e-1, n_steps=8)
    seen = np.array(group_rates.seen)
    # groups: embedding, rnns.0, rnns.1 (lr / 2**3 .. lr / 2), then the head
    assert seen.shape == (len(result.curve), 4)
    np.testing.assert_allclose(seen[:, -1], result.curve["lr"])
    np.testing.assert_allclose(seen / seen[:, -1:], [[1 / 8, 1 / 4, 1 / 2, 1]] * 8)


def test_a_pipeline_fits_its_steps_then_sweeps_its_last_one():
    texts = ["one two three four five six seven eight nine ten"] * 6
    lm = SequenceLMRegressor(
        embedding_dim=8, hidden_size=16, batch_size=2, bptt=4, random_state=0
    )
    pipe = Pipeline([("tok", Tokenizer()), ("vocab", Vocab()), ("lm", lm)])
    result = lr_find(pipe, texts, n_steps=6)
    assert 2 <= len(result.curve) <= 6
    for name in ("vocab", "lm"):
        with pytest.raises(NotFittedError):
            check_is_fitted(pipe.named_steps[name])


def test_plot_draws_on_axes():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    est, X, y = case(EntityEmbeddingRegressor)
    result = lr_find(est, X, y, n_steps=8)
    ax = result.plot()
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.get_xscale() == "log"
    fig, given = plt.subplots()
    assert result.plot(ax=given) is given
    plt.close("all")


def test_plot_without_matplotlib_says_what_to_install(monkeypatch):
    est, X, y = case(EntityEmbeddingRegressor)
    result = lr_find(est, X, y, n_steps=4)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"needs matplotlib.*sknlp-rnn\[plot\]"):
        result.plot()


def test_bad_arguments_are_named():
    est, X, y = case(EntityEmbeddingRegressor)
    with pytest.raises(ValueError, match="end_lr must be larger than start_lr"):
        lr_find(est, X, y, start_lr=1.0, end_lr=1e-3)
    with pytest.raises(InvalidParameterError, match="'n_steps'"):
        lr_find(est, X, y, n_steps=1)
    with pytest.raises(InvalidParameterError, match="'start_lr'"):
        lr_find(est, X, y, start_lr=0.0)
    with pytest.raises(InvalidParameterError, match="'diverge_factor'"):
        lr_find(est, X, y, diverge_factor=1.0)
    with pytest.raises(TypeError, match="trains a network.*got Ridge"):
        lr_find(Ridge(), X, y)
    with pytest.raises(ValueError, match="requires y"):
        lr_find(case(RNNTextClassifier)[0], case(RNNTextClassifier)[1])


def test_fit_params_reach_fit_and_warm_start_is_off():
    est, X, y = case(EntityEmbeddingRegressor)
    est.set_params(warm_start=True, early_stopping=True).fit(X, y)
    weight = np.linspace(0.1, 2.0, len(y))
    result = lr_find(est, X, y, n_steps=8, sample_weight=weight)
    assert len(result.curve) == 8
    assert est.n_iter_ == len(est.history_)  # the fitted estimator did not continue
    with pytest.raises(ValueError, match="sample_weight"):
        lr_find(est, X, y, n_steps=8, sample_weight=weight[:-1])
