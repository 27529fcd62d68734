import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV

from sknlp_rnn import RNNTextClassifier, SequenceLMRegressor
from sknlp_rnn.exceptions import NotFittedError


def _documents(n, rng):
    """Token-id documents whose label is set by which of two words they hold."""
    X = rng.integers(5, 20, size=(n, 10))
    y = rng.integers(0, 2, size=n)
    X[np.arange(n), rng.integers(0, 10, size=n)] = np.where(y == 1, 3, 4)
    return X, y


@pytest.fixture(scope="module")
def data():
    return _documents(120, np.random.default_rng(0))


@pytest.fixture(scope="module")
def lm(data):
    X, _ = data
    return SequenceLMRegressor(
        embedding_dim=8,
        hidden_size=12,
        n_layers=2,
        weight_dropout=0.1,
        embedding_dropout=0.05,
        max_epochs=2,
        random_state=0,
    ).fit(X)


def _encoder_state(model):
    return {
        k: v.detach().cpu() for k, v in model.net_.module_.encoder.state_dict().items()
    }


def test_classifier_starts_from_the_language_model(data, lm):
    X, y = data
    clf = RNNTextClassifier(
        encoder=lm, freeze_encoder_epochs=5, max_epochs=2, random_state=0
    )
    clf.fit(X, y)
    enc = clf.net_.module_.encoder
    # the language model's architecture, not the classifier's defaults
    assert enc.embedding.weight.shape == (lm.vocab_size_, 8)
    assert [r.hidden_size for r in enc.rnns] == [12, 8]
    assert enc.weight_dropout == 0.1 and enc.embedding_dropout == 0.05
    # frozen for the whole fit: the weights are exactly the language model's
    theirs, ours = _encoder_state(lm), _encoder_state(clf)
    assert theirs.keys() == ours.keys()
    for name in theirs:
        torch.testing.assert_close(ours[name], theirs[name], rtol=0, atol=0)
    # the language model itself is untouched by fine-tuning
    assert clf.vocab_size_ == lm.vocab_size_


def test_classifier_keeps_the_language_models_cell(data):
    """A ReLU RNN language model gives a ReLU RNN encoder, whatever the
    classifier's own cell settings."""
    X, y = data
    lm = SequenceLMRegressor(
        embedding_dim=8,
        hidden_size=12,
        cell="rnn",
        nonlinearity="relu",
        init="identity",
        max_epochs=1,
        random_state=0,
    ).fit(X)
    clf = RNNTextClassifier(
        encoder=lm, freeze_encoder_epochs=2, max_epochs=1, random_state=0
    ).fit(X, y)
    assert [r.mode for r in clf.net_.module_.encoder.rnns] == ["RNN_RELU"] * 2
    tokens = torch.as_tensor(X[:4], device=lm.device_)
    ours, _ = clf.net_.module_.encoder.eval()(tokens)
    theirs, _ = lm.net_.module_.encoder.eval()(tokens)
    torch.testing.assert_close(ours, theirs)


def test_fine_tuning_changes_encoder_and_keeps_lm(data, lm):
    X, y = data
    before = _encoder_state(lm)
    clf = RNNTextClassifier(encoder=lm, max_epochs=1, random_state=0).fit(X, y)
    after = _encoder_state(clf)
    assert not torch.equal(after["rnns.0.weight_hh_l0"], before["rnns.0.weight_hh_l0"])
    for name, value in _encoder_state(lm).items():
        assert torch.equal(value, before[name])


def test_gradual_unfreezing(data, lm):
    """Head alone in epoch 1, then one more group per epoch from the top."""
    X, y = data
    clf = RNNTextClassifier(
        encoder=lm, freeze_encoder_epochs=1, max_epochs=2, random_state=0
    )
    clf.fit(X, y)
    theirs, ours = _encoder_state(lm), _encoder_state(clf)
    assert not torch.equal(ours["rnns.1.weight_hh_l0"], theirs["rnns.1.weight_hh_l0"])
    assert torch.equal(ours["rnns.0.weight_hh_l0"], theirs["rnns.0.weight_hh_l0"])
    assert torch.equal(ours["embedding.weight"], theirs["embedding.weight"])
    clf.set_params(max_epochs=4).fit(X, y)
    ours = _encoder_state(clf)
    assert not torch.equal(ours["rnns.0.weight_hh_l0"], theirs["rnns.0.weight_hh_l0"])
    assert not torch.equal(ours["embedding.weight"], theirs["embedding.weight"])


def test_discriminative_learning_rates(data, lm):
    X, y = data
    clf = RNNTextClassifier(
        encoder=lm, lr=1e-2, lr_decay=2.0, max_epochs=1, random_state=0
    )
    clf.fit(X, y)
    groups = clf.net_.optimizer_.param_groups
    module = clf.net_.module_
    lr_of = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert lr_of[id(module.head[1].weight)] == pytest.approx(1e-2)
    assert lr_of[id(module.encoder.rnns[1].weight_hh_l0)] == pytest.approx(5e-3)
    assert lr_of[id(module.encoder.rnns[0].weight_hh_l0)] == pytest.approx(2.5e-3)
    assert lr_of[id(module.encoder.embedding.weight)] == pytest.approx(1.25e-3)
    # works without a pretrained encoder too
    plain = RNNTextClassifier(
        n_layers=1, lr=3e-3, lr_decay=2.6, max_epochs=1, random_state=0
    ).fit(X, y)
    assert sorted(g["lr"] for g in plain.net_.optimizer_.param_groups) == pytest.approx(
        [3e-3 / 2.6**2, 3e-3 / 2.6, 3e-3]
    )


def test_vocabulary_mismatch_is_a_clear_error(data, lm):
    X, y = data
    X = X.copy()
    X[0, 0] = lm.vocab_size_ + 5
    with pytest.raises(ValueError, match="Vocabulary size mismatch"):
        RNNTextClassifier(encoder=lm, max_epochs=1).fit(X, y)


def test_mismatched_special_ids_are_a_clear_error(data, lm):
    X, y = data
    with pytest.raises(ValueError, match="pad_idx=0 differs"):
        RNNTextClassifier(encoder=lm, max_epochs=1, pad_idx=0, unk_idx=1).fit(X, y)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_the_language_model_sets_the_direction(data, lm, bidirectional):
    """The encoder is the language model's, left to right, whatever the
    classifier's ``bidirectional`` (its default is True)."""
    X, y = data
    clf = RNNTextClassifier(
        encoder=lm, bidirectional=bidirectional, max_epochs=1, random_state=0
    ).fit(X, y)
    assert not clf.net_.module_.encoder.bidirectional


def test_unfitted_or_wrong_encoder(data, lm):
    X, y = data
    clf = RNNTextClassifier(encoder=lm, max_epochs=1)
    with pytest.raises(NotFittedError, match="FrozenEstimator"):
        clone(clf).fit(X, y)  # clone un-fits the language model
    with pytest.raises(TypeError, match="encoder must be"):
        RNNTextClassifier(encoder=RNNTextClassifier(), max_epochs=1).fit(X, y)


def test_frozen_encoder_survives_clone_and_grid_search(data, lm):
    X, y = data
    clf = RNNTextClassifier(encoder=FrozenEstimator(lm), max_epochs=2, random_state=0)
    cloned = clone(clf)
    assert cloned.encoder.estimator is lm
    search = GridSearchCV(clf, {"dropout": [0.0, 0.3]}, cv=2).fit(X, y)
    enc = search.best_estimator_.net_.module_.encoder
    assert enc.embedding.weight.shape == (lm.vocab_size_, 8)
