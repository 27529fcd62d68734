"""Tests for the tokenization rules on hostile text: every rule runs in linear
time, so megabyte-long pathological documents finish instead of hanging.

No test here measures time: a rule that backtracks quadratically on one of
these documents takes hours (``"<"`` and 50,000 spaces took 33 s), so it hangs
the suite instead of passing.
"""

import random
import re

import pytest

from sknlp_rnn import Tokenizer
from sknlp_rnn.text import _rules, _tokenizer

MB = 2**20


def _times(piece):
    """``piece`` repeated to about a megabyte."""
    return piece * (MB // len(piece))


HOSTILE = {
    "spaces after <": "<" + " " * MB,
    "spaces after </": "</" + " " * MB,
    "tag name then spaces": "<br" + " " * MB,
    "tag name, slash, spaces": "<br /" + " " * MB,
    "repeated partial tags": _times("< br /"),
    "repeated open brackets": "<" * MB,
    "repeated spaced open brackets": _times("< "),
    "one letter": "a" * MB,
    "capitals": "A" * MB,
    "alternating case": _times("aB"),
    "capitalised words": _times("Ha "),
    "one punctuation mark": "!" * MB,
    "mixed punctuation": _times("!?.,;:"),
    "digits": "1" * MB,
    "digits then a letter": "1" * MB + "a",
    "digits and separators": _times("1."),
    "digits and doubled separators": _times("1.."),
    "url then punctuation": "http://" + "." * MB,
    "repeated url prefixes": _times("www."),
    "url prefix then separators": "www." + _times(".,"),
    "spaces between lines": "a\na" + " " * MB + "a",
    "tabs between lines": "a\na" + _times("\t ") + "a",
    "spaces around a line break": "a" + " " * MB + "\n" + " " * MB + "a",
    "spaces": " " * MB,
    "line breaks": "\n" * MB,
    "line breaks and spaces": _times("\n "),
    "ampersands": "&" * MB,
    "broken numeric entities": _times("&#"),
    "hash then digits": "#" + "1" * MB,
    "semicolons": ";" * MB,
    "entity name without end": _times("quot") + ";",
    "apostrophes": "'" * MB,
    "clitics": _times("a's"),
    "negations": _times("n't"),
    "wikitext escapes": _times(" @-@"),
    "backslashes": "\\" * MB,
    "repeated words": _times("ha "),
    "emoji": "\U0001f600" * (MB // 4),
}


def _patterns():
    """Every compiled regular expression the tokenizer modules hold."""
    found = {}
    for module in (_rules, _tokenizer):
        for name, value in vars(module).items():
            if isinstance(value, re.Pattern):
                found[f"{module.__name__}.{name}"] = value
    return found


def test_the_pattern_sweep_finds_the_rules():
    names = _patterns()
    assert "sknlp_rnn.text._rules._BR_RE" in names
    assert "sknlp_rnn.text._rules._TOKEN_RE" in names
    assert len(names) >= 8


@pytest.mark.parametrize("name", list(HOSTILE))
def test_every_pattern_is_linear_on_hostile_text(name):
    # each pattern scans the whole document, whatever guard usually skips it
    text = HOSTILE[name]
    for pattern in _patterns().values():
        pattern.sub("", text)


@pytest.mark.parametrize("name", list(HOSTILE))
@pytest.mark.parametrize("level", ["word", "char"])
def test_tokenizer_is_linear_on_hostile_text(name, level):
    tokens = Tokenizer(level=level).transform([HOSTILE[name]])[0]
    assert tokens[0] == "xxbos"
    # at most a case marker per character, and repetitions collapse
    assert len(tokens) <= 2 * len(HOSTILE[name]) + 1


def test_hostile_html_gives_the_expected_tokens():
    tok = Tokenizer(add_bos=False)
    assert tok.transform(["<" + " " * MB])[0] == ["<"]
    assert tok.transform(["<br" + " " * MB + ">x"])[0] == ["\n", "x"]
    assert tok.transform(["x" + "< br />" * 3])[0] == ["x", "xxrep", "3", "\n"]
    chars = Tokenizer(level="char", add_bos=False)
    assert chars.transform(["a\na" + " " * MB + "b"])[0] == ["a", "\n", "a", " ", "b"]


# The patterns these rules replaced, kept as oracles: on short text (where
# their backtracking is cheap) the linear rules must agree with them exactly.
_OLD_BR_RE = re.compile(r"<\s*/?\s*(?:br|p)\s*/?\s*>", re.IGNORECASE)
_OLD_NEWLINE_RE = re.compile(r"[^\S\n]*\n[^\S\n]*")


def _random_texts(alphabet, n=3000, seed=0):
    rng = random.Random(seed)
    return ["".join(rng.choices(alphabet, k=rng.randrange(12))) for _ in range(n)]


def test_line_break_tags_match_the_old_rule():
    for text in _random_texts(["<", ">", "/", " ", "\t", "b", "r", "P", "B", "x"]):
        assert _rules._BR_RE.sub("\n", text) == _OLD_BR_RE.sub("\n", text), text


def test_spaces_around_line_breaks_match_the_old_rule():
    for text in _random_texts([" ", "\t", "\n", "\x0b", "\u2003", "a"]):
        text = text.strip()
        assert _rules._split_chars(text, False, False) == _rules._split_chars(
            _OLD_NEWLINE_RE.sub("\n", text), False, False
        ), text
