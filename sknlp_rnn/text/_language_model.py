"""SequenceLMRegressor: a recurrent language model over token-id rows.

Depends on torch, skorch, scikit-learn and numpy.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import DensityMixin
from sklearn.utils._param_validation import Interval, StrOptions
from skorch.callbacks import ProgressBar

from .._base import BaseTorchEstimator
from .._nets import StreamNet
from .._persistence import SafeFormatMixin
from ..nn import LanguageModelModule
from ._batching import TEXT_RNN_CONSTRAINTS, check_token_ids, fitted_vocab_size
from ._cache import NeuralCache, cache_tail, choose_cache
from ._generate import banned_ids, check_generation, generate_tokens
from ._reader import LMReader
from ._stream import (
    ResetState,
    StreamScores,
    TailSplit,
    check_tail_split,
    documents,
    join_documents,
    tail_documents,
)


class SequenceLMRegressor(DensityMixin, SafeFormatMixin, BaseTorchEstimator):
    """Recurrent language model trained with truncated backpropagation through time.

    The rows of ``X`` (token ids, e.g. the output of :class:`Vocab`) are joined
    into one stream, each after a ``bos_idx`` token; training walks
    ``batch_size`` parallel parts of it in windows of about ``bptt`` tokens,
    carrying the hidden state from one window to the next. The model is an
    embedding, ``n_layers`` recurrent layers and a decoder sharing the
    embedding's weights, with the AWD-LSTM regularisers as options. At
    prediction time every row is read on its own from a zero state, and a
    neural cache (chosen in ``fit`` by default) mixes in what the row said
    before. The user guide (:doc:`/user_guide/language_model`) describes each
    step.

    Parameters
    ----------
    embedding_dim : int, default=64
        Width of the token embedding (and of the last recurrent layer when
        weights are tied).
    hidden_size : int, default=256
        Width of the recurrent layers; with ``tie_weights`` the last one is
        ``embedding_dim`` wide instead (so a 1-layer tied model ignores it).
    n_layers : int, default=2
        Number of recurrent layers.
    cell : {"lstm", "gru", "rnn"}, default="lstm"
        Recurrent cell; ``"rnn"`` is a plain (Elman) RNN.
    dropout : float, default=0.1
        Dropout on the embeddings, between layers and before the decoder.
    embedding_dropout : float, default=0.0
        Probability of dropping a whole word from the embedding matrix.
    weight_dropout : float, default=0.0
        DropConnect probability on the hidden-to-hidden weights.
    tie_weights : bool, default=True
        Share the embedding matrix with the decoder.
    alpha : float, default=0.0
        Activation regularisation: penalty on the mean squared (dropped-out)
        last layer output. AWD-LSTM uses 2.
    beta : float, default=0.0
        Temporal activation regularisation: penalty on the mean squared change
        of the last layer output between steps. AWD-LSTM uses 1.
    bptt : int, default=32
        Window length (steps of backpropagation through time).
    vary_bptt : bool, default=True
        Draw a random window length around ``bptt`` for every training batch.
    clip_norm : float or None, default=0.5
        Gradient norm clipping threshold; ``None`` turns clipping off.
    pad_idx : int, default=1
        Padding id (``Vocab`` puts ``xxpad`` at 1); dropped from the input.
    unk_idx : int, default=0
        Unknown-token id (``Vocab`` puts ``xxunk`` at 0). Ids never seen in
        ``fit`` are read as it.
    bos_idx : int or None, default=2
        Beginning-of-document id (``Vocab`` puts ``xxbos`` at 2) put in front of
        every row; ``None`` joins the rows directly.
    max_vocab_size : int, default=1_000_000
        Upper bound on the number of token ids (the largest id in ``X``,
        ``pad_idx``, ``unk_idx`` and ``bos_idx`` must be below it); ``fit``
        raises a ``ValueError`` before building an embedding that large.
    cache_size : "auto" or int, default="auto"
        Number of preceding positions of a row the neural cache reads at
        prediction time (every prediction method, ``score`` and ``generate``);
        ``0`` turns it off. An int leaves training alone and is read at
        prediction time (``set_params`` changes it on a fitted model).
        ``"auto"`` chooses in ``fit`` (``cache_size_``, ``cache_theta_``,
        ``cache_lambda_``): it holds the last 10% of the stream (at most
        100,000 tokens) out of training, or uses the validation part of
        ``validation_fraction``, and keeps the setting with the highest
        ``score`` there among every ``cache_size`` in (200, 1000),
        ``cache_theta`` in (10, 20, 40, 80) and ``cache_lambda`` in (0.1, 0.3,
        0.5, 0.7), if it beats no cache. Without ``validation_fraction``, a
        stream under 15 tokens trains whole and gets no cache.
    cache_theta : float, default=40.0
        Sharpness of the cache's attention: the cosine similarity between the
        current and a remembered output is multiplied by it before the
        softmax. Unused with ``cache_size="auto"``.
    cache_lambda : float, default=0.3
        Weight of the cache's distribution in the mixture, in (0, 1). Unused
        with ``cache_size="auto"``.
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
    stateful : bool, default=True
        Carry the hidden state from one training window to the next (truncated
        BPTT). ``False`` starts every window from zeros (the lessons'
        stateless model), and prediction reads each row the same way: in
        windows of ``bptt`` tokens, each from zeros.
    lr_schedule : {"constant", "one_cycle", "cosine", "plateau"}, default="constant"
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
    lr : float, default=3e-3
        Learning rate (the peak rate with ``lr_schedule="one_cycle"``).
    max_epochs : int, default=10
        Number of passes over the training data.
    batch_size : int, default=32
        Number of parallel streams (and of rows per prediction batch).
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
        Share of the stream, taken from its end, used to report validation loss,
        perplexity and next-token accuracy each epoch; ``None`` trains on the
        whole stream.
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
        Seed for weight initialisation, dropout and window lengths.
    verbose : int, default=0
        ``0`` is silent; ``1`` prints one line per epoch and a progress bar for
        long epochs.

    Attributes
    ----------
    vocab_size_ : int
        Number of token ids the model knows (largest id seen, or special id,
        plus one).
    n_features_in_ : int
        Width of the training id matrix. Unlike most estimators, rows of any
        width are accepted after ``fit``: they are sequences to read or
        continue, and the width of a padded id matrix is a length.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is a
        :class:`~sknlp_rnn.nn.LanguageModelModule`.
    history_ : skorch.History
        Per-epoch record: ``train_loss``, ``train_perplexity`` and, with a
        validation part, ``valid_loss``, ``valid_perplexity``, ``valid_acc``.
    device_ : str
        Device the model was trained on.
    n_iter_ : int
        Number of epochs run.
    cache_size_ : int
        Positions the neural cache reads: the choice of ``cache_size="auto"``
        (``0``: no cache beat the plain model), else ``cache_size`` at fit.
    cache_theta_ : float
        Sharpness of the cache's attention, chosen or given (``0.0`` without
        a cache).
    cache_lambda_ : float
        Weight of the cache in the mixture, chosen or given (``0.0`` without
        a cache).

    See Also
    --------
    RNNTextClassifier : Classifier that can start from this model's encoder.
    Vocab : Token lists to id matrices (``inverse_transform`` turns ids back).
    sknlp_rnn.datasets.human_numbers : A small corpus to learn counting on.

    Examples
    --------
    >>> import numpy as np
    >>> from sknlp_rnn import SequenceLMRegressor
    >>> X = np.array([[3, 4, 5, 6, 7, 8, 9, 3, 4, 5, 6, 7, 8, 9]] * 4)
    >>> lm = SequenceLMRegressor(cell="gru", n_layers=1, embedding_dim=16, bptt=8,
    ...                          batch_size=4, lr=2e-2, max_epochs=30,
    ...                          random_state=0)
    >>> lm.fit(X).predict([[3, 4, 5]])
    array([6])
    >>> lm.generate([[6, 7]], n_tokens=4, temperature=0).tolist()
    [[8, 9, 3, 4]]
    >>> bool(lm.score(X) > -0.1)
    True
    """

    _parameter_constraints: dict = {
        **BaseTorchEstimator._parameter_constraints,
        **TEXT_RNN_CONSTRAINTS,
        "embedding_dropout": [Interval(Real, 0, 1, closed="left")],
        "weight_dropout": [Interval(Real, 0, 1, closed="left")],
        "tie_weights": ["boolean"],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "beta": [Interval(Real, 0, None, closed="left")],
        "bptt": [Interval(Integral, 1, None, closed="left")],
        "vary_bptt": ["boolean"],
        "bos_idx": [None, Interval(Integral, 0, None, closed="left")],
        "cache_size": [
            StrOptions({"auto"}),
            Interval(Integral, 0, None, closed="left"),
        ],
        "cache_theta": [Interval(Real, 0, None, closed="neither")],
        "cache_lambda": [Interval(Real, 0, 1, closed="neither")],
        "stateful": ["boolean"],
    }

    def __init__(
        self,
        *,
        embedding_dim=64,
        hidden_size=256,
        n_layers=2,
        cell="lstm",
        dropout=0.1,
        embedding_dropout=0.0,
        weight_dropout=0.0,
        tie_weights=True,
        alpha=0.0,
        beta=0.0,
        bptt=32,
        vary_bptt=True,
        clip_norm=0.5,
        pad_idx=1,
        unk_idx=0,
        bos_idx=2,
        max_vocab_size=1_000_000,
        cache_size="auto",
        cache_theta=40.0,
        cache_lambda=0.3,
        nonlinearity="tanh",
        init="default",
        stateful=True,
        lr_schedule="constant",
        lr=3e-3,
        max_epochs=10,
        batch_size=32,
        optimizer="adam",
        weight_decay=0.0,
        early_stopping=False,
        validation_fraction=None,
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
        self.dropout = dropout
        self.embedding_dropout = embedding_dropout
        self.weight_dropout = weight_dropout
        self.tie_weights = tie_weights
        self.alpha = alpha
        self.beta = beta
        self.bptt = bptt
        self.vary_bptt = vary_bptt
        self.clip_norm = clip_norm
        self.pad_idx = pad_idx
        self.unk_idx = unk_idx
        self.bos_idx = bos_idx
        self.max_vocab_size = max_vocab_size
        self.cache_size = cache_size
        self.cache_theta = cache_theta
        self.cache_lambda = cache_lambda
        self.nonlinearity = nonlinearity
        self.init = init
        self.stateful = stateful
        self.lr_schedule = lr_schedule
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
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
        tags.target_tags.required = False
        return tags

    # -- fitting -------------------------------------------------------------------

    def _build_module(self):
        return LanguageModelModule(
            vocab_size=self.vocab_size_,
            embedding_dim=self.embedding_dim,
            hidden_size=self.hidden_size,
            n_layers=self.n_layers,
            cell=self.cell,
            dropout=self.dropout,
            embedding_dropout=self.embedding_dropout,
            weight_dropout=self.weight_dropout,
            tie_weights=self.tie_weights,
            pad_idx=self.pad_idx,
            alpha=self.alpha,
            beta=self.beta,
            nonlinearity=self.nonlinearity,
            init=self.init,
            stateful=self.stateful,
        )

    _net_class = StreamNet
    _criterion = torch.nn.CrossEntropyLoss

    def _net_kwargs(self):
        return {"bptt": self.bptt, "vary_bptt": self.vary_bptt}

    def _net_callbacks(self):
        return [("reset_state", ResetState()), ("scores", StreamScores())]

    def _train_split(self, n_samples, seed, stratify=None):
        """The tail of the stream validates (never random rows)."""
        fraction = self._plan["validation_fraction"]
        if fraction is None:
            return None
        check_tail_split(fraction, n_samples)
        return TailSplit(fraction)

    def _callbacks(self, *, has_valid, n_batches):
        """The base's callbacks, counted in windows rather than rows of data."""
        callbacks = super()._callbacks(
            has_valid=has_valid, n_batches=math.ceil(n_batches / self.bptt)
        )
        return [
            (name, ProgressBar(batches_per_epoch="count"))
            if name == "progress"
            else (name, cb)
            for name, cb in callbacks
        ]

    def fit(self, X, y=None):
        """Train the language model on token-id rows joined into one stream.

        Parameters
        ----------
        X : array-like of shape (n_documents, n_positions) or list of id lists
            Token ids, right-padded with ``pad_idx``.
        y : None
            Ignored: the targets are the next tokens.

        Returns
        -------
        self : SequenceLMRegressor
            The fitted model.
        """
        self._validate_params()
        continuing = self._continuing()
        X = check_token_ids(self, X, pad_idx=self.pad_idx, reset=not continuing)
        if continuing:
            X = np.where(X >= self.vocab_size_, self.unk_idx, X)
        else:
            self.vocab_size_ = fitted_vocab_size(
                self, X, ("pad_idx", "unk_idx", "bos_idx")
            )
        docs = documents(X, pad_idx=self.pad_idx, bos_idx=self.bos_idx, empty=None)
        stream = join_documents(docs)
        if stream.size < 2:
            raise ValueError(
                f"X holds {stream.size} token(s) once pads are dropped; a language "
                "model needs at least 2 to learn a next token."
            )
        # the validation part (validation_fraction, or early stopping's)
        fraction = self._training_plan(stream.size)["validation_fraction"]
        auto = self.cache_size == "auto"
        tail = cache_tail(stream.size, fraction) if auto else None
        held_out = tail is not None and fraction is None
        self._fit_net(stream[:tail] if held_out else stream, None)
        self.net_.module_.reset_state()
        self._set_cache(None if tail is None else tail_documents(docs, tail))
        return self

    def _set_cache(self, tail):
        """Set ``cache_size_``, ``cache_theta_``, ``cache_lambda_``: with
        ``cache_size="auto"`` the choice of :func:`~._cache.choose_cache` on the
        documents ``tail`` (``None``: no cache), else the parameters."""
        if self.cache_size != "auto":
            size, theta, lam = self.cache_size, self.cache_theta, self.cache_lambda
        elif tail is None:
            size = 0
        else:
            reader = self._reader(cache=False)
            (size, theta, lam), _ = choose_cache(reader, tail, verbose=self.verbose)
        self.cache_size_ = int(size)
        self.cache_theta_ = float(theta) if size else 0.0
        self.cache_lambda_ = float(lam) if size else 0.0

    # -- prediction ------------------------------------------------------------------

    def _documents(self, X):
        """Validated ids (unknown -> unk) and the documents the model reads."""
        self._check_fitted()
        X = check_token_ids(self, X, pad_idx=self.pad_idx, reset=False, any_width=True)
        X = np.where(X >= self.vocab_size_, self.unk_idx, X)
        seqs = documents(
            X, pad_idx=self.pad_idx, bos_idx=self.bos_idx, empty=self.unk_idx
        )
        return X, seqs

    def _cache_settings(self):
        """The cache's size, theta and lambda at prediction time: chosen in
        ``fit`` with ``cache_size="auto"``, else the parameters."""
        if self.cache_size == "auto":
            return self.cache_size_, self.cache_theta_, self.cache_lambda_
        return self.cache_size, self.cache_theta, self.cache_lambda

    def _reader(self, *, cache=True):
        """An :class:`LMReader` of the fitted module with the current settings
        (without a cache when ``cache`` is false)."""
        if cache:
            size, theta, lam = self._cache_settings()
            cache = NeuralCache(size, theta, lam) if size else None
        else:
            cache = None
        return LMReader(
            self.net_.module_,
            device=self.net_.device,
            precision=self.net_.precision,  # the precision it trained in
            pad_idx=self.pad_idx,
            batch_size=self.batch_size,
            cache=cache,
            window=None if self.stateful else self.bptt,
        )

    def predict_proba(self, X):
        """Distribution of the next token after each row.

        Parameters
        ----------
        X : array-like of shape (n_documents, n_positions) or list of id lists
            Token ids.

        Returns
        -------
        proba : ndarray of shape ``(n_documents, vocab_size_)``
            Probability of every token id coming next.
        """
        _, seqs = self._documents(X)
        return torch.softmax(self._reader().last_log_proba(seqs), dim=1).numpy()

    def predict(self, X):
        """Most likely next token id after each row.

        Parameters
        ----------
        X : array-like of shape (n_documents, n_positions) or list of id lists
            Token ids.

        Returns
        -------
        ids : ndarray of shape (n_documents,)
            Predicted next token ids.
        """
        _, seqs = self._documents(X)
        return self._reader().last_log_proba(seqs).argmax(1).numpy()

    def predict_tokens(self, X):
        """Predicted next token at every position of every row.

        Parameters
        ----------
        X : array-like of shape (n_documents, n_positions) or list of id lists
            Token ids.

        Returns
        -------
        ids : ndarray of shape (n_documents, n_positions)
            ``ids[i, t]`` is the most likely token after ``X[i, :t + 1]``, so it
            predicts ``X[i, t + 1]``; ``pad_idx`` where ``X`` holds a pad.
        """
        X, seqs = self._documents(X)
        best = self._reader().best_next(seqs)
        real = X != self.pad_idx
        out = np.full(X.shape, self.pad_idx, dtype=np.int64)
        # a document's own positions are its last ones (after any bos_idx put first)
        mine = [b[len(b) - n :] for b, n in zip(best, real.sum(1), strict=True)]
        out[real] = np.concatenate([np.zeros(0, dtype=np.int64), *mine])
        return out

    def score(self, X, y=None):
        """Mean log-likelihood per predicted token (higher is better).

        Every row is read from a zero state; every token after the row's first
        (after the ``bos_idx`` put in front of it, if any) counts once.

        Parameters
        ----------
        X : array-like of shape (n_documents, n_positions) or list of id lists
            Token ids.
        y : None
            Ignored.

        Returns
        -------
        score : float
            Mean natural-log probability of the actual next tokens.
        """
        _, seqs = self._documents(X)
        total, count = self._reader().log_likelihood(seqs)
        if count == 0:
            raise ValueError(
                "X holds no token to predict: every row is a single token. Give "
                "rows of at least 2 tokens (or keep bos_idx)."
            )
        return total / count

    def perplexity(self, X):
        """Perplexity of the model on token-id rows: ``exp(-score(X))``.

        Parameters
        ----------
        X : array-like of shape (n_documents, n_positions) or list of id lists
            Token ids.

        Returns
        -------
        perplexity : float
            1 for a perfect model, ``vocab_size_`` for a uniform guess.
        """
        return float(np.exp(-self.score(X)))

    def generate(
        self,
        X,
        n_tokens,
        temperature=1.0,
        top_k=None,
        random_state=None,
        *,
        beam_width=None,
        allow_special=False,
        exclude_ids=None,
    ):
        """Continue each row by ``n_tokens`` tokens, sampled or by beam search.

        Parameters
        ----------
        X : array-like of shape (n_prompts, n_positions) or list of id lists
            Prompt token ids.
        n_tokens : int
            Number of tokens to generate after each prompt.
        temperature : float, default=1.0
            Divides the logits before sampling: below 1 sharpens the
            distribution, above 1 flattens it; ``0`` always takes the most
            likely token.
        top_k : int or None, default=None
            Sample only among the ``top_k`` most likely tokens.
        random_state : int, RandomState instance or None, default=None
            Seed of the sampling; an int gives the same text every call.
        beam_width : int or None, default=None
            Instead of sampling, search deterministically for the continuation
            with the highest summed log-probability, keeping this many
            candidates per step (``1`` is greedy decoding). It takes no
            sampling option: ``temperature`` must stay 1.0 (or be 0) and
            ``top_k`` None.
        allow_special : bool, default=False
            Let ``unk_idx`` and ``bos_idx`` be generated (``pad_idx`` never
            is).
        exclude_ids : array-like of int or None, default=None
            More ids never to generate, e.g. a :class:`Vocab`'s other special
            tokens: ``[vocab.stoi_[t] for t in ("xxeos", "xxfld")]``.

        Returns
        -------
        ids : ndarray of shape (n_prompts, n_tokens)
            Generated token ids.
        """
        check_generation(n_tokens, temperature, top_k, beam_width)
        _, seqs = self._documents(X)
        banned = banned_ids(self, allow_special=allow_special, exclude_ids=exclude_ids)
        return generate_tokens(
            self._reader(),
            seqs,
            n_tokens,
            temperature=temperature,
            top_k=top_k,
            beam_width=beam_width,
            banned=banned,
            random_state=random_state,
        )
