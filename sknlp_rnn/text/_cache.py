"""Neural cache for SequenceLMRegressor's predictions (Grave et al., 2017).

While a language model reads a document, the cache remembers the last layer
output at each of the last ``size`` positions together with the token that
came next there. At a new position it compares the current output with the
remembered ones (cosine similarity times ``theta``, softmax) and spreads that
weight over the tokens that followed them; the prediction is the mixture
``(1 - lam) * p_model + lam * p_cache``. A word that the model cannot place
but that recently followed a similar context (a repeated name, the current
thousand when counting) gets probability without any training.

Depends on torch only.
"""

from __future__ import annotations

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
