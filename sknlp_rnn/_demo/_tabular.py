"""Workflow "tabular": entity embeddings on diamonds, beside gradient boosting.

Depends on numpy and sknlp_rnn's public recipes and data loaders.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import root_mean_squared_error

from sknlp_rnn import recipes

from ._generated import sales_table
from ._registry import (
    VALIDATION_FRACTION,
    Curve,
    EmbeddingMap,
    Outcome,
    Result,
    Workflow,
    subsample,
    timed,
)

#: Rows of the table (None: all) and epochs (None: the recipe's) per run size.
# Rows, and settings beyond the recipe's (its defaults train until the
# validation loss stalls; a short run gets one cycle of a few epochs instead).
SHORT = {"max_epochs": 8, "lr_schedule": "one_cycle", "early_stopping": False}
SIZES = {
    "tiny": {"rows": 300, "params": {**SHORT, "max_epochs": 1}},
    "quick": {"rows": None, "params": SHORT},
    "default": {"rows": None, "params": {}},
    "full": {"rows": None, "params": {}},
}
#: Rows of the generated table when the real one is not installed.
GENERATED_ROWS = 50000


def _load(options):
    """The table, its target, the data's name and the column to map."""
    n_rows = SIZES[options.size]["rows"]
    if not options.real_data:
        X, y = sales_table(n_rows or GENERATED_ROWS)
        return X, y, "generated sales table", "shop"
    from sknlp_rnn.datasets import load_diamonds

    X, y = load_diamonds(return_X_y=True)
    keep = subsample(len(X), n_rows)
    return (
        X.iloc[keep].reset_index(drop=True),
        np.asarray(y)[keep],
        "diamonds",
        "clarity",
    )


def run(options):
    """Fit the entity-embedding recipe; compare with gradient boosting."""
    X, y, data, shown = _load(options)
    X_train, X_test, y_train, y_test = recipes.holdout_split(X, np.asarray(y, float))
    model = recipes.entity_embedding_regressor(
        validation_fraction=VALIDATION_FRACTION,
        **SIZES[options.size]["params"],
        **options.training(),
    )
    _, seconds = timed(lambda: model.fit(X_train, y_train))
    log_test = np.log(y_test)
    score = root_mean_squared_error(log_test, np.log(model.predict(X_test)))
    hgb = recipes.gradient_boosting_baseline().fit(X_train, np.log(y_train))
    baseline = root_mean_squared_error(log_test, hgb.predict(X_test))
    vectors = model.embeddings_[shown].drop(index="<unknown>", errors="ignore")
    return Outcome(
        rows=[
            Result(
                "entity embeddings",
                data,
                "RMSE of log target",
                float(score),
                float(baseline),
                "HistGradientBoosting",
                seconds,
            )
        ],
        curves=[
            Curve(
                "entity_embeddings",
                f"Entity embeddings: {data}",
                model.history_,
                loss="MSE of the standardised log target",
                log_loss=True,
            )
        ],
        maps=[
            EmbeddingMap(
                f"embedding_{shown}",
                f"learned {shown} embedding (PCA)",
                vectors.to_numpy(),
                list(vectors.index),
            )
        ],
    )


WORKFLOW = Workflow(
    key="tabular",
    title="entity embeddings",
    summary="entity embeddings on diamonds, beside gradient boosting",
    cpu_seconds={"quick": 3, "default": 16, "full": 15},
    gpu_seconds={},
    run=run,
)
