"""The training plumbing shared by the tabular estimators."""

import numpy as np
import pytest
import torch

from sknlp_rnn import CollabFilterRegressor, EntityEmbeddingRegressor
from sknlp_rnn._batches import WholeTensorBatches, on_device
from sknlp_rnn._optim import ONE_CYCLE_PCT_START, LazyAdam


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


def _embedding_steps(sparse, optimizer_class, ids_per_step, **kwargs):
    """An embedding plus a dense bias trained a few steps; final weights."""
    torch.manual_seed(0)
    table = torch.nn.Embedding(6, 3, sparse=sparse)
    bias = torch.nn.Parameter(torch.zeros(()))
    optimizer = optimizer_class([table.weight, bias], lr=0.1, **kwargs)
    for ids in ids_per_step:
        optimizer.zero_grad()
        out = table(torch.tensor(ids)).sum(1) + bias
        out.square().sum().backward()
        optimizer.step()
    return table.weight.detach().clone(), bias.detach().clone()


def test_lazy_adam_matches_adam_when_every_row_is_touched():
    steps = [[0, 1, 2, 3, 4, 5, 5]] * 4  # every row, one twice
    for decay in (0.0, 0.1):
        lazy = _embedding_steps(True, LazyAdam, steps, weight_decay=decay)
        dense = _embedding_steps(False, torch.optim.Adam, steps, weight_decay=decay)
        for a, b in zip(lazy, dense, strict=True):
            torch.testing.assert_close(a, b)


def test_lazy_adam_leaves_untouched_rows_and_their_moments_alone():
    steps = [[0, 1, 2, 3, 4, 5], [0, 1], [0, 1]]
    lazy, _ = _embedding_steps(True, LazyAdam, steps)
    after_first, _ = _embedding_steps(True, LazyAdam, steps[:1])
    dense, _ = _embedding_steps(False, torch.optim.Adam, steps)
    # rows 2..5 stop moving once no batch touches them (dense Adam's momentum
    # keeps moving them)
    torch.testing.assert_close(lazy[2:], after_first[2:])
    assert not torch.allclose(dense[2:], after_first[2:])


def test_collab_lazy_adam_is_sparse_on_large_tables_only():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.integers(0, 5, 200), rng.integers(0, 100, 200)])
    y = rng.uniform(1, 5, 200)
    model = CollabFilterRegressor(batch_size=32, max_epochs=1, random_state=0)
    module = model.fit(X, y).net_.module_
    assert isinstance(model.net_.optimizer_, LazyAdam)
    assert module.factors.sparse  # one table of 105 rows > 32 ratings a batch
    small = CollabFilterRegressor(batch_size=256, max_epochs=1).fit(X, y)
    assert not small.net_.module_.factors.sparse
    mlp = CollabFilterRegressor(model="mlp", batch_size=32, max_epochs=1).fit(X, y)
    assert [t.sparse for t in mlp.net_.module_.embeddings] == [False, True]
    dense = CollabFilterRegressor(optimizer="adam", batch_size=32, max_epochs=1)
    dense.fit(X, y)
    assert not dense.net_.module_.factors.sparse
    assert type(dense.net_.optimizer_) is torch.optim.Adam


def test_training_data_are_copied_to_the_device_once_per_fit():
    from skorch.dataset import Dataset

    dataset = Dataset({"a": np.arange(6), "b": np.ones((6, 2))}, np.arange(6.0))
    X, y = on_device(dataset, "cpu")
    X2, y2 = on_device(dataset, "cpu")
    assert X2["a"] is X["a"] and y2 is y  # the same tensors: no second copy
    assert torch.is_tensor(y) and X["b"].shape == (6, 2)
    batches = WholeTensorBatches(X, y, torch.tensor([4, 1, 3]), 2, shuffle=True)
    assert sorted(rows_seen(batches).tolist()) == [1.0, 3.0, 4.0]
