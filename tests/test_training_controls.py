"""The training controls every estimator shares: ``lr_schedule``,
``warm_start``, ``validation_split`` and ``sample_weight`` (``_base``,
``_optim``, ``_nets``)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.utils._param_validation import InvalidParameterError

from sknlp_rnn import (
    CollabFilterRegressor,
    EntityEmbeddingRegressor,
    RNNTextClassifier,
    SequenceLMRegressor,
)
from sknlp_rnn._testing import case, tolerance, trained_estimators

TRAINED = [cls for _, cls in trained_estimators()]
WEIGHTED = [CollabFilterRegressor, EntityEmbeddingRegressor, RNNTextClassifier]


def _outputs(est, X):
    if hasattr(est, "predict_proba"):
        return est.predict_proba(X)
    return est.predict(X)


def _fit(est, X, y, **kwargs):
    return est.fit(X, **kwargs) if y is None else est.fit(X, y, **kwargs)


# -- warm_start ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", TRAINED, ids=lambda c: c.__name__)
def test_two_warm_fits_equal_one_fit_of_their_epochs(cls):
    est, X, y = case(cls)
    est.set_params(lr_schedule="constant", max_epochs=4)
    once = _fit(clone(est), X, y)
    twice = clone(est).set_params(warm_start=True, max_epochs=2)
    _fit(twice, X, y)
    first = _outputs(twice, X)
    _fit(twice, X, y)
    assert twice.n_iter_ == once.n_iter_ == 4
    tol = tolerance(once.device_)
    np.testing.assert_allclose(_outputs(twice, X), _outputs(once, X), **tol)
    assert not np.allclose(first, _outputs(twice, X))


@pytest.mark.parametrize("cls", TRAINED, ids=lambda c: c.__name__)
def test_without_warm_start_every_fit_starts_afresh(cls):
    est, X, y = case(cls)
    _fit(est, X, y)
    first = _outputs(est, X)
    _fit(est, X, y)
    assert est.n_iter_ == est.max_epochs
    np.testing.assert_allclose(_outputs(est, X), first, **tolerance(est.device_))


def test_warm_start_reads_lr_again_and_keeps_the_encodings():
    est, X, y = case(EntityEmbeddingRegressor)
    est.set_params(warm_start=True, lr_schedule="constant").fit(X, y)
    encoder = est.encoder_
    est.set_params(lr=1e-4).fit(X.iloc[:10], y[:10])
    assert est.encoder_ is encoder
    assert [g["lr"] for g in est.net_.optimizer_.param_groups] == [1e-4]


def test_warm_start_keeps_the_classes():
    est, X, y = case(RNNTextClassifier)
    est.set_params(warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="labels the first fit did not see"):
        est.fit(X, np.where(y == y[0], "new", y))


# -- lr_schedule --------------------------------------------------------------------


def _rates(est):
    return [b["event_lr"] for epoch in est.history_ for b in epoch["batches"]]


@pytest.mark.parametrize("cls", TRAINED, ids=lambda c: c.__name__)
def test_cosine_and_one_cycle_step_every_batch(cls):
    est, X, y = case(cls)
    est.set_params(max_epochs=10, lr=1e-2)
    cosine = _rates(_fit(clone(est).set_params(lr_schedule="cosine"), X, y))
    assert cosine[0] == pytest.approx(1e-2)
    assert np.all(np.diff(cosine) <= 1e-12) and cosine[-1] < 2e-3
    cycle = _rates(_fit(clone(est).set_params(lr_schedule="one_cycle"), X, y))
    peak = int(np.argmax(cycle))
    assert cycle[0] < 1e-3 and 0 < peak < len(cycle) - 1
    assert max(cycle) == pytest.approx(1e-2, rel=0.05) and cycle[-1] < 1e-3


def test_one_cycle_keeps_discriminative_rate_ratios():
    est, X, y = case(RNNTextClassifier)
    est.set_params(lr_schedule="one_cycle", lr_decay=2.0, max_epochs=3).fit(X, y)
    groups = est.net_.optimizer_.param_groups
    peaks = np.array([g["max_lr"] for g in groups])
    np.testing.assert_allclose(peaks / peaks.max(), [2.0**-k for k in (2, 1, 0)])


def test_plateau_cuts_the_rate_when_the_loss_stalls():
    est, X, y = case(EntityEmbeddingRegressor)
    # a rate so small that the loss barely moves: it stalls, and the rate drops
    est.set_params(lr_schedule="plateau", lr=1e-6, max_epochs=8).fit(X, y)
    rates = [g["lr"] for g in est.net_.optimizer_.param_groups]
    assert rates[0] == pytest.approx(1e-6 * 0.3**2)


@pytest.mark.parametrize("bad", ["linear", None])
def test_unknown_schedules_are_rejected(bad):
    est, X, y = case(SequenceLMRegressor)
    with pytest.raises(InvalidParameterError, match="lr_schedule"):
        est.set_params(lr_schedule=bad).fit(X)


# -- validation_split ---------------------------------------------------------------


def test_tail_split_validates_on_the_last_rows():
    est, X, y = case(CollabFilterRegressor)
    est.set_params(validation_fraction=0.25, validation_split="tail").fit(X, y)
    split = est.net_.train_split
    n = len(X)
    np.testing.assert_array_equal(split.valid_rows, np.arange(n - n // 4, n))
    assert "valid_loss" in est.history_[-1]


def test_random_split_is_stratified_for_the_classifier():
    est, X, y = case(RNNTextClassifier)
    est.set_params(validation_fraction=0.5).fit(X, y)
    valid = pd.Series(y[est.net_.train_split.valid_rows]).value_counts()
    expected = pd.Series(y).value_counts() / 2
    assert (valid - expected).abs().max() <= 0.5


def test_unknown_split_is_rejected():
    est, X, y = case(EntityEmbeddingRegressor)
    with pytest.raises(InvalidParameterError, match="validation_split"):
        est.set_params(validation_split="head").fit(X, y)


# -- sample_weight and class_weight ---------------------------------------------------


def _conflicting_ratings():
    # one user-item pair rated 0 and 1 many times; the weights decide the mean
    X = pd.DataFrame({"user": ["u"] * 40 + ["v"] * 40, "item": ["i"] * 80})
    y = np.tile([0.0, 1.0], 40)
    return X, y


def test_sample_weight_moves_the_fit_toward_the_heavy_rows():
    X, y = _conflicting_ratings()
    est = CollabFilterRegressor(
        n_factors=2,
        max_epochs=60,
        lr=5e-2,
        batch_size=16,
        y_range=None,
        factor_l2=0.0,
        lr_schedule="constant",
        random_state=0,
    )
    weight = np.where(y == 1.0, 9.0, 1.0)
    plain = clone(est).fit(X, y).predict(X[:1])[0]
    heavy = clone(est).fit(X, y, sample_weight=weight).predict(X[:1])[0]
    assert plain == pytest.approx(0.5, abs=0.1)
    assert heavy == pytest.approx(0.9, abs=0.1)


def test_entity_sample_weight_moves_the_fit():
    X = pd.DataFrame({"c": pd.Categorical(["a", "b"] * 40)})
    y = np.tile([0.0, 0.0, 1.0, 1.0], 20)  # each category rated 0 and 1 alike
    weight = np.where((X["c"] == "a") == (y == 1.0), 9.0, 1.0)
    est = EntityEmbeddingRegressor(
        hidden_sizes=(8,),
        max_epochs=40,
        batch_size=16,
        y_range=None,
        random_state=0,
    )
    pred = est.fit(X, y, sample_weight=weight).predict(X[:2])
    assert pred[0] > 0.75 and pred[1] < 0.25


@pytest.mark.parametrize("cls", WEIGHTED, ids=lambda c: c.__name__)
def test_equal_weights_train_exactly_as_none(cls):
    est, X, y = case(cls)
    plain = _outputs(clone(est).fit(X, y), X)
    equal = _outputs(clone(est).fit(X, y, sample_weight=np.full(len(y), 3.0)), X)
    np.testing.assert_array_equal(plain, equal)


@pytest.mark.parametrize("cls", WEIGHTED, ids=lambda c: c.__name__)
def test_bad_sample_weights_are_rejected(cls):
    est, X, y = case(cls)
    with pytest.raises(ValueError, match="sample_weight"):
        clone(est).fit(X, y, sample_weight=np.ones(len(y) + 1))
    with pytest.raises(ValueError, match="[Nn]egative"):
        clone(est).fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="non-zero|positive sum"):
        clone(est).fit(X, y, sample_weight=np.zeros(len(y)))


@pytest.mark.parametrize("cls", WEIGHTED, ids=lambda c: c.__name__)
def test_sample_weight_is_routed_by_cross_validate(cls):
    est, X, y = case(cls)
    weight = np.linspace(0.5, 2.0, len(y))
    scores = cross_validate(
        est.set_params(max_epochs=1), X, y, cv=2, params={"sample_weight": weight}
    )
    assert np.isfinite(scores["test_score"]).all()


def _imbalanced_documents():
    rng = np.random.RandomState(0)
    X = rng.randint(2, 12, size=(60, 6))
    y = np.array(["rare"] * 6 + ["common"] * 54)
    X[:6, 0] = 3  # the rare class carries one cue, sometimes seen in common rows
    X[6:20, 0] = 3
    return X, y


def test_class_weight_balanced_favours_the_rare_class():
    X, y = _imbalanced_documents()
    est = RNNTextClassifier(
        embedding_dim=8, hidden_size=16, max_epochs=15, lr=2e-2, random_state=0
    )
    plain = clone(est).fit(X, y).predict_proba(X)[:, 1]
    balanced = clone(est).set_params(class_weight="balanced").fit(X, y)
    rare = list(balanced.classes_).index("rare")
    assert balanced.predict_proba(X)[:6, rare].mean() > plain[:6].mean() + 0.1


def test_class_weight_dict_equals_sample_weights():
    X, y = _imbalanced_documents()
    est = RNNTextClassifier(
        embedding_dim=8, hidden_size=16, max_epochs=2, random_state=0
    )
    by_class = clone(est).set_params(class_weight={"rare": 5.0}).fit(X, y)
    by_row = clone(est).fit(X, y, sample_weight=np.where(y == "rare", 5.0, 1.0))
    np.testing.assert_array_equal(by_class.predict_proba(X), by_row.predict_proba(X))
    with pytest.raises(ValueError, match="labels not in y"):
        clone(est).set_params(class_weight={"other": 2.0}).fit(X, y)


def test_grid_search_over_the_new_controls():
    est, X, y = case(EntityEmbeddingRegressor)
    grid = GridSearchCV(
        est,
        {"lr_schedule": ["one_cycle", "cosine"], "hidden_sizes": [(8,), (16,)]},
        cv=2,
    ).fit(X, y)
    assert grid.best_params_["lr_schedule"] in ("one_cycle", "cosine")


def test_a_loaded_model_warm_starts(tmp_path):
    est, X, y = case(CollabFilterRegressor)
    est.set_params(warm_start=True).fit(X, y)
    est.save(tmp_path / "model.zip")
    loaded = CollabFilterRegressor.load(tmp_path / "model.zip")
    before = loaded.predict(X)
    loaded.fit(X, y)
    assert loaded.n_iter_ == 2 * est.max_epochs
    assert not np.allclose(loaded.predict(X), before)


# -- early_stopping and the "auto" training plans --------------------------------


@pytest.mark.parametrize(
    "early_stopping, n_samples, expected",
    [
        (False, 50_000, False),
        (True, 100, True),
        ("auto", 10_000, False),
        ("auto", 10_001, True),
    ],
)
def test_early_stopping_auto_switches_on_above_ten_thousand_samples(
    early_stopping, n_samples, expected
):
    est = EntityEmbeddingRegressor(early_stopping=early_stopping)
    plan = est._training_plan(n_samples)
    assert plan["early_stopping"] is expected
    if expected:
        assert plan["validation_fraction"] == 0.1 and plan["patience"] == 6
        assert plan["lr_schedule"] == "plateau" and plan["max_epochs"] == 60
    else:
        assert plan["validation_fraction"] is None and plan["patience"] is None
        assert plan["lr_schedule"] == "one_cycle" and plan["max_epochs"] == 15


def test_explicit_settings_win_over_the_auto_plan():
    est = EntityEmbeddingRegressor(
        validation_fraction=0.2, patience=2, max_epochs=7, lr_schedule="cosine"
    )
    plan = est._training_plan(50_000)
    assert plan == {
        "early_stopping": True,
        "max_epochs": 7,
        "lr_schedule": "cosine",
        "validation_fraction": 0.2,
        "patience": 2,
    }


def test_early_stopping_stops_and_restores_the_best_epoch():
    est, X, y = case(EntityEmbeddingRegressor)
    # a rate far too high: the validation loss stops improving at once
    est.set_params(early_stopping=True, patience=2, max_epochs=40, lr=3.0).fit(X, y)
    valid = [epoch["valid_loss"] for epoch in est.history_]
    assert len(valid) < 40
    assert np.argmin(valid) == len(valid) - 3


def test_plateau_warms_up_over_the_first_epoch():
    est, X, y = case(EntityEmbeddingRegressor)
    est.set_params(lr_schedule="plateau", lr=1e-2, max_epochs=3, batch_size=4)
    est.fit(X, y)
    first = [b["event_lr"] for b in est.history_[0]["batches"]]
    assert first[0] == pytest.approx(1e-2 / 25)
    assert np.all(np.diff(first) > 0) and first[-1] == pytest.approx(1e-2)
