"""Text generation for SequenceLMRegressor: the ids a model may generate,
sampling and beam search (private).

Both strategies continue prompts through :class:`~._reader.LMReader` (its
``ends`` and ``feed``), so generation reads exactly as prediction does, with
the neural cache and the stateless windows. Sampling draws one token per step
(temperature, top-k); beam search keeps the ``beam_width`` continuations with
the highest summed log-probability and returns the best. Neither ever picks a
banned id (:func:`banned_ids`: the padding id always, the unknown and
beginning-of-document ids unless ``allow_special``, and any ``exclude_ids``).

Depends on torch, numpy and scikit-learn.
"""

from __future__ import annotations

from functools import partial
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state


def check_generation(n_tokens, temperature, top_k, beam_width):
    """Raise ``ValueError`` for invalid or contradictory generation arguments."""
    if not isinstance(n_tokens, Integral) or n_tokens < 1:
        raise ValueError(f"n_tokens must be an int >= 1, got {n_tokens!r}.")
    if not isinstance(temperature, Real) or not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}.")
    if top_k is not None and (not isinstance(top_k, Integral) or top_k < 1):
        raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}.")
    if beam_width is None:
        return
    if not isinstance(beam_width, Integral) or beam_width < 1:
        raise ValueError(f"beam_width must be None or an int >= 1, got {beam_width!r}.")
    if temperature not in (0, 1) or top_k is not None:
        raise ValueError(
            "beam_width searches deterministically by the model's own "
            "log-probabilities, so it takes no sampling option: leave "
            f"temperature at 1.0 (or 0) and top_k at None, got temperature="
            f"{temperature!r} and top_k={top_k!r}."
        )


def banned_ids(lm, *, allow_special, exclude_ids):
    """The ids ``lm`` (a fitted SequenceLMRegressor) must not generate.

    ``pad_idx`` always; ``unk_idx`` and ``bos_idx`` unless ``allow_special``;
    every id of ``exclude_ids`` (validated here).

    Returns
    -------
    banned : torch.Tensor of shape (n_banned,)
        Sorted int64 ids.
    """
    banned = {lm.pad_idx}
    if not allow_special:
        banned |= {lm.unk_idx} | ({lm.bos_idx} - {None})
    if exclude_ids is not None:
        ids = np.asarray(exclude_ids)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
            raise ValueError(
                "exclude_ids must be None or a 1-D list of int token ids, got "
                f"{exclude_ids!r:.60}."
            )
        if ids.size and (ids.min() < 0 or ids.max() >= lm.vocab_size_):
            raise ValueError(
                f"exclude_ids must lie in [0, {lm.vocab_size_ - 1}] (vocab_size_="
                f"{lm.vocab_size_}); got ids from {ids.min()} to {ids.max()}."
            )
        banned |= set(ids.tolist())
    if len(banned) >= lm.vocab_size_:
        raise ValueError(
            f"Every one of the model's {lm.vocab_size_} token ids is excluded from "
            "generation (the special ids and exclude_ids); allow some with "
            "allow_special=True or fewer exclude_ids."
        )
    return torch.tensor(sorted(banned), dtype=torch.int64)


def sample_tokens(log_proba, *, temperature, top_k, generator, banned):
    """One token per row, drawn from ``log_proba`` (batch, vocab_size).

    ``temperature`` divides the log-probabilities (``0`` takes the most likely
    token), ``top_k`` (or ``None``) keeps that many most likely tokens,
    ``generator`` draws and the ``banned`` ids (an int or a sequence of ints)
    are never chosen.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.text._generate import sample_tokens
    >>> log_proba = torch.tensor([[0.0, -1.0, -2.0]])
    >>> sample_tokens(log_proba, temperature=0, top_k=None, generator=None,
    ...               banned=[0]).tolist()
    [1]
    """
    log_proba = log_proba.clone()
    log_proba[:, banned] = -torch.inf
    if temperature == 0 or top_k == 1:
        return log_proba.argmax(1)
    if top_k is not None and top_k < log_proba.size(1):
        kth = log_proba.topk(top_k, dim=1).values[:, -1:]
        log_proba[log_proba < kth] = -torch.inf
    proba = torch.softmax(log_proba / temperature, dim=1)
    return torch.multinomial(proba, 1, generator=generator)[:, 0]


def beam_search(reader, seqs, n_tokens, *, width, banned):
    """The continuation of each prompt with the highest summed log-probability
    among those a beam of ``width`` finds.

    Each prompt starts one live beam; every step extends each beam by every
    allowed token and keeps the ``width`` best continuations of the prompt
    (ties go to the lower beam, then the lower id, so ``width=1`` is greedy
    decoding). The beams are readings of :class:`~._reader.LMReader` (state,
    cache memory) copied with :meth:`~._reader.Reading.take`.

    Parameters
    ----------
    reader : LMReader
        Reads the prompts and feeds the chosen tokens.
    seqs : list of 1-D int arrays
        The prompts.
    n_tokens : int
        Length of the continuations.
    width : int
        Number of beams per prompt.
    banned : torch.Tensor
        Ids never chosen.

    Returns
    -------
    tokens : ndarray of shape (n_documents, n_tokens)
        The best continuation of each prompt.
    """
    result = np.empty((len(seqs), n_tokens), dtype=np.int64)
    for reading, log_proba in reader.ends(seqs):
        rows, n, vocab = reading.rows, len(reading.rows), log_proba.size(1)
        beams = torch.arange(n).repeat_interleave(width)
        reading, log_proba = reading.take(beams.to(reader.device)), log_proba[beams]
        scores = torch.full((n, width), -torch.inf, dtype=torch.float64)
        scores[:, 0] = 0.0  # the copies of a prompt start dead
        history = torch.zeros((n * width, 0), dtype=torch.int64)
        first_beam = torch.arange(n)[:, None] * width
        for k in range(n_tokens):
            log_proba[:, banned] = -torch.inf
            total = (scores.reshape(-1, 1) + log_proba).reshape(n, width * vocab)
            best = total.sort(dim=1, descending=True, stable=True).indices[:, :width]
            scores = total.gather(1, best)
            parents = (first_beam + best // vocab).reshape(-1)
            tokens = (best % vocab).reshape(-1)
            history = torch.cat([history[parents], tokens[:, None]], 1)
            if k + 1 < n_tokens:
                reading = reading.take(parents.to(reader.device))
                log_proba = reader.feed(reading, tokens)
        result[rows] = history[first_beam[:, 0]].numpy()  # beams are sorted
    return result


def generate_tokens(
    reader, seqs, n_tokens, *, temperature, top_k, beam_width, banned, random_state
):
    """Continue each prompt by ``n_tokens``: beam search when ``beam_width``
    is given, else sampling seeded from ``random_state``."""
    if beam_width is not None:
        return beam_search(reader, seqs, n_tokens, width=beam_width, banned=banned)
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    choose = partial(
        sample_tokens,
        temperature=temperature,
        top_k=top_k,
        generator=torch.Generator().manual_seed(int(seed)),
        banned=banned,
    )
    return reader.generate(seqs, n_tokens, choose)
