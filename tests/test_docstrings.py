"""The estimators' docstrings agree with their signatures and with each other.

For every public estimator, the numpydoc ``Parameters`` section of the class
docstring documents every ``__init__`` parameter, in signature order, with the
signature's default. A parameter shared by the estimators that train a torch
module has the same type, default and description in each of them, unless its
meaning legitimately differs: ``DIFFERENCES`` lists those cases with a reason
(as scikit-learn's ``test_docstring_parameters`` does for its estimators).
numpydoc is only a docs dependency, so a small parser reads the section here.
"""

import ast
import inspect
import re
import sys
from dataclasses import dataclass
from itertools import combinations

import pytest

from sknlp_rnn import (
    CollabFilterRegressor,
    EntityEmbeddingRegressor,
    RNNTextClassifier,
    SequenceLMRegressor,
)
from sknlp_rnn._testing import public_estimators, trained_estimators

ESTIMATORS = public_estimators()
TRAINED = [cls for _, cls in trained_estimators()]
_HEADER = re.compile(r"^(\w+)\s*:\s*(.*)$")


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: str | None  # as written after "default=", if anything
    description: str


def parse_parameters(doc):
    """``[Param]`` from the ``Parameters`` section of a numpydoc docstring.

    An unindented ``name : type, default=value`` line opens an entry; the
    indented lines under it are its description, joined by single spaces.
    """
    lines = inspect.cleandoc(doc).splitlines()
    start = lines.index("Parameters") + 2
    assert set(lines[start - 1]) == {"-"}, "a dashed line must follow 'Parameters'"
    params = []
    for i in range(start, len(lines)):
        line = lines[i]
        if i + 1 < len(lines) and lines[i + 1] and set(lines[i + 1]) == {"-"}:
            break  # the next section's title
        if line and not line[0].isspace():
            match = _HEADER.match(line)
            assert match, f"not a 'name : type' line: {line!r}"
            name, type_line = match.groups()
            type_, _, default = type_line.rpartition(", default=")
            if not type_:
                type_, default = type_line, None
            params.append(Param(name, type_, default, ""))
        elif line.strip():
            assert params, f"description before any parameter: {line!r}"
            last = params[-1]
            text = f"{last.description} {line.strip()}".strip()
            params[-1] = Param(last.name, last.type, last.default, text)
    return params


def _documented(cls):
    return {p.name: p for p in parse_parameters(cls.__doc__)}


def _signature(cls):
    return inspect.signature(cls.__init__).parameters


def _same_value(written, value, module):
    """Whether ``written`` (a default as the docstring gives it) is ``value``:
    a literal, or the name of a constant of the estimator's module."""
    if written.isidentifier() and hasattr(module, written):
        return getattr(module, written) == value
    try:
        parsed = ast.literal_eval(written)
    except (ValueError, SyntaxError):
        return False
    return parsed == value and isinstance(parsed, bool) == isinstance(value, bool)


@pytest.mark.parametrize("name, cls", ESTIMATORS)
def test_every_parameter_is_documented_in_order(name, cls):
    signature = [p for p in _signature(cls) if p != "self"]
    documented = list(_documented(cls))
    assert documented == signature, (
        f"{name}'s Parameters section must list {signature} in this order"
    )


@pytest.mark.parametrize("name, cls", ESTIMATORS)
def test_documented_defaults_are_the_signatures(name, cls):
    documented = _documented(cls)
    module = sys.modules[cls.__module__]
    wrong = {
        param.name: (documented[param.name].default, param.default)
        for param in _signature(cls).values()
        if param.name in documented
        and not _same_value(documented[param.name].default or "", param.default, module)
    }
    assert not wrong, f"{name}: documented default vs signature: {wrong}"


CLF, LM = RNNTextClassifier, SequenceLMRegressor
EE, CF = EntityEmbeddingRegressor, CollabFilterRegressor
EACH = "each"  # every estimator may differ from every other

# Aspects ("type", "default" or "description") in which a shared parameter may
# differ, and why: ``{(parameter, aspect): (groups, reason)}``. Estimators in one
# group must agree; estimators the groups do not name form one more group.
_TUNED = "the default is tuned for each model and data size"
_ARCHITECTURE = "each network applies it in its own places, described with it"
DIFFERENCES = {
    ("lr", "default"): (EACH, _TUNED),
    ("early_stopping", "default"): (
        [[EE]],
        "entity embeddings stop early on large tables (benchmarks/defaults.py "
        "measured it); the others' defaults were tuned at fixed epochs",
    ),
    ("lr_schedule", "type"): (
        [[EE, CLF]],
        "entity embeddings and the classifier add 'auto'",
    ),
    ("lr_schedule", "description"): ([[EE, CLF]], "they describe 'auto'"),
    ("max_epochs", "type"): (
        EACH,
        "'auto' (where offered) resolves by each estimator's own measured rule",
    ),
    ("max_epochs", "description"): (EACH, "each describes its 'auto' rule"),
    ("lr_schedule", "default"): (
        [[LM], [EE, CLF]],
        "'auto' (one cycle without early stopping) is the measured default of "
        "entity embeddings and the classifier (benchmarks/defaults.py); the "
        "language model keeps a constant rate (its defaults were tuned so)",
    ),
    ("max_epochs", "default"): (EACH, _TUNED),
    ("batch_size", "default"): (EACH, _TUNED),
    ("batch_size", "description"): (
        [[CLF], [LM]],
        "a batch holds documents for the classifier and parallel streams for "
        "the language model; rows for the tabular estimators",
    ),
    ("optimizer", "type"): (
        [[CF]],
        "collaborative filtering adds 'lazy_adam' (sparse updates of the "
        "factor rows a batch looked up)",
    ),
    ("optimizer", "default"): ([[CF]], "collaborative filtering uses 'lazy_adam'"),
    ("optimizer", "description"): ([[CF]], "it describes 'lazy_adam'"),
    ("weight_decay", "description"): (
        [[CF]],
        "collaborative filtering also has factor_l2 and says which is which",
    ),
    ("validation_fraction", "description"): (
        [[CLF], [LM]],
        "the classifier holds out a stratified split and reports accuracy; the "
        "language model validates on the end of its stream (perplexity, "
        "next-token accuracy)",
    ),
    ("precision", "description"): (
        [[EE]],
        "entity embeddings predict in float64 whatever the training precision",
    ),
    ("random_state", "description"): (
        [[LM]],
        "the language model does not shuffle (it reads one stream, validates on "
        "its end) and draws its window lengths",
    ),
    ("clip_norm", "default"): (EACH, _TUNED),
    ("dropout", "type"): ([[EE]], "entity embeddings take one rate per layer"),
    ("dropout", "default"): (EACH, _TUNED),
    ("dropout", "description"): (EACH, _ARCHITECTURE),
    ("hidden_size", "default"): (EACH, _TUNED),
    ("hidden_size", "description"): (
        EACH,
        "the language model's last layer is embedding_dim wide with tied weights",
    ),
    ("embedding_dim", "default"): (EACH, _TUNED),
    ("cell", "default"): (
        [[CLF]],
        "a bidirectional GRU measured best for classification "
        "(benchmarks/defaults.py); the language model keeps the AWD-LSTM",
    ),
    ("embedding_dim", "description"): (
        EACH,
        "the language model's last recurrent layer is this wide with tied weights",
    ),
    ("n_layers", "default"): (EACH, _TUNED),
    ("hidden_sizes", "default"): (EACH, _TUNED),
    ("hidden_sizes", "description"): (
        EACH,
        "collaborative filtering uses them with model='mlp' only",
    ),
    ("max_vocab_size", "description"): (
        EACH,
        "the language model also checks bos_idx against it",
    ),
    ("pad_idx", "description"): (
        EACH,
        "the classifier reads a row up to its last real token; the language "
        "model drops padding from its stream",
    ),
    ("unk_idx", "description"): (
        EACH,
        "the classifier also requires it to differ from pad_idx",
    ),
    ("embedding_dropout", "description"): (
        EACH,
        "a different regularizer under one name: whole words dropped from the "
        "language model's embedding matrix (AWD-LSTM), plain dropout on the "
        "concatenated column embeddings (fast.ai's tabular model)",
    ),
    ("y_range", "default"): (
        EACH,
        "ratings are bounded ('auto'); a table's target is often heavy-tailed "
        "(None, measured in benchmarks/defaults.py)",
    ),
    ("y_range", "description"): (
        EACH,
        "one rule, described for each target: entity embeddings apply it to "
        "log(y) with log_target; collaborative filtering's example is ratings",
    ),
}


def _shared():
    """``{parameter: [classes]}`` for the parameters of two or more trained
    estimators."""
    names = {}
    for cls in TRAINED:
        for name in _signature(cls):
            if name != "self":
                names.setdefault(name, []).append(cls)
    return {name: classes for name, classes in names.items() if len(classes) > 1}


def _groups(param, aspect, classes):
    groups, _ = DIFFERENCES.get((param, aspect), ([], ""))
    if groups == EACH:
        return [[cls] for cls in classes]
    named = {cls for group in groups for cls in group}
    rest = [cls for cls in classes if cls not in named]
    return [[cls for cls in group if cls in classes] for group in groups] + [rest]


SHARED = _shared()
ASPECTS = ("type", "default", "description")


@pytest.mark.parametrize("aspect", ASPECTS)
@pytest.mark.parametrize("param", sorted(SHARED))
def test_shared_parameters_agree_across_estimators(param, aspect):
    docs = {cls: getattr(_documented(cls)[param], aspect) for cls in SHARED[param]}
    for group in _groups(param, aspect, SHARED[param]):
        for a, b in combinations(group, 2):
            assert docs[a] == docs[b], (
                f"{param!r} {aspect} drifted between {a.__name__} and "
                f"{b.__name__}:\n  {docs[a]!r}\n  {docs[b]!r}\nmake them agree, "
                "or list the difference in DIFFERENCES with its reason"
            )


@pytest.mark.parametrize("key", sorted(DIFFERENCES))
def test_listed_differences_exist(key):
    """A listed difference that no longer differs is stale: remove it."""
    param, aspect = key
    assert param in SHARED, f"{param!r} is no longer shared"
    values = {getattr(_documented(cls)[param], aspect) for cls in SHARED[param]}
    assert len(values) > 1, f"{key} no longer differs: remove it from DIFFERENCES"


def test_every_trained_estimator_takes_the_shared_training_arguments():
    # DESIGN.md: the training arguments every estimator shares
    shared = {
        "lr", "max_epochs", "batch_size", "optimizer", "weight_decay",
        "validation_fraction", "patience", "callbacks", "device", "random_state",
        "verbose",
    }  # fmt: skip
    for cls in TRAINED:
        assert shared <= set(_signature(cls)), cls.__name__


def test_parser_reads_entries_until_the_next_section():
    doc = """Summary.

    Parameters
    ----------
    a : int, default=3
        First line
        second line.
    b : {"x", "y"} or None
        Bee.

    Attributes
    ----------
    c_ : int
        Not a parameter.
    """
    assert parse_parameters(doc) == [
        Param("a", "int", "3", "First line second line."),
        Param("b", '{"x", "y"} or None', None, "Bee."),
    ]
