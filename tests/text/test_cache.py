"""The neural cache of SequenceLMRegressor's predictions."""

import copy

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone

from sknlp_rnn import SequenceLMRegressor, load, save
from sknlp_rnn._testing import tolerance
from sknlp_rnn.text import tune_cache
from sknlp_rnn.text._cache import CacheMemory, mix_cache
from sknlp_rnn.text._stream import join_rows

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
        **FAST, cell="gru", bptt=10, batch_size=8, lr=1e-2, max_epochs=3, cache_size=0
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
        ({"cache_size": "big"}, "cache_size"),
        ({"cache_size": 2.5}, "cache_size"),
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


def test_tune_cache_scores_are_score_with_each_setting(lm, monkeypatch):
    """One reading scores the whole grid, as score does setting by setting,
    also when a long row is scored in blocks of queries."""
    from sknlp_rnn.text import _cache

    rng = np.random.RandomState(2)
    X = [np.tile(rng.permutation(np.arange(23, 31)), 40).tolist()]  # 320 tokens
    X += [[3, 4, 5, 6, 7], [9], rng.randint(3, 31, 70).tolist()]
    grid = {"cache_size": [3, 64], "cache_theta": [10.0, 100.0], "cache_lambda": [0.2]}
    _, scores = tune_cache(lm, X, **grid)
    monkeypatch.setattr(_cache, "_GRID_BLOCK", 16)
    _, blocked = tune_cache(lm, X, **grid)
    assert list(scores) == list(blocked) and len(scores) == 5
    for (size, theta, lam), value in scores.items():
        model = _with_cache(lm, cache_size=size)
        if size:
            model.set_params(cache_theta=theta, cache_lambda=lam)
        assert value == pytest.approx(model.score(X), rel=1e-9)
        assert blocked[size, theta, lam] == pytest.approx(value, rel=1e-9)


def test_tune_cache_needs_a_token_to_predict(lm):
    with pytest.raises(ValueError, match="no token to predict"):
        tune_cache(lm, [[2], [2]])  # each row is its bos_idx alone


# -- cache_size="auto" -----------------------------------------------------------

AUTO = {**FAST, "cell": "gru", "bptt": 10, "batch_size": 8, "lr": 1e-2}


@pytest.fixture(scope="module")
def repeating_rows():
    """Rows repeating a random order of ids 3..10 three times: the first copy
    cannot be predicted, the next two can be read back from it."""
    rng = np.random.RandomState(3)
    return np.array([np.tile(rng.permutation(np.arange(3, 11)), 3) for _ in range(50)])


@pytest.fixture(scope="module")
def auto_lm(repeating_rows):
    return SequenceLMRegressor(**AUTO, max_epochs=2).fit(repeating_rows)


def _tail_start(X):
    stream = join_rows(np.asarray(X), pad_idx=1, bos_idx=2)
    return stream, len(stream) - int(round(0.1 * len(stream)))


def test_auto_cache_is_chosen_on_the_held_out_tail(auto_lm, repeating_rows):
    """The default trains on the first 90% of the stream and keeps the cache
    setting that reads the last 10% best."""
    assert auto_lm.cache_size == "auto"
    assert auto_lm.cache_size_ in (200, 1000)
    assert auto_lm.cache_theta_ in (10.0, 20.0, 40.0, 80.0)
    assert auto_lm.cache_lambda_ in (0.1, 0.3, 0.5, 0.7)
    stream, cut = _tail_start(repeating_rows)
    head = SequenceLMRegressor(**AUTO, max_epochs=2, cache_size=0).fit(
        stream[None, :cut]
    )
    chosen = {
        "cache_size": auto_lm.cache_size_,
        "cache_theta": auto_lm.cache_theta_,
        "cache_lambda": auto_lm.cache_lambda_,
    }
    # the same network as trained on the head alone, read with the chosen cache
    tail = [stream[cut:]]
    np.testing.assert_allclose(
        auto_lm.predict_proba(tail),
        head.set_params(**chosen).predict_proba(tail),
        **tolerance(auto_lm.device_),
    )
    best, scores = tune_cache(head, tail)
    assert best == chosen
    assert scores[tuple(chosen.values())] > scores[0, None, None]
    plain = copy.deepcopy(auto_lm).set_params(cache_size=0)
    assert auto_lm.score(repeating_rows) > plain.score(repeating_rows) + 0.3


def test_auto_keeps_no_cache_when_none_helps():
    """Counting the model knows: no cache setting beats the plain model on the
    tail, so none is used and the model predicts as without a cache."""
    rows = np.array([np.roll(np.arange(3, 23), k) for k in range(40)])
    lm = SequenceLMRegressor(**AUTO, max_epochs=3).fit(rows)
    assert (lm.cache_size_, lm.cache_theta_, lm.cache_lambda_) == (0, 0.0, 0.0)
    plain = copy.deepcopy(lm).set_params(cache_size=0)
    np.testing.assert_array_equal(lm.predict_proba(rows), plain.predict_proba(rows))


def test_auto_tunes_on_the_validation_part(repeating_rows):
    """With validation_fraction the whole stream trains as before (its tail
    validates) and the cache is chosen on that validation part."""
    auto = SequenceLMRegressor(**AUTO, max_epochs=2, validation_fraction=0.2)
    plain = clone(auto).set_params(cache_size=0)
    auto.fit(repeating_rows)
    plain.fit(repeating_rows)
    assert auto.cache_size_ > 0
    assert "valid_loss" in auto.history_[-1]
    off = copy.deepcopy(auto).set_params(cache_size=0)
    np.testing.assert_allclose(
        off.predict_proba(repeating_rows),
        plain.predict_proba(repeating_rows),
        **tolerance(auto.device_),
    )
    stream = join_rows(repeating_rows, pad_idx=1, bos_idx=2)
    cut = len(stream) - int(round(0.2 * len(stream)))
    best, _ = tune_cache(plain, [stream[cut:]])
    assert best["cache_size"] == auto.cache_size_


def test_auto_on_a_short_stream_trains_on_everything():
    """Under 15 tokens there are not 2 to spare: no cache, nothing held out."""
    X = [[3, 4, 5, 6, 7, 3, 4, 5, 6, 7]]
    auto = SequenceLMRegressor(**AUTO, max_epochs=2).fit(X)
    plain = SequenceLMRegressor(**AUTO, max_epochs=2, cache_size=0).fit(X)
    assert auto.cache_size_ == 0
    np.testing.assert_allclose(
        auto.predict_proba(X), plain.predict_proba(X), **tolerance(auto.device_)
    )


def test_auto_holds_out_at_most_the_token_cap(repeating_rows, monkeypatch):
    """A long stream holds out (and tunes on) only its last tokens up to a cap."""
    from sknlp_rnn.text import _cache

    monkeypatch.setattr(_cache, "CACHE_TAIL_MAX_TOKENS", 12)
    auto = SequenceLMRegressor(**AUTO, max_epochs=1).fit(repeating_rows)
    stream = join_rows(repeating_rows, pad_idx=1, bos_idx=2)
    head = SequenceLMRegressor(**AUTO, max_epochs=1, cache_size=0)
    head.fit(stream[None, :-12])
    off = copy.deepcopy(auto).set_params(cache_size=0)
    np.testing.assert_allclose(
        off.predict_proba(repeating_rows),
        head.predict_proba(repeating_rows),
        **tolerance(auto.device_),
    )


def test_int_cache_size_is_read_at_prediction_time(lm, repeated):
    """An explicit size is recorded at fit and set_params still takes effect."""
    assert (lm.cache_size_, lm.cache_theta_, lm.cache_lambda_) == (0, 0.0, 0.0)
    cached = _with_cache(lm)
    assert cached.cache_size_ == 0  # recorded at fit; the parameter wins
    assert cached.score(repeated) > lm.score(repeated) + 0.3


def test_auto_cache_round_trips(auto_lm, repeating_rows, tmp_path):
    expected = auto_lm.predict_proba(repeating_rows)
    save(auto_lm, tmp_path / "lm.zip")
    joblib.dump(auto_lm, tmp_path / "lm.joblib")
    for loaded in (load(tmp_path / "lm.zip"), joblib.load(tmp_path / "lm.joblib")):
        for name in ("cache_size_", "cache_theta_", "cache_lambda_"):
            assert getattr(loaded, name) == getattr(auto_lm, name)
            assert type(getattr(loaded, name)) is type(getattr(auto_lm, name))
        assert loaded.cache_size == "auto"
        np.testing.assert_array_equal(loaded.predict_proba(repeating_rows), expected)


def test_auto_cache_is_reported_with_verbose(repeating_rows, capsys):
    SequenceLMRegressor(**AUTO, max_epochs=1, verbose=1).fit(repeating_rows)
    assert "neural cache: cache_size=" in capsys.readouterr().out


def test_auto_cache_tunes_on_early_stoppings_validation_part():
    # early stopping's validation part is the tail the cache is chosen on, as
    # an explicit validation_fraction is: no second tail is held out of training
    X = np.array([[3, 4, 5, 6, 7, 8, 9, 10] * 40])
    params = {
        "embedding_dim": 8,
        "hidden_size": 16,
        "n_layers": 1,
        "bptt": 8,
        "batch_size": 2,
        "max_epochs": 2,
        "random_state": 0,
    }
    stopping = SequenceLMRegressor(early_stopping=True, **params).fit(X)
    explicit = SequenceLMRegressor(validation_fraction=0.1, patience=6, **params)
    explicit.fit(X)
    assert stopping.cache_size_ == explicit.cache_size_
    np.testing.assert_array_equal(stopping.predict_proba(X), explicit.predict_proba(X))
