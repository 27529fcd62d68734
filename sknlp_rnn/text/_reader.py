"""How a fitted SequenceLMRegressor reads rows at prediction time (private).

``LMReading`` validates the rows, runs them from a zero state in batches and
in chunks of positions (so a long row never needs all its logits at once),
turns the last layer output into next-token log-probabilities and mixes the
neural cache in (``_cache.py``). The estimator's prediction methods are built
on :meth:`LMReading._read`.

Depends on torch and numpy.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._batching import check_token_ids, pad_rows
from ._cache import CacheMemory, mix_cache
from ._stream import documents

# Prediction runs long rows in chunks so that one chunk's logits hold at most
# about this many floats.
_LOGIT_BUDGET = 2**24


def _keep_rows(new, old, done):
    """Per-layer states: rows flagged ``done`` keep their ``old`` state."""
    if old is None:
        return new
    if isinstance(new, tuple):
        return tuple(_keep_rows(n, o, done) for n, o in zip(new, old, strict=True))
    return torch.where(done[None, :, None], old, new)


class LMReading:
    """Prediction-time reading of rows, mixed into SequenceLMRegressor."""

    def _rows(self, X):
        """Validated ids (unknown -> unk) and the documents the model reads."""
        self._check_fitted()
        X = check_token_ids(self, X, pad_idx=self.pad_idx, reset=False, any_width=True)
        X = np.where(X >= self.vocab_size_, self.unk_idx, X)
        seqs = documents(
            X, pad_idx=self.pad_idx, bos_idx=self.bos_idx, empty=self.unk_idx
        )
        return X, seqs

    def _chunk_length(self, n_rows):
        """Positions per chunk so that one chunk's scores fit the budget."""
        per_position = n_rows * (self.vocab_size_ + self.cache_size)
        chunk = max(16, _LOGIT_BUDGET // per_position)
        if self.cache_size:  # the cache also compares the chunk with itself
            chunk = min(chunk, max(16, math.isqrt(_LOGIT_BUDGET // n_rows)))
        return chunk

    def _scan(self, seqs):
        """Run documents from a zero state, in batches and chunks of positions.

        Callers run it under ``torch.no_grad()``. Yields ``(rows, start, out,
        part, lengths, state)`` per chunk: the
        indices of the batch's documents, the chunk's first position, the last
        layer output (batch, chunk, width) on the model's device, the real
        length of each row inside the chunk and in all, and the per-layer state
        after each row's last token so far.
        """
        module = self.net_.module_
        module.eval()
        device = self.net_.device
        sizes = np.array([len(s) for s in seqs])
        order = np.argsort(-sizes, kind="stable")
        for first in range(0, len(seqs), self.batch_size):
            rows = order[first : first + self.batch_size]
            tokens = torch.as_tensor(pad_rows([seqs[i] for i in rows], self.pad_idx))
            lengths = torch.as_tensor(sizes[rows])
            chunk = self._chunk_length(len(rows))
            state = None
            for start in range(0, tokens.size(1), chunk):
                part = (lengths - start).clamp(0, chunk)
                with self.net_._autocast():  # the precision it trained in
                    out, new_state = module.encoder(
                        tokens[:, start : start + chunk].to(device), part, state
                    )
                out = out.float()
                done = (part == 0).to(device)
                old = state or [None] * len(new_state)
                state = [
                    _keep_rows(n, o, done) for n, o in zip(new_state, old, strict=True)
                ]
                yield rows, start, out, part, lengths, state

    def _read(self, seqs):
        """Next-token log-probabilities along the documents, chunk by chunk.

        Callers run it under ``torch.no_grad()``. Yields what :meth:`_scan`
        yields with the last layer output replaced by the log-probabilities
        (batch, chunk, vocab_size), float64 on the model's device, the neural
        cache mixed in when ``cache_size > 0``; then the token that follows
        each position (``pad_idx`` where none does) and the cache memory
        (``None`` without a cache).
        """
        decoder = self.net_.module_.decoder
        memory = None
        for rows, start, out, part, lengths, state in self._scan(seqs):
            width = out.size(1)
            following = torch.as_tensor(
                pad_rows(
                    [seqs[i][start + 1 : start + 1 + width] for i in rows],
                    self.pad_idx,
                    width=width,
                )
            ).to(out.device)
            logp = torch.log_softmax(decoder(out).double(), dim=-1)
            if self.cache_size:
                if start == 0:
                    memory = CacheMemory.empty(len(rows), out.size(2), out.device)
                pos = start + torch.arange(width, device=out.device)
                real = pos[None, :] < (start + part.to(out.device))[:, None]
                logp, memory = self._read_cache(
                    logp, out, pos.expand_as(real), memory, following, real
                )
            yield rows, start, logp, part, lengths, state, following, memory

    def _read_cache(self, logp, out, pos, memory, following, real):
        """Mix the cache into ``logp`` at positions ``pos`` (batch, time), and
        the memory with those positions added (those flagged ``real``) and
        trimmed to ``cache_size``. ``following`` is what came after each one."""
        memory = memory.extend(out, following, torch.where(real, pos, -1))
        logp = mix_cache(
            logp,
            out,
            pos,
            memory,
            size=self.cache_size,
            theta=self.cache_theta,
            lam=self.cache_lambda,
        )
        return logp, memory.latest(self.cache_size)

    @torch.no_grad()
    def _last_logits(self, seqs):
        """Next-token log-probabilities after each document (float64, on CPU),
        and per batch its rows, states and cache memory."""
        logits = torch.empty((len(seqs), self.vocab_size_), dtype=torch.float64)
        states = {}
        for rows, start, logp, part, lengths, state, _, memory in self._read(seqs):
            here = ((part > 0) & (start + part == lengths)).nonzero().flatten()
            if len(here):
                logits[rows[here.numpy()]] = logp[here, part[here] - 1].cpu()
            states[int(rows[0])] = (rows, state, memory)
        return logits, states
