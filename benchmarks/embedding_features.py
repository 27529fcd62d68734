"""Learned embeddings as features for gradient boosting, on a made-up table.

A table with one high-cardinality categorical column (300 stores, each with
its own effect drawn from a standard normal) and one continuous column
(``temp``, effect 0.5 per unit), plus noise of standard deviation 0.3; 2,000
training rows (about 7 per store) and 1,000 test rows. Prints the test mean
squared error of:

- ``HistGradientBoostingRegressor`` on ``EntityEmbeddingRegressor.transform``
  (the store as its learned embedding vector, ``temp`` raw), in one Pipeline;
- the baseline ``HistGradientBoostingRegressor`` on the stores' ordinal codes
  (``OrdinalEncoder``; 300 categories are more than the 255 it handles
  natively) and ``temp``;
- the network itself (``EntityEmbeddingRegressor.predict``) and the mean of
  the training target, for scale.

Each seed draws a new table; the models keep ``random_state=0``. One torch
thread, CPU.

    python benchmarks/embedding_features.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import pandas as pd
import torch
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_squared_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from sknlp_rnn import EntityEmbeddingRegressor

N_STORES, N_TRAIN, N_TEST = 300, 2000, 1000
# what tests/tabular/test_entity_embedding_features.py trains with
NET = {"hidden_sizes": (16,), "max_epochs": 20, "lr": 2e-2, "batch_size": 64}


def table(seed):
    """``(X_train, X_test, y_train, y_test)`` of the made-up store table."""
    rng = np.random.RandomState(seed)
    n = N_TRAIN + N_TEST
    effect, store = rng.normal(size=N_STORES), rng.randint(N_STORES, size=n)
    temp = rng.normal(size=n)
    X = pd.DataFrame({"store": [f"s{k}" for k in store], "temp": temp})
    y = effect[store] + 0.5 * temp + 0.3 * rng.normal(size=n)
    return X[:N_TRAIN], X[N_TRAIN:], y[:N_TRAIN], y[N_TRAIN:]


def errors(seed):
    """Test MSE of each model on the table drawn with ``seed``."""
    X_train, X_test, y_train, y_test = table(seed)
    hgb = HistGradientBoostingRegressor(random_state=0)
    embedded = make_pipeline(EntityEmbeddingRegressor(**NET, random_state=0), hgb)
    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    coded = make_pipeline(
        make_column_transformer((ordinal, ["store"]), remainder="passthrough"), hgb
    )
    out = {}
    for name, model in [("hgb on embeddings", embedded), ("hgb on codes", coded)]:
        model.fit(X_train, y_train)
        out[name] = mean_squared_error(y_test, model.predict(X_test))
    net = embedded.steps[0][1]
    out["network alone"] = mean_squared_error(y_test, net.predict(X_test))
    out["training mean"] = mean_squared_error(
        y_test, np.full_like(y_test, y_train.mean())
    )
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    runs = [errors(seed) for seed in range(args.seeds)]
    for name in runs[0]:
        values = [run[name] for run in runs]
        listed = ", ".join(f"{v:.3f}" for v in values)
        print(f"{name:18s} test MSE {statistics.mean(values):.3f}  (seeds: {listed})")
    ratio = [run["hgb on embeddings"] / run["hgb on codes"] for run in runs]
    print(f"embeddings / codes: {statistics.mean(ratio):.3f}")


if __name__ == "__main__":
    main()
