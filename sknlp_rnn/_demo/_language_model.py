"""Workflow "lm": a GRU language model learns to count in words.

Depends on numpy and sknlp_rnn's public recipes.
"""

from __future__ import annotations

import numpy as np

from sknlp_rnn import recipes

from ._registry import Curve, Outcome, Result, Workflow, timed

#: Numbers of the training text, model width and epochs per run size.
SIZES = {
    "tiny": {"n_numbers": 200, "width": 32, "max_epochs": 1},
    "quick": {"n_numbers": None, "width": 64, "max_epochs": 4},
    "default": {"n_numbers": None, "width": 128, "max_epochs": 12},
    "full": {"n_numbers": None, "width": 256, "max_epochs": 15},
}

PROMPT = "one thousand two hundred five , one thousand two hundred six ,"
#: Tokens generated after ``PROMPT``.
N_GENERATED = 12


def _next_token_accuracy(lm, ids, pad_idx):
    """Share of the real tokens of ``ids`` that ``lm`` predicts from the previous."""
    pred = lm.predict_tokens(ids)[:, :-1]
    target = ids[:, 1:]
    real = target != pad_idx
    return float(np.mean(pred[real] == target[real]))


def run(options):
    """Fit the human-numbers recipe; score it with and without the neural cache."""
    size = SIZES[options.size]
    data = recipes.human_numbers_ids(n_numbers=size["n_numbers"])
    lm = recipes.human_numbers_lm(
        width=size["width"],
        max_epochs=size["max_epochs"],
        validation_fraction=data.validation_fraction,
        **options.training(),
    )
    _, seconds = timed(lambda: lm.fit(data.both))
    pad = data.vocab.pad_idx_
    plain = _next_token_accuracy(lm, data.valid, pad)
    prompt = data.vocab.transform(data.tokenizer.transform([PROMPT]))
    words = data.vocab.inverse_transform(
        lm.generate(prompt, N_GENERATED, temperature=0)
    )
    options.log(f"  greedy continuation of '{PROMPT}': {' '.join(words[0])}")
    lm.set_params(**recipes.NEURAL_CACHE)  # prediction only: no refit
    cached = _next_token_accuracy(lm, data.valid, pad)
    train = data.train[data.train != pad]
    most_common = np.bincount(train).argmax()
    valid = data.valid[:, 1:][data.valid[:, 1:] != pad]
    baseline = float(np.mean(valid == most_common))
    task, name = "language model", "human numbers (generated)"
    metric, baseline_name = "next-token accuracy", "most frequent token"
    return Outcome(
        rows=[
            Result(task, name, metric, plain, baseline, baseline_name, seconds),
            Result(
                f"{task} + neural cache (same fit)",
                name,
                metric,
                cached,
                baseline,
                baseline_name,
                seconds,
            ),
        ],
        curves=[
            Curve(
                "language_model",
                "Human numbers: 2-layer GRU language model",
                lm.history_,
                loss="cross-entropy per token",
                metric="valid_acc",
                metric_label="next-token accuracy",
            )
        ],
    )


WORKFLOW = Workflow(
    key="lm",
    title="language model (human numbers)",
    summary='a GRU language model learns to count on "human numbers", with and '
    "without a neural cache, and generates a continuation",
    cpu_seconds={"quick": 7, "default": 53, "full": 105},
    gpu_seconds={},
    run=run,
)
