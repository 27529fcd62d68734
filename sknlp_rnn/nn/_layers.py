"""Layers and helpers shared by the tabular and collaborative-filtering modules.

The embedding-size rule, the scaled sigmoid that bounds an output, the output
bias that starts a model at the target's mean, the one-row-safe batch norm, the
one-call lookup of several embedding tables, and the float64 evaluation of a
stack of layers that keeps a row's prediction independent of its batch.

Imports torch only, never scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def embedding_size(n_categories: int) -> int:
    """Embedding width for a field with ``n_categories`` distinct ids.

    The width grows sub-linearly with the number of ids,
    ``min(600, round(1.6 * n_categories ** 0.56))``, and is at least 1.

    Parameters
    ----------
    n_categories : int
        Number of distinct ids in the field.

    Returns
    -------
    width : int
        Embedding width.

    Examples
    --------
    >>> from sknlp_rnn.nn import embedding_size
    >>> embedding_size(671), embedding_size(9066)
    (61, 263)
    """
    return max(1, min(600, round(1.6 * n_categories**0.56)))


def sigmoid_range(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Squash ``x`` into the open interval ``(low, high)`` with a scaled sigmoid.

    Parameters
    ----------
    x : torch.Tensor
        Scores on the real line.
    low, high : float
        Bounds of the output range.

    Returns
    -------
    out : torch.Tensor
        ``low + (high - low) * sigmoid(x)``.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.nn import sigmoid_range
    >>> sigmoid_range(torch.tensor([0.0]), 0.0, 5.5)
    tensor([2.7500])
    """
    return low + (high - low) * torch.sigmoid(x)


def output_bias(target_mean: float, y_range: tuple[float, float] | None) -> float:
    """The pre-sigmoid score whose output is ``target_mean``."""
    if y_range is None:
        return float(target_mean)
    low, high = y_range
    p = (target_mean - low) / (high - low)
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def run_float64(layers: Iterable[nn.Module], x: torch.Tensor) -> torch.Tensor:
    """Run an evaluation-mode stack of layers in float64, weights cast on the fly.

    A float32 matrix product rounds differently for different batch shapes, so
    a row's float32 output depends (in its last bits) on the rows beside it;
    in float64 that rounding is far below what float32 weights can express, so
    the prediction of a row no longer depends on its batch. ``Linear`` and
    batch-norm layers use float64 copies of their parameters; the others
    (activations, dropout, identity) run as they are. Mixed precision
    (``torch.autocast``) is switched off inside.

    Parameters
    ----------
    layers : iterable of torch.nn.Module
        Layers in evaluation mode (e.g. a ``Sequential``), applied in order.
    x : torch.Tensor
        Input; cast to float64.

    Returns
    -------
    out : torch.Tensor
        The float64 output.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from sknlp_rnn.nn._layers import run_float64
    >>> mlp = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1)).eval()
    >>> run_float64(mlp, torch.ones(2, 3)).dtype
    torch.float64
    """
    x = x.double()
    # mixed precision (autocast) would cast the products back down
    with torch.autocast(device_type=x.device.type, enabled=False):
        for layer in layers:
            if isinstance(layer, nn.Linear):
                bias = None if layer.bias is None else layer.bias.double()
                x = F.linear(x, layer.weight.double(), bias)
            elif isinstance(layer, nn.BatchNorm1d):
                x = F.batch_norm(
                    x,
                    layer.running_mean.double(),
                    layer.running_var.double(),
                    None if layer.weight is None else layer.weight.double(),
                    None if layer.bias is None else layer.bias.double(),
                    training=False,
                    eps=layer.eps,
                )
            else:
                x = layer(x)
    return x


class SingleRowBatchNorm1d(nn.BatchNorm1d):
    """``BatchNorm1d`` that accepts a training batch of one row.

    A single row has no variance to normalise with, so such a batch is
    normalised with the running statistics (as in evaluation) and leaves them
    untouched; every other batch behaves exactly like ``nn.BatchNorm1d``.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.nn import SingleRowBatchNorm1d
    >>> bn = SingleRowBatchNorm1d(3).train()
    >>> tuple(bn(torch.ones(1, 3)).shape)
    (1, 3)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] == 1:
            return F.batch_norm(
                x,
                self.running_mean,
                self.running_var,
                self.weight,
                self.bias,
                training=False,
                eps=self.eps,
            )
        return super().forward(x)


class ConcatEmbeddings(nn.Module):
    """Several embedding tables looked up and concatenated in one call.

    Column ``c`` has ``cardinalities[c]`` codes of width ``widths[c]``. All the
    tables live in one flat parameter, and a row's concatenated embedding is
    gathered by a single ``embedding`` call on precomputed offsets, so the
    number of operations per batch (kernel launches, on a GPU) does not grow
    with the number of columns. :meth:`tables` gives each column's table as a
    ``(cardinality, width)`` view.

    Parameters
    ----------
    cardinalities : sequence of int
        Number of codes of each column (code 0 included).
    widths : sequence of int
        Embedding width of each column.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.nn import ConcatEmbeddings
    >>> emb = ConcatEmbeddings([5, 3], [3, 2])
    >>> out = emb(torch.tensor([[1, 2], [4, 0]]))
    >>> tuple(out.shape)
    (2, 5)
    >>> bool(torch.equal(out[0, 3:], emb.tables()[1][2]))
    True
    """

    def __init__(self, cardinalities: Sequence[int], widths: Sequence[int]):
        super().__init__()
        if len(cardinalities) != len(widths):
            raise ValueError(
                f"Got {len(cardinalities)} cardinalities but {len(widths)} "
                "embedding sizes."
            )
        self.shapes = [
            (int(n), int(d)) for n, d in zip(cardinalities, widths, strict=True)
        ]
        # output position -> its column, the column's width, and where the
        # column's table starts in ``weight`` plus the position's offset in a row
        column, width, base, start = [], [], [], 0
        for c, (n, d) in enumerate(self.shapes):
            column += [c] * d
            width += [d] * d
            base += [start + k for k in range(d)]
            start += n * d
        self.weight = nn.Parameter(torch.empty(start))
        nn.init.trunc_normal_(self.weight, std=0.01, a=-0.02, b=0.02)
        for name, values in (("column", column), ("width", width), ("base", base)):
            buffer = torch.tensor(values, dtype=torch.int64)
            self.register_buffer(name, buffer, persistent=False)

    def forward(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes ``(n, n_columns)`` -> concatenated embeddings ``(n, sum(widths))``."""
        index = codes.index_select(1, self.column) * self.width + self.base
        return F.embedding(index, self.weight.unsqueeze(1)).squeeze(2)

    def tables(self) -> list[torch.Tensor]:
        """Each column's table, a ``(cardinality, width)`` view of ``weight``."""
        return [
            part.view(n, d)
            for part, (n, d) in zip(
                self.weight.split([n * d for n, d in self.shapes]),
                self.shapes,
                strict=True,
            )
        ]
