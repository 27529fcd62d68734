"""EntityEmbeddingRegressor: learned embeddings for categorical columns + an MLP.

Depends on torch, skorch, scikit-learn, pandas and numpy.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import RegressorMixin, TransformerMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.validation import _check_feature_names_in

from .._base import BaseTorchEstimator
from .._nets import TabularNet
from .._optim import SCHEDULES
from .._persistence import SafeFormatMixin
from ..nn import TabularModule
from ._encoder import (
    CategoricalEncoder,
    embedding_feature_names,
    embedding_features,
    embedding_frames,
)
from ._validation import (
    FLOAT32_MAX,
    check_frame,
    check_hidden_layers,
    check_target,
    column_names,
    continuous_pipeline,
    continuous_values,
    resolve_embedding_sizes,
    target_range,
)

# max_epochs="auto" with and without early stopping (benchmarks/defaults.py:
# with early stopping the large tables stopped after 4-10 epochs; 15 fixed
# epochs of one cycle did better than 30 on the small ones).
AUTO_EPOCHS_STOPPING = 60
AUTO_EPOCHS_FIXED = 15


class EntityEmbeddingRegressor(
    RegressorMixin, TransformerMixin, SafeFormatMixin, BaseTorchEstimator
):
    """Regression on tables with learned embeddings for categorical columns.

    The entity-embedding recipe (Guo & Berkhahn, 2016; the fast.ai Rossmann
    lesson): each categorical column is encoded by :class:`CategoricalEncoder`
    (code 0 for unknown, missing and rare values) and looked up in its own
    embedding table; continuous columns are median-imputed with "was missing"
    indicator columns (:class:`~sklearn.impute.SimpleImputer`) and
    standardised (:class:`~sklearn.preprocessing.StandardScaler`). The
    embeddings and the continuous inputs feed a dense net of ``Linear -> ReLU
    -> Dropout`` blocks, which fits the standardised target (``log(y)`` with
    ``log_target=True``) with a mean squared error, through a scaled sigmoid
    when ``y_range`` is set. Without categorical columns this is a plain MLP
    regressor. :meth:`transform` turns a table into the learned embeddings
    (plus the raw continuous columns), features for another model such as
    gradient boosting (as Guo & Berkhahn did).

    Parameters
    ----------
    categorical_features : "from_dtype", "all" or array-like, default="from_dtype"
        Categorical columns: ``"from_dtype"`` takes DataFrame columns of
        object, string, category or boolean dtype (for arrays: string or
        boolean arrays and object columns holding strings); or ``"all"``, a
        list of column names, integer positions, or a boolean mask. Every other
        column is continuous and must be numeric.
    embedding_sizes : "auto" or dict, default="auto"
        Embedding width per categorical column. ``"auto"`` uses the fast.ai
        rule ``min(600, round(1.6 * n ** 0.56))`` with ``n`` the number of
        codes including the unknown slot; a dict ``{column: width}`` (names or
        positions) overrides it for the columns it lists.
    min_frequency : int, float or None, default=None
        Categories rarer than this share the unknown code 0 (see
        :class:`CategoricalEncoder`).
    hidden_sizes : tuple of int, default=(200, 100)
        Widths of the hidden layers; ``()`` gives a linear model.
    dropout : float or tuple of float, default=0.0
        Dropout after each hidden layer, one value or one per layer.
    embedding_dropout : float, default=0.0
        Dropout on the concatenated embeddings.
    batch_norm : {"continuous", "all"} or None, default=None
        Batch norm on the continuous inputs (``"continuous"``, fast.ai's
        ``bn_cont``), also after each hidden layer (``"all"``), or nowhere
        (``None``: the inputs are already standardised, and an outlier in a
        batch distorts every other row's statistics; see the user guide). A
        one-row training batch is normalised with the running statistics.
    y_range : "auto", tuple of (float, float) or None, default=None
        Output range enforced by a scaled sigmoid. ``None``: unbounded, which
        suits most targets (a sigmoid over the observed span squashes a heavy
        tail). ``"auto"``, for a bounded target: the range of the training
        target (of ``log(y)`` with ``log_target``) widened on both sides by
        10% of its span. A pair ``(low, high)``, in the units of ``y``, must
        contain every training target. :class:`CollabFilterRegressor`'s rule.
    log_target : bool, default=False
        Fit ``log(y)`` (``y`` must be > 0) and predict ``exp`` of the output,
        so the loss is a squared error on the relative scale.
    lr_schedule : {"auto", "constant", "one_cycle", "cosine", "plateau"}, \
default="auto"
        How the learning rate moves during ``fit``. ``"auto"``: ``"plateau"``
        when early stopping is on, else ``"one_cycle"``. ``"one_cycle"`` (fast.ai's
        ``fit_one_cycle``) warms it up from ``lr / 25`` to ``lr`` over the first
        quarter of the training batches and anneals it along a cosine to nearly
        zero by the end of ``max_epochs`` (with Adam, the momentum moves the
        other way, 0.95 to 0.85); ``"cosine"`` anneals it from ``lr`` to zero
        along a half cosine; both step after every batch, and a fit of fewer
        than 5 batches in all keeps ``lr``. ``"plateau"`` warms it up from
        ``lr / 25`` over the first epoch, then multiplies it by 0.3 after 2
        epochs without a lower validation loss (training loss without a
        validation set). ``"constant"`` keeps ``lr``.
    lr : float, default=1e-2
        Learning rate (the peak rate with ``lr_schedule="one_cycle"``).
    max_epochs : "auto" or int, default="auto"
        Number of passes over the training data (at most, with early
        stopping). ``"auto"``: 60 when early stopping is on, else 15.
    batch_size : int, default=256
        Rows per training batch.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, \
default="adam"
        Optimizer.
    weight_decay : float, default=0.0
        Weight decay passed to the optimizer.
    early_stopping : "auto" or bool, default="auto"
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
        Training precision: ``"bf16"``/``"fp16"`` run forward passes in mixed
        precision (``torch.autocast``; weights stay float32). ``"fp16"`` needs
        CUDA and scales the loss; ``"bf16"`` also runs on CPU. Predictions are
        always computed in float64 from the float32 weights, so that a row's
        prediction does not depend on the other rows in its batch.
    random_state : int, RandomState instance or None, default=None
        Seed for weight initialisation, shuffling, dropout and the validation
        split.
    verbose : int, default=0
        ``0`` is silent; ``1`` prints one line per epoch and a progress bar for
        long epochs.

    Attributes
    ----------
    encoder_ : CategoricalEncoder
        Fitted encoder; ``encoder_.is_categorical_`` marks the categorical
        columns.
    continuous_ : sklearn.pipeline.Pipeline or None
        Fitted ``SimpleImputer(strategy="median", add_indicator=True)`` +
        ``StandardScaler`` for the continuous columns (``None`` if there are
        none).
    n_continuous_ : int
        Continuous inputs of the net (columns plus missing indicators).
    embedding_sizes_ : dict
        Embedding width of each categorical column.
    embeddings_ : dict of DataFrame
        For each categorical column, its learned embedding table: one row per
        category (the first row, labelled ``"<unknown>"``, is the code-0 slot),
        one column per dimension.
    y_range_ : tuple of ndarray or None
        Output bounds ``(low, high)`` per output, in the units of ``y``.
    target_scaler_ : StandardScaler
        Standardisation of the (log) target the net was trained on.
    n_outputs_ : int
        Number of targets.
    n_features_in_ : int
        Number of input columns.
    feature_names_in_ : ndarray of shape ``(n_features_in_,)``
        Column names, when ``X`` was a DataFrame with string column names.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the :class:`TabularModule`.
    history_ : skorch.History
        Per-epoch record (``train_loss``, ``valid_loss``: mean squared error of
        the standardised target).
    device_ : str
        Device the model was trained on.
    n_iter_ : int
        Number of epochs run.

    See Also
    --------
    CategoricalEncoder : The categorical preprocessing used inside.
    DateFeatures : Expands date columns before this regressor.
    sknlp_rnn.nn.TabularModule : The torch module.

    Examples
    --------
    >>> import pandas as pd
    >>> from sknlp_rnn import EntityEmbeddingRegressor
    >>> X = pd.DataFrame({"shop": ["a", "b", "c", "a", "b", "c"] * 5,
    ...                   "promo": [0.0, 1.0] * 15})
    >>> y = X["shop"].map({"a": 1.0, "b": 2.0, "c": 3.0}) + X["promo"]
    >>> reg = EntityEmbeddingRegressor(hidden_sizes=(16,), max_epochs=60,
    ...                                lr=1e-2, random_state=0).fit(X, y)
    >>> reg.embeddings_["shop"].shape
    (4, 3)
    >>> bool(reg.score(X, y) > 0.9)
    True
    >>> reg.transform(X).shape  # shop as 3 embedding columns, promo as it is
    (30, 4)
    >>> list(reg.get_feature_names_out())
    ['shop_0', 'shop_1', 'shop_2', 'promo']
    """

    _parameter_constraints: dict = {
        **BaseTorchEstimator._parameter_constraints,
        "categorical_features": [StrOptions({"from_dtype", "all"}), "array-like"],
        "embedding_sizes": [StrOptions({"auto"}), dict],
        "min_frequency": [
            None,
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="neither"),
        ],
        "hidden_sizes": ["array-like"],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "embedding_dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": [None, StrOptions({"continuous", "all"})],
        "y_range": [None, StrOptions({"auto"}), "array-like"],
        "max_epochs": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "lr_schedule": [StrOptions({"auto", *SCHEDULES})],
        "log_target": ["boolean"],
    }

    def __init__(
        self,
        *,
        categorical_features="from_dtype",
        embedding_sizes="auto",
        min_frequency=None,
        hidden_sizes=(200, 100),
        dropout=0.0,
        embedding_dropout=0.0,
        batch_norm=None,
        y_range=None,
        log_target=False,
        lr_schedule="auto",
        lr=1e-2,
        max_epochs="auto",
        batch_size=256,
        optimizer="adam",
        weight_decay=0.0,
        early_stopping="auto",
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
        self.categorical_features = categorical_features
        self.embedding_sizes = embedding_sizes
        self.min_frequency = min_frequency
        self.hidden_sizes = hidden_sizes
        self.dropout = dropout
        self.embedding_dropout = embedding_dropout
        self.batch_norm = batch_norm
        self.y_range = y_range
        self.log_target = log_target
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
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.target_tags.multi_output = True
        return tags

    # -- fitting ---------------------------------------------------------------

    def _inputs(self, X):
        """The net's input dict for a validated frame X."""
        x_cont = continuous_values(X, self.encoder_.is_categorical_, column_names(self))
        if self.continuous_ is not None:
            x_cont = self.continuous_.transform(x_cont)
            # a large value standardised by a small scale can still overflow
            x_cont = np.clip(np.asarray(x_cont, float), -FLOAT32_MAX, FLOAT32_MAX)
        return {
            "x_cat": self.encoder_._encode(X, owner=self),
            "x_cont": np.ascontiguousarray(x_cont, dtype=np.float32),
        }

    _net_class = TabularNet
    _criterion = torch.nn.MSELoss

    def _auto_max_epochs(self, n_train, early_stopping):
        return AUTO_EPOCHS_STOPPING if early_stopping else AUTO_EPOCHS_FIXED

    def _build_module(self):
        return TabularModule(
            cardinalities=self.encoder_.cardinalities_,
            embedding_sizes=list(self.embedding_sizes_.values()),
            n_continuous=self.n_continuous_,
            n_outputs=self.n_outputs_,
            hidden_sizes=tuple(self.hidden_sizes),
            dropout=self.dropout,
            embedding_dropout=self.embedding_dropout,
            batch_norm_continuous=self.batch_norm is not None,
            batch_norm_hidden=self.batch_norm == "all",
            y_range=self._z_range,
        )

    def fit(self, X, y, sample_weight=None):
        """Fit the encoders, the scalers and the net.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            The table; missing and infinite continuous values are imputed, and
            so are finite values beyond the float32 range (``abs(x) > 3.4e38``).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target(s); must be finite (and positive with ``log_target``).
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Weight of each row's squared error in the loss (non-negative;
            ``None``: equal weights). The scalers are fitted unweighted.

        Returns
        -------
        self : EntityEmbeddingRegressor
            The fitted regressor.
        """
        self._validate_params()
        check_hidden_layers(self.hidden_sizes, self.dropout)
        continuing = self._continuing()
        X = check_frame(self, X, reset=not continuing)
        target, y_1d = check_target(self, y, X.shape[0], log_target=self.log_target)
        weight = self._sample_weight(sample_weight, X.shape[0])
        if not continuing:
            self._y_1d = y_1d
            self._learn_preprocessing(X, target)
        inputs = self._inputs(X)
        self.n_continuous_ = inputs["x_cont"].shape[1]
        z = self.target_scaler_.transform(target).astype(np.float32)
        self._fit_net(inputs, z, sample_weight=weight)
        self.embeddings_ = self._embedding_frames()
        return self

    def _learn_preprocessing(self, X, target):
        """Fit the encoders, the continuous preprocessing, the target scaler
        and the output range (what a warm-started fit keeps)."""
        self.n_outputs_ = target.shape[1]
        self.encoder_ = CategoricalEncoder(
            categorical_features=self.categorical_features,
            min_frequency=self.min_frequency,
        ).fit(X)
        names = column_names(self)
        self.embedding_sizes_ = resolve_embedding_sizes(
            self.embedding_sizes,
            names,
            self.encoder_.is_categorical_,
            self.encoder_.cardinalities_,
        )
        x_cont = continuous_values(X, self.encoder_.is_categorical_, names)
        self.continuous_ = (
            continuous_pipeline().fit(x_cont) if x_cont.shape[1] else None
        )
        self.target_scaler_ = StandardScaler().set_output(transform="default")
        self.target_scaler_.fit(target)
        bounds = target_range(self.y_range, target, log_target=self.log_target)
        self._z_range = None
        self.y_range_ = None
        if bounds is not None:
            scaler = self.target_scaler_
            self._z_range = tuple((b - scaler.mean_) / scaler.scale_ for b in bounds)
            self.y_range_ = tuple(np.exp(b) if self.log_target else b for b in bounds)

    def _embedding_frames(self):
        """The learned embedding tables as DataFrames indexed by category."""
        tables = self.net_.module_.embeddings.tables()
        return embedding_frames(
            self.embedding_sizes_, self.encoder_.categories_, tables
        )

    # -- prediction ------------------------------------------------------------

    def predict(self, X):
        """Predict the target for each row.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            A table with the training columns (unseen categories use the
            unknown slot; missing, infinite and beyond-float32 continuous values
            are imputed, as in ``fit``). A categorical column none of whose
            values was seen in ``fit`` gets an
            :class:`~sknlp_rnn.exceptions.UnseenCategoriesWarning` naming it.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions, shaped like the ``y`` given to ``fit``.
        """
        self._check_fitted()
        X = check_frame(self, X, reset=False)
        pred = self.target_scaler_.inverse_transform(self._forward(self._inputs(X)))
        if self.log_target:
            pred = np.exp(pred)
        return pred.ravel() if self._y_1d else pred

    def transform(self, X):
        """Replace each categorical column by its learned embedding vector.

        The embeddings as features for another model (gradient boosting, say):
        a categorical column becomes ``embedding_sizes_[column]`` columns, the
        vector of each row's category in ``embeddings_`` (the unknown slot's
        for unseen, missing and rare categories, as in :meth:`predict`).
        Continuous columns pass through raw, neither imputed nor
        standardised, which suits trees; missing, infinite and beyond-float32
        values are NaN. Columns keep their order (see
        :meth:`get_feature_names_out`). ``fit_transform(X, y)`` fits first.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            A table with the training columns.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_features_out)
            float64 features; a DataFrame with ``set_output(transform="pandas")``.
        """
        self._check_fitted()
        X = check_frame(self, X, reset=False)
        return embedding_features(
            self.encoder_._encode(X, owner=self),
            continuous_values(X, self.encoder_.is_categorical_, column_names(self)),
            [frame.to_numpy() for frame in self.embeddings_.values()],
            self.encoder_.is_categorical_,
        )

    def get_feature_names_out(self, input_features=None):
        """Names of :meth:`transform`'s columns.

        A categorical column ``c`` of width ``d`` gives ``c_0 ... c_{d-1}``; a
        continuous column keeps its name.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input names; defaults to ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        names : ndarray of str
            The output column names.
        """
        self._check_fitted()
        names = _check_feature_names_in(self, input_features)
        widths = list(self.embedding_sizes_.values())
        return embedding_feature_names(names, widths, self.encoder_.is_categorical_)
