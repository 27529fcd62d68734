"""The promise to users: raw strings in, one Pipeline, searchable and persistable."""

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline

from sknlp_rnn import RNNTextClassifier, Tokenizer, Vocab
from sknlp_rnn.recipes import rnn_tfidf_vote


def reviews(n=160, seed=0):
    """Short reviews whose label is carried by one word."""
    rng = np.random.RandomState(seed)
    filler = ["the", "film", "was", "plot", "really", "and", "it", "a", "movie"]
    texts, labels = [], []
    for _ in range(n):
        words = list(rng.choice(filler, rng.randint(3, 8)))
        good = rng.rand() < 0.5
        words.insert(rng.randint(len(words) + 1), "great" if good else "awful")
        texts.append(" ".join(words).capitalize() + "!")
        labels.append("pos" if good else "neg")
    return texts, np.array(labels)


def make_pipe(**clf_params):
    clf = RNNTextClassifier(
        embedding_dim=8, hidden_size=16, max_epochs=6, lr=2e-2, random_state=0
    )
    return Pipeline(
        [("tok", Tokenizer()), ("vocab", Vocab(min_freq=1)), ("clf", clf)]
    ).set_params(**clf_params)


def test_grid_search_over_a_raw_text_pipeline_in_parallel():
    texts, labels = reviews()
    search = GridSearchCV(
        make_pipe(),
        {"clf__hidden_size": [8, 16], "clf__dropout": [0.0, 0.3]},
        cv=2,
        n_jobs=2,
    ).fit(texts, labels)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ > 0.8  # chance is 0.5
    assert search.predict(["A great film"]).tolist() == ["pos"]


def test_cross_val_score_clone_and_joblib_round_trip(tmp_path):
    texts, labels = reviews()
    scores = cross_val_score(make_pipe(), texts, labels, cv=3)
    assert scores.mean() > 0.8
    pipe = clone(make_pipe()).fit(texts, labels)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    loaded = joblib.load(tmp_path / "pipe.joblib")
    new = ["It was awful", "Really great plot!", "the movie"]
    np.testing.assert_array_equal(loaded.predict_proba(new), pipe.predict_proba(new))


def test_rnn_tfidf_vote_averages_its_fitted_members(tmp_path):
    texts, labels = reviews()
    new = ["It was awful", "Really great plot!", "the movie"]
    vote = rnn_tfidf_vote(make_pipe()).fit(texts, labels)
    rnn, tfidf = vote.named_estimators_["rnn"], vote.named_estimators_["tfidf"]
    assert rnn[-1].n_iter_ == 6  # the RNN member really trained
    expected = (rnn.predict_proba(new) + tfidf.predict_proba(new)) / 2
    np.testing.assert_allclose(vote.predict_proba(new), expected)
    assert not np.allclose(vote.predict_proba(new), tfidf.predict_proba(new))
    alone = make_pipe().fit(texts, labels).predict_proba(new)
    rnn_only = rnn_tfidf_vote(make_pipe(), weights=[1, 0]).fit(texts, labels)
    np.testing.assert_allclose(rnn_only.predict_proba(new), alone, rtol=1e-6)

    joblib.dump(vote, tmp_path / "vote.joblib")
    loaded = joblib.load(tmp_path / "vote.joblib")
    np.testing.assert_array_equal(loaded.predict_proba(new), vote.predict_proba(new))


def test_grid_search_over_the_vote_reaches_the_rnn_parameters():
    texts, labels = reviews()
    search = GridSearchCV(
        rnn_tfidf_vote(make_pipe()),
        {"rnn__clf__hidden_size": [8, 16], "weights": [None, [2, 1]]},
        cv=2,
    ).fit(texts, labels)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_estimator_.named_estimators_["rnn"][-1].hidden_size in (8, 16)
    assert search.best_score_ > 0.8
