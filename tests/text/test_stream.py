"""The stream callbacks' helpers."""

import math

import pytest

from sknlp_rnn.text._stream import _perplexity


def test_perplexity_of_a_diverging_loss_is_inf():
    """A finite loss above ~709 is recorded as an infinite perplexity; it used
    to stop fit with an OverflowError (a diverging ReLU RNN's first epoch)."""
    assert _perplexity(1.0) == pytest.approx(math.e)
    assert _perplexity(800.0) == math.inf
