import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline

import sknlp_rnn
from sknlp_rnn import SequenceLMRegressor, Tokenizer, Vocab
from sknlp_rnn._batches import StreamBatches
from sknlp_rnn._testing import tolerance
from sknlp_rnn.datasets import human_numbers
from sknlp_rnn.exceptions import NotFittedError
from sknlp_rnn.text._stream import TailSplit, join_rows

FAST = {"embedding_dim": 16, "hidden_size": 32, "n_layers": 1, "random_state": 0}


def _ids(words, stoi):
    return np.array([stoi[w] for w in words])


@pytest.fixture(scope="module")
def numbers():
    """Human numbers 1..2600 to train on and 2601..2900 to test on, as ids."""
    words = human_numbers().train.split(" , ")
    itos = ["xxunk", "xxpad", "xxbos"] + sorted(set(" ".join(words).split()) | {","})
    stoi = {w: i for i, w in enumerate(itos)}
    train = _ids(" , ".join(words[:2600]).split(), stoi)
    test = _ids(" , ".join(words[2600:2900]).split(), stoi)
    return train[None, :], test[None, :], itos


@pytest.fixture(scope="module")
def numbers_lm(numbers):
    train, _, _ = numbers
    lm = SequenceLMRegressor(
        embedding_dim=32,
        hidden_size=64,
        n_layers=1,
        cell="gru",
        bptt=16,
        batch_size=32,
        lr=1e-2,
        max_epochs=4,
        validation_fraction=0.1,
        random_state=0,
    )
    return lm.fit(train)


def test_learns_human_numbers(numbers, numbers_lm):
    _, test, itos = numbers
    pred = numbers_lm.predict_tokens(test)
    accuracy = np.mean(pred[0, :-1] == test[0, 1:])
    most_frequent = np.bincount(test[0]).max() / test.size  # "thousand"
    assert accuracy > 2 * most_frequent and accuracy > most_frequent + 0.2
    # history: loss and perplexity per epoch, next-token accuracy on the tail
    history = numbers_lm.history_
    assert len(history) == 4
    for key in ("train_loss", "valid_loss", "train_perplexity", "valid_perplexity"):
        assert len(history[:, key]) == 4
    assert history[-1, "valid_loss"] < history[0, "valid_loss"]
    assert history[-1, "valid_perplexity"] == pytest.approx(
        np.exp(history[-1, "valid_loss"]), rel=0.05
    )
    assert history[-1, "valid_acc"] > max(history[0, "valid_acc"], 0.5)


def test_score_and_perplexity(numbers, numbers_lm):
    train, test, itos = numbers
    # without a cache: even an untrained model's cache reads numbers well
    untrained = clone(numbers_lm).set_params(max_epochs=1, lr=1e-6, cache_size=0)
    untrained.fit(train)
    assert numbers_lm.score(test) > untrained.score(test) + 0.5
    # an untrained model is no better than a uniform guess over the vocabulary
    assert untrained.perplexity(test) > len(itos)
    assert numbers_lm.perplexity(test) == pytest.approx(np.exp(-numbers_lm.score(test)))
    assert numbers_lm.perplexity(test) < untrained.perplexity(test) / 2


def test_score_matches_predict_proba(numbers_lm):
    """score is the mean log-probability of each next token given its prefix."""
    rows = [[5, 20, 6], [7, 8, 9, 10]]
    logp = []
    for row in rows:
        for t in range(len(row)):
            proba = numbers_lm.predict_proba([row[:t]] if t else [[]])[0]
            logp.append(np.log(proba[row[t]]))
    atol = 10 * tolerance(numbers_lm.device_)["atol"]
    assert numbers_lm.score(rows) == pytest.approx(np.mean(logp), abs=atol)


def test_predict_tokens_shape_and_alignment(numbers_lm):
    X = np.array([[5, 20, 6, 7, 1, 1], [8, 9, 10, 11, 12, 13], [2, 4, 5, 1, 1, 1]])
    pred = numbers_lm.predict_tokens(X)
    assert pred.shape == X.shape and pred.dtype == np.int64
    assert np.all(pred[X == 1] == 1)
    for i, row in enumerate(X):
        for t in np.flatnonzero(row != 1):
            assert pred[i, t] == numbers_lm.predict([row[: t + 1]])[0]
    # a row that already starts with bos is read the same way as one that does not
    assert np.array_equal(
        numbers_lm.predict_tokens([[2, 8, 9, 10]])[0, 1:],
        numbers_lm.predict_tokens([[8, 9, 10]])[0],
    )


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_long_rows_are_read_in_chunks(numbers, monkeypatch, cell):
    """Rows longer than a chunk carry their state across chunks exactly."""
    from sknlp_rnn.text import _reader

    train, test, _ = numbers
    lm = SequenceLMRegressor(**FAST, cell=cell, max_epochs=1).fit(train[:, :3000])
    X = [test[0, :70].tolist(), test[0, 100:117].tolist(), test[0, 200:205].tolist()]
    whole = (lm.predict_proba(X), lm.predict_tokens(X), lm.score(X))
    prompts = lm.generate(X, 5, random_state=0)
    monkeypatch.setattr(_reader, "_LOGIT_BUDGET", 1)  # 16-token chunks
    np.testing.assert_allclose(lm.predict_proba(X), whole[0], rtol=1e-5)
    np.testing.assert_array_equal(lm.predict_tokens(X), whole[1])
    assert lm.score(X) == pytest.approx(whole[2], rel=1e-6)
    np.testing.assert_array_equal(lm.generate(X, 5, random_state=0), prompts)


def test_predict_proba_rows(numbers_lm):
    proba = numbers_lm.predict_proba([[5, 20], [7, 8, 9, 10, 11, 12], []])
    assert proba.shape == (3, numbers_lm.vocab_size_)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert np.array_equal(
        proba.argmax(1), numbers_lm.predict([[5, 20], [7, 8, 9, 10, 11, 12], []])
    )
    # unknown ids are read as xxunk: no crash
    assert numbers_lm.predict([[5, 999]]).shape == (1,)


def test_stateful_windows_equal_one_pass():
    """Windows fed one after the other continue from the carried state."""
    lm = SequenceLMRegressor(**FAST, max_epochs=1).fit([[3, 4, 5, 6]] * 3)
    module = lm.net_.module_.eval()
    x = torch.randint(3, 7, (4, 12), device=lm.device_)
    module.reset_state()
    whole = module(x)[0]
    module.reset_state()
    parts = torch.cat([module(x[:, i : i + 3])[0] for i in range(0, 12, 3)], 1)
    torch.testing.assert_close(parts, whole, **tolerance(lm.device_))
    module.reset_state()
    module.reset_state()
    cold = module(x[:, 3:6])[0]  # window 2 from a zero state differs
    assert not torch.allclose(cold, whole[:, 3:6])


def _cycle_lm(**params):
    """A 305-token cycle where the next token is set by the last three, not
    the last one, and a model fitted on it (one stream, 10-token windows, the
    last 20% validating)."""
    cycle = [3, 4, 3, 5, 4, 5, 3, 3, 4, 4, 5, 5]
    X = np.array([(cycle * 30)[:305]])
    lm = SequenceLMRegressor(
        **FAST,
        bos_idx=None,
        bptt=10,
        batch_size=1,
        lr=1e-2,
        validation_fraction=0.2,
        **params,
    ).fit(X)
    return X, lm


def test_hidden_state_is_carried_across_batches():
    """The validation loss, walked in windows of 10 tokens, equals the loss of
    reading the whole tail in one pass: true only if the state is carried from
    batch to batch (and zeroed before the validation pass)."""
    X, lm = _cycle_lm(max_epochs=20)
    tail = X[:, -61:]
    assert lm.history_[-1, "valid_loss"] == pytest.approx(-lm.score(tail), rel=1e-4)
    # reading the tail in separate 10-token rows (fresh state each) is worse
    chunks = [tail[0, i : i + 11] for i in range(0, 60, 10)]
    assert -lm.score(chunks) > lm.history_[-1, "valid_loss"] + 0.1
    assert lm.history_[-1, "valid_perplexity"] == pytest.approx(
        np.exp(lm.history_[-1, "valid_loss"]), rel=1e-6
    )


def test_stateful_beats_stateless_on_human_numbers(numbers):
    """Carrying the state across windows (the lessons' Model3) beats starting
    every window from zeros (their Model2): with 8-token windows, the number
    being continued is often in the window before."""
    train, test, _ = numbers
    params = {
        **FAST,
        "embedding_dim": 32,
        "hidden_size": 64,
        "cell": "gru",
        "dropout": 0.0,
        "bptt": 8,
        "batch_size": 16,
        "lr": 1e-2,
        "max_epochs": 8,
    }
    accuracy, score = {}, {}
    for stateful in (True, False):
        lm = SequenceLMRegressor(**params, stateful=stateful).fit(train)
        pred = lm.predict_tokens(test)
        accuracy[stateful] = np.mean(pred[0, :-1] == test[0, 1:])
        score[stateful] = lm.score(test)
    # measured: accuracy 0.77 vs 0.56, score -1.08 vs -1.33
    assert accuracy[True] > accuracy[False] + 0.1
    assert score[True] > score[False] + 0.1


def test_stateless_model_scores_as_it_validates():
    """Without a carried state, validation reads the tail in windows of bptt
    tokens, each from zeros, and so does score."""
    X, lm = _cycle_lm(max_epochs=3, stateful=False)
    assert lm.net_.module_.state is None
    tail = X[:, -61:]
    assert lm.history_[-1, "valid_loss"] == pytest.approx(-lm.score(tail), rel=1e-4)
    # the same as reading each window as a row of its own
    windows = [tail[0, i : i + 11] for i in range(0, 60, 10)]
    assert lm.score(windows) == pytest.approx(lm.score(tail), rel=1e-6)
    # predictions after a row come from its last window only
    row = tail[0, :25].tolist()
    np.testing.assert_allclose(
        lm.predict_proba([row]), lm.predict_proba([row[20:]]), rtol=1e-5
    )


def test_irnn_language_model_learns_and_round_trips(tmp_path):
    """A ReLU RNN with identity recurrent weights (IRNN), stateless: it learns,
    and a saved model rebuilds the same network (nonlinearity included)."""
    X = np.array([[3, 4, 5, 6, 7, 8, 9, 3, 4, 5, 6, 7, 8, 9]] * 4)
    lm = SequenceLMRegressor(
        **FAST,
        cell="rnn",
        nonlinearity="relu",
        init="identity",
        stateful=False,
        bptt=8,
        batch_size=4,
        lr=2e-2,
        max_epochs=30,
    ).fit(X)
    rnn = lm.net_.module_.encoder.rnns[0]
    assert rnn.nonlinearity == "relu" and not lm.net_.module_.stateful
    assert lm.predict([[3, 4, 5]]).tolist() == [6]
    assert lm.generate([[6, 7]], 4, beam_width=2).tolist() == [[8, 9, 3, 4]]
    prompts = [[3, 4, 5, 6, 7, 8, 9, 3, 4], [8]]
    path = tmp_path / "irnn.joblib"
    joblib.dump(lm, path)
    for loaded in (sknlp_rnn.load(_saved(lm, tmp_path)), joblib.load(path)):
        assert loaded.net_.module_.encoder.rnns[0].nonlinearity == "relu"
        np.testing.assert_array_equal(
            loaded.predict_proba(prompts), lm.predict_proba(prompts)
        )
        assert loaded.score(X) == lm.score(X)
        np.testing.assert_array_equal(
            loaded.generate(prompts, 5, random_state=0),
            lm.generate(prompts, 5, random_state=0),
        )


def _saved(est, tmp_path):
    path = tmp_path / "model.skrnn"
    sknlp_rnn.save(est, path)
    return path


def test_state_reset_and_detached(numbers):
    train, _, _ = numbers
    from skorch.callbacks import Callback

    seen = []

    class Record(Callback):
        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            state = net.module_.state
            seen.append((training, None if state is None else state[0][0]))

    lm = SequenceLMRegressor(
        **FAST, bptt=50, batch_size=20, max_epochs=2, validation_fraction=0.2
    )
    lm.set_params(callbacks=[Record()]).fit(train[:, :3000])
    starts = [i for i, (t, _) in enumerate(seen) if i == 0 or seen[i - 1][0] != t]
    # state is None at the first batch of each epoch and of each validation pass
    assert len(starts) == 4 and all(seen[i][1] is None for i in starts)
    carried = [s for i, (_, s) in enumerate(seen) if i not in starts]
    assert carried and all(s is not None and not s.requires_grad for s in carried)
    assert lm.net_.module_.state is None  # not pickled with the model


def test_generate_reproducible_and_sampling_options(numbers_lm):
    prompts = [[5, 20, 6], [7]]
    a = numbers_lm.generate(prompts, 12, random_state=3)
    b = numbers_lm.generate(prompts, 12, random_state=3)
    assert a.shape == (2, 12) and np.array_equal(a, b)
    assert not np.any(a == numbers_lm.pad_idx)
    greedy = numbers_lm.generate(prompts, 12, temperature=0)
    assert np.array_equal(
        greedy, numbers_lm.generate(prompts, 12, top_k=1, random_state=1)
    )
    assert np.array_equal(greedy[:, 0], numbers_lm.predict(prompts))
    # greedy generation continues the prompt with the model's own predictions
    cont = numbers_lm.predict([prompts[0] + greedy[0, :5].tolist()])[0]
    assert cont == greedy[0, 5]
    cold = numbers_lm.generate([[7]] * 30, 6, temperature=1e-3, random_state=0)
    assert np.all(cold == greedy[1, :6])
    hot = numbers_lm.generate([[7]] * 30, 6, temperature=100.0, random_state=0)
    assert len(np.unique(hot)) > 15  # close to uniform over ~30 ids
    top2 = numbers_lm.generate([[7]] * 30, 1, top_k=2, random_state=0)[:, 0]
    best2 = np.argsort(numbers_lm.predict_proba([[7]])[0])[-2:]
    assert set(top2) <= set(best2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_tokens": 0}, "n_tokens"),
        ({"n_tokens": 3, "temperature": -1.0}, "temperature"),
        ({"n_tokens": 3, "top_k": 0}, "top_k"),
    ],
)
def test_generate_bad_arguments(numbers_lm, kwargs, match):
    with pytest.raises(ValueError, match=match):
        numbers_lm.generate([[5]], **kwargs)


def test_char_level_language_model():
    text = "the time machine, by h. g. wells. " * 40
    chars = sorted(set(text))
    stoi = {c: i + 3 for i, c in enumerate(chars)}
    X = np.array([[stoi[c] for c in text]])
    lm = SequenceLMRegressor(
        **FAST, cell="gru", bptt=20, batch_size=4, lr=2e-2, max_epochs=10
    )
    lm.fit(X)
    prompt = [[stoi[c] for c in "the time "]]
    out = lm.generate(prompt, 8, temperature=0)[0]
    itos = {i: c for c, i in stoi.items()}
    assert "".join(itos.get(i, "?") for i in out) == "machine,"
    assert lm.perplexity(X) < 1.5


def test_joblib_round_trip_is_exact(numbers_lm, tmp_path):
    path = tmp_path / "lm.joblib"
    joblib.dump(numbers_lm, path)
    loaded = joblib.load(path)
    X = [[5, 20, 6, 7], [8, 9]]
    np.testing.assert_array_equal(loaded.predict_proba(X), numbers_lm.predict_proba(X))
    assert loaded.score(X) == numbers_lm.score(X)
    np.testing.assert_array_equal(
        loaded.generate(X, 5, random_state=0), numbers_lm.generate(X, 5, random_state=0)
    )


def test_bf16_precision_on_cpu(numbers):
    train, test, _ = numbers
    lm = SequenceLMRegressor(**FAST, max_epochs=1, precision="bf16")
    lm.fit(train[:, :2000])
    X = test[:, :40]
    assert lm.predict_proba(X).dtype == np.float64
    assert np.isfinite(lm.score(X))
    assert lm.predict_tokens(X).shape == X.shape
    assert lm.generate(X, 3, random_state=0).shape == (1, 3)


def test_same_random_state_same_model(numbers):
    train, _, _ = numbers
    fit = lambda: SequenceLMRegressor(**FAST, max_epochs=1).fit(train[:, :2000])  # noqa: E731
    np.testing.assert_array_equal(
        fit().predict_proba([[5, 6]]), fit().predict_proba([[5, 6]])
    )


def _counting_texts(n, rng):
    """Documents counting up in words from a random start (modulo ten)."""
    words = "zero one two three four five six seven eight nine".split()
    starts = rng.integers(0, 10, size=n)
    return [" ".join(words[(s + k) % 10] for k in range(12)) for s in starts]


def test_grid_search_in_text_pipeline():
    texts = _counting_texts(40, np.random.default_rng(0))
    lm = SequenceLMRegressor(
        **{**FAST, "n_layers": 2}, bptt=8, batch_size=4, max_epochs=5, lr=2e-2
    )
    pipe = Pipeline([("tok", Tokenizer()), ("vocab", Vocab(min_freq=1)), ("lm", lm)])
    search = GridSearchCV(
        pipe, {"lm__hidden_size": [1, 32], "lm__dropout": [0.0, 0.3]}, cv=2
    ).fit(texts)
    assert search.best_params_["lm__hidden_size"] == 32
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores < 0)
    assert search.score(texts) > np.log(1 / 10)  # better than a uniform guess


def test_text_prompt_to_generated_text():
    """The recipe: one fitted Tokenizer/Vocab for training, prompts and output."""
    texts = _counting_texts(60, np.random.default_rng(1))
    tokenizer, vocab = Tokenizer(), Vocab(min_freq=1)
    ids = vocab.fit_transform(tokenizer.fit_transform(texts))
    lm = SequenceLMRegressor(
        **FAST, cell="gru", bptt=12, batch_size=8, lr=2e-2, max_epochs=10
    ).fit(ids)
    prompts = ["seven eight", "Two three four"]
    out = lm.generate(vocab.transform(tokenizer.transform(prompts)), 4, temperature=0)
    words = [" ".join(tokens) for tokens in vocab.inverse_transform(out)]
    assert words == ["nine zero one two", "five six seven eight"]
    # the frozen pair can also sit in a pipeline in front of the fitted model
    pipe = make_pipeline(FrozenEstimator(tokenizer), FrozenEstimator(vocab), lm)
    assert pipe.score(texts) == pytest.approx(lm.score(ids))


def test_stream_batches_walk_the_stream_in_order():
    stream = np.arange(103)
    loader = StreamBatches(stream, n_streams=4, bptt=7)
    xs = [x for x, _ in loader]
    ys = [y for _, y in loader]
    assert len(xs) == len(loader)
    x, y = torch.cat(xs, 1), torch.cat(ys, 1)
    assert torch.equal(x[:, 0], torch.tensor([0, 25, 50, 75]))
    assert torch.equal(y, x + 1) and x.size(1) == 24
    assert {b.size(1) for b in xs} <= {6, 7}
    torch.manual_seed(0)
    varied = StreamBatches(np.arange(2000), n_streams=2, bptt=20, vary=True)
    first, second = [[x.size(1) for x, _ in varied] for _ in range(2)]
    assert first != second and sum(first) == sum(second) == 999


def test_tail_split_and_join_rows():
    from skorch.dataset import Dataset

    train, valid = TailSplit(0.25)(Dataset(np.arange(20)))
    assert np.array_equal(valid.X, np.arange(15, 20))
    assert np.array_equal(train.X, np.arange(15))
    X = np.array([[2, 5, 6, 1], [7, 1, 8, 1], [1, 1, 1, 1]])
    assert join_rows(X, pad_idx=1, bos_idx=2).tolist() == [2, 5, 6, 2, 7, 8, 2]
    assert join_rows(X, pad_idx=1, bos_idx=None).tolist() == [2, 5, 6, 7, 8]


def test_validation_is_the_tail_of_the_stream():
    """Tokens only in the last 20% of the stream are unseen in training."""
    X = np.array([[3, 4, 5, 6] * 40 + [7, 8, 9, 10] * 10])
    lm = SequenceLMRegressor(
        **FAST,
        bos_idx=None,
        max_epochs=15,
        batch_size=4,
        bptt=8,
        lr=1e-2,
        validation_fraction=0.2,
    ).fit(X)
    assert lm.history_[-1, "valid_loss"] > lm.history_[-1, "train_loss"] + 1.0


@pytest.mark.parametrize(
    "X, params, error, match",
    [
        ([["a", "b"]], {}, TypeError, "integer token ids"),
        ([[3, -4]], {}, ValueError, "Negative"),
        ([[1, 1]], {}, ValueError, "at least 2"),
        ([[3]], {"bos_idx": None}, ValueError, "at least 2"),
        ([[3, 4, 5]], {"bos_idx": 1}, ValueError, "must be different"),
        ([[3, 4, 5]], {"validation_fraction": 0.1}, ValueError, "validation_fraction"),
        ([[3, 4, 5]], {"bptt": 0}, ValueError, "bptt"),
        ([[3, 10**9]], {}, ValueError, "token id 1000000000.*max_vocab_size=1000000"),
        ([[3, 4, 5]], {"max_vocab_size": 5}, ValueError, "max_vocab_size=5"),
        ([[3, 4]], {"unk_idx": 10**7}, ValueError, "unk_idx=10000000"),
        ([[3, 4]], {"max_vocab_size": 0}, ValueError, "max_vocab_size"),
    ],
)
def test_fit_errors(X, params, error, match):
    with pytest.raises(error, match=match):
        SequenceLMRegressor(**FAST, **params).fit(X)


def test_max_vocab_size_is_an_inclusive_bound():
    lm = SequenceLMRegressor(**FAST, max_vocab_size=6).fit([[3, 4, 5]])
    assert lm.vocab_size_ == 6
    assert lm.net_.module_.encoder.embedding.num_embeddings == 6


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        SequenceLMRegressor().predict([[3, 4]])
