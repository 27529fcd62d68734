"""Entity-embedding network for tables: embeddings + continuous inputs -> MLP.

Its ``forward`` returns ``(prediction, None)`` (no auxiliary loss); in
evaluation it computes in float64 (:func:`~sknlp_rnn.nn._layers.run_float64`),
so a row's prediction does not depend on the rows beside it.

Imports torch only, never scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._layers import (
    ConcatEmbeddings,
    SingleRowBatchNorm1d,
    run_float64,
    sigmoid_range,
)


class TabularModule(nn.Module):
    """Embeddings for categorical codes and continuous inputs, then an MLP.

    Each categorical column has its own embedding table (all looked up in one
    call, :class:`ConcatEmbeddings`); the embeddings are concatenated (with
    dropout), joined to the batch-normalised continuous
    inputs and fed through ``Linear -> ReLU (-> BatchNorm) -> Dropout`` blocks and
    a final linear layer. With ``y_range`` the output is squashed into
    ``(low, high)`` by a scaled sigmoid.

    Parameters
    ----------
    cardinalities : sequence of int
        Number of codes of each categorical column (code 0 included).
    embedding_sizes : sequence of int
        Embedding width of each categorical column.
    n_continuous : int
        Number of continuous inputs.
    n_outputs : int, default=1
        Number of regression outputs.
    hidden_sizes : sequence of int, default=(200, 100)
        Widths of the hidden layers (empty: a linear model on the inputs).
    dropout : float or sequence of float, default=0.0
        Dropout after each hidden layer (one value for all, or one per layer).
    embedding_dropout : float, default=0.0
        Dropout on the concatenated embeddings.
    batch_norm_continuous : bool, default=True
        Batch norm on the continuous inputs.
    batch_norm_hidden : bool, default=False
        Batch norm after each hidden layer. A training batch of one row uses the
        running statistics in both places (:class:`SingleRowBatchNorm1d`).
    y_range : pair of float or of sequences of float, or None, default=None
        Output bounds ``(low, high)``, per output or shared; ``None`` leaves
        the output linear.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.nn import TabularModule
    >>> net = TabularModule([5, 3], [3, 2], n_continuous=2, hidden_sizes=(8,))
    >>> x_cat = torch.tensor([[1, 2], [4, 0]])
    >>> x_cont = torch.randn(2, 2)
    >>> prediction, aux_loss = net(x_cat, x_cont)
    >>> tuple(prediction.shape), aux_loss
    ((2, 1), None)
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        embedding_sizes: Sequence[int],
        n_continuous: int,
        n_outputs: int = 1,
        hidden_sizes: Sequence[int] = (200, 100),
        dropout: float | Sequence[float] = 0.0,
        embedding_dropout: float = 0.0,
        batch_norm_continuous: bool = True,
        batch_norm_hidden: bool = False,
        y_range=None,
    ):
        super().__init__()
        if len(cardinalities) != len(embedding_sizes):
            raise ValueError(
                f"Got {len(cardinalities)} cardinalities but "
                f"{len(embedding_sizes)} embedding sizes."
            )
        hidden_sizes = tuple(hidden_sizes)
        dropouts = _per_layer(dropout, len(hidden_sizes))
        self.embeddings = ConcatEmbeddings(cardinalities, embedding_sizes)
        self.embedding_dropout = nn.Dropout(embedding_dropout)
        self.bn_continuous = (
            SingleRowBatchNorm1d(n_continuous)
            if batch_norm_continuous and n_continuous
            else nn.Identity()
        )
        layers: list[nn.Module] = []
        width = sum(embedding_sizes) + n_continuous
        for size, p in zip(hidden_sizes, dropouts, strict=True):
            layers += [nn.Linear(width, size), nn.ReLU()]
            if batch_norm_hidden:
                layers.append(SingleRowBatchNorm1d(size))
            if p > 0:
                layers.append(nn.Dropout(p))
            width = size
        layers.append(nn.Linear(width, n_outputs))
        self.layers = nn.Sequential(*layers)
        if y_range is None:
            self.y_low = self.y_high = None
        else:
            low, high = (
                torch.as_tensor(v, dtype=torch.float32).reshape(-1) for v in y_range
            )
            if bool((low >= high).any()):
                raise ValueError(f"y_range needs low < high, got {y_range!r}.")
            self.register_buffer("y_low", low)
            self.register_buffer("y_high", high)

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor):
        """Map codes ``(n, n_categorical)`` and floats ``(n, n_continuous)``.

        Returns ``(prediction, None)``: the module has no auxiliary loss.
        """
        parts = []
        if x_cat.shape[1]:
            parts.append(self.embedding_dropout(self.embeddings(x_cat)))
        if self.training:
            if x_cont.shape[1]:
                parts.append(self.bn_continuous(x_cont))
            out = self.layers(torch.cat(parts, dim=1))
        else:
            if x_cont.shape[1]:
                parts.append(run_float64([self.bn_continuous], x_cont))
            joined = torch.cat([part.double() for part in parts], dim=1)
            out = run_float64(self.layers, joined)
        if self.y_low is not None:
            out = sigmoid_range(out, self.y_low, self.y_high)
        return out, None


def _per_layer(dropout, n_layers):
    """One dropout probability per hidden layer."""
    if isinstance(dropout, (int, float)):
        return [float(dropout)] * n_layers
    dropout = [float(p) for p in dropout]
    if len(dropout) != n_layers:
        raise ValueError(
            f"dropout has {len(dropout)} values for {n_layers} hidden layers; "
            "give one value or one per layer."
        )
    return dropout
