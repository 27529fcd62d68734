"""Collaborative-filtering modules: a factorization machine over id fields and an
MLP on concatenated id embeddings.

Both read a batch of integer ids of shape ``(batch, n_fields)``: field 0 is the
user, field 1 the item, further fields are categorical side features; the last
``bias_only_fields`` of them add a learned bias per id and nothing else. Id 0
of every field is the "unknown" slot: its embedding and bias are zero and never
trained, so an id never seen in training contributes nothing.

Imports torch only, never scikit-learn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

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


def _output_bias(target_mean: float, y_range: tuple[float, float] | None) -> float:
    """The pre-sigmoid score whose output is ``target_mean``."""
    if y_range is None:
        return float(target_mean)
    low, high = y_range
    p = (target_mean - low) / (high - low)
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


def _total(terms: list[torch.Tensor]) -> torch.Tensor:
    """Sum of tensors without Python's ``0 +`` start (one op fewer)."""
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _mean_square(rows: list[torch.Tensor]) -> torch.Tensor:
    """Batch mean of the summed squares of looked-up embedding rows."""
    return _total([r.square().sum() for r in rows]) / len(rows[0])


def _lookup(table: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
    """``table(ids)``, with a cheaper backward pass for dense tables.

    A dense table's rows are gathered with ``index_select``, whose backward
    pass (one ``index_add``) costs on CPU a fraction of the embedding's
    sort-based one; rows of id 0 are detached, so the unknown slot gets no
    gradient, as with ``padding_idx=0``. Sparse tables, and lookups
    without gradients, go through the embedding itself.
    """
    if table.sparse or not (torch.is_grad_enabled() and table.weight.requires_grad):
        return table(ids)
    rows = table.weight.index_select(0, ids)
    return torch.where((ids != 0).unsqueeze(1), rows, rows.detach())


def _factor_fields(
    cardinalities: Sequence[int],
    bias_only_fields: int,
    sparse: bool | Sequence[bool],
    at_least: int,
) -> tuple[int, bool | list[bool]]:
    """The number of fields with factors (embeddings), those before the
    bias-only ones, and their ``sparse`` flags (one flag, or one per field)."""
    n_fields = len(cardinalities) - bias_only_fields
    if bias_only_fields < 0 or n_fields < at_least:
        raise ValueError(
            f"need at least {at_least} id field(s) with factors and "
            f"bias_only_fields >= 0; got {len(cardinalities)} field(s), "
            f"bias_only_fields={bias_only_fields}."
        )
    return n_fields, sparse if isinstance(sparse, bool) else list(sparse)[:n_fields]


def _id_embeddings(
    cardinalities: Sequence[int],
    widths: Sequence[int],
    sparse: bool | Sequence[bool] = False,
):
    """One embedding per field with a frozen all-zero unknown row at index 0.

    ``sparse`` (one flag, or one per field) gives tables sparse gradients.
    """
    tables = nn.ModuleList()
    if isinstance(sparse, bool):
        sparse = [sparse] * len(cardinalities)
    for n, width, is_sparse in zip(cardinalities, widths, sparse, strict=True):
        table = nn.Embedding(n, width, padding_idx=0, sparse=bool(is_sparse))
        if width > 1:
            nn.init.trunc_normal_(table.weight, std=0.01, a=-0.02, b=0.02)
        else:
            nn.init.zeros_(table.weight)
        with torch.no_grad():
            table.weight[0].zero_()
        tables.append(table)
    return tables


class DotProductBias(nn.Module):
    """Factors and biases per id, combined by dot products (a factorization machine).

    The score of a row is a global bias, plus the bias of each of its ids, plus
    the dot product of the factor vectors of every pair of its ids. With two
    fields (user, item) this is ``user . item + user_bias + item_bias +
    global_bias``, the classic biased matrix factorization. The last
    ``bias_only_fields`` fields have no factors: each adds its id's bias only
    (a side feature such as a user-day, whose bias is the user's mood that
    day: timeSVD's ``b_u,t``). The score is passed through
    :func:`sigmoid_range` when ``y_range`` is given.

    With ``implicit`` (SVD++, Koren 2008) the user's factors are augmented by
    what the user rated, whatever the rating: ``user + |N(u)| ** -0.5 *
    sum(y_j for j in N(u))``, where ``N(u)`` is the set of items user ``u``
    rated in training and ``y_j`` are a second table of item factors. The sum
    is one ``embedding_bag`` over the distinct users of a batch. An unknown
    user (slot 0) has an empty set.

    In training mode each forward pass stores ``last_penalty``: the batch mean
    of the squared norms of the factor vectors it looked up (with
    ``implicit``, plus the sum of the squared norms of each user's ``y_j``),
    an L2 term to add to the loss (classic matrix-factorization
    regularisation). Biases are not penalised. In
    evaluation mode the dot products are summed in float64 (and the output is
    float64), so a row's prediction is the same whatever batch it is in.

    Parameters
    ----------
    cardinalities : sequence of int
        Number of ids in each field, counting the unknown slot 0.
    n_factors : int, default=50
        Width of every factor vector.
    y_range : tuple of (float, float) or None, default=None
        Output range of the scaled sigmoid; ``None`` leaves the score linear.
    dropout : float, default=0.0
        Dropout on the factor vectors during training.
    target_mean : float, default=0.0
        Initial output (the global bias starts at the score giving it).
    implicit : tuple of (indptr, items) or None, default=None
        The items each user rated, in compressed-row form: user ``u``'s item
        ids (field 1 ids) are ``items[indptr[u]:indptr[u + 1]]``;
        ``len(indptr)`` is ``cardinalities[0] + 1``. ``None``: no implicit
        feedback. Kept as non-persistent buffers (not in ``state_dict``).
    sparse : bool or sequence of bool, default=False
        Sparse gradients (only the looked-up rows) for the factor tables of
        all fields, or of the fields flagged (one flag per field), for an
        optimizer that updates just those rows (``SGD``, ``SparseAdam``,
        ...). Bias tables (one number per id) and the implicit-feedback table
        stay dense.
    bias_only_fields : int, default=0
        Number of trailing fields that add a bias per id and no factors; the
        fields before them (at least two: user and item) have both.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.nn import DotProductBias
    >>> model = DotProductBias([4, 6], n_factors=3, y_range=(0.0, 5.5))
    >>> tuple(model(torch.tensor([[1, 2], [3, 5]])).shape)
    (2,)
    >>> rated = ([0, 0, 2, 3, 3], [1, 2, 5])  # user 1: items 1, 2; user 2: 5
    >>> svdpp = DotProductBias([4, 6], n_factors=3, implicit=rated)
    >>> tuple(svdpp(torch.tensor([[1, 2], [3, 5]])).shape)
    (2,)

    A third field with a bias only (say, the day of the rating):

    >>> daily = DotProductBias([4, 6, 9], n_factors=3, bias_only_fields=1)
    >>> [tuple(t.weight.shape) for t in daily.factors]
    [(4, 3), (6, 3)]
    >>> tuple(daily(torch.tensor([[1, 2, 8], [3, 5, 0]])).shape)
    (2,)
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        n_factors: int = 50,
        y_range: tuple[float, float] | None = None,
        dropout: float = 0.0,
        target_mean: float = 0.0,
        implicit: tuple[Sequence[int], Sequence[int]] | None = None,
        sparse: bool | Sequence[bool] = False,
        bias_only_fields: int = 0,
    ):
        super().__init__()
        n_fields, sparse = _factor_fields(
            cardinalities, bias_only_fields, sparse, at_least=2
        )
        self.implicit_factors = None
        if implicit is not None:
            indptr = torch.as_tensor(implicit[0], dtype=torch.int64)
            items = torch.as_tensor(implicit[1], dtype=torch.int64)
            if len(indptr) != cardinalities[0] + 1 or indptr[-1] != len(items):
                raise ValueError(
                    "implicit must be (indptr, items) with len(indptr) == "
                    f"cardinalities[0] + 1 == {cardinalities[0] + 1} and "
                    f"indptr[-1] == len(items); got {len(indptr)} and "
                    f"{len(items)}."
                )
            self.implicit_factors = _id_embeddings([cardinalities[1]], [n_factors])[0]
            self.register_buffer("implicit_indptr", indptr, persistent=False)
            self.register_buffer("implicit_items", items, persistent=False)
        self.y_range = None if y_range is None else tuple(map(float, y_range))
        self.factors = _id_embeddings(
            cardinalities[:n_fields], [n_factors] * n_fields, sparse
        )
        self.biases = _id_embeddings(cardinalities, [1] * len(cardinalities))
        self.global_bias = nn.Parameter(
            torch.tensor(_output_bias(target_mean, self.y_range))
        )
        self.dropout = nn.Dropout(dropout)
        self.last_penalty: torch.Tensor | None = None

    def _implicit(self, users: torch.Tensor):
        """``|N(u)| ** -0.5 * sum(y_j)`` per row, and the rows' mean ``|y_j|^2``."""
        distinct, inverse = torch.unique(users, return_inverse=True)
        starts = self.implicit_indptr[distinct]
        counts = self.implicit_indptr[distinct + 1] - starts
        offsets = torch.cumsum(counts, 0) - counts
        total = int(counts.sum())
        positions = torch.arange(total, device=users.device) + torch.repeat_interleave(
            starts - offsets, counts, output_size=total
        )
        items = self.implicit_items[positions]
        weight = self.implicit_factors.weight
        if not self.training:
            weight = weight.double()  # as the float64 dot products below
        scale = torch.repeat_interleave(
            counts.clamp(min=1).to(weight.dtype).rsqrt(), counts, output_size=total
        )
        sums = F.embedding_bag(
            items, weight, offsets, mode="sum", per_sample_weights=scale
        )
        penalty = None
        if self.training:
            square = weight.square().sum(1, keepdim=True)
            penalty = F.embedding_bag(items, square, offsets, mode="sum")[inverse]
        return sums[inverse], penalty

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Scores before the output squashing, shape ``(batch,)``."""
        vectors = [_lookup(table, x[:, f]) for f, table in enumerate(self.factors)]
        biases = [_lookup(table, x[:, f])[:, 0] for f, table in enumerate(self.biases)]
        if self.training:
            self.last_penalty = _mean_square(vectors)
        if self.implicit_factors is not None:
            implicit, penalty = self._implicit(x[:, 0])
            if self.training:
                self.last_penalty = self.last_penalty + penalty.mean()
        if self.dropout.p:
            vectors = [self.dropout(v) for v in vectors]
        if not self.training:
            # float64 sums: a row's prediction then does not depend on its batch
            vectors = [v.double() for v in vectors]
        if self.implicit_factors is not None:
            vectors[0] = vectors[0] + implicit
        if len(vectors) == 2:
            interaction = (vectors[0] * vectors[1]).sum(1)
        else:
            stacked = torch.stack(vectors, 1)
            total = stacked.sum(1)
            interaction = 0.5 * (total * total - (stacked * stacked).sum(1)).sum(1)
        return _total([interaction, *biases, self.global_bias])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.score(x)
        if self.y_range is not None:
            out = sigmoid_range(out, *self.y_range)
        return out


class CollabNN(nn.Module):
    """An MLP on the concatenated id embeddings of a row.

    Each field has its own embedding (widths may differ, see
    :func:`embedding_size`); the embeddings of a row are concatenated and fed
    through ``hidden_sizes`` ReLU layers to one output. The last
    ``bias_only_fields`` fields are not embedded: each adds a learned bias per
    id to that output. The result is passed through :func:`sigmoid_range`
    when ``y_range`` is given. In training mode each
    forward pass stores ``last_penalty``, the batch mean of the squared norms
    of the embeddings it looked up.

    Parameters
    ----------
    cardinalities : sequence of int
        Number of ids in each field, counting the unknown slot 0.
    embedding_sizes : sequence of int
        Embedding width of each embedded field (all but the bias-only ones).
    hidden_sizes : sequence of int, default=(100,)
        Widths of the hidden layers.
    y_range : tuple of (float, float) or None, default=None
        Output range of the scaled sigmoid; ``None`` leaves the output linear.
    dropout : float, default=0.0
        Dropout on the embeddings and after each hidden layer.
    target_mean : float, default=0.0
        Initial output (the last layer's bias starts at the score giving it).
    sparse : bool or sequence of bool, default=False
        Sparse gradients (only the looked-up rows) for the embedding tables of
        all fields, or of the fields flagged (one flag per field).
    bias_only_fields : int, default=0
        Number of trailing fields that add a bias per id instead of an
        embedding.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.nn import CollabNN
    >>> model = CollabNN([4, 6], embedding_sizes=[3, 4], hidden_sizes=(8,))
    >>> tuple(model(torch.tensor([[1, 2], [3, 5]])).shape)
    (2,)
    >>> daily = CollabNN([4, 6, 9], embedding_sizes=[3, 4], bias_only_fields=1)
    >>> tuple(daily(torch.tensor([[1, 2, 8], [3, 5, 0]])).shape)
    (2,)
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        embedding_sizes: Sequence[int],
        hidden_sizes: Sequence[int] = (100,),
        y_range: tuple[float, float] | None = None,
        dropout: float = 0.0,
        target_mean: float = 0.0,
        sparse: bool | Sequence[bool] = False,
        bias_only_fields: int = 0,
    ):
        super().__init__()
        n_fields, sparse = _factor_fields(
            cardinalities, bias_only_fields, sparse, at_least=1
        )
        self.y_range = None if y_range is None else tuple(map(float, y_range))
        self.embeddings = _id_embeddings(
            cardinalities[:n_fields], embedding_sizes, sparse
        )
        self.biases = _id_embeddings(cardinalities[n_fields:], [1] * bias_only_fields)
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        width = sum(embedding_sizes)
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        last = nn.Linear(width, 1)
        with torch.no_grad():
            last.bias.fill_(_output_bias(target_mean, self.y_range))
        self.mlp = nn.Sequential(*layers, last)
        self.last_penalty: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        embedded = [_lookup(table, x[:, f]) for f, table in enumerate(self.embeddings)]
        if self.training:
            self.last_penalty = _mean_square(embedded)
        out = self.mlp(torch.cat(embedded, 1))[:, 0]
        first = len(self.embeddings)
        biases = [_lookup(t, x[:, first + f])[:, 0] for f, t in enumerate(self.biases)]
        if biases:
            out = _total([out, *biases])
        if self.y_range is not None:
            out = sigmoid_range(out, *self.y_range)
        return out
