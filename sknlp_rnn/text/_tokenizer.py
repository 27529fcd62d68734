"""Tokenizer: raw text -> lists of tokens, with fast.ai-style special tokens.

Depends on numpy, joblib and scikit-learn; the rules live in ``_rules.py``.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions

from ._rules import SPECIAL_TOKENS, load_spacy, tokenize_chunk

__all__ = ["SPECIAL_TOKENS", "Tokenizer", "check_texts"]


def _is_missing(value):
    """None, NaN, NaT or pandas' NA (whose comparisons cannot be made bool)."""
    try:
        return value is None or bool(value != value)
    except TypeError:  # pd.NA
        return True
    except ValueError:  # an array
        return False


def check_texts(X, estimator_name="Tokenizer"):
    """Validate a 1-D collection of documents and return it as a list of str.

    Accepts a list, tuple, 1-D (or one-column) numpy array, pandas Series or
    one-column DataFrame. A non-string document raises a ``TypeError`` that
    names its row.
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{estimator_name} expects a collection of documents (list, array or "
            f"Series of str), got a single {type(X).__name__}. Wrap it in a list: "
            "[text]."
        )
    index = None
    if hasattr(X, "columns"):  # DataFrame
        if X.shape[1] != 1:
            raise ValueError(
                f"{estimator_name} expects one column of text, got a DataFrame with "
                f"{X.shape[1]} columns. Select the text column, e.g. df['text']."
            )
        X = X.iloc[:, 0]
    if hasattr(X, "index") and hasattr(X, "to_numpy"):  # Series
        index = X.index
        X = X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray):
        if X.ndim == 2 and X.shape[1] == 1:
            X = X[:, 0]
        if X.ndim != 1:
            raise ValueError(
                f"{estimator_name} expects a 1-D collection of documents, got an "
                f"array of shape {X.shape}."
            )
        X = X.tolist()
    try:
        texts = list(X)
    except TypeError:
        raise TypeError(
            f"{estimator_name} expects a collection of documents (list, array or "
            f"Series of str), got {type(X).__name__}."
        ) from None
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            where = f"row {i}"
            if index is not None and index[i] != i:
                where += f" (index label {index[i]!r})"
            hint = ""
            if _is_missing(text):
                hint = "; fill missing text first, e.g. X.fillna('')"
            raise TypeError(
                f"{estimator_name} expects every document to be a str, but {where} "
                f"is {type(text).__name__} ({text!r}){hint}."
            )
    return texts


class Tokenizer(TransformerMixin, BaseEstimator):
    """Split raw text into tokens, with fast.ai-style special tokens.

    A fast rule-based tokenizer (a handful of precompiled regular expressions,
    no heavy dependency) whose output feeds :class:`Vocab`. It is stateless:
    ``fit`` learns nothing, and ``transform`` works without it. The rules, in
    the order they run on each document:

    1. **html clean-up** (``fix_html``): ``<br />``, ``<br>`` and ``<p>`` become
       line breaks; html entities are unescaped (``&amp;`` -> ``&``,
       ``&#39;`` -> ``'``), and so are entities whose ``&`` was lost, as in the
       IMDB corpus (``#39;``, ``#146;``, ``quot;``, ``amp;``, ``nbsp;``); ``\\n``
       written as two characters becomes a line break; wikitext escapes
       ``@-@``, ``@.@``, ``@,@`` are undone. Typographic apostrophes (U+2019)
       become ``'`` and ``\\r\\n`` becomes ``\\n`` in any case.
    2. **character repetition** (``mark_repeats``): a character repeated three
       times or more becomes ``xxrep n c`` ("!!!!" -> ``xxrep 4 !``,
       "sooo" -> ``s xxrep 3 o``). Digits are exempt, so ``1000`` stays one
       number, and so are URLs.
    3. **splitting**: words, numbers (``3.14``, ``10:30`` and ``1,000`` stay
       whole) and URLs are tokens; every other non-space character
       (punctuation, symbols, emoji) is a token of its own, so "@user" and
       "#tag" are two tokens each; each line break is a ``"\\n"`` token; other
       whitespace only separates. English contractions are split the Penn
       Treebank way, as spaCy does: "don't" -> ``do n't``, "can't" ->
       ``ca n't``, "it's" -> ``it 's``, "we're" -> ``we 're``, so the stems
       are shared with the full words.
    4. **word repetition** (``mark_repeats``): a token repeated three times or
       more in a row becomes ``xxwrep n token`` ("ha ha ha" -> ``xxwrep 3 ha``;
       case-insensitive when ``lower=True``). It runs after rule 2, so
       "sooo sooo sooo" is three ``s xxrep 3 o`` groups, not a word repetition.
    5. **case** (``lower``): tokens are lower-cased; a capitalised word
       ("Hello") is preceded by ``xxmaj`` and an all-caps word of two characters
       or more ("NASA") by ``xxup``. Single letters ("I", "A") and clitics
       ("N'T") get no marker. ``lower=False`` keeps the case and adds no marker.
    6. **boundaries**: ``xxbos`` opens each document (``add_bos``) and
       ``xxeos`` closes it (``add_eos``).

    At ``level="char"`` a document becomes a list of characters: rules 1, 2
    (the count is one token: ``["xxrep", "12", "!"]``), 5 (the marker goes
    before the first character of each whitespace-separated word) and 6 apply;
    leading and trailing whitespace is dropped, runs of spaces and tabs become
    a single ``" "`` token, line breaks stay ``"\\n"`` tokens, and rule 4 is
    skipped.

    Parameters
    ----------
    level : {"word", "char"}, default="word"
        Produce word tokens or character tokens.
    lower : bool, default=True
        Lower-case the text and mark the lost case with ``xxmaj``/``xxup``.
    fix_html : bool, default=True
        Apply the html clean-up (rule 1).
    mark_repeats : bool, default=True
        Replace repeated characters and words with ``xxrep``/``xxwrep``.
    add_bos : bool, default=True
        Start each document with ``xxbos``.
    add_eos : bool, default=False
        End each document with ``xxeos``.
    backend : {"rules", "spacy"}, default="rules"
        ``"rules"`` splits with the built-in rules; ``"spacy"`` splits with the
        tokenizer of ``spacy.blank("en")`` (rules 1, 2, 4, 5 and 6 still apply).
        spaCy is an optional dependency: ``pip install "sknlp-rnn[spacy]"``.
        Word level only.
    n_jobs : int or None, default=None
        Number of processes that tokenize chunks of the corpus in parallel;
        ``None`` means 1, ``-1`` all cores and ``-2`` all but one (joblib's
        rule); ``0`` is invalid. Each worker process starts by
        importing sknlp_rnn (and torch), a few seconds, so it pays from roughly
        a hundred thousand documents on; the result does not depend on it.

    See Also
    --------
    Vocab : Token lists to a padded matrix of token ids.
    RNNTextClassifier : Recurrent classifier over token ids.

    Notes
    -----
    The special tokens are listed in :data:`sknlp_rnn.text.SPECIAL_TOKENS`;
    :class:`Vocab` gives ``xxunk`` id 0 and ``xxpad`` id 1.

    Examples
    --------
    >>> from sknlp_rnn import Tokenizer
    >>> tok = Tokenizer()
    >>> tok.transform(["I don't like it!!!", "Hello NASA"])
    [['xxbos', 'i', 'do', "n't", 'like', 'it', 'xxrep', '3', '!'], \
['xxbos', 'xxmaj', 'hello', 'xxup', 'nasa']]
    >>> tok.transform(["It was great, great, GREAT<br />Really."])[0]
    ['xxbos', 'xxmaj', 'it', 'was', 'great', ',', 'great', ',', 'xxup', 'great', \
'\\n', 'xxmaj', 'really', '.']
    >>> Tokenizer(level="char", add_bos=False).transform(["Hi  you"])
    [['xxmaj', 'h', 'i', ' ', 'y', 'o', 'u']]
    """

    _parameter_constraints: dict = {
        "level": [StrOptions({"word", "char"})],
        "lower": ["boolean"],
        "fix_html": ["boolean"],
        "mark_repeats": ["boolean"],
        "add_bos": ["boolean"],
        "add_eos": ["boolean"],
        "backend": [StrOptions({"rules", "spacy"})],
        "n_jobs": [
            None,
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
        ],
    }

    def __init__(
        self,
        *,
        level="word",
        lower=True,
        fix_html=True,
        mark_repeats=True,
        add_bos=True,
        add_eos=False,
        backend="rules",
        n_jobs=None,
    ):
        self.level = level
        self.lower = lower
        self.fix_html = fix_html
        self.mark_repeats = mark_repeats
        self.add_bos = add_bos
        self.add_eos = add_eos
        self.backend = backend
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags

    def _check_params(self):
        self._validate_params()
        if self.backend == "spacy":
            if self.level == "char":
                raise ValueError(
                    'Tokenizer(backend="spacy") splits words; use backend="rules" '
                    'with level="char".'
                )
            load_spacy()  # fail here, with the install hint, not in a worker

    def fit(self, X, y=None):
        """Check the parameters and the input; nothing is learned.

        Parameters
        ----------
        X : list, ndarray or pandas Series of str
            Documents.
        y : None
            Ignored.

        Returns
        -------
        self : Tokenizer
            This tokenizer.
        """
        self._check_params()
        check_texts(X)
        return self

    def transform(self, X):
        """Tokenize documents.

        Parameters
        ----------
        X : list, ndarray, pandas Series or one-column DataFrame of str
            Documents. Empty strings are fine; ``None``, NaN and numbers raise
            a ``TypeError`` naming their row.

        Returns
        -------
        tokens : list of list of str
            One token list per document, in input order.
        """
        self._check_params()
        texts = check_texts(X)
        options = (
            self.level,
            self.lower,
            self.fix_html,
            self.mark_repeats,
            self.add_bos,
            self.add_eos,
            self.backend,
        )
        n_jobs = min(effective_n_jobs(self.n_jobs), max(len(texts), 1))
        if n_jobs == 1:
            return tokenize_chunk(texts, *options)
        bounds = np.linspace(0, len(texts), 4 * n_jobs + 1).astype(int)
        chunks = Parallel(n_jobs=n_jobs)(
            delayed(tokenize_chunk)(texts[a:b], *options)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
            if b > a
        )
        return [tokens for chunk in chunks for tokens in chunk]
