"""Generated stand-ins for the real data sets, for runs without the extra.

Each has the shape of the real data (raw texts and labels, a table with
categorical columns and a positive target, ratings with a side column) and a
signal a model can learn. Depends on numpy and pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_POSITIVE = ["good", "great", "fun", "lovely", "superb"]
_NEGATIVE = ["bad", "awful", "boring", "dull", "poor"]
_FILLER = ["the", "movie", "was", "plot", "really", "and", "it", "a", "film"]


def negation_reviews(n, seed=0):
    """Generated reviews whose label needs word order: 'not good' is negative."""
    rng = np.random.RandomState(seed)
    texts, labels = [], []
    for _ in range(n):
        words = list(rng.choice(_FILLER, rng.randint(3, 9)))
        is_pos = rng.rand() < 0.5
        negated = rng.rand() < 0.5
        phrase = [rng.choice(_POSITIVE if is_pos else _NEGATIVE)]
        if negated:
            phrase.insert(0, "not")
        at = rng.randint(len(words) + 1)
        words[at:at] = phrase
        texts.append(" ".join(words))
        labels.append("positive" if is_pos != negated else "negative")
    return np.asarray(texts, dtype=object), np.array(labels)


def sales_table(n, seed=0):
    """Sales by shop, weekday, promotion and shop size; positive targets."""
    rng = np.random.RandomState(seed)
    n_shops = 12
    shop = rng.choice([f"shop_{i}" for i in range(n_shops)], n)
    day = rng.choice(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], n)
    promo = rng.rand(n) < 0.3
    size = rng.lognormal(0, 0.5, n)
    shop_effect = {f"shop_{i}": np.sin(i) for i in range(n_shops)}
    day_effect = {"sat": 0.6, "sun": 0.4, "fri": 0.2}
    log_sales = (
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
    return X, np.exp(log_sales + 3)


def low_rank_ratings(n, seed=0):
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
