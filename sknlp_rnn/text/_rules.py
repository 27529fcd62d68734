"""The tokenization rules behind Tokenizer: special tokens, html clean-up,
repetitions, case markers, word and character splitting.

Plain functions over strings, so joblib can run them in worker processes.
Depends on the standard library only; spaCy is imported lazily, only for the
``"spacy"`` backend.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from itertools import compress, count, islice
from operator import and_, eq, ne

UNK, PAD, BOS, EOS, FLD = "xxunk", "xxpad", "xxbos", "xxeos", "xxfld"
MAJ, UP, REP, WREP = "xxmaj", "xxup", "xxrep", "xxwrep"
SPECIAL_TOKENS = (UNK, PAD, BOS, EOS, FLD, MAJ, UP, REP, WREP)
"""The special tokens, in the order :class:`Vocab` gives them ids (0, 1, ...)."""

_URL = r"(?:https?://|www\.)\S*[^\s.,;:!?)\]}'\"]"
# html: line breaks and paragraphs, stripped entities ("#39;", "quot;") as found
# in corpora whose "&" was lost, wikitext escapes (" @-@ "), escaped newlines.
# Every pattern here must run in linear time on any input: no two unbounded
# repetitions that can match the same characters may follow each other (Python
# 3.10 has no possessive quantifiers), so "<" and a million spaces, or a long
# run of one character, cannot make a pattern backtrack quadratically. Each
# whitespace run inside the tag below is followed by a character it cannot
# match ("/", a letter or ">"), so each start position fails in one pass.
_BR_RE = re.compile(r"<\s*(?:/\s*)?(?:br|p)\s*(?:/\s*)?>", re.IGNORECASE)
_NUM_ENTITY_RE = re.compile(r"(?<!&)#(\d{2,5});")
_NAMED_ENTITY_RE = re.compile(r"(?<![&\w])(quot|amp|nbsp|apos|lt|gt);")
_NAMED = {"quot": '"', "amp": "&", "nbsp": " ", "apos": "'", "lt": "<", "gt": ">"}
_WIKI_RE = re.compile(r" @([-.,])@ ")
# character repetition: a run of >= 3 identical characters (not digits, not
# spaces: "1000" stays a number); URLs are matched first and left alone. The
# cheap hint regex skips the substitution for most documents.
_REP_HINT_RE = re.compile(r"(.)\1\1", re.DOTALL)
_REP_RE = re.compile(rf"({_URL})|([^\s\d]|\n)\2{{2,}}")
# "don't" -> "do n't": a space before the clitic, so words match plainly
_NT_RE = re.compile(r"(?<=\w)n't\b", re.IGNORECASE)
# one token per match, first alternative wins: URL, "n't", clitics ("'s",
# "'re", ...), numbers with separators, words, newline, any other single
# non-space character (punctuation, symbols, emoji).
_TOKEN_RE = re.compile(
    rf"""{_URL}
    | (?i:n't)\b
    | (?<=\w)'(?i:s|re|ve|ll|d|m)\b
    | \d+(?:[.,:/]\d+)+
    | \w+
    | \n
    | \S""",
    re.VERBOSE,
)
_CHAR_PIECE_RE = re.compile(r"\n|[^\S\n]+|\S+")
_CHAR_REP_RE = re.compile(r"([^\s\d])\1{2,}")
_CLITICS = frozenset({"n't", "'s", "'re", "'ve", "'ll", "'d", "'m"})
_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def _numeric_entity(match):
    code = int(match.group(1))
    if 128 <= code < 160:  # Windows-1252 code points ("#146;" is a quote)
        return bytes([code]).decode("cp1252", errors="replace")
    if code < 32 or 0xD800 <= code < 0xE000 or code >= 0x110000:
        return match.group(0)  # no printable character: leave it
    return chr(code)


def _fix_html(text):
    """Undo html and corpus artefacts: ``<br />``, entities, ``#39;``, ``@-@``."""
    if "<" in text:
        text = _BR_RE.sub("\n", text)
    if ";" in text:
        if "&" in text:
            text = html.unescape(text)
        text = _NUM_ENTITY_RE.sub(_numeric_entity, text)
        text = _NAMED_ENTITY_RE.sub(lambda m: _NAMED[m.group(1)], text)
    if "\\" in text:
        text = text.replace("\\n", "\n").replace('\\"', '"')
    if "@ " in text:
        text = _WIKI_RE.sub(r"\1", text)
    return text.replace("\xa0", " ")


def _normalize(text, fix_html):
    if fix_html:
        text = _fix_html(text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\u2019", "'")


def _rep(match):
    if match.group(1):
        return match.group(1)
    run = match.group(0)
    return f" {REP} {len(run)} {run[0]} "


def _word_repeats(tokens, keys):
    """Collapse runs of >= 3 equal ``keys`` into ``xxwrep n token``."""
    if not any(map(eq, keys, islice(keys, 1, None))):  # C-level: no equal pair
        return tokens, keys
    pairs = list(map(eq, keys, islice(keys, 1, None)))
    if not any(map(and_, pairs, islice(pairs, 1, None))):
        return tokens, keys
    out_tokens, out_keys = [], []
    i, n = 0, len(keys)
    while i < n:
        j = i + 1
        while j < n and keys[j] == keys[i]:
            j += 1
        if j - i >= 3:
            out_tokens += [WREP, str(j - i), tokens[i]]
            out_keys += [WREP, str(j - i), keys[i]]
        else:
            out_tokens += tokens[i:j]
            out_keys += keys[i:j]
        i = j
    return out_tokens, out_keys


def _case_marker(token):
    """The case marker a token needs once lower-cased (``None`` if none)."""
    if len(token) < 2:
        return None
    if token[0].isupper() and token[1:].islower():  # the common case: "Hello"
        return MAJ
    if token.isupper():
        return None if token.lower() in _CLITICS else UP
    core = token.strip(_PUNCT)
    if len(core) < 2:
        return None
    if core.isupper():
        return UP
    return MAJ if core[0].isupper() else None


def _mark_case(tokens, lowered):
    """``lowered`` with a marker before each token whose case was lost."""
    out, start = [], 0
    for i in compress(count(), map(ne, tokens, lowered)):
        token, low = tokens[i], lowered[i]
        if token[1:] == low[1:]:  # only the first letter changed: "Hello", "I"
            marker = MAJ if len(token) > 1 else None
        elif token.isupper():  # "NASA", "RT", but "N'T" is a clitic
            marker = UP if low not in _CLITICS else None
        elif token[0].isupper():  # camel case: "McDonald", "DeflateGate"
            marker = MAJ
        else:  # "iPhone", URLs
            marker = _case_marker(token)
        if marker is not None:
            out += lowered[start:i]
            out.append(marker)
            start = i
    return out + lowered[start:] if out else lowered


def _split_words(text, lower, mark_repeats, spacy_tokenizer=None):
    if mark_repeats and _REP_HINT_RE.search(text):
        text = _REP_RE.sub(_rep, text)
    if spacy_tokenizer is None:
        if "'t" in text or "'T" in text:
            text = _NT_RE.sub(r" \g<0>", text)
        tokens = _TOKEN_RE.findall(text)
    else:
        tokens = _spacy_tokens(spacy_tokenizer(text))
    # tokens hold no space, so one C-level lower() serves them all
    keys = " ".join(tokens).lower().split(" ") if lower and tokens else tokens
    if mark_repeats:
        tokens, keys = _word_repeats(tokens, keys)
    return _mark_case(tokens, keys) if lower else tokens


def _spacy_tokens(doc):
    out = []
    for token in doc:
        text = token.text
        if not text:
            continue
        if text.isspace():
            out.extend("\n" * text.count("\n"))
        else:
            out.append(text)
    return out


def _split_chars(text, lower, mark_repeats):
    out = []
    text = text.strip()
    if "\n" in text:  # drop the spaces around line breaks; a split is linear
        text = "\n".join(line.strip() for line in text.split("\n"))
    for piece in _CHAR_PIECE_RE.findall(text):
        if piece == "\n" or piece[0].isspace():
            out.append("\n" if piece == "\n" else " ")
            continue
        if lower:
            marker = _case_marker(piece)
            if marker is not None:
                out.append(marker)
            piece = piece.lower()
        if mark_repeats and _CHAR_REP_RE.search(piece):
            start = 0
            for m in _CHAR_REP_RE.finditer(piece):
                out.extend(piece[start : m.start()])
                out += [REP, str(m.end() - m.start()), m.group(1)]
                start = m.end()
            out.extend(piece[start:])
        else:
            out.extend(piece)
    return out


def tokenize_chunk(texts, level, lower, fix_html, mark_repeats, bos, eos, backend):
    """Tokenize a list of strings (module level so joblib can send it to workers)."""
    head = [BOS] if bos else []
    tail = [EOS] if eos else []
    spacy_tokenizer = load_spacy() if backend == "spacy" else None
    out = []
    for text in texts:
        text = _normalize(text, fix_html)
        if level == "char":
            tokens = _split_chars(text, lower, mark_repeats)
        else:
            tokens = _split_words(text, lower, mark_repeats, spacy_tokenizer)
        out.append(head + tokens + tail if head or tail else tokens)
    return out


@lru_cache(maxsize=1)
def load_spacy():
    """The tokenizer of ``spacy.blank("en")``, loaded once per process."""
    try:
        import spacy
    except ImportError as exc:
        raise ImportError(
            'Tokenizer(backend="spacy") needs spaCy, which is not installed. Install '
            'it with: pip install "sknlp-rnn[spacy]" (or use backend="rules").'
        ) from exc
    return spacy.blank("en").tokenizer
