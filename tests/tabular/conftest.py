"""Shared data for the tabular tests."""

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="session")
def shops_table():
    """A small sales table: category effects plus a continuous effect."""
    rng = np.random.RandomState(0)
    n = 240
    shop = rng.choice(["a", "b", "c", "d"], size=n)
    promo = rng.choice([True, False], size=n)
    temp = rng.normal(size=n)
    X = pd.DataFrame({"shop": shop, "promo": promo, "temp": temp})
    effect = pd.Series(shop).map({"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0})
    y = effect.to_numpy() + 0.5 * promo + 0.5 * temp + 0.05 * rng.normal(size=n)
    return X, y


@pytest.fixture
def shops(shops_table):
    """Fresh copies of the sales table, for tests that may change them."""
    X, y = shops_table
    return X.copy(), y.copy()
