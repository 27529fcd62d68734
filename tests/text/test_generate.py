"""Generation: the banned special ids, sampling and beam search."""

import copy
import itertools

import numpy as np
import pytest
import torch

from sknlp_rnn import SequenceLMRegressor
from sknlp_rnn.nn import LanguageModelModule
from sknlp_rnn.text._cache import NeuralCache
from sknlp_rnn.text._generate import beam_search, sample_tokens
from sknlp_rnn.text._reader import LMReader

VOCAB = 6
NONE = torch.zeros(0, dtype=torch.int64)
CACHE = NeuralCache(size=8, theta=20.0, lam=0.5)


@pytest.fixture(scope="module")
def module():
    """A random model with peaked next-token distributions."""
    torch.manual_seed(0)
    module = LanguageModelModule(
        vocab_size=VOCAB, embedding_dim=4, hidden_size=8, tie_weights=False
    )
    with torch.no_grad():
        module.decoder.weight.mul_(8.0)
    return module.eval()


PROMPTS = [np.array(p) for p in ([2, 3], [4], [5, 5, 3], [3, 4, 5, 2], [2], [5])]


def _continuation_log_proba(reader, prompt, tokens):
    """Summed log-probability of ``tokens`` after ``prompt``."""
    grown = np.concatenate([prompt, tokens])
    return reader.log_likelihood([grown])[0] - reader.log_likelihood([prompt])[0]


def _greedy(log_proba, banned=NONE):
    return sample_tokens(
        log_proba, temperature=0, top_k=None, generator=None, banned=banned
    )


def test_sample_tokens():
    log_proba = torch.log_softmax(torch.tensor([[3.0, 2.0, 1.0, 0.0]] * 200), 1)
    generator = torch.Generator().manual_seed(0)
    kwargs = {"temperature": 1.0, "generator": generator, "banned": [0]}
    greedy = sample_tokens(log_proba, **{**kwargs, "temperature": 0}, top_k=None)
    assert greedy.tolist() == [1] * 200
    top2 = sample_tokens(log_proba, **kwargs, top_k=2)
    assert set(top2.tolist()) == {1, 2}
    drawn = sample_tokens(log_proba, **kwargs, top_k=None)
    assert 0 not in drawn.tolist() and set(drawn.tolist()) == {1, 2, 3}
    two_banned = sample_tokens(log_proba, **{**kwargs, "banned": [0, 2]}, top_k=None)
    assert set(two_banned.tolist()) == {1, 3}


@pytest.mark.parametrize("window", [None, 2])
@pytest.mark.parametrize("cache", [None, CACHE])
def test_beam_search_of_width_one_is_greedy(module, cache, window):
    reader = LMReader(module, device="cpu", batch_size=4, cache=cache, window=window)
    banned = torch.tensor([1])
    greedy = reader.generate(PROMPTS, 6, lambda lp: _greedy(lp, banned))
    beam = beam_search(reader, PROMPTS, 6, width=1, banned=banned)
    np.testing.assert_array_equal(beam, greedy)


@pytest.mark.parametrize("cache", [None, CACHE])
def test_wide_beam_search_finds_the_best_continuation(module, cache):
    """Wide enough to keep every prefix, the beam finds the most likely
    continuation, which greedy decoding misses on some prompts."""
    reader = LMReader(module, device="cpu", batch_size=4, cache=cache)
    banned = torch.tensor([0, 1])
    n_tokens, allowed = 3, [2, 3, 4, 5]
    beam = beam_search(reader, PROMPTS, n_tokens, width=16, banned=banned)
    narrow = beam_search(reader, PROMPTS, n_tokens, width=2, banned=banned)
    greedy = beam_search(reader, PROMPTS, n_tokens, width=1, banned=banned)
    gains = []
    for i, prompt in enumerate(PROMPTS):
        scores = {
            tokens: _continuation_log_proba(reader, prompt, tokens)
            for tokens in itertools.product(allowed, repeat=n_tokens)
        }
        best = max(scores, key=scores.get)
        assert tuple(beam[i]) == best
        assert scores[tuple(narrow[i])] >= scores[tuple(greedy[i])] - 1e-9
        gains.append(scores[best] - scores[tuple(greedy[i])])
    assert min(gains) >= 0 and max(gains) > 0.1


def test_beam_search_keeps_documents_apart(module):
    """A batch of prompts gives what each prompt gives alone."""
    reader = LMReader(module, device="cpu", batch_size=3, cache=CACHE)
    together = beam_search(reader, PROMPTS, 4, width=3, banned=NONE)
    for i, prompt in enumerate(PROMPTS):
        alone = beam_search(reader, [prompt], 4, width=3, banned=NONE)
        np.testing.assert_array_equal(alone[0], together[i])


# -- through the estimator ----------------------------------------------------------


@pytest.fixture(scope="module")
def lm():
    X = np.array([[3, 4, 5, 6, 7, 8, 9, 10] * 6] * 4)
    return SequenceLMRegressor(
        embedding_dim=8,
        hidden_size=16,
        n_layers=1,
        max_epochs=3,
        cache_size=0,  # the tests below set the logits the model reads alone
        random_state=0,
    ).fit(X)


@pytest.fixture(scope="module")
def special_lover(lm):
    """``lm`` with logits that favour xxunk (0), xxpad (1) and xxbos (2)."""
    lover = copy.deepcopy(lm)
    with torch.no_grad():
        lover.net_.module_.decoder.bias[:3] += torch.tensor([60.0, 50.0, 55.0])
    return lover


GENERATIONS = [
    {"random_state": 0},
    {"temperature": 5.0, "random_state": 1},
    {"top_k": 2, "random_state": 0},
    {"temperature": 0},
    {"beam_width": 3},
]


@pytest.mark.parametrize("kwargs", GENERATIONS)
def test_special_tokens_are_never_generated(special_lover, kwargs):
    X = [[3, 4], [5], [9, 10, 3]]
    assert set(special_lover.predict(X)) == {0}  # what the model wants
    out = special_lover.generate(X, 8, **kwargs)
    assert out.shape == (3, 8) and out.min() >= 3
    with_cache = special_lover.set_params(cache_size=8).generate(X, 8, **kwargs)
    special_lover.set_params(cache_size=0)
    assert with_cache.min() >= 3
    allowed = special_lover.generate(X, 8, allow_special=True, **kwargs)
    assert 1 not in allowed  # never the padding id


def test_allow_special_and_exclude_ids(special_lover):
    X = [[3, 4], [5]]
    greedy = special_lover.generate(X, 4, temperature=0, allow_special=True)
    assert np.all(greedy == 0)
    fewer = special_lover.generate(X, 4, temperature=0, exclude_ids=[5, 6])
    assert fewer.min() >= 3 and not np.isin(fewer, [5, 6]).any()
    beam = special_lover.generate(X, 4, beam_width=2, allow_special=True)
    assert np.all(beam == 0)


def test_beam_search_through_the_estimator(lm):
    X = [[3, 4, 5], [7], [10, 3]]
    greedy = lm.generate(X, 6, temperature=0)
    np.testing.assert_array_equal(lm.generate(X, 6, beam_width=1), greedy)
    np.testing.assert_array_equal(
        lm.generate(X, 6, beam_width=1, temperature=0), greedy
    )
    cached = copy.copy(lm).set_params(cache_size=8)
    np.testing.assert_array_equal(
        cached.generate(X, 6, beam_width=1), cached.generate(X, 6, temperature=0)
    )
    beam = cached.generate(X, 6, beam_width=4)
    assert beam.shape == (3, 6) and beam.min() >= 3
    np.testing.assert_array_equal(cached.generate(X, 6, beam_width=4), beam)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"beam_width": 0}, "beam_width"),
        ({"beam_width": 2.0}, "beam_width"),
        ({"beam_width": 2, "temperature": 0.5}, "temperature"),
        ({"beam_width": 2, "top_k": 3}, "top_k"),
        ({"exclude_ids": [3, 99]}, "exclude_ids must lie in"),
        ({"exclude_ids": [[3]]}, "exclude_ids"),
        ({"exclude_ids": ["a"]}, "exclude_ids"),
        ({"exclude_ids": list(range(3, 11))}, "allow_special=True"),
    ],
)
def test_generate_bad_arguments(lm, kwargs, match):
    with pytest.raises(ValueError, match=match):
        lm.generate([[5]], 3, **kwargs)
