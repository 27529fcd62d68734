import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score

import sknlp_rnn
from sknlp_rnn import RNNTextClassifier
from sknlp_rnn._batches import BucketBatchSampler
from sknlp_rnn.exceptions import DeviceFallbackWarning, NotFittedError
from sknlp_rnn.nn import RNNClassifierModule, RNNEncoder

PAD = 1


def make_docs(n=300, width=25, seed=0, labels=("neg", "pos")):
    """Variable-length documents; the label says whether token 5 occurs."""
    rng = np.random.RandomState(seed)
    X = np.full((n, width), PAD, dtype=np.int64)
    y = []
    for i in range(n):
        length = rng.randint(3, width + 1)
        tokens = rng.randint(6, 40, size=length)
        positive = rng.rand() < 0.5
        if positive:
            tokens[rng.randint(length)] = 5
        X[i, :length] = tokens
        y.append(labels[int(positive)])
    return X, np.array(y)


FAST = {
    "embedding_dim": 16,
    "hidden_size": 32,
    "max_epochs": 8,
    "lr": 1e-2,
    "random_state": 0,
}


@pytest.fixture(scope="module")
def fitted():
    X, y = make_docs()
    return RNNTextClassifier(**FAST).fit(X[:240], y[:240]), X, y


def test_learns_far_above_chance(fitted):
    clf, X, y = fitted
    assert clf.score(X[240:], y[240:]) > 0.85  # chance is ~0.5
    assert clf.history_[0, "train_loss"] > clf.history_[-1, "train_loss"]


def test_labels_of_any_type_and_probabilities(fitted):
    clf, X, y = fitted
    assert list(clf.classes_) == ["neg", "pos"]
    proba = clf.predict_proba(X[240:])
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], clf.predict(X[240:]))


def test_multiclass():
    rng = np.random.RandomState(1)
    y = rng.randint(0, 3, size=240)
    X = rng.randint(6, 30, size=(240, 8))
    X[:, 0] = y + 2  # the first token names the class
    clf = RNNTextClassifier(**FAST).fit(X[:200], y[:200])
    assert clf.predict_proba(X).shape == (240, 3)
    assert clf.score(X[200:], y[200:]) > 0.8


def test_predictions_change_with_the_data(fitted):
    clf, X, y = fitted
    flipped = RNNTextClassifier(**FAST).fit(
        X[:240], np.where(y[:240] == "pos", "neg", "pos")
    )
    assert (flipped.predict(X[240:]) != clf.predict(X[240:])).mean() > 0.8


def test_padding_does_not_change_predictions(fitted):
    clf, X, _ = fitted
    doc = [7, 8, 5, 9]
    alone = clf.predict_proba([doc])
    # in a batch with a full-width document the batch is 25 wide, alone it is 4
    long_doc = list(range(6, 6 + X.shape[1]))
    with_long = clf.predict_proba([doc, long_doc])[:1]
    np.testing.assert_allclose(alone, with_long, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pooling", ["concat", "last", "max", "mean"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_module_output_ignores_pads(pooling, bidirectional):
    torch.manual_seed(0)
    enc = RNNEncoder(50, 8, 12, n_layers=2, bidirectional=bidirectional)
    module = RNNClassifierModule(enc, n_classes=3, pooling=pooling).eval()
    doc = torch.tensor([7, 8, 9, 10, 11])
    short = torch.full((1, 10), PAD)
    short[0, :5] = doc
    long = torch.full((1, 500), PAD)
    long[0, :5] = doc
    with torch.no_grad():
        torch.testing.assert_close(
            module(short)[0], module(long)[0], rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_cells_train(cell):
    X, y = make_docs(n=60)
    clf = RNNTextClassifier(cell=cell, **{**FAST, "max_epochs": 2}).fit(X, y)
    assert clf.net_.module_.encoder.rnns[0].mode == cell.upper().replace(
        "RNN", "RNN_TANH"
    )


def test_irnn_classifier_learns_and_round_trips(tmp_path):
    """cell="rnn" with ReLU and identity recurrent weights (IRNN)."""
    X, y = make_docs()
    clf = RNNTextClassifier(
        **{**FAST, "max_epochs": 1, "lr": 1e-6},
        cell="rnn",
        nonlinearity="relu",
        init="identity",
    ).fit(X[:240], y[:240])
    rnn = clf.net_.module_.encoder.rnns[0]
    assert rnn.mode == "RNN_RELU"
    # a learning rate of 1e-6 leaves the identity where it started
    torch.testing.assert_close(
        rnn.weight_hh_l0.detach().cpu(), torch.eye(32), atol=1e-4, rtol=0
    )
    clf.set_params(max_epochs=8, lr=1e-2).fit(X[:240], y[:240])
    assert clf.score(X[240:], y[240:]) > 0.8
    loaded = sknlp_rnn.load(_saved(clf, tmp_path))
    assert loaded.net_.module_.encoder.rnns[0].mode == "RNN_RELU"
    np.testing.assert_array_equal(
        loaded.predict_proba(X[240:]), clf.predict_proba(X[240:])
    )


def _saved(est, tmp_path):
    path = tmp_path / "model.skrnn"
    sknlp_rnn.save(est, path)
    return path


def test_bucket_sampler_yields_every_row_once_in_similar_lengths():
    lengths = np.random.RandomState(0).randint(1, 100, size=1000)
    torch.manual_seed(0)
    batches = list(BucketBatchSampler(lengths, batch_size=20, pool_batches=10))
    flat = np.concatenate(batches)
    assert sorted(flat) == list(range(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean([np.ptp(lengths[b]) for b in np.split(np.arange(1000), 50)])
    assert spread < random_spread / 3


def test_same_random_state_same_model_and_refit_after_set_params():
    X, y = make_docs(n=80)
    a = RNNTextClassifier(**{**FAST, "max_epochs": 2}).fit(X, y)
    b = RNNTextClassifier(**{**FAST, "max_epochs": 2}).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    b.set_params(hidden_size=8).fit(X, y)
    assert b.net_.module_.encoder.rnns[0].hidden_size == 8
    assert not np.allclose(a.predict_proba(X), b.predict_proba(X))


def test_clone_is_unfitted_with_same_params(fitted):
    clf, _, _ = fitted
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert not hasattr(copy, "net_")


def test_joblib_round_trip_is_exact(fitted, tmp_path):
    clf, X, _ = fitted
    joblib.dump(clf, tmp_path / "clf.joblib")
    loaded = joblib.load(tmp_path / "clf.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_cuda_trained_model_loads_on_cpu_with_our_warning(fitted):
    clf, X, _ = fitted
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    gpu_like = pickle.loads(pickle.dumps(clf))
    gpu_like.net_.device = "cuda"  # what a model trained on a GPU records
    gpu_like.device_ = "cuda"
    with pytest.warns(DeviceFallbackWarning, match="trained on 'cuda'"):
        loaded = pickle.loads(pickle.dumps(gpu_like))
    assert loaded.device_ == "cpu"
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


def test_grid_search_and_cross_val_score():
    X, y = make_docs(n=90)
    base = RNNTextClassifier(**{**FAST, "max_epochs": 2})
    search = GridSearchCV(
        base, {"hidden_size": [8, 16], "dropout": [0.0, 0.3]}, cv=2, n_jobs=2
    ).fit(X, y)
    assert search.best_params_["hidden_size"] in (8, 16)
    assert len(search.cv_results_["mean_test_score"]) == 4
    scores = cross_val_score(base, X, y, cv=3)
    assert scores.shape == (3,)


def test_unknown_ids_map_to_unk(fitted):
    clf, X, _ = fitted
    huge = X[:3].copy()
    huge[:, 0] = 10_000
    unk = X[:3].copy()
    unk[:, 0] = clf.unk_idx
    np.testing.assert_array_equal(clf.predict_proba(huge), clf.predict_proba(unk))


def test_validation_split_early_stopping_and_history():
    X, y = make_docs(n=120)
    clf = RNNTextClassifier(
        **{**FAST, "max_epochs": 30}, validation_fraction=0.25, patience=2
    ).fit(X, y)
    assert {"train_loss", "valid_loss", "valid_acc"} <= set(clf.history_[-1])
    assert clf.n_iter_ <= 30


@pytest.mark.parametrize(
    "n_docs, validation_fraction, early_stopping, epochs",
    [
        (64, None, False, 30),  # 1 batch: 250 epochs for 250 steps, capped
        (1000, None, False, 16),  # 16 batches per epoch (the last one short)
        (1000, 0.2, False, 20),  # 800 left to train: 13 batches
        (4200, None, False, 4),  # 66 batches: 4 epochs give 264 steps
        (600, None, True, 30),  # early stopping: the bound, patience decides
    ],
)
def test_auto_epochs_give_at_least_250_steps(
    n_docs, validation_fraction, early_stopping, epochs
):
    """max_epochs="auto": small corpora get more epochs, 4 from about 4,000."""
    clf = RNNTextClassifier(
        embedding_dim=4,
        hidden_size=4,
        validation_fraction=validation_fraction,
        early_stopping=early_stopping,
        random_state=0,
    )
    assert clf.max_epochs == "auto"
    plan = clf._training_plan(n_docs)
    assert plan["max_epochs"] == epochs
    assert plan["lr_schedule"] == ("plateau" if early_stopping else "one_cycle")


def test_auto_epochs_and_one_cycle_reach_the_fitted_net():
    X, y = make_docs(n=700, width=6)
    clf = RNNTextClassifier(embedding_dim=4, hidden_size=4, random_state=0).fit(X, y)
    assert clf.max_epochs_ == clf.n_iter_ == len(clf.history_) == 23  # 11 batches
    rates = [b["event_lr"] for epoch in clf.history_ for b in epoch["batches"]]
    assert max(rates) == pytest.approx(clf.lr, rel=1e-3)  # one cycle peaks at lr
    assert rates[0] < clf.lr / 10 and rates[-1] < clf.lr / 100
    fixed = RNNTextClassifier(
        embedding_dim=4, hidden_size=4, max_epochs=2, random_state=0
    ).fit(X, y)
    assert fixed.max_epochs_ == fixed.n_iter_ == 2


def test_verbose_prints_epoch_table(capsys):
    X, y = make_docs(n=40)
    RNNTextClassifier(**{**FAST, "max_epochs": 2}, verbose=1).fit(X, y)
    assert "train_loss" in capsys.readouterr().out
    RNNTextClassifier(**{**FAST, "max_epochs": 2}, verbose=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_ragged_lists_of_ids():
    X = [[2, 3, 4], [5, 6], [2, 4, 3, 3], [6, 5]]
    y = [1, 0, 1, 0]
    clf = RNNTextClassifier(**{**FAST, "max_epochs": 2}).fit(X, y)
    assert clf.n_features_in_ == 4
    assert clf.predict([[2, 3]]).shape == (1,)
    with pytest.raises(ValueError, match="fitted on rows of 4 token ids"):
        clf.predict([[2, 3, 4, 5, 6]])


def test_not_fitted_error_is_ours_and_sklearns():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        RNNTextClassifier().predict_proba([[2, 3]])


@pytest.mark.parametrize(
    "X, error, match",
    [
        ([[-1, 2], [3, 4]], ValueError, "Negative values in data"),
        ([["a", "b"], ["c", "d"]], TypeError, "Tokenizer and Vocab"),
        ([[0.5, 2.0], [3.0, 4.0]], ValueError, "non-integer"),
        ([[np.nan, 2.0], [3.0, 4.0]], ValueError, "NaN"),
        (np.empty((0, 3)), ValueError, "0 sample"),
    ],
)
def test_bad_input_gets_a_clear_error(X, error, match):
    with pytest.raises(error, match=match):
        RNNTextClassifier(max_epochs=1).fit(X, [0, 1][: len(X)])


def test_bad_params_are_rejected_at_fit():
    X, y = make_docs(n=20)
    with pytest.raises(ValueError, match="cell"):
        RNNTextClassifier(cell="transformer").fit(X, y)
    with pytest.raises(ValueError, match="nonlinearity"):
        RNNTextClassifier(cell="rnn", nonlinearity="gelu").fit(X, y)
    with pytest.raises(ValueError, match="init"):
        RNNTextClassifier(init="orthogonal").fit(X, y)
    with pytest.raises(ValueError, match="device"):
        RNNTextClassifier(device="tpu", max_epochs=1).fit(X, y)


@pytest.mark.parametrize(
    "X, params, match",
    [
        ([[2, 3], [4, 5]], {"pad_idx": 0, "unk_idx": 0}, "must be different ids"),
        ([[2, 10**9], [4, 5]], {}, "token id 1000000000.*max_vocab_size=1000000"),
        ([[2, 3], [4, 9]], {"max_vocab_size": 9}, "need 10 rows.*max_vocab_size=9"),
        ([[2, 3], [4, 5]], {"pad_idx": 10**7}, "pad_idx=10000000"),
        ([[2, 3], [4, 5]], {"max_vocab_size": 0}, "max_vocab_size"),
    ],
)
def test_ids_are_checked_before_the_embedding_is_built(X, params, match):
    with pytest.raises(ValueError, match=match):
        RNNTextClassifier(max_epochs=1, **params).fit(X, [0, 1])


def test_max_vocab_size_is_an_inclusive_bound():
    clf = RNNTextClassifier(max_epochs=1, max_vocab_size=10).fit(
        [[2, 3], [4, 9]], [0, 1]
    )
    assert clf.vocab_size_ == 10
    # ids beyond the fitted vocabulary still read as unk_idx at prediction
    assert clf.predict_proba([[2, 10**9]]).shape == (1, 2)


def test_warnings_are_not_left_behind():
    X, y = make_docs(n=20)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        RNNTextClassifier(**{**FAST, "max_epochs": 1}).fit(X, y).predict(X)
