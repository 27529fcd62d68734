"""Tests for Vocab: ids, ordering, padding, truncation, round trips, API."""

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline

from sknlp_rnn import RNNTextClassifier, Tokenizer, Vocab
from sknlp_rnn.exceptions import NotFittedError
from sknlp_rnn.text import SPECIAL_TOKENS

N_SPECIAL = len(SPECIAL_TOKENS)
DOCS = [
    ["xxbos", "the", "cat", "sat"],
    ["xxbos", "the", "dog", "sat"],
    ["xxbos", "a", "dog", "ran", "the"],
]


def test_special_tokens_come_first():
    vocab = Vocab(min_freq=1).fit(DOCS)
    assert vocab.itos_[:N_SPECIAL] == list(SPECIAL_TOKENS)
    assert (vocab.unk_idx_, vocab.pad_idx_) == (0, 1)
    assert vocab.stoi_["xxunk"] == 0 and vocab.stoi_["xxpad"] == 1
    assert vocab.stoi_["xxbos"] == 2  # a special, not counted as a word


def test_order_is_frequency_then_token():
    # the: 3, dog/sat: 2 (tie -> alphabetical), a/cat/ran: 1 (tie -> alphabetical)
    vocab = Vocab(min_freq=1).fit(DOCS)
    assert vocab.itos_[N_SPECIAL:] == ["the", "dog", "sat", "a", "cat", "ran"]
    assert vocab.vocab_size_ == N_SPECIAL + 6 == len(vocab.stoi_)
    assert all(vocab.stoi_[t] == i for i, t in enumerate(vocab.itos_))
    assert vocab.token_counts_[vocab.stoi_["the"]] == 3
    assert vocab.token_counts_[vocab.stoi_["xxbos"]] == 3
    assert vocab.token_counts_[vocab.stoi_["xxunk"]] == 0


def test_order_does_not_depend_on_document_order():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)]
    docs = [list(rng.choice(words, size=8)) for _ in range(40)]
    reference = Vocab(min_freq=1).fit(docs).itos_
    for seed in range(3):
        shuffled = [docs[i] for i in np.random.default_rng(seed).permutation(40)]
        assert Vocab(min_freq=1).fit(shuffled).itos_ == reference


def test_min_freq():
    vocab = Vocab().fit(DOCS)  # default min_freq=2 keeps the, dog, sat
    assert vocab.itos_[N_SPECIAL:] == ["the", "dog", "sat"]
    dog = vocab.stoi_["dog"]
    assert vocab.transform([["cat", "dog"]]).tolist() == [[0, dog, 1, 1, 1]]
    assert Vocab(min_freq=3).fit(DOCS).itos_[N_SPECIAL:] == ["the"]


def test_max_size_counts_the_special_tokens():
    vocab = Vocab(min_freq=1, max_size=N_SPECIAL + 2).fit(DOCS)
    assert vocab.vocab_size_ == N_SPECIAL + 2
    assert vocab.itos_[N_SPECIAL:] == ["the", "dog"]  # the rarest go first
    assert Vocab(min_freq=1, max_size=None).fit(DOCS).vocab_size_ == N_SPECIAL + 6
    with pytest.raises(ValueError, match=r"max_size=5 leaves no room.*9 special"):
        Vocab(max_size=5).fit(DOCS)


def test_custom_special_tokens():
    vocab = Vocab(min_freq=1, special_tokens=("xxbos", "xxunk")).fit(DOCS)
    assert vocab.itos_[:3] == ["xxunk", "xxpad", "xxbos"]
    assert vocab.itos_[3:] == ["the", "dog", "sat", "a", "cat", "ran"]
    bare = Vocab(min_freq=1, special_tokens=()).fit(DOCS)
    assert bare.itos_[:4] == ["xxunk", "xxpad", "the", "xxbos"]  # a word here
    with pytest.raises(TypeError, match="special_tokens must be str"):
        Vocab(special_tokens=(1,)).fit(DOCS)


def test_transform_pads_right_and_maps_unknowns_to_zero():
    vocab = Vocab(min_freq=1).fit(DOCS)
    ids = vocab.transform([["the", "cat"], ["zebra", "the", "unseen", "ran"], []])
    the, cat, ran = (vocab.stoi_[t] for t in ["the", "cat", "ran"])
    assert ids.dtype == np.int64
    np.testing.assert_array_equal(
        ids, [[the, cat, 1, 1, 1], [0, the, 0, ran, 1], [1, 1, 1, 1, 1]]
    )


def test_width_is_learned_in_fit():
    vocab = Vocab(min_freq=1).fit(DOCS)
    assert vocab.max_len_ == 5  # the longest training document
    assert vocab.transform([["the"]]).shape == (1, 5)
    assert vocab.transform([[], []]).shape == (2, 5)  # empty docs: pads
    assert vocab.transform([]).shape == (0, 5)
    longer = vocab.transform([["the"] * 7 + ["cat"]])  # cut like max_len would
    assert vocab.inverse_transform(longer) == [["the"] * 5]
    assert Vocab().fit([[], []]).max_len_ == 1
    fixed = Vocab(min_freq=1, max_len=6).fit(DOCS)
    assert fixed.max_len_ == 6
    assert fixed.transform([["the"]]).shape == (1, 6)
    assert fixed.transform(DOCS).shape == (3, 6)


@pytest.mark.parametrize(
    "truncate, expected",
    [("post", ["xxbos", "a", "dog"]), ("pre", ["dog", "ran", "the"])],
)
def test_truncate(truncate, expected):
    vocab = Vocab(min_freq=1, max_len=3, truncate=truncate).fit(DOCS)
    ids = vocab.transform(DOCS)
    assert ids.shape == (3, 3)
    assert vocab.inverse_transform(ids)[2] == expected
    assert vocab.inverse_transform(vocab.transform([["cat"]])) == [["cat"]]


def test_fit_counts_whole_documents_despite_max_len():
    vocab = Vocab(min_freq=1, max_len=1).fit(DOCS)
    assert "ran" in vocab.stoi_


def test_inverse_transform_round_trip():
    vocab = Vocab(min_freq=1).fit(DOCS)
    assert vocab.inverse_transform(vocab.transform(DOCS)) == DOCS
    # ragged id lists and float ids that are integers work too
    assert vocab.inverse_transform([[2, 9], [9]]) == [["xxbos", "the"], ["the"]]
    assert vocab.inverse_transform(np.array([[2.0, 1.0]])) == [["xxbos"]]
    # unknown tokens come back as xxunk, every pad is dropped
    assert vocab.inverse_transform(vocab.transform([["the", "zebra"]])) == [
        ["the", "xxunk"]
    ]
    assert vocab.inverse_transform([[1, 9, 1]]) == [["the"]]
    assert vocab.inverse_transform(np.empty((0, 3), dtype=int)) == []


def test_inverse_transform_rejects_bad_ids():
    vocab = Vocab(min_freq=1).fit(DOCS)
    with pytest.raises(ValueError, match=r"must lie in \[0, 14\]"):
        vocab.inverse_transform([[3, 15]])
    with pytest.raises(ValueError, match="must lie in"):
        vocab.inverse_transform([[-1, 2]])
    with pytest.raises(TypeError, match="integer token ids"):
        vocab.inverse_transform([["the", "cat"]])
    with pytest.raises(TypeError, match="integer token ids"):
        vocab.inverse_transform([[1.5, 2.0]])
    with pytest.raises(ValueError, match="2-D matrix"):
        vocab.inverse_transform([2, 3])


def test_fit_transform_matches_fit_then_transform():
    a = Vocab(min_freq=1, max_len=4).fit_transform(DOCS)
    b = Vocab(min_freq=1, max_len=4).fit(DOCS).transform(DOCS)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "X",
    [
        DOCS,
        tuple(tuple(d) for d in DOCS),
        pd.Series(DOCS, index=[7, 8, 9]),
        pd.DataFrame({"tokens": DOCS}),
        np.array([np.array(d) for d in DOCS], dtype=object),
    ],
    ids=["lists", "tuples", "series", "frame", "arrays"],
)
def test_input_containers(X):
    expected = Vocab(min_freq=1).fit_transform(DOCS)
    np.testing.assert_array_equal(Vocab(min_freq=1).fit_transform(X), expected)


def test_rectangular_token_matrix():
    X = np.array([["a", "b"], ["b", "c"]])
    vocab = Vocab(min_freq=1).fit(X)
    assert vocab.inverse_transform(vocab.transform(X)) == X.tolist()
    frame = pd.DataFrame(X, columns=["first", "second"])
    np.testing.assert_array_equal(vocab.transform(frame), vocab.transform(X))


def test_raw_text_is_rejected_with_a_hint():
    with pytest.raises(TypeError, match=r"single str.*Tokenizer"):
        Vocab().fit("the cat sat")
    with pytest.raises(TypeError, match=r"Row 1 is a str.*not raw text.*Tokenizer"):
        Vocab().fit([["ok"], "the cat sat"])
    vocab = Vocab(min_freq=1).fit(DOCS)
    with pytest.raises(TypeError, match=r"Row 0 is a str.*make_pipeline"):
        vocab.transform(np.array(["the cat sat"]))


@pytest.mark.parametrize(
    "bad_docs, match",
    [
        ([["a"], None], r"row 1 is NoneType"),
        ([["a"], 5], r"row 1 is int"),
        ([["a"], ["b", 3]], r"row 1 holds int \(3\)"),
        ([["a", np.nan]], r"row 0 holds float"),
        ([["a"], [["nested"]]], r"row 1 holds list"),
    ],
)
def test_bad_tokens_name_the_row(bad_docs, match):
    with pytest.raises(TypeError, match=match):
        Vocab(min_freq=1).fit(bad_docs)
    vocab = Vocab(min_freq=1).fit([["a"]])
    with pytest.raises(TypeError, match=match):
        vocab.transform(bad_docs)


def test_fit_needs_documents():
    with pytest.raises(ValueError, match="at least one document"):
        Vocab().fit([])


def test_invalid_parameters():
    with pytest.raises(ValueError, match="truncate"):
        Vocab(truncate="middle").fit(DOCS)
    with pytest.raises(ValueError, match="min_freq"):
        Vocab(min_freq=0).fit(DOCS)
    with pytest.raises(ValueError, match="max_len"):
        Vocab(max_len=0).fit_transform(DOCS)


def test_not_fitted():
    for method in ["transform", "inverse_transform"]:
        with pytest.raises(NotFittedError, match="not fitted"):
            getattr(Vocab(), method)(DOCS)
    assert issubclass(NotFittedError, SklearnNotFittedError)


def test_clone_pickle_set_params(tmp_path):
    vocab = Vocab(min_freq=1, max_len=5, truncate="pre").fit(DOCS)
    fresh = clone(vocab)
    assert fresh.get_params() == vocab.get_params()
    assert not hasattr(fresh, "itos_")
    restored = pickle.loads(pickle.dumps(vocab))
    np.testing.assert_array_equal(restored.transform(DOCS), vocab.transform(DOCS))
    joblib.dump(vocab, tmp_path / "vocab.joblib")
    loaded = joblib.load(tmp_path / "vocab.joblib")
    assert loaded.itos_ == vocab.itos_ and loaded.stoi_ == vocab.stoi_
    # set_params then refit changes the result; parameters are left untouched
    vocab.set_params(min_freq=2).fit(DOCS)
    assert vocab.vocab_size_ == N_SPECIAL + 3
    assert vocab.get_params()["min_freq"] == 2


def test_fit_returns_self_and_keeps_params():
    vocab = Vocab(min_freq=1, special_tokens=("xxbos",))
    before = vocab.get_params()
    assert vocab.fit(DOCS) is vocab
    assert vocab.get_params() == before
    public = {k for k in vars(vocab) if not k.startswith("_")}
    assert public - set(before) == {
        "itos_",
        "stoi_",
        "vocab_size_",
        "max_len_",
        "token_counts_",
        "unk_idx_",
        "pad_idx_",
    }


def test_pipeline_on_raw_strings():
    texts = ["The cat sat.", "A dog ran!!!", "The DOG sat"]
    pipe = make_pipeline(Tokenizer(), Vocab(min_freq=1, max_len=6))
    ids = pipe.fit_transform(texts)
    assert ids.shape == (3, 6)
    vocab = pipe[-1]
    assert vocab.inverse_transform(ids) == [
        ["xxbos", "xxmaj", "the", "cat", "sat", "."],
        ["xxbos", "a", "dog", "ran", "xxrep", "3"],
        ["xxbos", "xxmaj", "the", "xxup", "dog", "sat"],
    ]
    np.testing.assert_array_equal(pipe.transform(texts), ids)
    clone(pipe).fit(texts)


def test_full_pipeline_learns_from_raw_text():
    rng = np.random.default_rng(0)
    good, bad = ["great", "loved", "fun"], ["awful", "hated", "boring"]
    filler = ["the", "film", "was", "really", "it"]
    texts, labels = [], []
    for i in range(80):
        label = i % 2
        words = list(rng.choice(filler, size=4)) + [rng.choice([bad, good][label])]
        texts.append(" ".join(rng.permutation(words)))
        labels.append(["neg", "pos"][label])
    pipe = make_pipeline(
        Tokenizer(),
        Vocab(),
        RNNTextClassifier(
            embedding_dim=8, hidden_size=8, max_epochs=20, lr=0.05, random_state=0
        ),
    )
    scores = cross_val_score(pipe, texts, labels, cv=2)
    assert scores.mean() > 0.85  # chance is 0.5
