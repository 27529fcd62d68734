"""Vocab: lists of tokens -> padded matrices of token ids, and back.

Depends on the standard library, numpy and scikit-learn.
"""

from __future__ import annotations

from collections import Counter
from itertools import chain, repeat
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..exceptions import NotFittedError
from ._batching import _is_ragged, pad_rows
from ._rules import PAD, SPECIAL_TOKENS, UNK

_RAW_TEXT_HINT = (
    "Vocab expects token lists (the output of Tokenizer), not raw text: put a "
    "Tokenizer before it, e.g. make_pipeline(Tokenizer(), Vocab())."
)


def _check_token_lists(X):
    """Validate a collection of token lists; return it as a list of rows."""
    if isinstance(X, (str, bytes)):
        raise TypeError(f"Got a single {type(X).__name__}. {_RAW_TEXT_HINT}")
    if hasattr(X, "columns"):  # DataFrame: one column of lists, or rows of tokens
        X = X.iloc[:, 0] if X.shape[1] == 1 else X.to_numpy()
    if hasattr(X, "index") and hasattr(X, "to_numpy"):  # Series
        X = X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray) and X.ndim not in (1, 2):
        raise ValueError(
            f"Vocab expects a collection of token lists, got an array of shape "
            f"{X.shape}."
        )
    try:
        docs = list(X)
    except TypeError:
        raise TypeError(
            f"Vocab expects a collection of token lists, got {type(X).__name__}."
        ) from None
    for i, doc in enumerate(docs):
        if isinstance(doc, (str, bytes)):
            raise TypeError(
                f"Row {i} is a {type(doc).__name__} ({doc!r:.40}). {_RAW_TEXT_HINT}"
            )
        if not isinstance(doc, (list, tuple, np.ndarray)) or (
            isinstance(doc, np.ndarray) and doc.ndim != 1
        ):
            raise TypeError(
                f"Vocab expects every row to be a list of str tokens, but row {i} "
                f"is {type(doc).__name__} ({doc!r:.40})."
            )
    return docs


def _bad_token(docs, is_bad):
    """TypeError naming the first row holding a token for which ``is_bad``."""
    for i, doc in enumerate(docs):
        for token in doc:
            if is_bad(token):
                return TypeError(
                    f"Vocab expects every token to be a str, but row {i} holds "
                    f"{type(token).__name__} ({token!r:.40})."
                )
    return TypeError("Vocab expects every token to be a str.")  # pragma: no cover


def _not_str(token):
    return not isinstance(token, str)


class Vocab(TransformerMixin, BaseEstimator):
    """Map token lists to a padded matrix of token ids, and back.

    ``fit`` counts the tokens of a corpus (e.g. the output of
    :class:`Tokenizer`) and numbers them: the special tokens come first, with
    ``xxunk`` at id 0 and ``xxpad`` at id 1, then the tokens seen at least
    ``min_freq`` times, most frequent first, ties broken alphabetically, so the
    same corpus always gives the same ids. ``transform`` turns each document
    into a row of ids, right-padded with the ``xxpad`` id; tokens it does not
    know become the ``xxunk`` id.

    Like any scikit-learn transformer, it returns matrices of one width, the
    width learned in ``fit`` (``max_len_``), so that the model after it sees as
    many columns at prediction time as in training. With packed sequences the
    pads do not change a prediction of :class:`RNNTextClassifier`.

    Parameters
    ----------
    min_freq : int, default=2
        Keep tokens seen at least this many times in the training corpus.
        The default (as in fast.ai) sends hapaxes to ``xxunk``, so the model
        learns an embedding for unknown words from real data; use 1 to keep
        every token.
    max_size : int or None, default=60000
        Largest vocabulary, special tokens included; the rarest tokens are
        dropped first. ``None`` keeps all tokens that pass ``min_freq``.
    max_len : int or None, default=None
        Width of the output matrix: longer documents are cut (see
        ``truncate``). ``None`` uses the length of the longest training
        document, so training documents are never cut, and documents longer
        than all of them are cut at transform time.
    truncate : {"post", "pre"}, default="post"
        Which end of a document longer than ``max_len`` is cut: ``"post"``
        keeps the beginning (and ``xxbos``), ``"pre"`` keeps the end (the
        verdict at the end of a review, say).
    special_tokens : tuple of str, default=SPECIAL_TOKENS
        Tokens that get the first ids whether or not they occur. ``xxunk``
        and ``xxpad`` are always included, at ids 0 and 1.

    Attributes
    ----------
    itos_ : list of str
        Token of each id ("id to string").
    stoi_ : dict of str to int
        Id of each token ("string to id").
    vocab_size_ : int
        Number of ids, ``len(itos_)``.
    max_len_ : int
        Width of every output matrix: ``max_len``, or the length of the
        longest training document (at least 1).
    token_counts_ : ndarray of shape ``(vocab_size_,)``
        How often each token occurred in the training corpus.
    unk_idx_ : int
        Id of ``xxunk`` (0).
    pad_idx_ : int
        Id of ``xxpad`` (1).

    See Also
    --------
    Tokenizer : Text to token lists.
    RNNTextClassifier : Recurrent classifier over token ids.

    Examples
    --------
    >>> from sknlp_rnn import Vocab
    >>> docs = [["xxbos", "a", "good", "film"], ["xxbos", "a", "bad", "film"]]
    >>> vocab = Vocab(min_freq=2).fit(docs)
    >>> vocab.itos_[9:]
    ['a', 'film']
    >>> vocab.transform([["xxbos", "a", "great", "film"], ["a"]])
    array([[ 2,  9,  0, 10],
           [ 9,  1,  1,  1]])
    >>> vocab.inverse_transform([[2, 9, 0, 10], [9, 1, 1, 1]])
    [['xxbos', 'a', 'xxunk', 'film'], ['a']]

    Tokenizer, Vocab and a classifier make one pipeline over raw text:

    >>> from sklearn.pipeline import make_pipeline
    >>> from sknlp_rnn import RNNTextClassifier, Tokenizer
    >>> texts = ["I loved it", "Great film!", "I hated it", "Awful film."] * 4
    >>> labels = ["pos", "pos", "neg", "neg"] * 4
    >>> pipe = make_pipeline(
    ...     Tokenizer(),
    ...     Vocab(min_freq=1),
    ...     RNNTextClassifier(hidden_size=16, max_epochs=20, random_state=0),
    ... )
    >>> pipe.fit(texts, labels).predict(["loved it", "hated it"])
    array(['pos', 'neg'], dtype='<U3')
    """

    _parameter_constraints: dict = {
        "min_freq": [Interval(Integral, 1, None, closed="left")],
        "max_size": [None, Interval(Integral, 2, None, closed="left")],
        "max_len": [None, Interval(Integral, 1, None, closed="left")],
        "truncate": [StrOptions({"pre", "post"})],
        "special_tokens": [tuple, list],
    }

    def __init__(
        self,
        *,
        min_freq=2,
        max_size=60000,
        max_len=None,
        truncate="post",
        special_tokens=SPECIAL_TOKENS,
    ):
        self.min_freq = min_freq
        self.max_size = max_size
        self.max_len = max_len
        self.truncate = truncate
        self.special_tokens = special_tokens

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _specials(self):
        bad = [t for t in self.special_tokens if not isinstance(t, str)]
        if bad:
            raise TypeError(
                f"special_tokens must be str, got {type(bad[0]).__name__} ({bad[0]!r})."
            )
        return list(dict.fromkeys([UNK, PAD, *self.special_tokens]))

    def fit(self, X, y=None):
        """Count the tokens of a corpus and number them.

        Parameters
        ----------
        X : list of list of str
            Token lists, e.g. the output of :class:`Tokenizer`; a Series or
            object array of lists works too.
        y : None
            Ignored.

        Returns
        -------
        self : Vocab
            The fitted vocabulary.
        """
        self._validate_params()
        self._fit(_check_token_lists(X))
        return self

    def _fit(self, docs):
        if not docs:
            raise ValueError("Vocab needs at least one document to fit, got 0.")
        specials = self._specials()
        if self.max_size is not None and self.max_size < len(specials):
            raise ValueError(
                f"max_size={self.max_size} leaves no room for the "
                f"{len(specials)} special tokens; use max_size >= {len(specials)} "
                "or fewer special_tokens."
            )
        try:
            counts = Counter(chain.from_iterable(docs))
        except TypeError:  # an unhashable token
            raise _bad_token(docs, _not_str) from None
        if not all(map(isinstance, counts, repeat(str))):
            raise _bad_token(docs, _not_str)
        special_set = set(specials)
        kept = sorted(
            (
                (-n, token)
                for token, n in counts.items()
                if n >= self.min_freq and token not in special_set
            ),
        )
        if self.max_size is not None:
            kept = kept[: self.max_size - len(specials)]
        self.itos_ = specials + [token for _, token in kept]
        self.stoi_ = {token: i for i, token in enumerate(self.itos_)}
        self.vocab_size_ = len(self.itos_)
        longest = max(map(len, docs))
        self.max_len_ = self.max_len or max(longest, 1)
        self.token_counts_ = np.array(
            [counts.get(token, 0) for token in self.itos_], dtype=np.int64
        )
        self.unk_idx_ = self.stoi_[UNK]
        self.pad_idx_ = self.stoi_[PAD]

    def _check_fitted(self):
        try:
            check_is_fitted(self, "stoi_")
        except _SklearnNotFittedError as exc:
            raise NotFittedError(
                "This Vocab instance is not fitted yet. Call 'fit' with a corpus "
                "of token lists before using it."
            ) from exc

    def transform(self, X):
        """Turn token lists into a right-padded matrix of token ids.

        Parameters
        ----------
        X : list of list of str
            Token lists.

        Returns
        -------
        ids : ndarray of shape ``(n_documents, max_len_)``, dtype int64
            Token ids, right-padded with ``pad_idx_``; unknown tokens are
            ``unk_idx_``; an empty document is a row of pads. ``width`` is
            ``max_len_``: longer documents are cut (see ``truncate``).
        """
        self._check_fitted()
        return self._transform(_check_token_lists(X))

    def fit_transform(self, X, y=None):
        """Fit the vocabulary and return the id matrix of the same corpus.

        Parameters
        ----------
        X : list of list of str
            Token lists.
        y : None
            Ignored.

        Returns
        -------
        ids : ndarray of shape ``(n_documents, max_len_)``, dtype int64
            Same as ``fit(X).transform(X)``, validating ``X`` once.
        """
        self._validate_params()
        docs = _check_token_lists(X)
        self._fit(docs)
        return self._transform(docs)

    def _transform(self, docs):
        n = len(docs)
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=n)
        flat = list(chain.from_iterable(docs))
        try:
            ids = np.fromiter(
                map(self.stoi_.get, flat, repeat(-1)), dtype=np.int64, count=len(flat)
            )
        except TypeError:  # an unhashable token
            raise _bad_token(docs, _not_str) from None
        unknown = np.flatnonzero(ids < 0)
        if unknown.size:
            if not all(isinstance(flat[i], str) for i in unknown):
                raise _bad_token(docs, _not_str)
            ids[unknown] = self.unk_idx_
        width = self.max_len_
        keep = np.minimum(lengths, width)
        starts = np.cumsum(lengths) - lengths
        if self.truncate == "pre":
            starts += lengths - keep
        total = int(keep.sum())
        rows = np.repeat(np.arange(n), keep)
        cols = np.arange(total) - np.repeat(np.cumsum(keep) - keep, keep)
        out = np.full((n, width), self.pad_idx_, dtype=np.int64)
        out[rows, cols] = ids[np.repeat(starts, keep) + cols]
        return out

    def inverse_transform(self, X):
        """Turn token ids back into token lists, dropping the pads.

        Parameters
        ----------
        X : array-like of shape (n_documents, width) or list of id lists
            Token ids, e.g. the output of :meth:`transform`.

        Returns
        -------
        tokens : list of list of str
            The tokens of each row, without ``xxpad``.
        """
        self._check_fitted()
        if _is_ragged(X):
            X = pad_rows(X, self.pad_idx_)
        X = np.asarray(X)
        if X.ndim == 1 and X.size == 0:
            return []
        if X.ndim != 2:
            raise ValueError(
                f"Vocab.inverse_transform expects a 2-D matrix of token ids, got an "
                f"array of shape {X.shape}."
            )
        if X.dtype.kind == "f" and np.array_equal(X, np.round(X)):
            X = X.astype(np.int64)
        if X.dtype.kind not in "iu":
            raise TypeError(
                f"Vocab.inverse_transform expects integer token ids, got dtype "
                f"{X.dtype}."
            )
        if X.size and (X.min() < 0 or X.max() >= self.vocab_size_):
            raise ValueError(
                f"Token ids must lie in [0, {self.vocab_size_ - 1}] (vocab_size_="
                f"{self.vocab_size_}); got ids from {X.min()} to {X.max()}."
            )
        itos = np.array(self.itos_, dtype=object)
        keep = X != self.pad_idx_
        return [itos[row[mask]].tolist() for row, mask in zip(X, keep, strict=True)]
