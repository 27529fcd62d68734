"""The shared training loop and the device helpers (``_base``, ``_device``)."""

import os
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from sknlp_rnn import (
    CollabFilterRegressor,
    EntityEmbeddingRegressor,
    RNNTextClassifier,
)
from sknlp_rnn._device import deterministic_kernels, fused_adam_available
from sknlp_rnn._testing import _token_ids, case, trained_estimators

# torch's recurrent modules (GRU and plain RNN read packed batch sizes)
TORCH_RNN_FILE = torch.nn.modules.rnn.__file__


def test_batch_losses_are_recorded_per_batch_and_averaged_per_epoch():
    X, y = _token_ids(n=50)
    clf = RNNTextClassifier(
        embedding_dim=4, hidden_size=4, batch_size=16, max_epochs=3, random_state=0
    ).fit(X, y)
    for epoch in clf.history_:
        batches = [b for b in epoch["batches"] if "train_loss" in b]
        assert len(batches) == epoch["train_batch_count"] == 4
        losses = np.array([b["train_loss"] for b in batches])
        sizes = np.array([b["train_batch_size"] for b in batches])
        assert all(isinstance(v, float) for v in losses)
        assert sorted(sizes.tolist()) == [2, 16, 16, 16]
        assert epoch["train_loss"] == pytest.approx(np.average(losses, weights=sizes))
    assert clf.history_[-1, "train_loss"] < clf.history_[0, "train_loss"]


@pytest.mark.parametrize("name, cls", trained_estimators())
def test_training_reads_no_value_back_per_batch(name, cls, monkeypatch):
    """No ``.item()``/``float()`` of a tensor per batch: on a GPU each one waits
    for the device to finish. Losses are read once per epoch. Torch's recurrent
    modules read a packed sequence's batch sizes, which it keeps on the host
    whatever the device: those reads do not wait and are not counted."""
    est, X, y = case(cls)
    reads = []
    for method in ("item", "__float__", "__int__"):
        original = getattr(torch.Tensor, method)

        def counted(self, _original=original, _method=method):
            if sys._getframe(1).f_code.co_filename != TORCH_RNN_FILE:
                reads.append(_method)
            return _original(self)

        monkeypatch.setattr(torch.Tensor, method, counted)
    counts = []
    for epochs in (2, 5):
        reads.clear()
        est.set_params(max_epochs=epochs, batch_size=4)
        est.fit(X) if y is None else est.fit(X, y)
        counts.append(len(reads))
    monkeypatch.undo()
    assert est.history_[-1, "train_batch_count"] >= 4
    # three more epochs: at most one read each (the epoch's summary)
    assert counts[1] - counts[0] <= 3, counts


@pytest.mark.parametrize(
    "cls, X, y",
    [
        (
            EntityEmbeddingRegressor,
            pd.DataFrame({"a": list("abcab") * 10, "b": np.arange(50.0)}),
            np.linspace(-1, 1, 50),
        ),
        (
            CollabFilterRegressor,
            np.c_[np.arange(50) % 7, np.arange(50) % 5],
            # within float32, but its squared errors are not
            np.linspace(-1, 1, 50) * 1e30,
        ),
    ],
)
def test_non_finite_training_loss_stops_fit(cls, X, y):
    # a rate that blows the weights up; targets beyond float32 are refused
    # earlier, when y is validated
    est = cls(max_epochs=3, lr=1e30, y_range=None, random_state=0)
    with np.errstate(all="ignore"), pytest.raises(ValueError, match="loss became"):
        est.fit(X, y)


def test_deterministic_kernels_switch_on_for_cuda_and_restore():
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )
    with deterministic_kernels("cpu"):
        assert not torch.are_deterministic_algorithms_enabled()
    # The switch itself needs no GPU.
    with deterministic_kernels("cuda:0"):
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"]
    with deterministic_kernels("cuda", enabled=False):
        assert not torch.are_deterministic_algorithms_enabled()
    with pytest.raises(KeyError), deterministic_kernels("cuda"):
        raise KeyError("restored on errors too")
    after = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
        os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
    )
    assert after == before


def test_adam_is_fused_where_torch_has_it():
    X, y = _token_ids()
    clf = RNNTextClassifier(embedding_dim=4, hidden_size=4, max_epochs=1).fit(X, y)
    fused = clf.net_.optimizer_.defaults.get("fused")
    assert bool(fused) == fused_adam_available(clf.device_)
    sgd = clf.set_params(optimizer="sgd").fit(X, y)
    assert not sgd.net_.optimizer_.defaults.get("fused")
