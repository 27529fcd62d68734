"""CollabFilterRegressor: ratings from learned user and item embeddings.

Depends on torch, scikit-learn, pandas and numpy (skorch through ``_nets``).
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from sklearn.base import RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions

from .._base import OPTIMIZERS, BaseTorchEstimator
from .._nets import TabularNet
from .._optim import LazyAdam
from .._persistence import SafeFormatMixin
from ..nn import CollabNN, DotProductBias
from ._ratings import auto_epochs, factor_widths, most_similar, seen_matrix, top_items
from ._validation import (
    check_hidden_layers,
    check_id_matrix,
    check_n,
    encode_ids,
    learn_ids,
    target_range,
    unseen_column,
    warn_unseen_columns,
)

_NAMES = ("user", "item")


class CollabFilterRegressor(RegressorMixin, SafeFormatMixin, BaseTorchEstimator):
    """Collaborative filtering: predict ratings from user and item embeddings.

    Each user and each item gets a learned factor vector and a bias. With
    ``model="dot"`` a rating is the dot product of the user's and the item's
    factors plus both biases and a global bias, squashed into ``y_range`` by a
    scaled sigmoid (biased matrix factorization). With ``model="mlp"`` the
    user and item embeddings are concatenated and fed through a small ReLU
    network instead.

    Column 0 of ``X`` holds user ids and column 1 item ids (any hashable
    values); further columns are categorical side features (the user and day
    of a rating, a genre), each value of which learns a bias by default
    (``side_features``). Row 0 of every table is an "unknown" slot, zero and
    never trained: an id not seen in ``fit`` contributes nothing, so its
    prediction comes from what is known (never an error, never NaN); missing
    ids are an error. The user guide (:doc:`/user_guide/collaborative_filtering`)
    explains each of these, with figures and the names of earlier versions.

    Parameters
    ----------
    model : {"dot", "mlp"}, default="dot"
        ``"dot"``: factors and biases combined by dot products. ``"mlp"``:
        concatenated embeddings through ``hidden_sizes`` ReLU layers.
    n_factors : int or None, default=None
        Width of every factor vector / embedding. ``None``: 50 for
        ``model="dot"``; for ``model="mlp"`` each column gets
        ``min(600, round(1.6 * n_ids ** 0.56))`` (see
        :func:`sknlp_rnn.nn.embedding_size`).
    implicit : bool, default=False
        Implicit feedback (SVD++, ``model="dot"`` only): a user's factors are
        augmented by a normalised sum of a second set of item factors over
        the items the user rated in ``fit``, so who rated what informs the
        user's vector beyond the ratings' values (see
        :class:`~sknlp_rnn.nn.DotProductBias`).
    side_features : {"bias", "factors"}, default="bias"
        What columns after the first two learn: a bias per value
        (``"bias"``), or factors as well, interacting with every other column
        (``"factors"``).
    hidden_sizes : tuple of int, default=(100,)
        Hidden layer widths of ``model="mlp"`` (unused by ``"dot"``).
    dropout : float, default=0.0
        Dropout on the factor vectors (``"dot"``) or on the embeddings and
        hidden layers (``"mlp"``) during training.
    y_range : "auto", tuple of (float, float) or None, default="auto"
        Output range of the scaled sigmoid. ``"auto"`` widens the observed
        rating range by 10% of its span on each side, e.g. ``(0.05, 5.45)``
        for ratings from 0.5 to 5 stars (the rule of
        :class:`EntityEmbeddingRegressor`). An explicit range must contain
        every training rating (bounds included), else ``fit`` raises
        ``ValueError``. ``None`` gives an unbounded linear output.
    factor_l2 : float, default=0.08
        L2 penalty on the factors of the ids in each batch, added to the loss
        (biases are not penalised).
    lr_schedule : {"constant", "one_cycle", "cosine", "plateau"}, default="one_cycle"
        How the learning rate moves during ``fit``. ``"one_cycle"`` (fast.ai's
        ``fit_one_cycle``) warms it up from ``lr / 25`` to ``lr`` over the first
        quarter of the training batches and anneals it along a cosine to nearly
        zero by the end of ``max_epochs`` (with Adam, the momentum moves the
        other way, 0.95 to 0.85); ``"cosine"`` anneals it from ``lr`` to zero
        along a half cosine; both step after every batch, and a fit of fewer
        than 5 batches in all keeps ``lr``. ``"plateau"`` warms it up from
        ``lr / 25`` over the first epoch, then multiplies it by 0.3 after 2
        epochs without a lower validation loss (training loss without a
        validation set). ``"constant"`` keeps ``lr``.
    lr : float, default=1.2e-2
        Learning rate (the peak rate with ``lr_schedule="one_cycle"``).
    max_epochs : "auto" or int, default="auto"
        Number of passes over the training data. ``"auto"`` trains for at
        least 150 optimizer steps, in 4 to 50 epochs: ``min(50, max(4,
        ceil(150 / batches_per_epoch)))`` with ``batches_per_epoch =
        ceil(n_train / batch_size)`` and ``n_train`` the rows left after the
        validation split (``max_epochs_`` holds the number).
    batch_size : int, default=1536
        Rows per training batch.
    optimizer : {"lazy_adam", "adam", "adamw", "sgd", "rmsprop"} or torch \
optimizer class, default="lazy_adam"
        Optimizer. ``"lazy_adam"`` is Adam that updates only the factor rows
        a batch looked up, moments included (sparse gradients, as
        ``torch.optim.SparseAdam``; with ``model="mlp"`` for tables with more
        ids than ``batch_size``); other parameters get dense Adam steps. The
        other options update every parameter at every step.
    weight_decay : float, default=0.0
        Weight decay passed to the optimizer (every parameter, every step);
        the factor penalty is ``factor_l2``.
    early_stopping : "auto" or bool, default=False
        Stop training once the validation loss stops improving: hold out
        ``validation_fraction`` of the training data (0.1 when ``None``), stop
        after ``patience`` epochs (6 when ``None``) without a lower validation
        loss and restore the best weights. ``"auto"`` turns it on above 10,000
        training samples (rows; tokens of the stream for the language model).
        ``False`` uses ``validation_fraction`` and ``patience`` as given.
    validation_fraction : float or None, default=None
        Fraction of the rows held out to report a validation loss each epoch;
        ``None`` trains on everything.
    validation_split : {"random", "tail"}, default="random"
        Which rows ``validation_fraction`` holds out: rows drawn with
        ``random_state`` (stratified by class for a classifier), or the last
        rows (``"tail"``), for data in time order.
    patience : int or None, default=None
        Stop after this many epochs without improvement of the validation loss
        (training loss without a validation set) and restore the best weights.
    warm_start : bool, default=False
        When ``True`` and the estimator is fitted, ``fit`` trains the fitted
        network ``max_epochs`` more epochs, carrying on its weights, optimizer
        state and random generator, with the encodings the first fit learned
        (vocabulary, categories, scalers); ``lr`` and ``max_epochs`` are read
        again, the rest is as first fitted. So, with a constant schedule, two
        fits of 5 epochs give the model of one fit of 10. A model loaded with
        :func:`sknlp_rnn.load` carries on with a fresh optimizer state.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (or ``(name, callback)`` tuples).
    device : str, default="auto"
        ``"auto"`` uses CUDA when available, else CPU; or ``"cpu"``, ``"cuda"``.
    precision : {"32", "bf16", "fp16"}, default="32"
        Training and prediction precision: ``"bf16"``/``"fp16"`` run forward
        passes in mixed precision (``torch.autocast``; weights stay float32).
        ``"fp16"`` needs CUDA and scales the loss; ``"bf16"`` also runs on CPU.
    random_state : int, RandomState instance or None, default=None
        Seed for weight initialisation, shuffling, dropout and the validation
        split.
    verbose : int, default=0
        ``0`` is silent; ``1`` prints one line per epoch and a progress bar for
        long epochs.

    Attributes
    ----------
    ids_ : list of ndarray
        Known ids of each column, in the order of their embedding rows
        (row ``i + 1`` holds ``ids_[col][i]``; row 0 is the unknown slot).
    y_range_ : tuple of (float, float) or None
        Output range used.
    embedding_sizes_ : list of int
        Embedding width of each column with factors (the user and item
        columns; with ``side_features="factors"`` every column).
    user_factors_ : DataFrame of shape (n_users, n_factors)
        Learned user factors (``model="mlp"``: embeddings), indexed by user id.
    item_factors_ : DataFrame of shape (n_items, n_factors)
        Learned item factors (``model="mlp"``: embeddings), indexed by item id.
    user_bias_ : Series of shape (n_users,)
        Learned user biases, indexed by user id (``model="dot"`` only).
    item_bias_ : Series of shape (n_items,)
        Learned item biases, indexed by item id (``model="dot"`` only).
    side_biases_ : dict of str to Series
        Learned biases of each side-feature column (with ``model="mlp"``
        only for ``side_features="bias"``), keyed by column name (``"x2"``,
        ``"x3"``, ... without names) and indexed by the column's values.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of shape ``(n_features_in_,)``
        Column names seen in ``fit`` (only when they are all strings).
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module.
    history_ : skorch.History
        Per-epoch training record (``train_loss``, ``valid_loss``).
    device_ : str
        Device the model was trained on.
    max_epochs_ : int
        Number of epochs trained for: ``max_epochs``, or its ``"auto"`` value
        (``n_iter_`` is smaller when ``patience`` stops training early).
    n_iter_ : int
        Number of epochs run.

    See Also
    --------
    sknlp_rnn.nn.DotProductBias : The torch module behind ``model="dot"``.
    sknlp_rnn.nn.CollabNN : The torch module behind ``model="mlp"``.

    Examples
    --------
    The figures are a CPU's: a GPU rounds differently in the last bits, which
    200 epochs carry into the first decimal. The user guide has more examples.

    >>> from sknlp_rnn import CollabFilterRegressor
    >>> X = [["ann", "up"], ["ann", "jaws"], ["bob", "up"], ["bob", "heat"],
    ...      ["cy", "jaws"], ["cy", "heat"]]
    >>> y = [5.0, 1.0, 4.5, 2.0, 1.5, 2.5]
    >>> model = CollabFilterRegressor(n_factors=2, max_epochs=200, lr=0.05,
    ...                               factor_l2=0.0, device="cpu",
    ...                               random_state=0)
    >>> model.fit(X, y).predict([["ann", "up"], ["dan", "up"]]).round(1)
    array([5. , 3.5])
    >>> model.recommend("ann", n=1).round(1)
       item  predicted_rating
    0  heat               1.7
    """

    _parameter_constraints: dict = {
        **BaseTorchEstimator._parameter_constraints,
        "optimizer": [StrOptions({*OPTIMIZERS, "lazy_adam"}), callable],
        "factor_l2": [Interval(Real, 0, None, closed="left")],
        "model": [StrOptions({"dot", "mlp"})],
        "n_factors": [None, Interval(Integral, 1, None, closed="left")],
        "implicit": ["boolean"],
        "side_features": [StrOptions({"bias", "factors"})],
        "hidden_sizes": [tuple, list],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "y_range": [None, StrOptions({"auto"}), tuple, list],
        "max_epochs": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
    }

    def __init__(
        self,
        *,
        model="dot",
        n_factors=None,
        implicit=False,
        side_features="bias",
        hidden_sizes=(100,),
        dropout=0.0,
        y_range="auto",
        factor_l2=0.08,
        lr_schedule="one_cycle",
        lr=1.2e-2,
        max_epochs="auto",
        batch_size=1536,
        optimizer="lazy_adam",
        weight_decay=0.0,
        early_stopping=False,
        validation_fraction=None,
        validation_split="random",
        patience=None,
        warm_start=False,
        callbacks=None,
        device="auto",
        precision="32",
        random_state=None,
        verbose=0,
    ):
        self.model = model
        self.n_factors = n_factors
        self.implicit = implicit
        self.side_features = side_features
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.y_range = y_range
        self.factor_l2 = factor_l2
        self.lr_schedule = lr_schedule
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation_split = validation_split
        self.patience = patience
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    # -- validation ------------------------------------------------------------

    def _encode(self, X):
        return np.column_stack(
            [encode_ids(X[:, j], ids) for j, ids in enumerate(self.ids_)]
        )

    # -- fit / predict ---------------------------------------------------------

    @property
    def _bias_only_fields(self):
        """Number of side-feature columns that learn a bias only."""
        return len(self.ids_) - 2 if self.side_features == "bias" else 0

    _net_class = TabularNet
    _criterion = torch.nn.MSELoss

    def _auto_max_epochs(self, n_train, early_stopping):
        return auto_epochs(n_train, self.batch_size)

    def _build_module(self):
        """The torch module (fresh weights), starting at the mean rating."""
        cardinalities = [len(ids) + 1 for ids in self.ids_]
        shared = {
            "y_range": self.y_range_,
            "dropout": self.dropout,
            "target_mean": self._target_mean,
            "bias_only_fields": self._bias_only_fields,
            "factor_l2": self.factor_l2,
        }
        if self.model == "dot":
            return DotProductBias(
                cardinalities,
                n_factors=self.embedding_sizes_[0],
                implicit=(
                    (self._seen.indptr, self._seen.indices) if self.implicit else None
                ),
                sparse=self._sparse(sum(cardinalities[: self._factor_fields])),
                **shared,
            )
        return CollabNN(
            cardinalities,
            embedding_sizes=self.embedding_sizes_,
            hidden_sizes=tuple(self.hidden_sizes),
            sparse=[self._sparse(n) for n in cardinalities],
            **shared,
        )

    @property
    def _lazy(self):
        """Whether training uses LazyAdam."""
        return self.optimizer == "lazy_adam"

    @property
    def _factor_fields(self):
        """Number of columns with factors (those before the bias-only ones)."""
        return len(self.ids_) - self._bias_only_fields

    def _sparse(self, n_rows):
        """Whether a factor table of ``n_rows`` gets sparse gradients: with lazy
        Adam, when it has more rows than a batch has ratings (a dense update
        would then touch mostly idle rows)."""
        return self._lazy and n_rows > self.batch_size

    def _optimizer_class(self):
        return LazyAdam if self._lazy else super()._optimizer_class()

    def _optimizer_options(self):
        # LazyAdam fuses its dense updates itself.
        return {} if self._lazy else super()._optimizer_options()

    def fit(self, X, y, sample_weight=None):
        """Learn user and item embeddings from ratings.

        Parameters
        ----------
        X : array-like of shape (n_ratings, n_columns), n_columns >= 2
            User ids, item ids and optional categorical side-feature columns.
        y : array-like of shape (n_ratings,)
            Ratings.
        sample_weight : array-like of shape (n_ratings,) or None, default=None
            Weight of each rating's squared error in the loss (non-negative;
            ``None``: equal weights).

        Returns
        -------
        self : CollabFilterRegressor
            The fitted model.
        """
        self._validate_params()
        check_hidden_layers(self.hidden_sizes)
        if self.implicit and self.model != "dot":
            raise ValueError(
                "implicit=True needs model='dot' (implicit feedback augments the "
                f"user factors of the dot product); got model={self.model!r}."
            )
        continuing = self._continuing()
        X, y = check_id_matrix(self, X, y, reset=not continuing)
        weight = self._sample_weight(sample_weight, len(y))
        if continuing:
            self._fit_net(self._encode(X), y, sample_weight=weight)
            return self
        bounds = target_range(self.y_range, y.reshape(-1, 1).astype(np.float64))
        self.y_range_ = None if bounds is None else tuple(float(b[0]) for b in bounds)
        self.ids_ = [learn_ids(X[:, j]) for j in range(X.shape[1])]
        embedded = self.ids_[: self._factor_fields]
        self.embedding_sizes_ = factor_widths(self.n_factors, self.model, embedded)
        codes = self._encode(X)
        self._seen = seen_matrix(codes, len(self.ids_[0]), len(self.ids_[1]))
        self._target_mean = float(y.mean())
        self._fit_net(codes, y, sample_weight=weight)
        return self

    def predict(self, X):
        """Predict ratings; unknown ids are predicted from what is known.

        A column none of whose ids was seen in ``fit`` (ids fitted as int and
        passed as str, say) gets an
        :class:`~sknlp_rnn.exceptions.UnseenCategoriesWarning` naming it.

        Parameters
        ----------
        X : array-like of shape ``(n_ratings, n_features_in_)``
            User ids, item ids (and side features), as in ``fit``.

        Returns
        -------
        y_pred : ndarray of shape (n_ratings,)
            Predicted ratings.
        """
        self._check_fitted()
        X = check_id_matrix(self, X, reset=False)
        codes = self._encode(X)
        unseen = (
            unseen_column(self._column_name(j), X[:, j], codes[:, j] == 0, ids)
            for j, ids in enumerate(self.ids_)
        )
        warn_unseen_columns(self, unseen, stacklevel=2)
        return self._forward(codes).astype(np.float64)

    # -- introspection ---------------------------------------------------------

    def _column_name(self, col):
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            return str(names[col])
        return _NAMES[col] if col < len(_NAMES) else f"x{col}"

    def _factors(self, col):
        self._check_fitted()
        table = self.net_.module_.factor_table(col)
        weight = table.detach().cpu().numpy()[1:].astype(np.float64)
        index = pd.Index(self.ids_[col], name=self._column_name(col))
        return pd.DataFrame(weight, index=index)

    def _bias_table(self, col):
        """The bias table of column ``col``, or None when it has none."""
        return self.net_.module_.bias_table(col)

    def _bias(self, col):
        self._check_fitted()
        table = self._bias_table(col)
        if table is None:
            raise AttributeError(
                "User and item biases exist only for model='dot'; this model is "
                f"model={self.model!r}."
            )
        weight = table.detach().cpu().numpy()[1:, 0].astype(np.float64)
        index = pd.Index(self.ids_[col], name=self._column_name(col))
        return pd.Series(weight, index=index, name="bias")

    @property
    def user_factors_(self):
        """Learned user factors, one row per user id (DataFrame)."""
        return self._factors(0)

    @property
    def item_factors_(self):
        """Learned item factors, one row per item id (DataFrame)."""
        return self._factors(1)

    @property
    def user_bias_(self):
        """Learned user biases indexed by user id (Series, model='dot')."""
        return self._bias(0)

    @property
    def item_bias_(self):
        """Learned item biases indexed by item id (Series, model='dot')."""
        return self._bias(1)

    @property
    def side_biases_(self):
        """Learned biases of the side-feature columns (dict of name to Series)."""
        self._check_fitted()
        return {
            self._column_name(col): self._bias(col)
            for col in range(2, len(self.ids_))
            if self._bias_table(col) is not None
        }

    def recommend(self, user, n=10, exclude_seen=True):
        """The ``n`` items with the highest predicted rating for ``user``.

        Side-feature columns, if any, are left at their unknown slot (they add
        nothing). An unknown user gets the items ranked by the global and item
        biases alone (``model="dot"``).

        Parameters
        ----------
        user : hashable
            A user id.
        n : int, default=10
            Number of items to return (fewer when fewer are left).
        exclude_seen : bool, default=True
            Leave out the items this user rated in ``fit``.

        Returns
        -------
        recommendations : DataFrame
            Columns: the item column name (``"item"`` without names) and
            ``"predicted_rating"``, best first.
        """
        self._check_fitted()
        check_n(n)
        items = self.ids_[1]
        u = encode_ids(np.array([user], dtype=object), self.ids_[0])[0]
        codes = np.zeros((len(items), len(self.ids_)), dtype=np.int64)
        codes[:, 0] = u
        codes[:, 1] = np.arange(1, len(items) + 1)
        scores = self._forward(codes).astype(np.float64)
        seen = self._seen[u].indices - 1 if exclude_seen and u > 0 else []
        order = top_items(scores, n, exclude=seen)
        return pd.DataFrame(
            {
                self._column_name(1): items[order],
                "predicted_rating": scores[order],
            }
        )

    def similar_items(self, item, n=10):
        """The ``n`` items whose factors have the highest cosine similarity.

        Parameters
        ----------
        item : hashable
            An item id seen in ``fit``.
        n : int, default=10
            Number of items to return, not counting ``item`` itself.

        Returns
        -------
        similar : DataFrame
            Columns: the item column name (``"item"`` without names) and
            ``"similarity"``, most similar first.
        """
        self._check_fitted()
        check_n(n)
        i = encode_ids(np.array([item], dtype=object), self.ids_[1])[0]
        if i == 0:
            raise ValueError(f"Item {item!r} was not seen in fit.")
        order, similarity = most_similar(self.item_factors_.to_numpy(), i - 1, n)
        return pd.DataFrame(
            {self._column_name(1): self.ids_[1][order], "similarity": similarity}
        )
