"""The RNN encoder shared by the language model and the text classifier.

Imports torch only, never scikit-learn.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
NONLINEARITIES = ("tanh", "relu")
INITS = ("default", "identity")


def _make_cell(cell, n_in, width, *, bidirectional, nonlinearity):
    """One single-layer recurrent module (``nonlinearity`` for ``"rnn"`` only)."""
    extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
    return CELLS[cell](
        n_in, width, batch_first=True, bidirectional=bidirectional, **extra
    )


@torch.no_grad()
def identity_init(rnn: nn.Module) -> None:
    """Set the hidden-to-hidden weights of ``rnn`` to identities, their bias to 0.

    Each gate's block of a GRU or LSTM gets its own identity (a plain RNN has
    one block): the IRNN initialisation of Le, Jaitly & Hinton (2015), where
    the state starts out carried unchanged from step to step.
    """
    for name, param in rnn.named_parameters():
        if name.startswith("weight_hh"):
            width = param.size(1)
            eye = torch.eye(width, dtype=param.dtype, device=param.device)
            param.copy_(eye.repeat(param.size(0) // width, 1))
        elif name.startswith("bias_hh"):
            param.zero_()


def _dropout_packed(x, p: float, training: bool):
    if p == 0.0 or not training:
        return x
    if isinstance(x, PackedSequence):
        return x._replace(data=F.dropout(x.data, p, training))
    return F.dropout(x, p, training)


class RNNEncoder(nn.Module):
    """Token embedding followed by a stack of recurrent layers.

    Each layer is its own single-layer ``nn.LSTM``/``nn.GRU``/``nn.RNN``, so the
    last layer can have its own width (``last_hidden_size``, sized to the
    embedding for weight tying as in AWD-LSTM) and dropout can sit between layers.
    Padded batches go through packed sequences when ``lengths`` is given, so pads
    never change the result.

    Parameters
    ----------
    vocab_size : int
        Number of token ids.
    embedding_dim : int
        Width of the token embedding.
    hidden_size : int
        Width of every recurrent layer but (optionally) the last.
    n_layers : int, default=1
        Number of recurrent layers.
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        Recurrent cell type (``"rnn"`` is a plain Elman RNN).
    bidirectional : bool, default=False
        Run every layer in both directions (not for language models).
    dropout : float, default=0.0
        Dropout between layers and on the output.
    embedding_dropout : float, default=0.0
        Probability of dropping a whole word of the embedding matrix (AWD-LSTM).
    weight_dropout : float, default=0.0
        DropConnect on the hidden-to-hidden weights of each layer (AWD-LSTM).
    pad_idx : int or None, default=1
        Padding token id (its embedding stays zero).
    last_hidden_size : int or None, default=None
        Width of the last layer; ``None`` means ``hidden_size``.
    nonlinearity : {"tanh", "relu"}, default="tanh"
        Activation of a plain RNN (``cell="rnn"``); the gated cells ignore it.
    init : {"default", "identity"}, default="default"
        ``"identity"`` starts every hidden-to-hidden weight matrix as the
        identity (one per gate block) with a zero bias (:func:`identity_init`);
        ``"default"`` keeps torch's uniform initialisation.

    Attributes
    ----------
    output_size : int
        Width of the encoder output (last layer width times directions).

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.nn import RNNEncoder
    >>> enc = RNNEncoder(vocab_size=10, embedding_dim=4, hidden_size=8, n_layers=2)
    >>> out, state = enc(torch.tensor([[2, 3, 4], [5, 1, 1]]), torch.tensor([3, 1]))
    >>> tuple(out.shape), len(state)
    ((2, 3, 8), 2)
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int,
        hidden_size: int,
        n_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = False,
        dropout: float = 0.0,
        embedding_dropout: float = 0.0,
        weight_dropout: float = 0.0,
        pad_idx: int | None = 1,
        last_hidden_size: int | None = None,
        nonlinearity: str = "tanh",
        init: str = "default",
    ):
        super().__init__()
        if nonlinearity not in NONLINEARITIES:
            raise ValueError(
                f"nonlinearity must be one of {NONLINEARITIES}, got {nonlinearity!r}."
            )
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}.")
        self.cell = cell
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.embedding_dropout = embedding_dropout
        self.weight_dropout = weight_dropout
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_idx)
        n_dir = 2 if bidirectional else 1
        widths = [hidden_size] * n_layers
        if last_hidden_size is not None:
            widths[-1] = last_hidden_size
        inputs = [embedding_dim] + [w * n_dir for w in widths[:-1]]
        self.rnns = nn.ModuleList(
            _make_cell(
                cell, i, w, bidirectional=bidirectional, nonlinearity=nonlinearity
            )
            for i, w in zip(inputs, widths, strict=True)
        )
        if init == "identity":
            for rnn in self.rnns:
                identity_init(rnn)
        self.output_size = widths[-1] * n_dir

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Look up embeddings, dropping whole words in training (embedding dropout)."""
        weight = self.embedding.weight
        if self.training and self.embedding_dropout > 0:
            keep = 1.0 - self.embedding_dropout
            mask = weight.new_empty((weight.size(0), 1)).bernoulli_(keep) / keep
            weight = weight * mask
        return F.embedding(tokens, weight, self.embedding.padding_idx)

    def _run_layer(self, rnn: nn.Module, x, state):
        if self.training and self.weight_dropout > 0:
            names = [n for n, _ in rnn.named_parameters() if n.startswith("weight_hh")]
            dropped = {
                n: F.dropout(getattr(rnn, n), self.weight_dropout, True) for n in names
            }
            return functional_call(rnn, dropped, (x, state))
        return rnn(x, state)

    def run_layers(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor | None = None,
        state: list | None = None,
    ):
        """Embedding, dropout and the recurrent layers, with every layer output.

        The encoder's one pass: :meth:`forward` returns its ``output``
        unpacked, and a language model also reads ``raw`` (for temporal
        activation regularisation).

        Parameters
        ----------
        tokens : torch.Tensor of shape (batch, time)
            Token ids.
        lengths : torch.Tensor of shape (batch,), default=None
            Real lengths of the rows: the layers then run on a packed sequence
            (pads never change the result). ``None`` means every position is
            real.
        state : list, default=None
            Per-layer initial hidden states; ``None`` starts from zeros.

        Returns
        -------
        raw : torch.Tensor of shape (batch, time, output_size) or PackedSequence
            Last layer outputs before their dropout (packed when ``lengths`` is
            given).
        output : torch.Tensor of shape (batch, time, output_size) or \
PackedSequence
            The same after dropout.
        state : list
            Per-layer final hidden states (tuples ``(h, c)`` for LSTM).

        Examples
        --------
        >>> import torch
        >>> from sknlp_rnn.nn import RNNEncoder
        >>> enc = RNNEncoder(vocab_size=10, embedding_dim=4, hidden_size=8,
        ...                  n_layers=2, dropout=0.5).eval()
        >>> raw, out, state = enc.run_layers(torch.tensor([[2, 3, 4]]))
        >>> bool(torch.equal(raw, out)), len(state)  # no dropout in eval mode
        (True, 2)
        """
        x = _dropout_packed(self.embed(tokens), self.dropout, self.training)
        if lengths is not None:
            x = pack_padded_sequence(
                x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
            )
        raw, new_state = x, []
        for i, rnn in enumerate(self.rnns):
            raw, h = self._run_layer(rnn, x, None if state is None else state[i])
            new_state.append(h)
            x = _dropout_packed(raw, self.dropout, self.training)
        return raw, x, new_state

    def forward(
        self,
        tokens: torch.Tensor,
        lengths: torch.Tensor | None = None,
        state: list | None = None,
    ):
        """Encode a batch of token ids.

        Parameters
        ----------
        tokens : torch.Tensor of shape (batch, time)
            Token ids.
        lengths : torch.Tensor of shape (batch,), default=None
            Real lengths of the rows (pads after them are ignored). ``None``
            means every position is real.
        state : list, default=None
            Per-layer initial hidden states (as returned by a previous call);
            ``None`` starts from zeros.

        Returns
        -------
        output : torch.Tensor of shape (batch, time, output_size)
            Last layer outputs (zeros at padded positions).
        state : list
            Per-layer final hidden states (tuples ``(h, c)`` for LSTM).
        """
        _, x, new_state = self.run_layers(tokens, lengths, state)
        if lengths is not None:
            x, _ = pad_packed_sequence(x, batch_first=True, total_length=tokens.size(1))
        return x, new_state

    def last_hidden(self, state: list) -> torch.Tensor:
        """Final hidden vector of the last layer, both directions concatenated."""
        h = state[-1][0] if isinstance(state[-1], tuple) else state[-1]
        # h: (directions, batch, width) -> (batch, directions * width)
        return h.transpose(0, 1).reshape(h.size(1), -1)
