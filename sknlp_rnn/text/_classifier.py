"""RNNTextClassifier: a many-to-one RNN over token ids.

Depends on torch, skorch, scikit-learn and numpy.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from skorch.callbacks import EpochScoring

from .._base import BaseTorchEstimator, epochs_for_steps
from .._nets import BucketNet
from .._optim import SCHEDULES
from .._persistence import SafeFormatMixin
from ..nn import RNNClassifierModule, RNNEncoder
from ..nn._classifier import POOLINGS
from ._batching import TEXT_RNN_CONSTRAINTS, check_token_ids, fitted_vocab_size
from ._transfer import (
    check_compatible,
    discriminative_lrs,
    language_model_of,
    pretrained_encoder,
    unfreezing_callbacks,
)

# max_epochs="auto" without early stopping: enough epochs for this many
# optimizer steps, within bounds (benchmarks/defaults.py: 4 epochs of one cycle
# on 4,000 to 30,000 documents); with early stopping, the upper bound.
AUTO_STEPS, AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS = 250, 4, 30


def _accuracy(net, X, y):
    """Accuracy of the argmax of the net's outputs (for skorch's EpochScoring)."""
    return float(np.mean(net.predict_proba(X).argmax(1) == np.asarray(y)))


class RNNTextClassifier(ClassifierMixin, SafeFormatMixin, BaseTorchEstimator):
    """Recurrent text classifier over token ids (many-to-one RNN).

    Each document (a row of token ids, e.g. the output of :class:`Vocab`) is
    read by an embedding and a stack of recurrent layers; the outputs over the
    real tokens are pooled and a linear layer gives the class scores. Padded
    rows go through packed sequences, so the amount of padding never changes a
    prediction, and training batches group documents of similar length.

    With ``encoder=`` a fitted :class:`SequenceLMRegressor`, the classifier
    starts from the language model's embedding and recurrent weights (ULMFiT):
    its architecture replaces ``embedding_dim``, ``hidden_size``, ``n_layers``,
    ``cell``, ``bidirectional``, ``nonlinearity`` and ``init``, and
    ``freeze_encoder_epochs`` and ``lr_decay`` give gradual unfreezing and
    discriminative learning rates. The classifier must read ids from the same
    fitted :class:`Tokenizer`/:class:`Vocab` as the language model; in a
    pipeline, wrap them in :class:`sklearn.frozen.FrozenEstimator` so that
    fitting (and cloning, in a grid search) leaves them as they are::

        Pipeline([
            ("tok", FrozenEstimator(tokenizer)),
            ("vocab", FrozenEstimator(vocab)),
            ("clf", RNNTextClassifier(encoder=FrozenEstimator(lm))),
        ])

    Parameters
    ----------
    embedding_dim : int, default=100
        Width of the token embedding.
    hidden_size : int, default=128
        Width of each recurrent layer.
    n_layers : int, default=1
        Number of recurrent layers.
    cell : {"lstm", "gru", "rnn"}, default="gru"
        Recurrent cell; ``"rnn"`` is a plain (Elman) RNN.
    bidirectional : bool, default=True
        Read documents in both directions (each layer has ``hidden_size``
        units per direction). A classifier started from a language model
        (``encoder=``) reads left to right, as the language model did.
    dropout : float, default=0.3
        Dropout on embeddings, between layers and before the output layer.
    pooling : {"concat", "last", "max", "mean"}, default="concat"
        How token outputs become one document vector; ``"concat"`` joins the
        last hidden state with the max and mean over real tokens (ULMFiT).
    clip_norm : float or None, default=1.0
        Gradient norm clipping threshold; ``None`` turns clipping off.
    pad_idx : int, default=1
        Padding id (``Vocab`` puts ``xxpad`` at 1). Rows are read up to their
        last non-pad token.
    unk_idx : int, default=0
        Unknown-token id (``Vocab`` puts ``xxunk`` at 0). Ids never seen in
        ``fit`` are mapped to it at prediction time. Must differ from
        ``pad_idx``.
    max_vocab_size : int, default=1_000_000
        Upper bound on the number of token ids (the largest id in ``X``,
        ``pad_idx`` and ``unk_idx`` must be below it); ``fit`` raises a
        ``ValueError`` before building an embedding that large. A guard against
        ids that are not Vocab's (a stray id of 10**9 would need 10**9
        embedding rows); raise it for a genuinely larger vocabulary.
    encoder : SequenceLMRegressor, FrozenEstimator or None, default=None
        A fitted language model whose encoder (embedding and recurrent layers)
        the classifier starts from, with its embedding and weight dropout.
        ``clone`` (used by ``GridSearchCV`` and ``cross_val_score``) returns
        unfitted copies of estimator parameters, so wrap the model as
        ``FrozenEstimator(lm)`` to search or cross-validate. ``None`` starts
        from random weights.
    freeze_encoder_epochs : int, default=0
        Train only the head for this many epochs, then unfreeze one encoder
        layer group per epoch from the top (last recurrent layer first, the
        embedding last), as ULMFiT's gradual unfreezing. ``0`` trains
        everything from the start.
    lr_decay : float, default=1.0
        Discriminative learning rates: the head trains at ``lr`` and each layer
        group below it (recurrent layers, then the embedding) at the rate of
        the group above divided by ``lr_decay`` (ULMFiT uses 2.6).
    nonlinearity : {"tanh", "relu"}, default="tanh"
        Activation of the plain RNN cell (``cell="rnn"``). LSTM and GRU cells
        ignore it, so one grid can search ``cell`` and ``nonlinearity``
        together.
    init : {"default", "identity"}, default="default"
        Initialisation of the hidden-to-hidden weights: torch's uniform one,
        or ``"identity"``: each matrix (each gate's block for LSTM and GRU) is
        the identity and its bias zero, so the state starts out carried
        unchanged from step to step. With ``cell="rnn"`` and
        ``nonlinearity="relu"`` this is the IRNN of Le et al. (2015).
    class_weight : dict, "balanced" or None, default=None
        Weight of each class's documents in the loss, as a dict of label to
        weight, or ``"balanced"`` (``n_documents / (n_classes * count)``, so
        every class weighs the same in all); multiplied with ``fit``'s
        ``sample_weight``. ``None``: every document weighs the same.
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
    lr : float, default=5e-3
        Learning rate (the peak rate with ``lr_schedule="one_cycle"``).
    max_epochs : "auto" or int, default="auto"
        Number of passes over the training data (at most, with early
        stopping). ``"auto"`` trains for at least 250 optimizer steps, in 4 to
        30 epochs: ``min(30, max(4, ceil(250 / batches_per_epoch)))`` with
        ``batches_per_epoch = ceil(n_train / batch_size)`` and ``n_train`` the
        documents left after the validation split; 30 with early stopping
        (``max_epochs_`` holds the number).
    batch_size : int, default=64
        Documents per batch.
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or torch optimizer class, \
default="adam"
        Optimizer.
    weight_decay : float, default=0.0
        Weight decay passed to the optimizer.
    early_stopping : "auto" or bool, default=False
        Stop training once the validation loss stops improving: hold out
        ``validation_fraction`` of the training data (0.1 when ``None``), stop
        after ``patience`` epochs (6 when ``None``) without a lower validation
        loss and restore the best weights. ``"auto"`` turns it on above 10,000
        training samples (rows; tokens of the stream for the language model).
        ``False`` uses ``validation_fraction`` and ``patience`` as given.
    validation_fraction : float or None, default=None
        Fraction of the training documents held out (stratified) to report a
        validation loss and accuracy each epoch; ``None`` trains on everything.
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
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    vocab_size_ : int
        Number of token ids the embedding holds.
    n_features_in_ : int
        Width of the training id matrix; later matrices must have this width
        (``Vocab`` pads to the width it learned in ``fit``).
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module.
    history_ : skorch.History
        Per-epoch training record (``train_loss``, ``valid_loss``, ``valid_acc``).
    device_ : str
        Device the model was trained on.
    n_iter_ : int
        Number of epochs run.

    See Also
    --------
    Tokenizer : Text to token lists.
    Vocab : Token lists to id matrices.
    SequenceLMRegressor : Language model to pretrain the encoder with.

    Examples
    --------
    >>> import numpy as np
    >>> from sknlp_rnn import RNNTextClassifier
    >>> X = np.array([[2, 3, 4, 1], [5, 6, 1, 1], [2, 4, 1, 1], [6, 5, 5, 1]])
    >>> y = ["pos", "neg", "pos", "neg"]
    >>> clf = RNNTextClassifier(hidden_size=8, max_epochs=30, random_state=0)
    >>> clf.fit(X, y).predict([[2, 3]])
    array(['pos'], dtype='<U3')
    """

    _parameter_constraints: dict = {
        **BaseTorchEstimator._parameter_constraints,
        **TEXT_RNN_CONSTRAINTS,
        "bidirectional": ["boolean"],
        "pooling": [StrOptions(set(POOLINGS))],
        "encoder": [None, HasMethods(["fit"])],
        "freeze_encoder_epochs": [Interval(Integral, 0, None, closed="left")],
        "lr_decay": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [None, dict, StrOptions({"balanced"})],
        "max_epochs": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "lr_schedule": [StrOptions({"auto", *SCHEDULES})],
    }

    def __init__(
        self,
        *,
        embedding_dim=100,
        hidden_size=128,
        n_layers=1,
        cell="gru",
        bidirectional=True,
        dropout=0.3,
        pooling="concat",
        clip_norm=1.0,
        pad_idx=1,
        unk_idx=0,
        max_vocab_size=1_000_000,
        encoder=None,
        freeze_encoder_epochs=0,
        lr_decay=1.0,
        nonlinearity="tanh",
        init="default",
        class_weight=None,
        lr_schedule="auto",
        lr=5e-3,
        max_epochs="auto",
        batch_size=64,
        optimizer="adam",
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
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.cell = cell
        self.bidirectional = bidirectional
        self.dropout = dropout
        self.pooling = pooling
        self.clip_norm = clip_norm
        self.pad_idx = pad_idx
        self.unk_idx = unk_idx
        self.max_vocab_size = max_vocab_size
        self.encoder = encoder
        self.freeze_encoder_epochs = freeze_encoder_epochs
        self.lr_decay = lr_decay
        self.nonlinearity = nonlinearity
        self.init = init
        self.class_weight = class_weight
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
        tags.input_tags.positive_only = True
        return tags

    def _build_encoder(self):
        """The encoder this classifier starts from: the language model's, or new."""
        lm = language_model_of(self.encoder)
        if lm is not None:
            return pretrained_encoder(lm, dropout=self.dropout)
        return RNNEncoder(
            vocab_size=self.vocab_size_,
            embedding_dim=self.embedding_dim,
            hidden_size=self.hidden_size,
            n_layers=self.n_layers,
            cell=self.cell,
            bidirectional=self.bidirectional,
            dropout=self.dropout,
            pad_idx=self.pad_idx,
            nonlinearity=self.nonlinearity,
            init=self.init,
        )

    _net_class = BucketNet
    _criterion = torch.nn.CrossEntropyLoss

    def _net_kwargs(self):
        kwargs = {"pad_idx": self.pad_idx}
        if self.lr_decay != 1.0:
            kwargs["optimizer__param_groups"] = discriminative_lrs(
                self._n_encoder_layers, self.lr, self.lr_decay
            )
        return kwargs

    def _net_callbacks(self):
        callbacks = unfreezing_callbacks(
            self._n_encoder_layers, self.freeze_encoder_epochs
        )
        if self._plan["validation_fraction"] is not None:
            scoring = EpochScoring(_accuracy, name="valid_acc", lower_is_better=False)
            callbacks.append(("valid_acc", scoring))
        return callbacks

    def _auto_max_epochs(self, n_train, early_stopping):
        if early_stopping:
            return AUTO_MAX_EPOCHS
        return epochs_for_steps(
            n_train, self.batch_size, AUTO_STEPS, AUTO_MIN_EPOCHS, AUTO_MAX_EPOCHS
        )

    def _build_module(self):
        return RNNClassifierModule(
            self._build_encoder(),
            n_classes=len(self.classes_),
            pooling=self.pooling,
            dropout=self.dropout,
            pad_idx=self.pad_idx,
        )

    def fit(self, X, y, sample_weight=None):
        """Fit the classifier on token-id rows.

        Parameters
        ----------
        X : array-like of shape (n_documents, n_positions) or list of id lists
            Token ids, right-padded with ``pad_idx``.
        y : array-like of shape (n_documents,)
            Labels of any type.
        sample_weight : array-like of shape (n_documents,) or None, default=None
            Weight of each document's loss (non-negative; times
            ``class_weight``). ``None``: equal weights.

        Returns
        -------
        self : RNNTextClassifier
            The fitted classifier.
        """
        self._validate_params()
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y "
                "is None."
            )
        continuing = self._continuing()
        X, y = check_token_ids(self, X, y, pad_idx=self.pad_idx, reset=not continuing)
        check_classification_targets(y)
        if continuing:
            y_codes = self._class_codes(y)
            X = np.where(X >= self.vocab_size_, self.unk_idx, X)
        else:
            self.classes_, y_codes = np.unique(y, return_inverse=True)
            lm = language_model_of(self.encoder)
            if lm is None:
                self.vocab_size_ = fitted_vocab_size(self, X, ("pad_idx", "unk_idx"))
                self._n_encoder_layers = self.n_layers
            else:
                check_compatible(self, lm, X)
                self.vocab_size_ = lm.vocab_size_
                self._n_encoder_layers = lm.n_layers
        weight = self._document_weights(sample_weight, y_codes)
        self._fit_net(
            X, y_codes.astype(np.int64), sample_weight=weight, stratify=y_codes
        )
        return self

    def _class_codes(self, y):
        """Codes of labels ``y`` in ``classes_`` (a warm-started fit)."""
        codes = np.searchsorted(self.classes_, y)
        codes = np.minimum(codes, len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if unknown.any():
            raise ValueError(
                f"y holds labels the first fit did not see ({y[unknown][0]!r}, ...); "
                "a warm-started fit keeps the classes of the first fit "
                f"{self.classes_.tolist()}. Use warm_start=False to refit."
            )
        return codes.astype(np.int64)

    def _document_weights(self, sample_weight, y_codes):
        """``sample_weight`` times ``class_weight`` per document (see
        ``_sample_weight``)."""
        factor = None
        if self.class_weight is not None:
            factor = compute_sample_weight(self._class_weight_by_code(), y_codes)
        return self._sample_weight(sample_weight, len(y_codes), factor=factor)

    def _class_weight_by_code(self):
        """``class_weight`` keyed by class code; a dict must name known labels."""
        if self.class_weight == "balanced":
            return "balanced"
        unknown = [label for label in self.class_weight if label not in self.classes_]
        if unknown:
            raise ValueError(
                f"class_weight names labels not in y: {unknown!r}; the classes are "
                f"{self.classes_.tolist()}."
            )
        return {
            code: float(self.class_weight.get(label, 1.0))
            for code, label in enumerate(self.classes_)
        }

    def _ids(self, X):
        self._check_fitted()
        X = check_token_ids(self, X, pad_idx=self.pad_idx, reset=False)
        return np.where(X >= self.vocab_size_, self.unk_idx, X)

    def predict_proba(self, X):
        """Class probabilities for token-id rows.

        Parameters
        ----------
        X : array-like of shape (n_documents, n_positions) or list of id lists
            Token ids.

        Returns
        -------
        proba : ndarray of shape (n_documents, n_classes)
            Probabilities in the order of ``classes_``.
        """
        logits = torch.from_numpy(self._forward(self._ids(X)))
        return torch.softmax(logits.double(), dim=1).numpy()

    def predict(self, X):
        """Most likely label for each token-id row.

        Parameters
        ----------
        X : array-like of shape (n_documents, n_positions) or list of id lists
            Token ids.

        Returns
        -------
        labels : ndarray of shape (n_documents,)
            Predicted labels.
        """
        logits = self._forward(self._ids(X))
        return self.classes_[logits.argmax(1)]
