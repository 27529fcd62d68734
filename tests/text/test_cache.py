"""The neural cache of SequenceLMRegressor's predictions."""

import copy

import joblib
import numpy as np
import pytest
import torch

from sknlp_rnn import SequenceLMRegressor, load, save
from sknlp_rnn._testing import tolerance
from sknlp_rnn.text import tune_cache
from sknlp_rnn.text._cache import CacheMemory, mix_cache

FAST = {"embedding_dim": 16, "hidden_size": 32, "n_layers": 1, "random_state": 0}
CACHE = {"cache_size": 64, "cache_theta": 100.0, "cache_lambda": 0.5}


@pytest.fixture(scope="module")
def lm():
    """A small model trained on counting through ids 3..22 and on ids 23..30
    in random orders (so it cannot know which of those comes next)."""
    rng = np.random.RandomState(0)
    rows = [np.roll(np.arange(3, 23), rng.randint(20)) for _ in range(40)]
    rows += [rng.choice(np.arange(23, 31), 20) for _ in range(40)]
    return SequenceLMRegressor(
        **FAST, cell="gru", bptt=10, batch_size=8, lr=1e-2, max_epochs=3
    ).fit(np.array(rows))


@pytest.fixture(scope="module")
def repeated():
    """Rows repeating one random order of ids 23..30."""
    rng = np.random.RandomState(1)
    return np.array([np.tile(rng.permutation(np.arange(23, 31)), 5) for _ in range(6)])


def _with_cache(lm, **params):
    """A copy of the fitted model with other cache settings (no refit)."""
    return copy.deepcopy(lm).set_params(**{**CACHE, **params})


def _second_half_accuracy(model, X):
    pred = model.predict_tokens(X)[:, :-1]
    half = X.shape[1] // 2
    return np.mean(pred[:, half:] == X[:, half + 1 :])


def test_cache_predicts_what_the_document_repeats(lm, repeated):
    """Unseen ids in a repeated order: only the cache can follow them."""
    cached = _with_cache(lm)
    plain_acc = _second_half_accuracy(lm, repeated)
    cached_acc = _second_half_accuracy(cached, repeated)
    assert plain_acc < 0.3
    assert cached_acc > 0.9
    assert cached.score(repeated) > lm.score(repeated) + 0.3
    assert cached.perplexity(repeated) < lm.perplexity(repeated)


def test_cache_is_a_prediction_setting(lm, repeated):
    """set_params on a fitted model switches it on and off; 0 is the plain model."""
    plain = lm.predict_proba(repeated)
    lm.set_params(**CACHE)
    try:
        with_cache = lm.predict_proba(repeated)
        np.testing.assert_allclose(with_cache.sum(1), 1.0)
        assert not np.allclose(with_cache, plain)
    finally:
        lm.set_params(cache_size=0)
    np.testing.assert_array_equal(lm.predict_proba(repeated), plain)


def test_cache_reads_only_the_past(lm, repeated):
    """The prediction at a position does not depend on what comes after it."""
    cached = _with_cache(lm)
    row = repeated[:1]
    whole = cached.predict_tokens(row)[0]
    for cut in (5, 17, 30):
        np.testing.assert_array_equal(
            cached.predict_tokens(row[:, :cut])[0], whole[:cut]
        )
        assert cached.predict(row[:, :cut])[0] == whole[cut - 1]


def test_cache_window(lm, repeated):
    """A window shorter than the repeat period cannot reach the earlier copy."""
    assert _second_half_accuracy(_with_cache(lm, cache_size=6), repeated) < 0.3
    assert _second_half_accuracy(_with_cache(lm, cache_size=8), repeated) > 0.9


def test_cache_across_chunks_and_ragged_batches(lm, repeated, monkeypatch):
    """Memory carries across chunks; rows of other lengths do not disturb it."""
    from sknlp_rnn.text import _reader

    cached = _with_cache(lm, batch_size=3)
    X = [repeated[0].tolist(), repeated[1, :7].tolist(), repeated[2, :25].tolist()]
    whole = (cached.predict_proba(X), cached.predict_tokens(X), cached.score(X))
    alone = [cached.predict_tokens([row])[0] for row in X]
    for got, want in zip(cached.predict_tokens(X), alone, strict=True):
        np.testing.assert_array_equal(got[: len(want)], want)
    monkeypatch.setattr(_reader, "_LOGIT_BUDGET", 1)  # 16-token chunks
    tol = tolerance(cached.device_)
    np.testing.assert_allclose(cached.predict_proba(X), whole[0], **tol)
    if cached.device_ == "cpu":  # on CUDA a near-tie may flip with the kernel
        np.testing.assert_array_equal(cached.predict_tokens(X), whole[1])
    assert cached.score(X) == pytest.approx(whole[2], rel=tol["rtol"] / 10)


def test_generate_with_cache_continues_like_predict(lm, repeated):
    """Greedy generation reads the cache as predict does on the grown prompt."""
    cached = _with_cache(lm)
    prompts = [repeated[0, :24].tolist(), repeated[1, :26].tolist()]
    greedy = cached.generate(prompts, 10, temperature=0)
    for prompt, row in zip(prompts, greedy, strict=True):
        grown = list(prompt)
        for token in row:
            assert cached.predict([grown])[0] == token
            grown.append(int(token))
    # the repeated order is continued, which the plain model cannot do
    expected = np.array([repeated[0, 24:34], repeated[1, 26:36]])
    assert np.mean(greedy == expected) > 0.9
    assert np.mean(lm.generate(prompts, 10, temperature=0) == expected) < 0.3


def test_cache_round_trips(lm, repeated, tmp_path):
    cached = _with_cache(lm)
    expected = cached.predict_proba(repeated)
    save(cached, tmp_path / "lm.zip")
    np.testing.assert_array_equal(
        load(tmp_path / "lm.zip").predict_proba(repeated), expected
    )
    joblib.dump(cached, tmp_path / "lm.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "lm.joblib").predict_proba(repeated), expected
    )


@pytest.mark.parametrize(
    "params, match",
    [
        ({"cache_size": -1}, "cache_size"),
        ({"cache_lambda": 0.0}, "cache_lambda"),
        ({"cache_lambda": 1.0}, "cache_lambda"),
        ({"cache_theta": 0.0}, "cache_theta"),
    ],
)
def test_bad_cache_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        SequenceLMRegressor(**params).fit([[3, 4, 5]])


def test_mix_cache_by_hand():
    """One query, two readable keys and one too old: the mixture by hand."""
    log_proba = torch.log(torch.tensor([[[0.5, 0.25, 0.25]]], dtype=torch.float64))
    keys = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    memory = CacheMemory.empty(1, 2, "cpu").extend(
        keys, torch.tensor([[2, 1, 0]]), torch.tensor([[0, 4, 5]])
    )
    query = torch.tensor([[[3.0, 0.0]]])
    theta, lam = 2.0, 0.4
    mixed = mix_cache(
        log_proba, query, torch.tensor([[6]]), memory, size=5, theta=theta, lam=lam
    )
    # key 0 is 6 positions back: out of a window of 5
    scores = theta * np.array([0.0, np.sqrt(0.5)])  # cosines with keys 1 and 2
    weights = np.exp(scores) / np.exp(scores).sum()
    cache = np.array([weights[1], weights[0], 0.0])  # key 1 -> token 1, key 2 -> 0
    expected = (1 - lam) * np.array([0.5, 0.25, 0.25]) + lam * cache
    np.testing.assert_allclose(mixed.exp()[0, 0].numpy(), expected, rtol=1e-6)
    # no readable key: the model's distribution unchanged
    alone = mix_cache(
        log_proba, query, torch.tensor([[0]]), memory, size=5, theta=theta, lam=lam
    )
    torch.testing.assert_close(alone, log_proba)


def test_tune_cache_picks_a_helpful_cache(lm, repeated):
    before = lm.predict_proba(repeated)
    best, scores = tune_cache(
        lm, repeated, cache_size=[6, 64], cache_theta=[10.0, 100.0], cache_lambda=[0.5]
    )
    assert len(scores) == 1 + 4 and (0, None, None) in scores
    assert best == {"cache_size": 64, "cache_theta": 100.0, "cache_lambda": 0.5}
    assert scores[(64, 100.0, 0.5)] == max(scores.values())
    # the model itself is untouched
    assert lm.cache_size == 0
    np.testing.assert_array_equal(lm.predict_proba(repeated), before)
    assert _with_cache(lm, **best).score(repeated) == pytest.approx(
        scores[(64, 100.0, 0.5)]
    )


def test_tune_cache_keeps_the_plain_model_when_no_cache_helps(lm):
    """On counting the model knows, a one-position cache only misleads it."""
    counting = np.array([np.roll(np.arange(3, 23), k) for k in range(4)])
    best, scores = tune_cache(
        lm, counting, cache_size=[1], cache_theta=[100.0], cache_lambda=[0.9]
    )
    assert best == {"cache_size": 0}
    assert scores[(0, None, None)] > scores[(1, 100.0, 0.9)]
