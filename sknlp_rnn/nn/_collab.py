"""Collaborative-filtering modules: a factorization machine over id fields and an
MLP on concatenated id embeddings.

Both read a batch of integer ids of shape ``(batch, n_fields)``: field 0 is the
user, field 1 the item, further fields are categorical side features; the last
``bias_only_fields`` of them add a learned bias per id and nothing else. Id 0
of every field is the "unknown" slot: its embedding and bias are zero and never
trained, so an id never seen in training contributes nothing. Tables of one
kind (factors of equal width, biases) share one embedding, looked up once per
batch with per-field offsets (:class:`IdTables`).

Both return ``(rating, aux_loss)``: in training, ``aux_loss`` is ``factor_l2``
times the batch mean of the squared norms of the factor vectors looked up (the
classic matrix-factorization penalty; biases are not penalised), ``None`` when
``factor_l2`` is 0 or in evaluation. In evaluation the ratings are computed in
float64, so a row's prediction does not depend on the rows beside it.

Imports torch only, never scikit-learn.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._layers import output_bias, run_float64, sigmoid_range

# Factor tables start small: a truncated normal of this spread (fast.ai's).
INIT_STD = 0.01


class IdTables(nn.Module):
    """One embedding holding a table of ``width`` columns per id field.

    Field ``f`` has ``cardinalities[f]`` rows, the first (id 0) the unknown
    slot, zero and never trained. :meth:`forward` looks up every field of a
    batch in one call (ids plus per-field offsets); :meth:`table` gives one
    field's rows as a view.

    Parameters
    ----------
    cardinalities : sequence of int
        Ids per field, the unknown slot included.
    width : int
        Columns of every table.
    sparse : bool, default=False
        Sparse gradients (only the rows looked up), for an optimizer that
        updates just those rows.
    init_std : float or None, default=INIT_STD
        Spread of the truncated-normal initialisation; ``None`` starts at zero.

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.nn import IdTables
    >>> tables = IdTables([3, 5], width=2)
    >>> tuple(tables(torch.tensor([[1, 4], [0, 2]])).shape)
    (2, 2, 2)
    >>> tuple(tables.table(1).shape)
    (5, 2)
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        width: int,
        sparse: bool = False,
        init_std: float | None = INIT_STD,
    ):
        super().__init__()
        self.cardinalities = [int(n) for n in cardinalities]
        self.sparse = bool(sparse)
        starts = [0]
        for n in self.cardinalities[:-1]:
            starts.append(starts[-1] + n)
        self.embedding = nn.Embedding(sum(self.cardinalities), width, sparse=sparse)
        with torch.no_grad():
            if init_std is None:
                self.embedding.weight.zero_()
            else:
                nn.init.trunc_normal_(
                    self.embedding.weight, std=init_std, a=-2 * init_std, b=2 * init_std
                )
            self.embedding.weight[starts] = 0.0  # the unknown slots
        self.register_buffer(
            "offsets", torch.tensor(starts, dtype=torch.int64), persistent=False
        )

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Rows of ids ``(batch, n_fields)``: ``(batch, n_fields, width)``.

        The unknown slots get no gradient (their rows are multiplied by 0).
        """
        index = ids + self.offsets
        weight = self.embedding.weight
        if self.sparse:
            rows = F.embedding(index, weight, sparse=True)
        else:  # index_select's backward is cheaper than the embedding's on CPU
            rows = weight.index_select(0, index.reshape(-1))
            rows = rows.view(*index.shape, weight.size(1))
        if torch.is_grad_enabled() and weight.requires_grad:
            rows = rows * (ids != 0).unsqueeze(-1).to(rows.dtype)
        return rows

    def table(self, field: int) -> torch.Tensor:
        """The rows of field ``field`` (a view, unknown slot first)."""
        start = int(self.offsets[field])
        return self.embedding.weight[start : start + self.cardinalities[field]]


def _check_fields(cardinalities, bias_only_fields, at_least):
    """The number of fields with factors (those before the bias-only ones)."""
    n_fields = len(cardinalities) - bias_only_fields
    if bias_only_fields < 0 or n_fields < at_least:
        raise ValueError(
            f"need at least {at_least} id field(s) with factors and "
            f"bias_only_fields >= 0; got {len(cardinalities)} field(s), "
            f"bias_only_fields={bias_only_fields}."
        )
    return n_fields


def _penalty(factor_l2, vectors, n_rows):
    """``factor_l2`` x the batch mean of the squared norms of ``vectors``."""
    return factor_l2 * sum(v.square().sum() for v in vectors) / n_rows


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

    ``forward`` returns ``(rating, aux_loss)`` (see the module docstring);
    with ``implicit`` the penalty also counts each user's ``y_j``.

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
    sparse : bool, default=False
        Sparse gradients (only the looked-up rows) for the factor table, for
        an optimizer that updates just those rows (``SparseAdam``, our lazy
        Adam, ...). The bias table and the implicit-feedback table stay dense.
    bias_only_fields : int, default=0
        Number of trailing fields that add a bias per id and no factors; the
        fields before them (at least two: user and item) have both.
    factor_l2 : float, default=0.0
        Weight of the penalty on the factors looked up (``aux_loss``).

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.nn import DotProductBias
    >>> model = DotProductBias([4, 6], n_factors=3, y_range=(0.0, 5.5))
    >>> rating, aux_loss = model(torch.tensor([[1, 2], [3, 5]]))
    >>> tuple(rating.shape), aux_loss
    ((2,), None)
    >>> rated = ([0, 0, 2, 3, 3], [1, 2, 5])  # user 1: items 1, 2; user 2: 5
    >>> svdpp = DotProductBias([4, 6], n_factors=3, implicit=rated, factor_l2=0.1)
    >>> rating, aux_loss = svdpp(torch.tensor([[1, 2], [3, 5]]))
    >>> aux_loss.ndim
    0

    A third field with a bias only (say, the day of the rating):

    >>> daily = DotProductBias([4, 6, 9], n_factors=3, bias_only_fields=1)
    >>> [tuple(daily.factor_table(f).shape) for f in range(2)], daily.factor_table(2)
    ([(4, 3), (6, 3)], None)
    >>> tuple(daily(torch.tensor([[1, 2, 8], [3, 5, 0]]))[0].shape)
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
        sparse: bool = False,
        bias_only_fields: int = 0,
        factor_l2: float = 0.0,
    ):
        super().__init__()
        self.n_fields = _check_fields(cardinalities, bias_only_fields, at_least=2)
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
            self.implicit_factors = IdTables([cardinalities[1]], n_factors)
            self.register_buffer("implicit_indptr", indptr, persistent=False)
            self.register_buffer("implicit_items", items, persistent=False)
        self.y_range = None if y_range is None else tuple(map(float, y_range))
        self.factor_l2 = float(factor_l2)
        self.factors = IdTables(cardinalities[: self.n_fields], n_factors, sparse)
        self.biases = IdTables(cardinalities, 1, init_std=None)
        self.global_bias = nn.Parameter(
            torch.tensor(output_bias(target_mean, self.y_range))
        )
        self.dropout = nn.Dropout(dropout)

    def factor_table(self, field: int) -> torch.Tensor | None:
        """Factors of field ``field`` (unknown slot first), or ``None``."""
        return self.factors.table(field) if field < self.n_fields else None

    def bias_table(self, field: int) -> torch.Tensor:
        """Biases of field ``field``, shape ``(ids, 1)`` (unknown slot first)."""
        return self.biases.table(field)

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
        weight = self.implicit_factors.embedding.weight
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

    def forward(self, x: torch.Tensor):
        """Ratings of id rows ``(batch, n_fields)``, and the auxiliary loss."""
        vectors = self.factors(x[:, : self.n_fields])
        biases = self.biases(x)[..., 0]
        penalize = self.training and self.factor_l2 > 0
        aux = _penalty(self.factor_l2, [vectors], len(x)) if penalize else None
        if self.implicit_factors is not None:
            implicit, implicit_penalty = self._implicit(x[:, 0])
            if penalize:
                aux = aux + self.factor_l2 * implicit_penalty.mean()
        if self.dropout.p:
            vectors = self.dropout(vectors)
        if not self.training:
            # float64 sums: a row's prediction then does not depend on its batch
            vectors = vectors.double()
        if self.implicit_factors is not None:
            users = (vectors[:, 0] + implicit).unsqueeze(1)
            vectors = torch.cat([users, vectors[:, 1:]], 1)
        if self.n_fields == 2:
            interaction = (vectors[:, 0] * vectors[:, 1]).sum(1)
        else:
            total = vectors.sum(1)
            interaction = 0.5 * (total * total - (vectors * vectors).sum(1)).sum(1)
        out = interaction + biases.sum(1) + self.global_bias
        if self.y_range is not None:
            out = sigmoid_range(out, *self.y_range)
        return out, aux


class CollabNN(nn.Module):
    """An MLP on the concatenated id embeddings of a row.

    Each field has its own embedding (widths may differ, see
    :func:`embedding_size`); the embeddings of a row are concatenated and fed
    through ``hidden_sizes`` ReLU layers to one output. The last
    ``bias_only_fields`` fields are not embedded: each adds a learned bias per
    id to that output. The result is passed through :func:`sigmoid_range`
    when ``y_range`` is given. ``forward`` returns ``(rating, aux_loss)``
    (see the module docstring); the MLP runs in float64 in evaluation.

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
    factor_l2 : float, default=0.0
        Weight of the penalty on the embeddings looked up (``aux_loss``).

    Examples
    --------
    >>> import torch
    >>> from sknlp_rnn.nn import CollabNN
    >>> model = CollabNN([4, 6], embedding_sizes=[3, 4], hidden_sizes=(8,))
    >>> tuple(model(torch.tensor([[1, 2], [3, 5]]))[0].shape)
    (2,)
    >>> daily = CollabNN([4, 6, 9], embedding_sizes=[3, 4], bias_only_fields=1)
    >>> tuple(daily(torch.tensor([[1, 2, 8], [3, 5, 0]]))[0].shape)
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
        factor_l2: float = 0.0,
    ):
        super().__init__()
        self.n_fields = _check_fields(cardinalities, bias_only_fields, at_least=1)
        flags = [sparse] * self.n_fields if isinstance(sparse, bool) else sparse
        self.y_range = None if y_range is None else tuple(map(float, y_range))
        self.factor_l2 = float(factor_l2)
        # one table per field: the widths differ
        self.embeddings = nn.ModuleList(
            IdTables([n], width, is_sparse)
            for n, width, is_sparse in zip(
                cardinalities[: self.n_fields],
                embedding_sizes,
                list(flags)[: self.n_fields],
                strict=True,
            )
        )
        self.biases = (
            IdTables(cardinalities[self.n_fields :], 1, init_std=None)
            if bias_only_fields
            else None
        )
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        width = sum(embedding_sizes)
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        last = nn.Linear(width, 1)
        with torch.no_grad():
            last.bias.fill_(output_bias(target_mean, self.y_range))
        self.mlp = nn.Sequential(*layers, last)

    def factor_table(self, field: int) -> torch.Tensor | None:
        """Embeddings of field ``field`` (unknown slot first), or ``None``."""
        return self.embeddings[field].table(0) if field < self.n_fields else None

    def bias_table(self, field: int) -> torch.Tensor | None:
        """Biases of a bias-only field ``(ids, 1)``, or ``None`` for the others."""
        if field < self.n_fields:
            return None
        return self.biases.table(field - self.n_fields)

    def forward(self, x: torch.Tensor):
        """Ratings of id rows ``(batch, n_fields)``, and the auxiliary loss."""
        embedded = [
            table(x[:, f : f + 1])[:, 0] for f, table in enumerate(self.embeddings)
        ]
        penalize = self.training and self.factor_l2 > 0
        aux = _penalty(self.factor_l2, embedded, len(x)) if penalize else None
        joined = torch.cat(embedded, 1)
        out = self.mlp(joined) if self.training else run_float64(self.mlp, joined)
        out = out[:, 0]
        if self.biases is not None:
            out = out + self.biases(x[:, self.n_fields :])[..., 0].sum(1)
        if self.y_range is not None:
            out = sigmoid_range(out, *self.y_range)
        return out, aux
