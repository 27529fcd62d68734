"""Scale-out on existing engines: dask for searches, accelerate for training.

Each test skips when its optional engine (extras ``distributed`` and
``accelerate``) is not installed. The dask test is marked ``slow`` (deselected
by default): run it with ``python -m pytest -m slow tests/test_scaling.py``.
"""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from skorch import NeuralNetClassifier

from sknlp_rnn import RNNTextClassifier
from sknlp_rnn._nets import TorchNet
from sknlp_rnn._testing import _token_ids
from sknlp_rnn.nn import RNNClassifierModule, RNNEncoder

torch.set_num_threads(1)


def _search(X, y):
    clf = RNNTextClassifier(
        embedding_dim=4, hidden_size=4, max_epochs=2, random_state=0, device="cpu"
    )
    grid = {"hidden_size": [4, 8]}
    return GridSearchCV(clf, grid, cv=2, n_jobs=2)


@pytest.mark.slow  # starting two worker processes that import torch takes ~1 min
def test_grid_search_on_a_dask_cluster():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    import joblib

    X, y = _token_ids(n=40)
    local = _search(X, y).fit(X, y)
    with (
        distributed.LocalCluster(
            host="127.0.0.1",
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.run(torch.set_num_threads, 1)
        with joblib.parallel_backend("dask"):
            remote = _search(X, y).fit(X, y)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_array_equal(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert remote.best_params_ == local.best_params_
    assert np.array_equal(remote.predict_proba(X), local.predict_proba(X))


@pytest.mark.parametrize(
    "base", [NeuralNetClassifier, TorchNet], ids=["skorch", "ours"]
)
def test_accelerate_mixin_trains_our_modules_on_cpu(base):
    """The recipe of the scaling page, and the same through our own net class."""
    accelerate = pytest.importorskip("accelerate")
    from skorch.hf import AccelerateMixin

    class AcceleratedNet(AccelerateMixin, base):
        """A skorch net whose training is driven by an accelerate Accelerator."""

    if base is NeuralNetClassifier:  # the recipe of the scaling page

        class AcceleratedNet(AcceleratedNet):  # noqa: F811
            def get_loss(self, y_pred, y_true, *args, **kwargs):
                # sknlp_rnn modules return (output, aux_loss)
                output, aux_loss = (
                    y_pred if isinstance(y_pred, tuple) else (y_pred, None)
                )
                loss = super().get_loss(output, y_true, *args, **kwargs)
                return loss if aux_loss is None else loss + aux_loss

            def evaluation_step(self, batch, training=False):
                return super().evaluation_step(batch, training=training)[0]

    X, y = _token_ids(n=200)
    codes = (y == "yes").astype(np.int64)
    torch.manual_seed(0)
    module = RNNClassifierModule(
        RNNEncoder(vocab_size=12, embedding_dim=8, hidden_size=16),
        n_classes=2,
    )
    net = AcceleratedNet(
        module,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=3e-3,
        max_epochs=8,
        batch_size=32,
        train_split=None,
        accelerator=accelerate.Accelerator(cpu=True),
        verbose=0,
    )
    net.fit(X, codes)
    accuracy = np.mean(net.predict_proba(X).argmax(1) == codes)
    assert accuracy > max(codes.mean(), 1 - codes.mean()) + 0.1
    assert net.history[-1, "train_loss"] < net.history[0, "train_loss"]
