"""
=====================================
Training curves, saving and reloading
=====================================

Train a small :class:`~sknlp_rnn.RNNTextClassifier` on generated token-id
documents with a validation split, plot its training curves, then save it in
the safe format (JSON + safetensors, no pickle) and check that the reloaded
model predicts exactly the same probabilities. Needs no optional data set.
"""

# %%
# Generated documents
# -------------------
# Each document is a row of token ids; a document is positive when it
# contains token 3. Id 1 pads the rows to a common width.
import io

import matplotlib.pyplot as plt
import numpy as np

import sknlp_rnn
from sknlp_rnn import RNNTextClassifier

rng = np.random.RandomState(0)
lengths = rng.randint(3, 12, size=400)
X = np.ones((400, 12), dtype=np.int64)
for i, n in enumerate(lengths):
    X[i, :n] = rng.randint(2, 30, size=n)
y = np.where((X == 3).any(1), "positive", "negative")
print(f"{len(X)} documents, {np.mean(y == 'positive'):.0%} positive")

# %%
# Train with a validation split
# -----------------------------
clf = RNNTextClassifier(
    embedding_dim=16,
    hidden_size=32,
    max_epochs=15,
    validation_fraction=0.2,
    random_state=0,
)
clf.fit(X, y)

history = clf.history_
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(history[:, "epoch"], history[:, "train_loss"], label="train loss")
ax.plot(history[:, "epoch"], history[:, "valid_loss"], label="valid loss")
ax.plot(history[:, "epoch"], history[:, "valid_acc"], label="valid accuracy")
ax.set_xlabel("epoch")
ax.legend()
ax.set_title("RNNTextClassifier on generated documents")
fig.tight_layout()

# %%
# Save in the safe format and reload
# ----------------------------------
# :func:`sknlp_rnn.save` writes hyperparameters and fitted state as JSON and the
# weights as safetensors; :func:`sknlp_rnn.load` runs no pickled code.
buffer = io.BytesIO()
sknlp_rnn.save(clf, buffer)
print(f"saved {len(buffer.getvalue()) / 1024:.1f} KiB")
reloaded = sknlp_rnn.load(buffer)
same = np.array_equal(reloaded.predict_proba(X), clf.predict_proba(X))
print("identical probabilities after reloading:", same)
