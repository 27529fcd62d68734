"""Recurrent language model: RNN encoder plus a (tied) linear decoder.

Imports torch only, never scikit-learn.
"""

from __future__ import annotations

import torch
from torch import nn

from ._encoder import RNNEncoder


def _detach(state):
    if isinstance(state, tuple):
        return tuple(h.detach() for h in state)
    return state.detach()


def _state_batch(state) -> int:
    first = state[0]
    return (first[0] if isinstance(first, tuple) else first).size(1)


class LanguageModelModule(nn.Module):
    """Embedding -> recurrent layers -> dropout -> linear decoder over the vocabulary.

    With ``tie_weights=True`` the decoder shares the embedding matrix, and the
    last recurrent layer is ``embedding_dim`` wide so the shapes agree (as in
    AWD-LSTM). Calling the module on a window of a token stream carries the
    final hidden state to the next call, detached from the graph (truncated
    backpropagation through time), until :meth:`reset_state`; with
    ``stateful=False`` every call starts from a zero state instead.

    Parameters
    ----------
    vocab_size : int
        Number of token ids.
    embedding_dim : int
        Width of the token embedding.
    hidden_size : int
        Width of the recurrent layers (all but the last when weights are tied).
    n_layers : int, default=1
        Number of recurrent layers.
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        Recurrent cell type (``"rnn"`` is a plain Elman RNN).
    dropout : float, default=0.0
        Dropout on the embeddings, between layers and before the decoder.
    embedding_dropout : float, default=0.0
        Probability of dropping a whole word of the embedding matrix.
    weight_dropout : float, default=0.0
        DropConnect on the hidden-to-hidden weights.
    tie_weights : bool, default=True
        Share the embedding matrix with the decoder.
    pad_idx : int or None, default=1
        Padding id.
    alpha : float, default=0.0
        Activation regularisation (AR): ``alpha * mean(out ** 2)`` on the
        dropped-out last layer outputs, added to the training loss.
    beta : float, default=0.0
        Temporal activation regularisation (TAR): ``beta * mean((raw[t] -
        raw[t - 1]) ** 2)`` on the raw last layer outputs.
    nonlinearity : {"tanh", "relu"}, default="tanh"
        Activation of a plain RNN (``cell="rnn"``); the gated cells ignore it.
    init : {"default", "identity"}, default="default"
        ``"identity"``: hidden-to-hidden weights start as identities (one per
        gate block) with zero biases (IRNN, see :class:`RNNEncoder`).
    stateful : bool, default=True
        Carry the hidden state from one call of :meth:`forward` to the next;
        ``False`` starts every call from zeros.

    Attributes
    ----------
    encoder : RNNEncoder
        Embedding and recurrent layers (what a classifier can start from).
    decoder : torch.nn.Linear
        Output layer giving next-token logits.
    state : list or None
        Hidden state carried between calls of :meth:`forward` (always ``None``
        when not ``stateful``).

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.nn import LanguageModelModule
    >>> lm = LanguageModelModule(vocab_size=12, embedding_dim=4, hidden_size=8)
    >>> logits, aux_loss = lm(torch.tensor([[2, 3, 4], [5, 6, 7]]))
    >>> tuple(logits.shape), lm.state is not None, aux_loss
    ((2, 3, 12), True, None)
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_size: int,
        n_layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        embedding_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        tie_weights: bool = True,
        pad_idx: int | None = 1,
        alpha: float = 0.0,
        beta: float = 0.0,
        nonlinearity: str = "tanh",
        init: str = "default",
        stateful: bool = True,
    ):
        super().__init__()
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.stateful = bool(stateful)
        self.encoder = RNNEncoder(
            vocab_size=vocab_size,
            embedding_dim=embedding_dim,
            hidden_size=hidden_size,
            n_layers=n_layers,
            cell=cell,
            dropout=dropout,
            embedding_dropout=embedding_dropout,
            weight_dropout=weight_dropout,
            pad_idx=pad_idx,
            last_hidden_size=embedding_dim if tie_weights else None,
            nonlinearity=nonlinearity,
            init=init,
        )
        self.decoder = nn.Linear(self.encoder.output_size, vocab_size)
        with torch.no_grad():
            self.decoder.bias.zero_()
            if cell == "lstm":
                # Forget gates start open (bias 1): memory from the first steps.
                for rnn in self.encoder.rnns:
                    size = rnn.hidden_size
                    rnn.bias_ih_l0[size : 2 * size].fill_(1.0)
                    rnn.bias_hh_l0[size : 2 * size].zero_()
        if tie_weights:
            self.decoder.weight = self.encoder.embedding.weight
        self.state = None

    def reset_state(self) -> None:
        """Forget the carried hidden state (the next call starts from zeros)."""
        self.state = None

    def run(self, tokens: torch.Tensor, state: list | None = None):
        """One pass over dense windows, exposing what AR/TAR regularisation needs.

        Parameters
        ----------
        tokens : torch.Tensor of shape (batch, time)
            Token ids (no padding).
        state : list or None, default=None
            Initial per-layer hidden states.

        Returns
        -------
        logits : torch.Tensor of shape (batch, time, vocab_size)
            Next-token scores.
        raw : torch.Tensor of shape (batch, time, width)
            Last layer outputs before dropout.
        out : torch.Tensor of shape (batch, time, width)
            Last layer outputs after dropout (the decoder's input).
        new_state : list
            Per-layer final hidden states.
        """
        raw, out, new_state = self.encoder.run_layers(tokens, state=state)
        return self.decoder(out), raw, out, new_state

    def forward(self, tokens: torch.Tensor):
        """Next-token logits for a window, continuing from the carried state
        (from zeros when not ``stateful``).

        Parameters
        ----------
        tokens : torch.Tensor of shape (batch, time)
            One window of ``batch`` parallel token streams.

        Returns
        -------
        logits : torch.Tensor of shape (batch, time, vocab_size)
            Next-token scores.
        aux_loss : torch.Tensor or None
            In training, the AR/TAR penalty (``alpha``, ``beta``); ``None``
            when both are 0 and in evaluation.
        """
        state = self.state
        if state is not None and _state_batch(state) != tokens.size(0):
            state = None
        logits, raw, out, new_state = self.run(tokens, state)
        if self.stateful:
            self.state = [_detach(h) for h in new_state]
        return logits, self._activation_penalty(raw, out)

    def _activation_penalty(self, raw, out):
        """AR on ``out`` and TAR on ``raw`` (training only; ``None`` if off)."""
        if not self.training or not (self.alpha or self.beta):
            return None
        penalty = self.alpha * out.float().pow(2).mean()
        if self.beta and raw.size(1) > 1:
            penalty = (
                penalty + self.beta * (raw[:, 1:] - raw[:, :-1]).float().pow(2).mean()
            )
        return penalty

    def step(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor | None = None,
        state: list | None = None,
    ):
        """Logits for padded rows read from ``state`` (no carried state).

        Parameters
        ----------
        tokens : torch.Tensor of shape (batch, time)
            Right-padded token ids.
        lengths : torch.Tensor of shape (batch,) or None, default=None
            Real length of each row; ``None`` means every position is real.
        state : list or None, default=None
            Initial per-layer hidden states.

        Returns
        -------
        logits : torch.Tensor of shape (batch, time, vocab_size)
            Next-token scores (meaningless at padded positions).
        state : list
            Per-layer hidden states after each row's last real token.
        """
        out, new_state = self.encoder(tokens, lengths, state)
        return self.decoder(out), new_state
