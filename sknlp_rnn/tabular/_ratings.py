"""What CollabFilterRegressor computes from ratings outside its net (private).

The number of epochs of ``max_epochs="auto"``, the factor widths, the matrix
of who rated what in ``fit`` (SVD++'s item lists, the items ``recommend``
leaves out) and the rankings behind ``recommend`` and ``similar_items``.

Depends on numpy, scipy and ``nn.embedding_size``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from .._base import epochs_for_steps
from ..nn import embedding_size

# Factor width of model="dot" when n_factors is None (fast.ai's MovieLens one).
DEFAULT_N_FACTORS = 50
# max_epochs="auto": enough epochs for this many optimizer steps, within bounds.
AUTO_STEPS, AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS = 150, 4, 50


def auto_epochs(n_train, batch_size):
    """Epochs of ``max_epochs="auto"`` for ``n_train`` training rows.

    ``min(50, max(4, ceil(150 / batches_per_epoch)))`` with
    ``batches_per_epoch = ceil(n_train / batch_size)``: at least 150 optimizer
    steps, in 4 to 50 epochs.

    Examples
    --------
    >>> from sknlp_rnn.tabular._ratings import auto_epochs
    >>> auto_epochs(14_000, 1536), auto_epochs(80_000, 1536), auto_epochs(40, 32)
    (15, 4, 50)
    """
    return epochs_for_steps(
        n_train, batch_size, AUTO_STEPS, AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS
    )


def factor_widths(n_factors, model, ids):
    """Width of the factors of each id column in ``ids`` (``embedding_sizes_``).

    ``n_factors`` for every column; when it is ``None``, ``DEFAULT_N_FACTORS``
    for ``model="dot"`` and :func:`~sknlp_rnn.nn.embedding_size` of each
    column's number of ids for ``model="mlp"``.
    """
    if n_factors is not None:
        return [int(n_factors)] * len(ids)
    if model == "dot":
        return [DEFAULT_N_FACTORS] * len(ids)
    return [embedding_size(len(column)) for column in ids]


def seen_matrix(codes, n_users, n_items):
    """Who rated what: a boolean CSR matrix of user code by item code.

    ``codes`` holds the encoded user and item ids of the ratings in its first
    two columns; row and column 0 (the unknown slots) stay empty.
    """
    return sparse.csr_matrix(
        (np.ones(len(codes), dtype=bool), (codes[:, 0], codes[:, 1])),
        shape=(n_users + 1, n_items + 1),
    )


def top_items(scores, n, exclude):
    """Positions of the ``n`` highest ``scores``, best first, leaving out the
    positions ``exclude``; equal scores keep their order."""
    keep = np.ones(len(scores), dtype=bool)
    keep[np.asarray(exclude, dtype=np.intp)] = False
    candidates = np.flatnonzero(keep)
    return candidates[np.argsort(-scores[candidates], kind="stable")[:n]]


def most_similar(factors, i, n):
    """The ``n`` rows of ``factors`` with the highest cosine similarity to row
    ``i`` (``i`` itself left out; a zero row has similarity 0), best first.

    Returns
    -------
    order : ndarray of int
        Their positions.
    similarity : ndarray of float
        Their cosine similarities.
    """
    norms = np.linalg.norm(factors, axis=1)
    norms[norms == 0] = 1.0
    unit = factors / norms[:, None]
    similarity = unit @ unit[i]
    similarity[i] = -np.inf
    order = np.argsort(-similarity, kind="stable")[: min(n, len(factors) - 1)]
    return order, similarity[order]
