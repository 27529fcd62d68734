import pytest

from sknlp_rnn.datasets import human_numbers, number_to_words


@pytest.mark.parametrize(
    "n, words",
    [
        (1, "one"),
        (13, "thirteen"),
        (20, "twenty"),
        (21, "twenty one"),
        (100, "one hundred"),
        (105, "one hundred five"),
        (1000, "one thousand"),
        (1010, "one thousand ten"),
        (8021, "eight thousand twenty one"),
        (9999, "nine thousand nine hundred ninety nine"),
    ],
)
def test_number_to_words(n, words):
    assert number_to_words(n) == words


@pytest.mark.parametrize("n", [0, 10000, -3])
def test_number_to_words_rejects_out_of_range(n):
    with pytest.raises(ValueError, match="between 1 and 9999"):
        number_to_words(n)


def test_human_numbers_splits():
    data = human_numbers()
    train = data.train.split(" , ")
    valid = data.valid.split(" , ")
    assert len(train) == 8000 and len(valid) == 1999
    assert train[0] == "one" and train[-1] == "eight thousand"
    assert valid[0] == "eight thousand one"
    assert valid[-1] == "nine thousand nine hundred ninety nine"
    words = set(data.train.split()) | set(data.valid.split())
    assert len(words) == 30
    assert not {"and"} & words and not any("-" in w for w in words)
    # the trivial baseline quoted in the docs: "thousand" is 15% of the valid text
    tokens = data.valid.split()
    assert tokens.count("thousand") / len(tokens) == pytest.approx(0.1536, abs=1e-3)
    assert "Human numbers" in data.DESCR


def test_human_numbers_separator():
    data = human_numbers(separator=".")
    assert data.train.startswith("one . two . three")
    with pytest.raises(ValueError, match="separator"):
        human_numbers(separator=" ")
