"""The training plumbing shared by the tabular estimators."""

import numpy as np
import pytest
import torch

from sknlp_rnn import CollabFilterRegressor, EntityEmbeddingRegressor
from sknlp_rnn.tabular._training import (
    ONE_CYCLE_PCT_START,
    WholeTensorBatches,
)


def rows_seen(batches):
    out = []
    for Xb, yb in batches:
        x = Xb["a"] if isinstance(Xb, dict) else Xb
        assert len(x) == len(yb)
        out.append(yb.numpy())
    return np.concatenate(out)


@pytest.mark.parametrize("as_dict", [False, True])
def test_batches_cover_every_row_once(as_dict):
    y = np.arange(10, dtype=np.float32)
    X = {"a": np.arange(10), "b": np.ones((10, 2))} if as_dict else np.eye(10)
    batches = WholeTensorBatches(X, y, None, batch_size=4, shuffle=False)
    assert len(batches) == 3
    np.testing.assert_array_equal(rows_seen(batches), y)
    shuffled = WholeTensorBatches(X, y, None, batch_size=4, shuffle=True)
    first, second = rows_seen(shuffled), rows_seen(shuffled)
    np.testing.assert_array_equal(np.sort(first), y)
    assert not np.array_equal(first, second)  # a fresh order each pass


@pytest.mark.parametrize("as_dict", [False, True])
def test_batches_of_a_subset(as_dict):
    y = np.arange(10, dtype=np.float32)
    X = {"a": np.arange(10)} if as_dict else np.arange(10)[:, None]
    indices = torch.tensor([7, 2, 5])
    plain = WholeTensorBatches(X, y, indices, batch_size=2, shuffle=False)
    np.testing.assert_array_equal(rows_seen(plain), [7, 2, 5])
    shuffled = WholeTensorBatches(X, y, indices, batch_size=2, shuffle=True)
    np.testing.assert_array_equal(np.sort(rows_seen(shuffled)), [2, 5, 7])


def test_batches_follow_torch_seed():
    y = np.arange(50, dtype=np.float32)
    batches = WholeTensorBatches(np.eye(50), y, None, batch_size=8, shuffle=True)
    torch.manual_seed(3)
    first = rows_seen(batches)
    torch.manual_seed(3)
    np.testing.assert_array_equal(rows_seen(batches), first)


def one_cycle_rates(model):
    batches = [b for epoch in model.history_ for b in epoch["batches"]]
    return [b["event_lr"] for b in batches if "train_loss" in b]


@pytest.mark.parametrize("validation_fraction", [None, 0.25])
def test_one_cycle_counts_steps_exactly(validation_fraction):
    rng = np.random.RandomState(0)
    X = rng.randint(0, 8, size=(200, 2))
    y = rng.uniform(1, 5, size=200)
    model = CollabFilterRegressor(
        n_factors=2,
        max_epochs=3,
        batch_size=32,
        lr=0.01,
        validation_fraction=validation_fraction,
        random_state=0,
    ).fit(X, y)
    n_train = 200 if validation_fraction is None else 150
    steps = 3 * -(-n_train // 32)
    rates = one_cycle_rates(model)
    assert len(rates) == steps
    assert rates[0] == pytest.approx(0.01 / 25)
    peak = int(np.argmax(rates))
    assert rates[peak] == pytest.approx(0.01, rel=0.01)
    assert abs(peak - (ONE_CYCLE_PCT_START * steps - 1)) <= 1
    # annealed to nearly zero by the last step
    assert model.net_.optimizer_.param_groups[0]["lr"] < 0.01 / 1000


def test_one_cycle_same_for_both_estimators():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 5, size=(120, 2))
    y = rng.uniform(1, 5, size=120)
    params = {"max_epochs": 2, "batch_size": 16, "lr": 0.02, "random_state": 0}
    collab = CollabFilterRegressor(n_factors=2, **params).fit(X, y)
    entity = EntityEmbeddingRegressor(
        categorical_features=[0, 1], hidden_sizes=(4,), **params
    ).fit(X, y)
    np.testing.assert_allclose(one_cycle_rates(collab), one_cycle_rates(entity))


def test_one_cycle_with_plain_sgd_keeps_momentum_off():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 5, size=(120, 2))
    y = rng.uniform(1, 5, size=120)
    model = CollabFilterRegressor(
        n_factors=2, max_epochs=2, batch_size=16, optimizer="sgd", random_state=0
    ).fit(X, y)
    assert model.net_.optimizer_.param_groups[0]["momentum"] == 0
    assert len(one_cycle_rates(model)) == 16


def test_too_few_steps_keep_lr_constant():
    X = [[0, 0], [1, 1], [0, 1], [1, 0]]
    y = [1.0, 2.0, 3.0, 4.0]
    model = CollabFilterRegressor(
        n_factors=2, max_epochs=2, batch_size=4, lr=0.05, random_state=0
    ).fit(X, y)
    assert model.net_.optimizer_.param_groups[0]["lr"] == 0.05
