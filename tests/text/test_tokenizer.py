"""Tests for Tokenizer: every rule with exact tokens, inputs, errors, API."""

import pickle
import sys
import types

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.validation import check_is_fitted

from sknlp_rnn import Tokenizer
from sknlp_rnn.text import SPECIAL_TOKENS, _rules


def tok(text, **params):
    """Tokens of one document, without xxbos unless asked."""
    params.setdefault("add_bos", False)
    return Tokenizer(**params).transform([text])[0]


def test_special_tokens_constant():
    assert SPECIAL_TOKENS == (
        "xxunk",
        "xxpad",
        "xxbos",
        "xxeos",
        "xxfld",
        "xxmaj",
        "xxup",
        "xxrep",
        "xxwrep",
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hello world", ["hello", "world"]),
        ("hello, world!", ["hello", ",", "world", "!"]),
        ("(a) [b] {c}", ["(", "a", ")", "[", "b", "]", "{", "c", "}"]),
        (
            "e-mail me @joe #nlp :)",
            ["e", "-", "mail", "me", "@", "joe", "#", "nlp"] + [":", ")"],
        ),
        ("  many \t spaces  ", ["many", "spaces"]),
        ("caf\u00e9 na\u00efve \u00fcber", ["caf\u00e9", "na\u00efve", "\u00fcber"]),
        ("3.14 1,000 10:30 1/2 42", ["3.14", "1,000", "10:30", "1/2", "42"]),
        ("2.5kg end.", ["2.5", "kg", "end", "."]),
        ("snake_case x2", ["snake_case", "x2"]),
        ("wow\U0001f600", ["wow", "\U0001f600"]),
    ],
)
def test_punctuation_split(text, expected):
    assert tok(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("don't", ["do", "n't"]),
        ("can't won't", ["ca", "n't", "wo", "n't"]),
        (
            "it's we're I've you'll she'd I'm",
            ["it", "'s", "we", "'re", "i", "'ve"]
            + ["you", "'ll", "she", "'d", "i", "'m"],
        ),
        ("don\u2019t", ["do", "n't"]),  # typographic apostrophe
        ("the dogs' toys", ["the", "dogs", "'", "toys"]),
        ("'quoted'", ["'", "quoted", "'"]),
    ],
)
def test_contractions(text, expected):
    assert tok(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("see http://t.co/AbC.", ["see", "http://t.co/abc", "."]),
        ("(https://x.org/a?b=1)", ["(", "https://x.org/a?b=1", ")"]),
        ("www.example.com rocks", ["www.example.com", "rocks"]),
    ],
)
def test_urls_stay_whole(text, expected):
    assert tok(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("a<br />b", ["a", "\n", "b"]),
        ("a<br>b<BR/>c", ["a", "\n", "b", "\n", "c"]),
        ("a<p>b", ["a", "\n", "b"]),
        ("Tom &amp; Jerry", ["xxmaj", "tom", "&", "xxmaj", "jerry"]),
        ("it&#39;s &quot;ok&quot;", ["it", "'s", '"', "ok", '"']),
        ("it#39;s quot;ok quot;", ["it", "'s", '"', "ok", '"']),
        ("it#146;s", ["it", "'s"]),
        ("x #01; y", ["x", "#", "01", ";", "y"]),  # no printable character
        ("a amp; b nbsp; c", ["a", "&", "b", "c"]),
        ("line\\nbreak", ["line", "\n", "break"]),
        ("well @-@ known 3 @.@ 5", ["well", "-", "known", "3.5"]),
        ("a\u00a0b", ["a", "b"]),
        ("a\r\nb", ["a", "\n", "b"]),
    ],
)
def test_html_cleanup(text, expected):
    assert tok(text) == expected


def test_html_cleanup_off():
    assert tok("a<br />b &amp;", fix_html=False) == ["a", "<", "br", "/", ">", "b"] + [
        "&",
        "amp",
        ";",
    ]
    # named entities count only as whole words: "camp;" is no "amp;"
    assert tok("camp; x") == ["camp", ";", "x"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hello world", ["xxmaj", "hello", "world"]),
        ("NASA rocks", ["xxup", "nasa", "rocks"]),
        ("I saw A cat", ["i", "saw", "a", "cat"]),  # single letters: no marker
        ("McDonald", ["xxmaj", "mcdonald"]),
        ("DON'T GO", ["xxup", "do", "n't", "xxup", "go"]),  # clitics: no marker
        ("It's", ["xxmaj", "it", "'s"]),
        ("COVID19 iPhone", ["xxup", "covid19", "iphone"]),
        ("Été ÉTÉ", ["xxmaj", "été", "xxup", "été"]),
        ("", []),
    ],
)
def test_case_markers(text, expected):
    assert tok(text) == expected


def test_lower_false_keeps_case_without_markers():
    assert tok("Hello NASA, I'm FINE", lower=False) == [
        "Hello",
        "NASA",
        ",",
        "I",
        "'m",
        "FINE",
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("wow!!!!", ["wow", "xxrep", "4", "!"]),
        ("sooooo good", ["s", "xxrep", "5", "o", "good"]),
        ("no!!", ["no", "!", "!"]),  # two is not a repetition
        ("1000 000", ["1000", "000"]),  # digits are exempt
        ("www.aaa.com", ["www.aaa.com"]),  # URLs are exempt
        ("wait...", ["wait", "xxrep", "3", "."]),
        ("NOOOO", ["n", "xxrep", "4", "o"]),
        ("a\n\n\nb", ["a", "xxrep", "3", "\n", "b"]),
    ],
)
def test_character_repetition(text, expected):
    assert tok(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ha ha ha", ["xxwrep", "3", "ha"]),
        ("no no no no way", ["xxwrep", "4", "no", "way"]),
        ("Ha ha HA", ["xxwrep", "3", "xxmaj", "ha"]),  # case-insensitive
        ("go go", ["go", "go"]),
        ("a a a b b c c c", ["xxwrep", "3", "a", "b", "b", "xxwrep", "3", "c"]),
        ("the theory the", ["the", "theory", "the"]),
        ("sooo sooo sooo", ["s", "xxrep", "3", "o"] * 3),  # rule 2 ran first
    ],
)
def test_word_repetition(text, expected):
    assert tok(text) == expected


def test_word_repetition_is_case_sensitive_without_lower():
    assert tok("Ha ha ha ha", lower=False) == ["Ha", "xxwrep", "3", "ha"]


def test_mark_repeats_off():
    assert tok("ha ha ha!!!", mark_repeats=False) == ["ha", "ha", "ha", "!", "!", "!"]


def test_bos_and_eos():
    assert Tokenizer().transform(["Hi"]) == [["xxbos", "xxmaj", "hi"]]
    assert Tokenizer(add_eos=True).transform(["hi", ""]) == [
        ["xxbos", "hi", "xxeos"],
        ["xxbos", "xxeos"],
    ]
    assert Tokenizer(add_bos=False).transform([""]) == [[]]


def test_empty_and_blank_documents():
    assert Tokenizer().transform(["", "   ", "\t"]) == [["xxbos"]] * 3
    assert Tokenizer().transform([]) == []


def test_char_level():
    out = Tokenizer(level="char", add_bos=False).transform(["Hi  you!!!!"])
    assert out == [["xxmaj", "h", "i", " ", "y", "o", "u", "xxrep", "4", "!"]]


def test_char_level_rules():
    chars = Tokenizer(level="char").transform([" NASA \n ok<br />\tOK.  "])[0]
    assert chars == ["xxbos", "xxup", "n", "a", "s", "a", "\n", "o", "k", "\n"] + [
        "xxup",
        "o",
        "k",
        ".",
    ]
    # the count is one token; no word repetition at char level
    long = Tokenizer(level="char", add_bos=False).transform(["a" * 12 + " ha ha ha"])
    assert long[0][:3] == ["xxrep", "12", "a"]
    assert "xxwrep" not in long[0]
    kept = Tokenizer(level="char", lower=False, add_bos=False).transform(["Ab"])
    assert kept == [["A", "b"]]


@pytest.mark.parametrize(
    "X",
    [
        ["Hi there", "ok"],
        ("Hi there", "ok"),
        np.array(["Hi there", "ok"]),
        np.array(["Hi there", "ok"], dtype=object),
        np.array([["Hi there"], ["ok"]], dtype=object),
        pd.Series(["Hi there", "ok"], index=[10, 20]),
        pd.Series(["Hi there", "ok"], dtype="string"),
        pd.DataFrame({"text": ["Hi there", "ok"]}),
    ],
    ids=["list", "tuple", "ndarray", "object", "column", "series", "string", "frame"],
)
def test_input_containers(X):
    assert Tokenizer().transform(X) == [["xxbos", "xxmaj", "hi", "there"]] + [
        ["xxbos", "ok"]
    ]


@pytest.mark.parametrize(
    "bad, name", [(None, "NoneType"), (np.nan, "float"), (42, "int"), (b"x", "bytes")]
)
def test_non_string_document_names_the_row(bad, name):
    with pytest.raises(TypeError, match=rf"row 2 is {name}"):
        Tokenizer().transform(["a", "b", bad])
    with pytest.raises(TypeError, match=rf"row 2 is {name}"):
        Tokenizer().fit(["a", "b", bad])


def test_missing_values_get_a_fill_hint_and_index_label():
    X = pd.Series(["a", None, "b"], index=["x", "y", "z"])
    with pytest.raises(TypeError, match=r"row 1 \(index label 'y'\).*fillna"):
        Tokenizer().transform(X)
    with pytest.raises(TypeError, match="fillna"):
        Tokenizer().transform(pd.Series(["a", pd.NA], dtype="string"))


def test_bad_containers():
    with pytest.raises(TypeError, match=r"single str.*\[text\]"):
        Tokenizer().transform("just one string")
    with pytest.raises(ValueError, match="one column of text"):
        Tokenizer().transform(pd.DataFrame({"a": ["x"], "b": ["y"]}))
    with pytest.raises(ValueError, match="1-D collection"):
        Tokenizer().transform(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="collection of documents"):
        Tokenizer().transform(5)


def test_invalid_parameters():
    with pytest.raises(InvalidParameterError, match="level"):
        Tokenizer(level="sentence").transform(["a"])
    with pytest.raises(InvalidParameterError, match="n_jobs"):
        Tokenizer(n_jobs="two").fit(["a"])
    for n_jobs in (0, 1.5):  # 0 used to pass and then fail in joblib
        with pytest.raises(InvalidParameterError, match="'n_jobs' parameter"):
            Tokenizer(n_jobs=n_jobs).transform(["a", "b"])


def _corpus(n=300):
    rng = np.random.default_rng(0)
    words = ["Hello", "world", "NASA", "don't", "ha", "!!!", "<br />", "&amp;"]
    return [" ".join(rng.choice(words, size=rng.integers(0, 12))) for _ in range(n)]


def test_n_jobs_gives_the_same_tokens():
    """Chunking and reassembly keep the order (threads: no worker start-up)."""
    docs = _corpus()
    serial = Tokenizer().transform(docs)
    with joblib.parallel_config(backend="threading"):
        assert Tokenizer(n_jobs=2).transform(docs) == serial
        assert Tokenizer(n_jobs=-1).transform(docs[:1]) == serial[:1]
        assert Tokenizer(n_jobs=3, level="char").transform(docs) == Tokenizer(
            level="char"
        ).transform(docs)


@pytest.mark.slow
def test_n_jobs_processes_give_the_same_tokens():
    docs = _corpus()
    assert Tokenizer(n_jobs=2).transform(docs) == Tokenizer().transform(docs)


def test_n_jobs_error_names_the_global_row():
    docs = ["a"] * 50 + [None]
    with pytest.raises(TypeError, match="row 50 is NoneType"):
        Tokenizer(n_jobs=2).transform(docs)


def test_stateless_transformer():
    tokenizer = Tokenizer()
    assert tokenizer.__sklearn_tags__().requires_fit is False
    check_is_fitted(tokenizer)  # needs no fit
    assert tokenizer.fit(["a"]) is tokenizer
    assert tokenizer.__dict__ == Tokenizer().__dict__  # fit learned nothing
    docs = ["Some text", "more TEXT!!!"]
    assert tokenizer.fit_transform(docs) == Tokenizer().transform(docs)


def test_clone_pickle_and_params(tmp_path):
    tokenizer = Tokenizer(level="char", lower=False, n_jobs=2)
    assert clone(tokenizer).get_params() == tokenizer.get_params()
    tokenizer.set_params(level="word")
    assert tokenizer.level == "word"
    docs = ["Hello there!!!"]
    restored = pickle.loads(pickle.dumps(tokenizer))
    assert restored.transform(docs) == tokenizer.transform(docs)
    joblib.dump(tokenizer, tmp_path / "tok.joblib")
    assert joblib.load(tmp_path / "tok.joblib").transform(docs) == [
        ["xxbos", "Hello", "there", "xxrep", "3", "!"]
    ]


# -- spaCy backend ------------------------------------------------------------


@pytest.fixture
def no_spacy_cache():
    _rules.load_spacy.cache_clear()
    yield
    _rules.load_spacy.cache_clear()


def test_spacy_missing_gives_install_hint(monkeypatch, no_spacy_cache):
    monkeypatch.setitem(sys.modules, "spacy", None)  # makes "import spacy" fail
    with pytest.raises(ImportError, match=r'pip install "sknlp-rnn\[spacy\]"'):
        Tokenizer(backend="spacy").transform(["hello"])
    with pytest.raises(ImportError, match="spaCy"):
        Tokenizer(backend="spacy").fit(["hello"])


def test_spacy_backend_glue(monkeypatch, no_spacy_cache):
    """Rules around a stand-in spaCy tokenizer that splits on single spaces."""

    def blank(lang):
        assert lang == "en"
        split = lambda text: [types.SimpleNamespace(text=t) for t in text.split(" ")]  # noqa: E731
        return types.SimpleNamespace(tokenizer=split)

    monkeypatch.setitem(sys.modules, "spacy", types.SimpleNamespace(blank=blank))
    out = Tokenizer(backend="spacy").transform(["Hello NASA ha ha ha \n x!!!!"])
    assert out == [
        ["xxbos", "xxmaj", "hello", "xxup", "nasa", "xxwrep", "3", "ha", "\n", "x"]
        + ["xxrep", "4", "!"]
    ]


def test_spacy_backend_is_word_level_only():
    with pytest.raises(ValueError, match='level="char"'):
        Tokenizer(backend="spacy", level="char").transform(["a"])


def test_spacy_backend_real(no_spacy_cache):
    pytest.importorskip("spacy")
    out = Tokenizer(backend="spacy").transform(["I don't like NASA!!!"])
    assert out == [
        ["xxbos", "i", "do", "n't", "like", "xxup", "nasa", "xxrep"] + ["3", "!"]
    ]
