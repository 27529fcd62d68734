"""The settings of each workflow, in one place.

``sknlp-rnn demo`` and the gallery examples under ``examples/`` build their
models from these functions, so a recipe changed here changes both. Each
function returns an unfitted estimator, pipeline or data bundle; keyword
arguments are passed on to the estimator's constructor, so a caller sets the
training length, device or seed (``max_epochs=3, device="cpu"``) without
repeating the rest of the recipe. The figures these recipes reach on the full
data sets are measured by the scripts in ``benchmarks/``, which keep their own
explicit settings. Depends on numpy, scikit-learn and sknlp_rnn's public
estimators.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor, VotingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.utils import Bunch

from sknlp_rnn import (
    CollabFilterRegressor,
    EntityEmbeddingRegressor,
    RNNTextClassifier,
    SequenceLMRegressor,
    Tokenizer,
    Vocab,
)
from sknlp_rnn.datasets import human_numbers

__all__ = [
    "HOLDOUT_SEED",
    "NEURAL_CACHE",
    "TEST_SIZE",
    "collab_filter",
    "entity_embedding_regressor",
    "few_labels_split",
    "gradient_boosting_baseline",
    "holdout_split",
    "human_numbers_ids",
    "human_numbers_lm",
    "rnn_tfidf_vote",
    "tfidf_logreg",
    "tweet_classifier",
    "ulmfit_classifier",
    "ulmfit_language_model",
    "ulmfit_vocabulary",
]

#: Share of the rows held out for testing, and the seed of that split.
TEST_SIZE = 0.2
HOLDOUT_SEED = 42

#: Neural-cache settings for the human-numbers language model, chosen by
#: log-likelihood on the last 10% of the training text
#: (``benchmarks/language_model.py``), never on the validation text.
NEURAL_CACHE = {"cache_size": 1000, "cache_theta": 80.0, "cache_lambda": 0.7}


def holdout_split(X, y, *, stratify=False):
    """Hold out ``TEST_SIZE`` of the rows for testing, with seed ``HOLDOUT_SEED``.

    Parameters
    ----------
    X : array-like, DataFrame or list
        The inputs.
    y : array-like
        The targets.
    stratify : bool, default=False
        Keep the class proportions of ``y`` in both parts.

    Returns
    -------
    X_train, X_test, y_train, y_test : the two parts of ``X`` and ``y``

    Examples
    --------
    >>> from sknlp_rnn.recipes import holdout_split
    >>> X_train, X_test, y_train, y_test = holdout_split(list(range(10)), [0] * 10)
    >>> len(X_train), len(X_test)
    (8, 2)
    """
    return train_test_split(
        X,
        y,
        test_size=TEST_SIZE,
        random_state=HOLDOUT_SEED,
        stratify=y if stratify else None,
    )


def human_numbers_ids(*, n_numbers=None):
    """The human-numbers text as token ids, ready for a language model.

    Parameters
    ----------
    n_numbers : int or None, default=None
        Keep the first ``n_numbers`` training numbers and a quarter as many
        validation numbers (for quick runs); ``None`` keeps all of them.

    Returns
    -------
    data : Bunch
        ``train`` and ``valid`` (one row of ids each), ``both`` (the two rows
        padded to one width: fit on it with ``validation_fraction`` so that the
        validation part is exactly the validation text), ``validation_fraction``,
        and the fitted ``tokenizer`` and ``vocab``.

    Examples
    --------
    >>> from sknlp_rnn.recipes import human_numbers_ids
    >>> data = human_numbers_ids(n_numbers=20)
    >>> data.both.shape[0], round(data.validation_fraction, 2)
    (2, 0.33)
    """
    numbers = human_numbers()
    train, valid = numbers.train, numbers.valid
    if n_numbers is not None:
        train = " , ".join(train.split(" , ")[:n_numbers])
        valid = " , ".join(valid.split(" , ")[: max(1, n_numbers // 4)])
    tokenizer, vocab = Tokenizer(), Vocab(min_freq=1)
    train_ids = vocab.fit_transform(tokenizer.fit_transform([train]))
    valid_ids = vocab.transform(tokenizer.transform([valid]))
    both = np.full((2, max(train_ids.shape[1], valid_ids.shape[1])), vocab.pad_idx_)
    both[0, : train_ids.shape[1]] = train_ids[0]
    both[1, : valid_ids.shape[1]] = valid_ids[0]
    n_train = int((train_ids != vocab.pad_idx_).sum())
    n_valid = int((valid_ids != vocab.pad_idx_).sum())
    return Bunch(
        train=train_ids,
        valid=valid_ids,
        both=both,
        validation_fraction=n_valid / (n_train + n_valid),
        tokenizer=tokenizer,
        vocab=vocab,
    )


def human_numbers_lm(*, width=256, max_epochs=15, **params):
    """The human-numbers language model: a 2-layer GRU with tied weights.

    The AWD-LSTM regularisers (embedding and weight dropout, activation
    regularisation ``alpha`` and ``beta``), windows of 16 tokens, Adam at 3e-3,
    and no neural cache (``cache_size=0``: switch ``NEURAL_CACHE`` on after
    fitting, or pass ``cache_size="auto"``).

    Parameters
    ----------
    width : int, default=256
        ``embedding_dim`` and ``hidden_size`` (equal, for weight tying).
    max_epochs : int, default=15
        Passes over the training stream.
    **params : dict
        Other parameters of :class:`~sknlp_rnn.SequenceLMRegressor`.

    Returns
    -------
    model : SequenceLMRegressor
        Unfitted.

    Examples
    --------
    >>> from sknlp_rnn.recipes import human_numbers_lm
    >>> human_numbers_lm(width=64, max_epochs=2).get_params()["cell"]
    'gru'
    """
    recipe = {
        "cell": "gru",
        "embedding_dim": width,
        "hidden_size": width,
        "n_layers": 2,
        "embedding_dropout": 0.1,
        "weight_dropout": 0.2,
        "alpha": 2.0,
        "beta": 1.0,
        "bptt": 16,
        "batch_size": 64,
        "lr": 3e-3,
        "max_epochs": max_epochs,
        # no cache chosen in fit: the demo and the example validate on the
        # validation text and switch NEURAL_CACHE on afterwards
        "cache_size": 0,
    }
    return SequenceLMRegressor(**{**recipe, **params})


def tweet_classifier(**params):
    """Raw text to labels: Tokenizer, Vocab and an RNN classifier.

    The classifier's defaults: embeddings of 100, one bidirectional GRU layer
    of 128 per direction, dropout 0.3, one cycle peaking at ``lr=5e-3`` over
    ``max_epochs="auto"`` (4 epochs from 4,000 documents up, more below), on
    tokens seen at least twice. ``benchmarks/text_classification.py`` measures
    it on the tweets.

    Parameters
    ----------
    **params : dict
        Parameters of :class:`~sknlp_rnn.RNNTextClassifier` (e.g.
        ``max_epochs``, ``random_state``, ``device``).

    Returns
    -------
    pipeline : Pipeline
        Unfitted; its last step is the classifier.

    Examples
    --------
    >>> from sknlp_rnn.recipes import tweet_classifier
    >>> pipe = tweet_classifier(max_epochs=3)
    >>> [name for name, _ in pipe.steps]
    ['tokenizer', 'vocab', 'rnntextclassifier']
    >>> pipe[-1].max_epochs, pipe[-1].cell, pipe[-1].bidirectional
    (3, 'gru', True)
    """
    return make_pipeline(Tokenizer(), Vocab(min_freq=2), RNNTextClassifier(**params))


def tfidf_logreg():
    """The text baseline: TF-IDF of words and word pairs + logistic regression.

    Returns
    -------
    pipeline : Pipeline
        Unfitted; raw strings in, labels out.

    Examples
    --------
    >>> from sknlp_rnn.recipes import tfidf_logreg
    >>> texts = ["good fun", "bad day", "good day", "bad fun"]
    >>> tfidf_logreg().fit(texts, [1, 0, 1, 0]).predict(["good"])
    array([1])
    """
    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(max_iter=1000, C=3.0),
    )


def rnn_tfidf_vote(rnn=None, *, weights=None):
    """Soft vote of an RNN text pipeline and TF-IDF + logistic regression.

    A :class:`~sklearn.ensemble.VotingClassifier` on raw strings that averages
    the class probabilities of the two pipelines. They make different mistakes
    (one reads word order, the other counts words and word pairs), so the mean
    beats both: on the tweets 1.1 points above TF-IDF + LogReg on average,
    where the RNN alone is level with it (``benchmarks/README.md``). It
    costs one RNN fit and one TF-IDF fit. The fitted members are in
    ``named_estimators_`` (``"rnn"`` and ``"tfidf"``); as in every
    ``VotingClassifier``, they learned the label codes of ``le_``, so score
    them against ``vote.le_.transform(y)``.

    Parameters
    ----------
    rnn : Pipeline or None, default=None
        A pipeline from raw strings to labels with ``predict_proba``;
        ``None`` takes :func:`tweet_classifier`'s.
    weights : sequence of float or None, default=None
        Weights of the RNN's and TF-IDF's probabilities; ``None``: equal.

    Returns
    -------
    vote : VotingClassifier
        Unfitted, with ``voting="soft"``; raw strings in, labels out.

    Examples
    --------
    >>> from sknlp_rnn.recipes import rnn_tfidf_vote, tweet_classifier
    >>> texts = ["good fun", "bad day", "good day", "bad fun"] * 4
    >>> vote = rnn_tfidf_vote(tweet_classifier(max_epochs=1, random_state=0))
    >>> vote.fit(texts, ["pos", "neg", "pos", "neg"] * 4).predict(["good day"])
    array(['pos'], dtype='<U3')
    >>> sorted(vote.named_estimators_)
    ['rnn', 'tfidf']
    >>> vote.named_estimators_["tfidf"].predict(["good day"]), vote.le_.classes_
    (array([1]), array(['neg', 'pos'], dtype='<U3'))
    """
    if rnn is None:
        rnn = tweet_classifier()
    return VotingClassifier(
        [("rnn", rnn), ("tfidf", tfidf_logreg())], voting="soft", weights=weights
    )


def few_labels_split(texts, labels, *, n_test=3000, n_labelled=500, n_unlabelled=12000):
    """Split a labelled corpus as ULMFiT sees it: a few labels, more raw text.

    A stratified test set of ``n_test`` texts is held out first (seed 0); of the
    rest, ``n_unlabelled`` texts stand for raw text (their labels are dropped)
    and the next ``n_labelled`` are the labelled training texts.

    Parameters
    ----------
    texts : array-like of str
        The corpus.
    labels : array-like
        One label per text.
    n_test : int, default=3000
        Texts held out for testing.
    n_labelled : int, default=500
        Labelled training texts.
    n_unlabelled : int or None, default=12000
        Unlabelled texts for the language model; ``None`` takes every text left
        after the labelled ones.

    Returns
    -------
    data : Bunch
        ``unlabelled``, ``train_texts``, ``train_labels``, ``test_texts`` and
        ``test_labels`` (numpy arrays).

    Examples
    --------
    >>> from sknlp_rnn.recipes import few_labels_split
    >>> data = few_labels_split(
    ...     ["a"] * 20, [0, 1] * 10, n_test=4, n_labelled=6, n_unlabelled=8
    ... )
    >>> len(data.unlabelled), len(data.train_texts), len(data.test_texts)
    (8, 6, 4)
    """
    rest, test_texts, rest_labels, test_labels = train_test_split(
        np.asarray(texts, dtype=object),
        np.asarray(labels),
        test_size=n_test,
        stratify=labels,
        random_state=0,
    )
    if n_unlabelled is None:
        n_unlabelled = len(rest) - n_labelled
    labelled = slice(n_unlabelled, n_unlabelled + n_labelled)
    return Bunch(
        unlabelled=rest[:n_unlabelled],
        train_texts=rest[labelled],
        train_labels=rest_labels[labelled],
        test_texts=test_texts,
        test_labels=test_labels,
    )


def ulmfit_vocabulary(texts):
    """One tokenizer and vocabulary for the ULMFiT language model and classifier.

    The classifier must read the same ids as the language model, so both are
    fitted once, on all the training text (labelled and unlabelled).

    Parameters
    ----------
    texts : list of str
        All the training text.

    Returns
    -------
    tokenizer : Tokenizer
        Fitted.
    vocab : Vocab
        Fitted: tokens seen 3 times or more, at most 6000, rows of 48 ids.

    Examples
    --------
    >>> from sknlp_rnn.recipes import ulmfit_vocabulary
    >>> tokenizer, vocab = ulmfit_vocabulary(["a good day"] * 3)
    >>> vocab.transform(tokenizer.transform(["a good day"])).shape
    (1, 48)
    """
    tokenizer = Tokenizer()
    vocab = Vocab(min_freq=3, max_size=6000, max_len=48)
    vocab.fit(tokenizer.fit_transform(list(texts)))
    return tokenizer, vocab


def ulmfit_language_model(*, max_epochs=3, **params):
    """The ULMFiT language model pretrained on unlabelled text.

    A 2-layer LSTM (embeddings of 64, hidden states of 128), dropout 0.1,
    windows of 32 tokens, batches of 32, Adam at 1e-2 (a short pretraining
    gains from the larger rate); ``cache_size=0``, so it trains on all the
    text (a classifier reuses the encoder, never the cache).

    Parameters
    ----------
    max_epochs : int, default=3
        Passes over the unlabelled text.
    **params : dict
        Other parameters of :class:`~sknlp_rnn.SequenceLMRegressor`.

    Returns
    -------
    language_model : SequenceLMRegressor
        Unfitted; fit it on the token ids of the unlabelled text.

    Examples
    --------
    >>> from sknlp_rnn.recipes import ulmfit_language_model
    >>> ulmfit_language_model().get_params()["n_layers"]
    2
    """
    recipe = {
        "embedding_dim": 64,
        "hidden_size": 128,
        "n_layers": 2,
        "dropout": 0.1,
        "bptt": 32,
        "batch_size": 32,
        "lr": 1e-2,
        "max_epochs": max_epochs,
        # only the encoder is reused: train on all the text, hold none out
        # for a neural cache
        "cache_size": 0,
    }
    return SequenceLMRegressor(**{**recipe, **params})


def ulmfit_classifier(encoder=None, *, max_epochs=6, **params):
    """A classifier of few labelled texts, fine-tuned from ``encoder`` or not.

    With a fitted language model as ``encoder`` (wrap it in
    :class:`~sklearn.frozen.FrozenEstimator` to keep it through ``clone``),
    the classifier takes its architecture and weights, trains its head alone
    for one epoch, then everything with learning rates divided by 2.6 per layer
    downwards from 1e-2. Without one, the same-size classifier (a 2-layer
    LSTM, left to right) learns from scratch at 3e-3. Both keep their rates
    constant, with dropout 0.2.

    Parameters
    ----------
    encoder : SequenceLMRegressor or None, default=None
        The pretrained language model.
    max_epochs : int, default=6
        Passes over the labelled texts.
    **params : dict
        Other parameters of :class:`~sknlp_rnn.RNNTextClassifier`.

    Returns
    -------
    model : RNNTextClassifier
        Unfitted.

    Examples
    --------
    >>> from sknlp_rnn.recipes import ulmfit_classifier
    >>> ulmfit_classifier().get_params()["lr"]
    0.003
    """
    if encoder is None:
        recipe = {
            "embedding_dim": 64,
            "hidden_size": 128,
            "n_layers": 2,
            "cell": "lstm",
            "bidirectional": False,
            "lr": 3e-3,
        }
    else:
        recipe = {
            "encoder": encoder,
            "freeze_encoder_epochs": 1,
            "lr_decay": 2.6,
            "lr": 1e-2,
        }
    recipe.update(
        dropout=0.2, lr_schedule="constant", batch_size=32, max_epochs=max_epochs
    )
    return RNNTextClassifier(**{**recipe, **params})


def entity_embedding_regressor(**params):
    """Entity embeddings for a table with a positive target (prices, sales).

    The defaults of :class:`~sknlp_rnn.EntityEmbeddingRegressor` (categorical
    columns by dtype, hidden layers of 200 and 100, training length by table
    size) with ``log_target=True``: fit log(y), predict y.

    Parameters
    ----------
    **params : dict
        Other parameters of :class:`~sknlp_rnn.EntityEmbeddingRegressor`.

    Returns
    -------
    model : EntityEmbeddingRegressor
        Unfitted.

    Examples
    --------
    >>> from sknlp_rnn.recipes import entity_embedding_regressor
    >>> entity_embedding_regressor(max_epochs=2).get_params()["log_target"]
    True
    """
    return EntityEmbeddingRegressor(**{"log_target": True, **params})


def gradient_boosting_baseline():
    """The tabular baseline: gradient boosting with native categorical support.

    Returns
    -------
    model : HistGradientBoostingRegressor
        Unfitted; fit it on log(y) to compare with
        :func:`entity_embedding_regressor`.

    Examples
    --------
    >>> from sknlp_rnn.recipes import gradient_boosting_baseline
    >>> gradient_boosting_baseline().categorical_features
    'from_dtype'
    """
    return HistGradientBoostingRegressor(
        categorical_features="from_dtype", random_state=0
    )


def collab_filter(**params):
    """The MovieLens recommender: dot product + biases, the benchmarked defaults.

    50 factors, ratings squashed into the training range, one-cycle epochs of
    batches of 1536 (``max_epochs="auto"``: 4 on MovieLens, more on smaller
    data), an L2 penalty on the factors of each batch; columns after
    the user and item ids become learned biases. The optimizer and penalty are
    left to the estimator's defaults on purpose, so this recipe follows them.

    Parameters
    ----------
    **params : dict
        Other parameters of :class:`~sknlp_rnn.CollabFilterRegressor`.

    Returns
    -------
    model : CollabFilterRegressor
        Unfitted.

    Examples
    --------
    >>> from sknlp_rnn.recipes import collab_filter
    >>> collab_filter(max_epochs=2).get_params()["model"]
    'dot'
    """
    return CollabFilterRegressor(**params)
