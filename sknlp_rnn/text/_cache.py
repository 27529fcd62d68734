"""Neural cache for SequenceLMRegressor's predictions (Grave et al., 2017).

While a language model reads a document, the cache remembers the last layer
output at each of the last ``size`` positions together with the token that
came next there. At a new position it compares the current output with the
remembered ones (cosine similarity times ``theta``, softmax) and spreads that
weight over the tokens that followed them; the prediction is the mixture
``(1 - lam) * p_model + lam * p_cache``. A word that the model cannot place
but that recently followed a similar context (a repeated name, the current
thousand when counting) gets probability without any training.
``choose_cache`` picks the three settings on held-out text, for
``cache_size="auto"`` in ``fit`` (on the tail of the stream, ``cache_tail``)
and for ``tune_cache``.

Depends on torch only.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class CacheMemory:
    """Remembered positions of a batch of documents.

    ``keys`` (batch, slots, width) are unit vectors, ``values`` (batch, slots)
    the token that followed each key (a placeholder while not known yet) and
    ``pos`` (batch, slots) its position in the document, ``-1`` for an empty
    slot.
    """

    keys: torch.Tensor
    values: torch.Tensor
    pos: torch.Tensor

    @classmethod
    def empty(cls, batch, width, device):
        """A memory with no slot."""
        ids = torch.zeros((batch, 0), dtype=torch.long, device=device)
        return cls(torch.zeros((batch, 0, width), device=device), ids, ids.clone())

    def extend(self, outputs, values, pos):
        """The memory with new positions appended (no slot dropped)."""
        return CacheMemory(
            torch.cat([self.keys, F.normalize(outputs.float(), dim=-1)], 1),
            torch.cat([self.values, values], 1),
            torch.cat([self.pos, pos], 1),
        )

    def latest(self, size):
        """Keep each document's ``size`` latest positions."""
        if self.pos.size(1) <= size:
            return self
        keep = self.pos.topk(size, dim=1).indices
        width = self.keys.size(2)
        return CacheMemory(
            self.keys.gather(1, keep[..., None].expand(-1, -1, width)),
            self.values.gather(1, keep),
            self.pos.gather(1, keep),
        )

    def take(self, index):
        """The memory of the documents at ``index`` (repeats allowed)."""
        return CacheMemory(
            self.keys.index_select(0, index),
            self.values.index_select(0, index),
            self.pos.index_select(0, index),
        )

    def fill(self, pos, token):
        """Record ``token`` as what followed position ``pos`` (one per row)."""
        self.values = torch.where(self.pos == pos[:, None], token[:, None], self.values)


def mix_cache(log_proba, outputs, pos, memory, *, size, theta, lam):
    """Mix the model's next-token log-probabilities with the cache's.

    Parameters
    ----------
    log_proba : torch.Tensor of shape (batch, time, vocab_size)
        The model's log-probabilities.
    outputs : torch.Tensor of shape (batch, time, width)
        Last layer outputs at the same positions (the queries).
    pos : torch.Tensor of shape (batch, time)
        Position of each query in its document.
    memory : CacheMemory
        Remembered positions; a key is read only when it comes before the
        query and at most ``size`` positions back.
    size, theta, lam : int, float, float
        Window, sharpness on cosine similarity, weight of the cache.

    Returns
    -------
    log_proba : torch.Tensor of shape (batch, time, vocab_size)
        Mixed log-probabilities (the model's own where no key is readable).
    """
    query = F.normalize(outputs.float(), dim=-1)
    scores = theta * (query @ memory.keys.transpose(1, 2))
    key_pos, query_pos = memory.pos[:, None, :], pos[..., None]
    readable = (key_pos >= 0) & (key_pos < query_pos) & (key_pos >= query_pos - size)
    weights = torch.softmax(scores.masked_fill(~readable, -torch.inf), -1)
    weights = weights.nan_to_num(0.0).to(log_proba.dtype)
    cached = torch.zeros_like(log_proba).scatter_add_(
        2, memory.values[:, None, :].expand_as(weights), weights
    )
    mixed = torch.logaddexp(log_proba + math.log1p(-lam), cached.log() + math.log(lam))
    return torch.where(readable.any(-1, keepdim=True), mixed, log_proba)


@dataclass(frozen=True)
class NeuralCache:
    """The cache's three settings, applied while a document is read.

    Parameters
    ----------
    size : int
        Number of preceding positions a query may read.
    theta : float
        Sharpness on cosine similarity.
    lam : float
        Weight of the cache's distribution in the mixture.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.text._cache import CacheMemory, NeuralCache
    >>> cache = NeuralCache(size=4, theta=10.0, lam=0.5)
    >>> log_proba = torch.full((1, 2, 3), 1 / 3, dtype=torch.float64).log()
    >>> outputs = torch.tensor([[[1.0, 0.0], [1.0, 0.0]]])
    >>> mixed, memory = cache.read(
    ...     log_proba, outputs, torch.tensor([[0, 1]]), CacheMemory.empty(1, 2, "cpu"),
    ...     following=torch.tensor([[2, 0]]), real=torch.tensor([[True, True]]))
    >>> mixed[0, 1].exp().round(decimals=3).tolist()  # 2 followed the same output
    [0.167, 0.167, 0.667]
    """

    size: int
    theta: float
    lam: float

    def read(self, log_proba, outputs, pos, memory, *, following, real):
        """Mix the cache into ``log_proba`` at positions ``pos`` (batch, time).

        The positions flagged ``real`` are added to ``memory`` first (a query
        reads only earlier keys, so a position never reads itself), with
        ``following`` (batch, time) as the token that came after each one.

        Returns
        -------
        log_proba : torch.Tensor of shape (batch, time, vocab_size)
            The mixed log-probabilities.
        memory : CacheMemory
            The memory with those positions, trimmed to ``size`` per row.
        """
        memory = memory.extend(outputs, following, torch.where(real, pos, -1))
        log_proba = mix_cache(
            log_proba,
            outputs,
            pos,
            memory,
            size=self.size,
            theta=self.theta,
            lam=self.lam,
        )
        return log_proba, memory.latest(self.size)


#: The settings ``cache_size="auto"`` and :func:`tune_cache` choose from,
#: beside no cache.
CACHE_GRID = {
    "cache_size": (200, 1000),
    "cache_theta": (10.0, 20.0, 40.0, 80.0),
    "cache_lambda": (0.1, 0.3, 0.5, 0.7),
}
# Queries per block when scoring the grid.
_GRID_BLOCK = 256


def grid_log_likelihood(inputs, *, sizes, thetas, lambdas):
    """Mean log-likelihood per token without a cache and with each setting.

    The same figure as :meth:`SequenceLMRegressor.score` with those settings,
    computed from one reading of the documents (``LMReader.cache_inputs``):
    the settings change only how the remembered outputs are weighed, and only
    the probability of the actual next token is needed.

    Parameters
    ----------
    inputs : list of (outputs, targets, log_proba)
        Per document, as ``LMReader.cache_inputs`` returns them.
    sizes, thetas, lambdas : sequence
        Candidate values of ``cache_size``, ``cache_theta``, ``cache_lambda``.

    Returns
    -------
    scores : dict
        Keyed by ``(cache_size, cache_theta, cache_lambda)``, every
        combination in ``itertools.product`` order after ``(0, None, None)``,
        the model without a cache. Empty when no document has a target.
    """
    grid = list(itertools.product(sizes, thetas, lambdas))
    totals = torch.zeros(1 + len(grid), dtype=torch.float64)
    count = 0
    for outputs, targets, log_proba in inputs:
        totals += _document_totals(outputs, targets, log_proba, sizes, thetas, lambdas)
        count += len(targets)
    if count == 0:
        return {}
    means = (totals / count).tolist()
    return dict(zip([(0, None, None), *grid], means, strict=True))


def _document_totals(outputs, targets, log_proba, sizes, thetas, lambdas):
    """Summed log-likelihood of one document's targets: plain, then each setting.

    The key of position ``p`` is its output with ``targets[p]`` (the token
    after it) as value; the query at ``q`` reads keys ``q - size <= p < q``.
    Queries go in blocks of ``_GRID_BLOCK``, each compared with the keys its
    window can reach.
    """
    keys = F.normalize(outputs.float(), dim=-1)
    n, device = len(targets), keys.device
    mixes = [(math.log1p(-lam), math.log(lam)) for lam in lambdas]
    totals = torch.zeros(
        (len(sizes), len(thetas), len(lambdas)), dtype=torch.float64, device=device
    )
    for a in range(0, n, _GRID_BLOCK):
        b = min(n, a + _GRID_BLOCK)
        model = log_proba[a:b]
        for i, size in enumerate(sizes):
            k0 = max(0, a - size)
            sims = keys[a:b] @ keys[k0:b].T  # queries a..b-1, keys k0..b-1
            back = torch.arange(a, b, device=device)[:, None] - torch.arange(
                k0, b, device=device
            )
            readable = (back > 0) & (back <= size)
            some = readable.any(1)
            same = targets[k0:b][None, :] == targets[a:b, None]
            for j, theta in enumerate(thetas):
                scores = (theta * sims).masked_fill(~readable, -torch.inf)
                weights = torch.softmax(scores, -1).nan_to_num(0.0).double()
                cached = (weights * same).sum(1).log()
                for k, (keep, take) in enumerate(mixes):
                    mixed = torch.logaddexp(model + keep, cached + take)
                    totals[i, j, k] += torch.where(some, mixed, model).sum()
    plain = log_proba.sum().double().reshape(1)
    return torch.cat([plain, totals.flatten()]).cpu()


def best_setting(scores):
    """The best ``(cache_size, cache_theta, cache_lambda)`` of ``scores``.

    ``(0, None, None)`` (no cache) unless a setting beats it strictly.
    """
    if not scores:
        return 0, None, None
    return max(scores, key=scores.get)  # the first of equals: no cache first


#: Share of the stream that ``cache_size="auto"`` holds out (without a
#: validation part) and tunes the cache on, and the most tokens it reads there.
CACHE_TAIL_FRACTION = 0.1
CACHE_TAIL_MAX_TOKENS = 100_000


def cache_tail(n_tokens, validation_fraction):
    """Where the text ``cache_size="auto"`` tunes on starts in a stream.

    The tail is the validation part when there is one, else the last
    ``CACHE_TAIL_FRACTION``; either way at most ``CACHE_TAIL_MAX_TOKENS``.
    ``None`` for a stream too short to spare 2 tokens.
    """
    fraction = validation_fraction or CACHE_TAIL_FRACTION
    n_tail = min(int(round(fraction * n_tokens)), CACHE_TAIL_MAX_TOKENS)
    return n_tokens - n_tail if n_tail >= 2 else None


def choose_cache(reader, docs, *, grid=CACHE_GRID, verbose=0):
    """The setting of ``grid`` that reads the documents ``docs`` best.

    ``reader`` is an ``LMReader`` of the fitted model without a cache; it
    reads ``docs`` once. Returns the best ``(cache_size, cache_theta,
    cache_lambda)`` (:func:`best_setting`) and the scores of
    :func:`grid_log_likelihood`; ``verbose`` prints the choice.
    """
    scores = grid_log_likelihood(
        reader.cache_inputs(docs),
        sizes=grid["cache_size"],
        thetas=grid["cache_theta"],
        lambdas=grid["cache_lambda"],
    )
    size, theta, lam = best_setting(scores)
    if verbose and scores:
        plain, best = scores[0, None, None], scores[size, theta, lam]
        chosen = (
            f"cache_size={size}, cache_theta={theta}, cache_lambda={lam}"
            if size
            else "none"
        )
        print(
            f"neural cache: {chosen} (log-likelihood per token on the "
            f"held-out tail: {plain:.4f} without a cache, {best:.4f} "
            "with the choice)"
        )
    return (size, theta, lam), scores


def tune_cache(
    lm,
    X,
    *,
    cache_size=CACHE_GRID["cache_size"],
    cache_theta=CACHE_GRID["cache_theta"],
    cache_lambda=CACHE_GRID["cache_lambda"],
):
    """Neural cache settings of a fitted language model, chosen on held-out text.

    Every combination of the candidate values is scored by mean log-likelihood
    per token on ``X`` (what :meth:`SequenceLMRegressor.score` gives with that
    setting), beside the model without a cache; ``X`` is read once. The cache
    changes predictions only, so no refit is needed; ``lm`` itself is left
    unchanged. Give text the model did not train on and that is not the test
    text (the tail of the training text, cut off before fitting, is a good
    choice). ``cache_size="auto"`` makes ``fit`` do this on the tail of the
    training stream.

    Parameters
    ----------
    lm : SequenceLMRegressor
        A fitted language model.
    X : array-like of shape (n_documents, n_positions) or list of id lists
        Held-out token ids.
    cache_size, cache_theta, cache_lambda : sequence
        Candidate values of the three cache parameters (by default those that
        ``cache_size="auto"`` chooses from).

    Returns
    -------
    best : dict
        The best ``cache_size``, ``cache_theta`` and ``cache_lambda``
        (``cache_size=0`` when no cache setting beats the plain model), ready
        for ``lm.set_params(**best)``.
    scores : dict
        Mean log-likelihood of every candidate, keyed by ``(cache_size,
        cache_theta, cache_lambda)``; ``(0, None, None)`` is the plain model.

    Examples
    --------
    >>> import numpy as np
    >>> from sknlp_rnn import SequenceLMRegressor
    >>> from sknlp_rnn.text import tune_cache
    >>> rng = np.random.RandomState(0)
    >>> lm = SequenceLMRegressor(embedding_dim=8, hidden_size=16, n_layers=1,
    ...                          max_epochs=1, cache_size=0, random_state=0)
    >>> lm = lm.fit(rng.randint(3, 20, size=(20, 30)))
    >>> repeated = np.tile(rng.permutation(np.arange(3, 20)), (2, 3))
    >>> best, scores = tune_cache(lm, repeated, cache_size=[64],
    ...                           cache_theta=[20.0, 100.0], cache_lambda=[0.5])
    >>> best["cache_size"]
    64
    >>> lm.cache_size  # unchanged until set_params(**best)
    0
    """
    _, seqs = lm._documents(X)
    grid = {
        "cache_size": cache_size,
        "cache_theta": cache_theta,
        "cache_lambda": cache_lambda,
    }
    (size, theta, lam), scores = choose_cache(lm._reader(cache=False), seqs, grid=grid)
    if not scores:
        raise ValueError(
            "X holds no token to predict: every row is a single token. Give "
            "rows of at least 2 tokens (or keep bos_idx)."
        )
    if size == 0:
        return {"cache_size": 0}, scores
    return {"cache_size": size, "cache_theta": theta, "cache_lambda": lam}, scores
