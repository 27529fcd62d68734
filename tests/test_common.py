"""scikit-learn's estimator checks on every public sknlp_rnn estimator.

Each estimator is checked with the shrunk parameters of the test registry
(``sknlp_rnn._testing.REGISTRY``: few epochs, tiny widths). A check that cannot
apply is listed in the registry's ``expected_failed_checks`` with its reason,
strict where the failure is deterministic; the goal for those lists is empty.
"""

import re
from functools import partial

import pytest
from sklearn.base import clone
from sklearn.utils import estimator_checks as ec

from sknlp_rnn._testing import (
    REGISTRY,
    check_instances,
    expected_failed_checks,
    missing_entries,
    public_estimators,
)

INSTANCES = [
    est
    for _, cls in public_estimators()
    if cls in REGISTRY
    for est in check_instances(cls)
]
NUMERIC_INPUT = [
    est for est in INSTANCES if est.__sklearn_tags__().input_tags.two_d_array
]
# Text transformers (Tokenizer, Vocab) take strings or token lists, never a
# numeric matrix, so sklearn yields no check for them: they get the checks that
# need no data here, and their own tests cover fit/transform, clone and pickle.
STRING_INPUT = [
    est for est in INSTANCES if not est.__sklearn_tags__().input_tags.two_d_array
]
DATA_FREE_CHECKS = [
    ec.check_estimator_cloneable,
    ec.check_estimator_tags_renamed,
    ec.check_valid_tag_types,
    ec.check_estimator_repr,
    ec.check_no_attributes_set_in_init,
    ec.check_do_not_raise_errors_in_init_or_set_params,
    ec.check_mixin_order,
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_parameters_default_constructible,
]


def _check_name(check):
    return (check.func if isinstance(check, partial) else check).__name__


def _check_id(check):
    keywords = check.keywords if isinstance(check, partial) else {}
    args = ",".join(f"{key}={value}" for key, value in keywords.items())
    return f"{_check_name(check)}({args})" if args else _check_name(check)


def _checks(estimators):
    """``pytest.param(estimator, check)`` for sklearn's checks of ``estimators``.

    sklearn's ``parametrize_with_checks`` marks every expected failure with one
    strictness for all; this marks each with its own: strict where the registry
    says the failure is deterministic, so a check that starts passing fails the
    run until its entry is removed.
    """
    for est in estimators:
        expected = expected_failed_checks(est)
        for instance, check in ec.estimator_checks_generator(est, mark=None):
            marks = []
            failure = expected.get(_check_name(check))
            if failure is not None:
                marks.append(
                    pytest.mark.xfail(reason=failure.reason, strict=failure.strict)
                )
            est_id = re.sub(r"\s", "", repr(est))
            yield pytest.param(
                instance, check, marks=marks, id=f"{est_id}-{_check_id(check)}"
            )


def test_every_estimator_is_registered():
    assert not missing_entries(), missing_entries()


def test_trained_estimators_have_shrunk_params():
    """Training with the defaults would make the checks slow."""
    trained = [
        cls.__name__
        for _, cls in public_estimators()
        if "max_epochs" in cls().get_params()
        and not (REGISTRY[cls].params and "max_epochs" in REGISTRY[cls].check_params)
    ]
    assert not trained, (
        f"give {trained} shrunk params and check_params with max_epochs in "
        "REGISTRY in sknlp_rnn/_testing.py"
    )


def test_expected_failures_name_checks_that_run():
    """An entry for a check sklearn no longer runs (or a typo) is stale."""
    for cls in REGISTRY:
        listed = {
            name for est in check_instances(cls) for name in expected_failed_checks(est)
        }
        if not listed:
            continue
        run = {
            _check_name(check)
            for est in check_instances(cls)
            for _, check in ec.estimator_checks_generator(est, mark=None)
        }
        stale = sorted(listed - run)
        assert not stale, f"{cls.__name__}: no such check is run: {stale}"


@pytest.mark.parametrize("estimator, check", list(_checks(NUMERIC_INPUT)))
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("check", DATA_FREE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("estimator", STRING_INPUT, ids=lambda e: type(e).__name__)
def test_string_input_estimator_api(estimator, check):
    check(type(estimator).__name__, clone(estimator))
    if estimator.__sklearn_tags__().requires_fit:
        ec.check_estimators_unfitted(type(estimator).__name__, clone(estimator))
