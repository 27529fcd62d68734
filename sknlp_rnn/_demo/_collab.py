"""Workflow "collab": collaborative filtering on MovieLens, beside the mean.

Depends on numpy, scikit-learn's metrics, sknlp_rnn's recipes and MovieLens loader.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import root_mean_squared_error

from sknlp_rnn import recipes

from . import _registry
from ._generated import low_rank_ratings
from ._registry import Curve, EmbeddingMap, Outcome, Result, Workflow

#: Ratings (None: all) and epochs (None: the recipe's) per run size.
SIZES = {
    "tiny": {"ratings": 600, "max_epochs": 1},
    "quick": {"ratings": None, "max_epochs": None},
    "default": {"ratings": None, "max_epochs": None},
    "full": {"ratings": None, "max_epochs": None},
}
#: Ratings generated when the real ones are not installed.
GENERATED_RATINGS = 100000
#: Most-rated items drawn on the map of item factors.
N_MAPPED_ITEMS = 40


def _load(options):
    """Ratings table, ratings, the data's name and item names by id (or None)."""
    n = SIZES[options.size]["ratings"]
    if not options.real_data:
        X, y = low_rank_ratings(n or GENERATED_RATINGS)
        return X, y, "generated low-rank ratings", None
    from sknlp_rnn.datasets import load_movielens

    movielens = load_movielens(side_features=True)
    X, y = movielens.data, np.asarray(movielens.target)
    titles = movielens.frame.drop_duplicates("movieId").set_index("movieId")["title"]
    titles = titles.fillna("movie " + titles.index.to_series().astype(str))
    keep = _registry.subsample(len(X), n)
    X = X.iloc[keep].reset_index(drop=True)
    return X, y[keep], "MovieLens (dslabs)", titles


def run(options):
    """Fit the recipe from the ids, then with the side columns as biases."""
    X, y, data, names = _load(options)
    X_train, X_test, y_train, y_test = recipes.holdout_split(X, np.asarray(y, float))
    baseline = root_mean_squared_error(y_test, np.full(len(y_test), y_train.mean()))
    epochs = SIZES[options.size]["max_epochs"]
    params = {
        "validation_fraction": _registry.VALIDATION_FRACTION,
        **({} if epochs is None else {"max_epochs": epochs}),
        **options.training(),
    }

    def fit(task, columns):
        model = recipes.collab_filter(**params)
        _, seconds = _registry.timed(lambda: model.fit(X_train[columns], y_train))
        score = root_mean_squared_error(y_test, model.predict(X_test[columns]))
        row = Result(
            task, data, "RMSE", float(score), float(baseline), "global mean", seconds
        )
        return model, row

    ids = list(X.columns[:2])
    model, plain = fit("collaborative filtering", ids)
    side = ", ".join(X.columns[2:])
    _, with_side = fit(f"collaborative filtering + {side} biases", list(X.columns))
    counts = X_train[ids[1]].value_counts()
    top = [i for i in counts.index[:N_MAPPED_ITEMS] if i in model.item_factors_.index]
    factors = model.item_factors_.loc[top]
    return Outcome(
        rows=[plain, with_side],
        curves=[
            Curve(
                "collaborative_filtering",
                f"Collaborative filtering: {data}",
                model.history_,
                loss="MSE (training: + L2 penalty)",
            )
        ],
        maps=[
            EmbeddingMap(
                "item_factors",
                f"factors of the {len(top)} most-rated items (PCA)",
                factors.to_numpy(),
                list(factors.index if names is None else names[factors.index]),
            )
        ],
    )


WORKFLOW = Workflow(
    key="collab",
    title="collaborative filtering",
    summary="collaborative filtering on MovieLens, from the ids and with the day "
    "and genres as biases, beside the global mean",
    cpu_seconds={"quick": 2, "default": 3, "full": 3},
    gpu_seconds={},
    run=run,
)
