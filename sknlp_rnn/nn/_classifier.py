"""Sequence classification head on top of an RNN encoder.

Imports torch only, never scikit-learn.
"""

from __future__ import annotations

import torch
from torch import nn

from ._encoder import RNNEncoder

POOLINGS = ("concat", "last", "max", "mean")


class RNNClassifierModule(nn.Module):
    """Encode padded token ids, pool over real tokens, map to class logits.

    Parameters
    ----------
    encoder : RNNEncoder
        The recurrent encoder (possibly pretrained as a language model).
    n_classes : int
        Number of output logits.
    pooling : {"concat", "last", "max", "mean"}, default="concat"
        ``"concat"`` joins the last hidden state, the max and the mean over real
        tokens, as in ULMFiT.
    dropout : float, default=0.0
        Dropout before the output layer.
    pad_idx : int, default=1
        Padding id; rows are read up to their last non-pad token.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.nn import RNNClassifierModule, RNNEncoder
    >>> enc = RNNEncoder(vocab_size=10, embedding_dim=4, hidden_size=8)
    >>> clf = RNNClassifierModule(enc, n_classes=3)
    >>> scores, aux_loss = clf(torch.tensor([[2, 3, 1], [4, 5, 6]]))
    >>> tuple(scores.shape), aux_loss
    ((2, 3), None)
    """

    def __init__(
        self,
        encoder: RNNEncoder,
        n_classes: int,
        pooling: str = "concat",
        dropout: float = 0.0,
        pad_idx: int = 1,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}.")
        self.encoder = encoder
        self.pooling = pooling
        self.pad_idx = pad_idx
        width = encoder.output_size * (3 if pooling == "concat" else 1)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, n_classes))

    def pool(
        self, tokens: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Pooled document vectors of shape (batch, pooled width).

        ``lengths`` (each row's length, at least 1) may be given in host
        memory, where packing reads them; by default they are measured from
        the pads, on the tokens' device.
        """
        positions = torch.arange(1, tokens.size(1) + 1, device=tokens.device)
        if lengths is None:
            lengths = ((tokens != self.pad_idx) * positions).amax(1).clamp(min=1)
        out, state = self.encoder(tokens, lengths)
        lengths = lengths.to(tokens.device, non_blocking=True)
        real = (positions <= lengths[:, None]).unsqueeze(-1)
        parts = []
        if self.pooling in ("concat", "last"):
            parts.append(self.encoder.last_hidden(state))
        if self.pooling in ("concat", "max"):
            parts.append(out.masked_fill(~real, float("-inf")).amax(1))
        if self.pooling in ("concat", "mean"):
            parts.append(out.sum(1) / lengths[:, None].to(out.dtype))
        return torch.cat(parts, dim=1)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor | None = None):
        """Class scores ``(batch, n_classes)``, and no auxiliary loss (``None``).

        ``lengths``: see :meth:`pool`.
        """
        return self.head(self.pool(tokens, lengths)), None
