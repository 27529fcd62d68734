"""The "human numbers" corpus: English words for the integers 1 to 9999.

Generated in code (no download). Depends on scikit-learn (``Bunch``) only.
"""

from __future__ import annotations

from sklearn.utils import Bunch

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve "
    "thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()

_DESCR = """\
Human numbers
-------------

The integers 1 to 9999 written as English words ("one", "twenty one",
"three hundred five", "eight thousand one hundred twelve"; no "and", no
hyphens), separated by a comma token. The training text holds 1 to 8000, the
validation text 8001 to 9999, so a language model is judged on numbers it never
saw. Every token is predictable from the previous number, which makes the corpus
a small, exact test of whether a recurrent model carries state across windows.

Vocabulary: 29 words plus the separator. Training text: 8000 numbers, 50,081
tokens with separators; validation text: 1999 numbers, 13,016 tokens. The most
frequent validation token, "thousand", is 15% of it (the trivial baseline).
"""


def number_to_words(n):
    """English words for an integer between 1 and 9999.

    Parameters
    ----------
    n : int
        The number, ``1 <= n <= 9999``.

    Returns
    -------
    words : str
        Lower-case words separated by single spaces, without "and" or hyphens.

    Examples
    --------
    >>> from sknlp_rnn.datasets import number_to_words
    >>> number_to_words(8021)
    'eight thousand twenty one'
    """
    if not 1 <= int(n) <= 9999:
        raise ValueError(f"n must be between 1 and 9999, got {n!r}.")
    n = int(n)
    words = []
    for value, name in ((1000, "thousand"), (100, "hundred")):
        if n >= value:
            words += [_ONES[n // value], name]
            n %= value
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
    if n:
        words.append(_ONES[n])
    return " ".join(words)


def human_numbers(*, separator=","):
    """Load the human numbers corpus (generated, no download).

    The English words for 1..8000 form the training text and those for
    8001..9999 the validation text, each number followed by ``separator``
    (surrounded by spaces) except the last: ``"one , two , three , ..."``. This
    is the corpus of fast.ai's recurrent language model lessons, where a model
    must learn to count.

    Parameters
    ----------
    separator : str, default=","
        Token written between consecutive numbers.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes:

        train : str
            Words for 1..8000.
        valid : str
            Words for 8001..9999.
        DESCR : str
            Description of the corpus.

    See Also
    --------
    number_to_words : The words for one number.
    SequenceLMRegressor : A language model to train on this corpus.

    Examples
    --------
    >>> from sknlp_rnn.datasets import human_numbers
    >>> data = human_numbers()
    >>> data.train[:24]
    'one , two , three , four'
    >>> data.valid.split(" , ")[0]
    'eight thousand one'
    """
    if not isinstance(separator, str) or not separator.strip():
        raise ValueError(f"separator must be a non-blank string, got {separator!r}.")
    joiner = f" {separator.strip()} "
    train = joiner.join(number_to_words(n) for n in range(1, 8001))
    valid = joiner.join(number_to_words(n) for n in range(8001, 10000))
    return Bunch(train=train, valid=valid, DESCR=_DESCR)
