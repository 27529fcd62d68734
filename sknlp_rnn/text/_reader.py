"""How a fitted language model reads documents at prediction time (private).

:class:`LMReader` is built from explicit arguments (the module, its device and
precision, the padding id, the batch size, the neural cache settings) and
reads documents from a zero state, in batches of similar lengths and in
chunks of positions, so a long document never needs all its logits at once.
With a ``window`` (the stateless language model) the state goes back to zeros
at every ``window``-th position of a document, as in training.
Every read goes through one step (:meth:`LMReader._step`): the encoder from a
state, the decoder, next-token log-probabilities and the neural cache
(``_cache.py``). Prediction reads whole documents with it; generation reads
the prompts, then feeds one sampled token at a time through the same step.

Depends on torch and numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .._device import autocast_context
from ._batching import pad_rows
from ._cache import CacheMemory

# Long documents are read in chunks so that one chunk's scores (logits, and
# cache scores with a cache) hold at most about this many floats.
_LOGIT_BUDGET = 2**24
# However small the budget, a chunk covers at least this many positions.
_MIN_CHUNK = 16


def _keep_rows(new, old, done):
    """Per-layer states: rows flagged ``done`` keep their ``old`` state."""
    if old is None:
        return new
    if isinstance(new, tuple):
        return tuple(_keep_rows(n, o, done) for n, o in zip(new, old, strict=True))
    return torch.where(done[None, :, None], old, new)


def _zeros_like(state):
    if isinstance(state, tuple):
        return tuple(torch.zeros_like(h) for h in state)
    return torch.zeros_like(state)


def _pieces(n_positions, chunk, window):
    """``(start, stop)`` of the pieces a batch is read in: chunks of at most
    ``chunk`` positions, also cut at every multiple of ``window`` (if any)."""
    cuts = set(range(0, n_positions, chunk))
    if window is not None:
        cuts |= set(range(0, n_positions, window))
    cuts = sorted(cuts)
    return list(zip(cuts, cuts[1:] + [n_positions], strict=True))


@dataclass
class Reading:
    """A batch of documents being read.

    ``rows`` are their indices among the documents read, ``state`` the
    per-layer state after each one's last token read so far (``None`` before
    the first), ``memory`` the cache's memory (``None`` without a cache) and
    ``end`` (on the model's device) the position of each document's last
    token, which :meth:`LMReader.feed` moves on.
    """

    rows: np.ndarray
    end: torch.Tensor
    state: list | None = None
    memory: CacheMemory | None = None

    def take(self, index):
        """The reading of the documents at ``index`` (a long tensor on the
        model's device; repeats allowed), e.g. the beams of a beam search."""
        state = self.state
        if state is not None:
            state = [
                tuple(h.index_select(1, index) for h in s)
                if isinstance(s, tuple)
                else s.index_select(1, index)
                for s in state
            ]
        memory = None if self.memory is None else self.memory.take(index)
        rows = self.rows[index.cpu().numpy()]
        return Reading(rows, self.end.index_select(0, index), state, memory)


@dataclass
class Chunk:
    """What one chunk of a batch's positions gave.

    ``log_proba`` (batch, width, vocab_size) are float64 next-token
    log-probabilities on the model's device, ``outputs`` (batch, width,
    n_outputs) the float32 last layer outputs they come from (the cache's
    keys and queries), ``start`` the chunk's first
    position, ``part`` and ``lengths`` (batch,) each document's real length in
    the chunk and in all, ``following`` (batch, width) the token after each
    position (the padding id where none does), ``reading`` the batch after
    the chunk and ``final`` whether it was the batch's last chunk.
    """

    reading: Reading
    start: int
    log_proba: torch.Tensor
    outputs: torch.Tensor
    part: torch.Tensor
    lengths: torch.Tensor
    following: torch.Tensor
    final: bool

    @property
    def rows(self):
        """Indices of the batch's documents."""
        return self.reading.rows


class LMReader:
    """Reads documents with a language model, each from a zero state.

    Parameters
    ----------
    module : LanguageModelModule
        The trained module (read in eval mode and without gradients).
    device : str or torch.device
        Where the module's parameters are.
    precision : {"32", "bf16", "fp16"}, default="32"
        The precision the encoder runs in (the decoder and the cache run in
        float32, the log-probabilities in float64).
    pad_idx : int, default=1
        Padding id, put after the shorter documents of a batch.
    batch_size : int, default=32
        Documents per batch.
    cache : NeuralCache or None, default=None
        Neural cache settings; ``None`` reads without a cache.
    logit_budget : int or None, default=None
        About how many scores one chunk may hold; ``None`` uses the module's
        ``_LOGIT_BUDGET``.
    window : int or None, default=None
        Read each document in consecutive windows of this many positions, each
        from a zero state (how a stateless language model trained); ``None``
        carries the state through the whole document.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sknlp_rnn.nn import LanguageModelModule
    >>> from sknlp_rnn.text._reader import LMReader
    >>> _ = torch.manual_seed(0)
    >>> module = LanguageModelModule(vocab_size=10, embedding_dim=4, hidden_size=8)
    >>> reader = LMReader(module, device="cpu", batch_size=2)
    >>> docs = [np.array([2, 5, 6, 7]), np.array([2, 8])]
    >>> reader.last_log_proba(docs).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        module,
        *,
        device,
        precision="32",
        pad_idx=1,
        batch_size=32,
        cache=None,
        logit_budget=None,
        window=None,
    ):
        self.module = module
        self.device = device
        self.precision = precision
        self.pad_idx = pad_idx
        self.batch_size = batch_size
        self.cache = cache
        self.logit_budget = _LOGIT_BUDGET if logit_budget is None else logit_budget
        self.window = window

    def _chunk_length(self, n_rows):
        """Positions per chunk so that one chunk's scores fit the budget."""
        cache_size = 0 if self.cache is None else self.cache.size
        per_position = n_rows * (self.module.decoder.out_features + cache_size)
        chunk = max(_MIN_CHUNK, self.logit_budget // per_position)
        if cache_size:  # the cache also compares the chunk with itself
            chunk = min(chunk, max(_MIN_CHUNK, math.isqrt(self.logit_budget // n_rows)))
        return chunk

    def _restart(self, reading, keep):
        """Zero the state of the rows of ``reading`` not flagged in ``keep``."""
        if reading.state is not None and not bool(keep.all()):
            keep = keep.to(self.device)
            reading.state = [_keep_rows(_zeros_like(s), s, keep) for s in reading.state]

    def _step(self, tokens, reading, *, start, part=None, following=None):
        """Read ``tokens`` (batch, width) after ``reading``'s state: the one step.

        ``start`` is the position of the first token (an int, or one per row
        on the model's device); ``part`` (batch,) the real tokens of each row
        (``None``: all; a row with none keeps its state); ``following`` the
        token after each position, for the cache (``None``: a placeholder, to
        be filled in when known). Updates ``reading``'s state and memory and
        returns the float64 log-probabilities (batch, width, vocab_size) and
        the float32 last layer outputs (batch, width, n_outputs).
        """
        with autocast_context(self.precision, self.device):
            out, new_state = self.module.encoder(
                tokens.to(self.device), part, reading.state
            )
        out = out.float()
        if part is not None and reading.state is not None:
            done = (part == 0).to(self.device)
            new_state = [
                _keep_rows(n, o, done)
                for n, o in zip(new_state, reading.state, strict=True)
            ]
        reading.state = new_state
        log_proba = torch.log_softmax(self.module.decoder(out).double(), dim=-1)
        if self.cache is not None:
            log_proba = self._mix_cache(log_proba, out, reading, start, part, following)
        return log_proba, out

    def _mix_cache(self, log_proba, out, reading, start, part, following):
        """``log_proba`` with the cache mixed in; ``reading``'s memory grows."""
        if reading.memory is None:
            reading.memory = CacheMemory.empty(len(out), out.size(2), out.device)
        steps = torch.arange(out.size(1), device=out.device)
        start = torch.as_tensor(start, device=out.device).reshape(-1, 1)
        pos = (start + steps).expand(out.shape[:2])
        if part is None:
            real = torch.ones(out.shape[:2], dtype=torch.bool, device=out.device)
        else:
            real = steps[None, :] < part.to(out.device)[:, None]
        if following is None:
            following = torch.full_like(pos, self.pad_idx)
        log_proba, reading.memory = self.cache.read(
            log_proba, out, pos, reading.memory, following=following, real=real
        )
        return log_proba

    @torch.no_grad()
    def read(self, seqs):
        """Next-token log-probabilities along the documents, chunk by chunk.

        Parameters
        ----------
        seqs : list of 1-D int arrays
            Documents of at least one token each.

        Yields
        ------
        chunk : Chunk
            One per chunk of each batch; batches hold documents of similar
            lengths (the longest first), and a batch's chunks come in order.
        """
        self.module.eval()
        sizes = np.array([len(s) for s in seqs])
        order = np.argsort(-sizes, kind="stable")
        for first in range(0, len(seqs), self.batch_size):
            rows = order[first : first + self.batch_size]
            tokens = torch.as_tensor(pad_rows([seqs[i] for i in rows], self.pad_idx))
            lengths = torch.as_tensor(sizes[rows])
            reading = Reading(rows, end=(lengths - 1).to(self.device))
            chunk = self._chunk_length(len(rows))
            for start, stop in _pieces(tokens.size(1), chunk, self.window):
                part = (lengths - start).clamp(0, stop - start)
                if self.window is not None and start % self.window == 0:
                    self._restart(reading, keep=part == 0)
                piece = tokens[:, start:stop]
                following = torch.as_tensor(
                    pad_rows(
                        [seqs[i][start + 1 : stop + 1] for i in rows],
                        self.pad_idx,
                        width=stop - start,
                    )
                ).to(self.device)
                log_proba, outputs = self._step(
                    piece, reading, start=start, part=part, following=following
                )
                final = stop == tokens.size(1)
                yield Chunk(
                    reading, start, log_proba, outputs, part, lengths, following, final
                )

    def ends(self, seqs):
        """Per batch, the reading after each document's last token.

        Yields
        ------
        reading : Reading
            The batch, ready for :meth:`feed`.
        log_proba : torch.Tensor of shape (batch, vocab_size)
            Next-token log-probabilities after each document (float64, on CPU).
        """
        for chunk in self.read(seqs):
            if chunk.start == 0:
                size = (len(chunk.rows), chunk.log_proba.size(-1))
                last = torch.empty(size, dtype=torch.float64)
            here = (chunk.part > 0) & (chunk.start + chunk.part == chunk.lengths)
            here = here.nonzero().flatten()
            last[here] = chunk.log_proba[here, chunk.part[here] - 1].cpu()
            if chunk.final:
                yield chunk.reading, last

    def last_log_proba(self, seqs):
        """Next-token log-probabilities after each document (float64, on CPU)."""
        size = (len(seqs), self.module.decoder.out_features)
        result = torch.empty(size, dtype=torch.float64)
        for reading, last in self.ends(seqs):
            result[torch.as_tensor(reading.rows)] = last
        return result

    def best_next(self, seqs):
        """The most likely next token after every position of each document.

        Returns
        -------
        ids : list of ndarray
            Per document, an int64 array as long as the document.
        """
        pieces = [[] for _ in seqs]
        for chunk in self.read(seqs):
            best = chunk.log_proba.argmax(-1).cpu().numpy()
            for j, i in enumerate(chunk.rows):
                pieces[i].append(best[j, : int(chunk.part[j])])
        return [np.concatenate(p) for p in pieces]

    def log_likelihood(self, seqs):
        """Summed log-probability of every document's tokens after its first.

        Returns
        -------
        total : float
            Sum of the natural-log probabilities of the actual next tokens.
        count : int
            Number of tokens predicted (the first of a document is not).
        """
        total, count = 0.0, 0
        for chunk in self.read(seqs):
            positions = torch.arange(chunk.log_proba.size(1))[None, :]
            last = chunk.lengths[:, None] - 1 - chunk.start  # it has no target
            has_target = (positions < last) & (positions < chunk.part[:, None])
            following = chunk.following.cpu()[..., None]
            picked = chunk.log_proba.cpu().gather(-1, following).squeeze(-1)
            total += float(picked[has_target].sum())
            count += int(has_target.sum())
        return total, count

    def cache_inputs(self, seqs):
        """What a neural cache would read in each document, for tuning it.

        The documents are read once, by a reader without a cache.

        Returns
        -------
        inputs : list of (outputs, targets, log_proba)
            Per document of at least 2 tokens, in the order of ``seqs``: the
            last layer outputs before every token but the last, shape
            (n - 1, n_outputs) (the cache's keys and queries); the token that
            follows each, (n - 1,); the model's log-probability of that
            token, (n - 1,) float64. All on the model's device.
        """
        if self.cache is not None:
            raise ValueError("cache_inputs reads without a cache; got a cache.")
        pieces = {}
        for chunk in self.read(seqs):
            picked = chunk.log_proba.gather(-1, chunk.following[..., None])[..., 0]
            for j, i in enumerate(chunk.rows):
                # the document's last token has no target
                n = min(int(chunk.part[j]), int(chunk.lengths[j]) - 1 - chunk.start)
                if n > 0:
                    pieces.setdefault(i, []).append(
                        (chunk.outputs[j, :n], chunk.following[j, :n], picked[j, :n])
                    )
        return [
            tuple(torch.cat(parts) for parts in zip(*pieces[i], strict=True))
            for i in range(len(seqs))
            if i in pieces
        ]

    @torch.no_grad()
    def feed(self, reading, tokens):
        """Read one more token per document of ``reading`` (a batch from :meth:`ends`).

        Parameters
        ----------
        reading : Reading
            The batch; its state, memory and end move on by one token.
        tokens : torch.Tensor of shape (batch,)
            The token that follows each document.

        Returns
        -------
        log_proba : torch.Tensor of shape (batch, vocab_size)
            Next-token log-probabilities after it (float64, on CPU).
        """
        tokens = tokens.to(self.device)
        if reading.memory is not None:  # what followed the last position is known
            reading.memory.fill(reading.end, tokens)
        reading.end = reading.end + 1
        if self.window is not None:  # a new window starts from zeros
            self._restart(reading, keep=reading.end % self.window != 0)
        log_proba, _ = self._step(tokens[:, None], reading, start=reading.end)
        return log_proba[:, 0].cpu()

    def generate(self, seqs, n_tokens, choose):
        """Continue each document by ``n_tokens`` tokens, one :meth:`feed` each.

        Parameters
        ----------
        seqs : list of 1-D int arrays
            The prompts.
        n_tokens : int
            Number of tokens to add to each.
        choose : callable
            Takes next-token log-probabilities (batch, vocab_size), float64 on
            CPU, and returns the chosen tokens (batch,); called batch by batch
            and, within a batch, token by token.

        Returns
        -------
        tokens : ndarray of shape (n_documents, n_tokens)
            The chosen tokens.
        """
        result = np.empty((len(seqs), n_tokens), dtype=np.int64)
        for reading, log_proba in self.ends(seqs):
            for k in range(n_tokens):
                tokens = choose(log_proba)
                result[reading.rows, k] = tokens.numpy()
                if k + 1 < n_tokens:
                    log_proba = self.feed(reading, tokens)
        return result
