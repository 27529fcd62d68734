"""Benchmark: the human-numbers lessons' model variants, side by side.

fast.ai's lesson builds its language model in steps; each step is a setting of
SequenceLMRegressor. This script trains, on the training text (1..8000), with
the same small budget (1 layer, width 64, 8-token windows, 8 epochs):

* a stateless GRU (``stateful=False``: every window starts from zeros, the
  lesson's Model2), the baseline;
* the same GRU, stateful (the state carried across windows, Model3 onwards);
* a stateful plain tanh RNN (``cell="rnn"``) and a stateful IRNN
  (``cell="rnn", nonlinearity="relu", init="identity"``).

It prints, for every model and seed, next-token accuracy over every position
of the validation text (8001..9999), read as the model trained (whole rows, or
8-token windows from zeros for the stateless one), and ``score`` (mean
log-likelihood per token), beside the "always predict 'thousand'" baseline.

Run from the repository root::

    python benchmarks/lesson_models.py              # 3 seeds, a few minutes
    python benchmarks/lesson_models.py --quick      # smoke test
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from _common import add_device_arguments, load_ids, summary

from sknlp_rnn import SequenceLMRegressor

COMMON = {
    "embedding_dim": 32,
    "hidden_size": 64,
    "n_layers": 1,
    "dropout": 0.0,
    "bptt": 8,
    "batch_size": 16,
    "lr": 1e-2,
    "max_epochs": 8,
}
MODELS = {
    "GRU, stateless (baseline)": {"cell": "gru", "stateful": False},
    "GRU, stateful": {"cell": "gru"},
    "tanh RNN, stateful": {"cell": "rnn"},
    "IRNN, stateful": {"cell": "rnn", "nonlinearity": "relu", "init": "identity"},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    add_device_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train, valid, itos = load_ids()
    common = dict(COMMON)
    if args.quick:
        train, valid, args.seeds = train[:, :3000], valid[:, :500], 1
        common["max_epochs"] = 1
    thousand = np.mean(valid[0, 1:] == itos.index("thousand"))
    print(f"always 'thousand': {thousand:.4f}")
    results = {}
    for name, params in MODELS.items():
        for seed in range(args.seeds):
            start = time.perf_counter()
            lm = SequenceLMRegressor(
                **common,
                **params,
                device=args.device,
                precision=args.precision,
                random_state=seed,
            ).fit(train)
            fit_s = time.perf_counter() - start
            pred = lm.predict_tokens(valid)
            accuracy = float(np.mean(pred[0, :-1] == valid[0, 1:]))
            score = lm.score(valid)
            results.setdefault(name, []).append((accuracy, score, fit_s))
            print(
                f"{name:28s} seed {seed}: accuracy {accuracy:.4f}  score "
                f"{score:.4f}  fit {fit_s:.1f} s",
                flush=True,
            )
    print()
    for name, runs in results.items():
        acc = statistics.mean(r[0] for r in runs)
        score = statistics.mean(r[1] for r in runs)
        print(f"{name:28s} mean accuracy {acc:.4f}  mean score {score:.4f}")
    ours = [r[0] for r in results["GRU, stateful"]]
    base = [r[0] for r in results["GRU, stateless (baseline)"]]
    fit_s = statistics.median(r[2] for r in results["GRU, stateful"])
    summary(
        "lesson_models",
        args,
        "accuracy stateful vs stateless GRU",
        statistics.mean(ours),
        statistics.mean(base),
        fit_s,
        float("nan"),
    )


if __name__ == "__main__":
    main()
