"""LMReader: the language model's prediction-time reading, without an estimator."""

import contextlib

import numpy as np
import pytest
import torch

from sknlp_rnn.nn import LanguageModelModule
from sknlp_rnn.text._cache import NeuralCache
from sknlp_rnn.text._reader import LMReader, autocast_context

VOCAB = 12
# The cache's similarities are float32: readings that differ in chunking or
# batching agree to float32 precision.
FLOAT32 = {"rtol": 1e-5, "atol": 1e-6}


@pytest.fixture
def module():
    torch.manual_seed(0)
    module = LanguageModelModule(
        vocab_size=VOCAB, embedding_dim=6, hidden_size=8, n_layers=2, dropout=0.2
    )

    def no_forward(*args):  # the reader never uses the training-time forward
        raise AssertionError("LMReader called forward")

    module.forward = no_forward
    return module


@pytest.fixture
def docs():
    rng = np.random.RandomState(0)
    return [rng.randint(2, VOCAB, size=n) for n in (40, 3, 1, 25, 17)]


def _alone(module, doc):
    """Log-probabilities along one document, read in one dense pass."""
    with torch.no_grad():
        logits, _ = module.eval().step(torch.as_tensor(doc)[None, :])
    return torch.log_softmax(logits[0].double(), -1)


def test_last_log_proba_is_each_document_read_alone(module, docs):
    reader = LMReader(module, device="cpu", batch_size=2)
    got = reader.last_log_proba(docs)
    assert got.dtype == torch.float64 and got.shape == (len(docs), VOCAB)
    for row, doc in zip(got, docs, strict=True):
        torch.testing.assert_close(row, _alone(module, doc)[-1])


def test_chunks_cover_every_position_in_order(module, docs):
    reader = LMReader(module, device="cpu", batch_size=2, logit_budget=1)
    seen = {i: [] for i in range(len(docs))}
    for chunk in reader.read(docs):
        assert chunk.log_proba.shape[:2] == chunk.following.shape
        for j, i in enumerate(chunk.rows):
            seen[i].append(chunk.log_proba[j, : int(chunk.part[j])])
    for i, doc in enumerate(docs):
        torch.testing.assert_close(torch.cat(seen[i]), _alone(module, doc))


@pytest.mark.parametrize("cache", [None, NeuralCache(size=8, theta=20.0, lam=0.5)])
def test_chunk_length_does_not_change_the_reading(module, docs, cache):
    whole = LMReader(module, device="cpu", cache=cache)
    chunked = LMReader(module, device="cpu", cache=cache, logit_budget=1)
    assert chunked._chunk_length(len(docs)) < max(len(d) for d in docs)
    torch.testing.assert_close(
        chunked.last_log_proba(docs), whole.last_log_proba(docs), **FLOAT32
    )
    total, count = chunked.log_likelihood(docs)
    assert count == sum(len(d) - 1 for d in docs)
    assert total == pytest.approx(whole.log_likelihood(docs)[0], rel=1e-6)


@pytest.mark.parametrize("window", [None, 3])
@pytest.mark.parametrize("cache", [None, NeuralCache(size=8, theta=20.0, lam=0.5)])
def test_feed_continues_as_reading_the_grown_document(module, docs, cache, window):
    """A fed token is read as if it had been part of the document."""
    reader = LMReader(module, device="cpu", batch_size=2, cache=cache, window=window)
    for reading, _ in reader.ends(docs):
        n = len(reading.rows)
        reader.feed(reading, torch.full((n,), 5))
        fed = reader.feed(reading, torch.full((n,), 3))
        grown = [np.concatenate([docs[i], [5, 3]]) for i in reading.rows]
        torch.testing.assert_close(fed, reader.last_log_proba(grown), **FLOAT32)


@pytest.mark.parametrize("logit_budget", [None, 1])
def test_window_reads_each_window_from_zeros(module, docs, logit_budget):
    """With a window, every position is predicted from its window alone."""
    window = 7
    reader = LMReader(
        module, device="cpu", batch_size=2, window=window, logit_budget=logit_budget
    )
    seen = {i: [] for i in range(len(docs))}
    for chunk in reader.read(docs):
        for j, i in enumerate(chunk.rows):
            seen[i].append(chunk.log_proba[j, : int(chunk.part[j])])
    total = 0.0
    for i, doc in enumerate(docs):
        pieces = [doc[k : k + window] for k in range(0, len(doc), window)]
        want = torch.cat([_alone(module, piece) for piece in pieces])
        torch.testing.assert_close(torch.cat(seen[i]), want)
        total += sum(float(want[t, doc[t + 1]]) for t in range(len(doc) - 1))
    assert reader.log_likelihood(docs)[0] == pytest.approx(total, rel=1e-9)
    last = reader.last_log_proba(docs)
    for i, doc in enumerate(docs):
        start = (len(doc) - 1) // window * window
        torch.testing.assert_close(last[i], _alone(module, doc[start:])[-1])


def test_generate_and_predict_read_through_the_same_step(module, docs, monkeypatch):
    cache = NeuralCache(size=8, theta=20.0, lam=0.5)
    reader = LMReader(module, device="cpu", batch_size=2, cache=cache)
    calls = []
    step = LMReader._step

    def counted(self, tokens, *args, **kwargs):
        calls.append("part" in kwargs)  # how read calls it; feed gives no part
        return step(self, tokens, *args, **kwargs)

    monkeypatch.setattr(LMReader, "_step", counted)
    reader.last_log_proba(docs)
    n_read = len(calls)
    greedy = reader.generate(docs, 4, lambda log_proba: log_proba.argmax(1))
    # the prompts again, then 3 feeds in each of the 3 batches
    assert sum(calls) == 2 * n_read and calls.count(False) == 3 * 3
    # greedy generation is the argmax of reading the grown documents
    grown = [list(doc) for doc in docs]
    for k in range(4):
        best = reader.last_log_proba([np.array(g) for g in grown]).argmax(1)
        np.testing.assert_array_equal(greedy[:, k], best.numpy())
        for g, token in zip(grown, best.tolist(), strict=True):
            g.append(token)


def test_autocast_context():
    assert isinstance(autocast_context("32", "cpu"), contextlib.nullcontext)
    # float16 never runs on a CPU
    assert isinstance(autocast_context("fp16", "cpu"), contextlib.nullcontext)
    with autocast_context("bf16", torch.device("cpu")):
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert torch.is_autocast_enabled("cpu")
    with pytest.raises(KeyError):
        autocast_context("64", "cpu")
