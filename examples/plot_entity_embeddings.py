"""
===================================================
Entity embeddings for diamond prices
===================================================

The Rossmann recipe from the fast.ai course on a smaller table: each categorical
column (a diamond's ``cut``, ``color`` and ``clarity``) gets its own learned
embedding vector, the continuous columns (carat, depth, table and the three
dimensions) are imputed and standardised, and a dense network predicts the log
price. :class:`~sknlp_rnn.EntityEmbeddingRegressor` does all of this in one
scikit-learn estimator; ``HistGradientBoostingRegressor`` with native
categorical support is the baseline. A 2-D PCA of the learned ``clarity``
embedding shows what the network made of the grades.

Needs the ``datasets`` extra for the diamonds table.
"""

# %%
# Load the diamonds and hold out 20% for testing
# ----------------------------------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import root_mean_squared_error

from sknlp_rnn.datasets import load_diamonds
from sknlp_rnn.recipes import (
    entity_embedding_regressor,
    gradient_boosting_baseline,
    holdout_split,
)

X, price = load_diamonds(return_X_y=True)
# 20% held out with seed 42, as everywhere in the demo and the benchmarks
X_train, X_test, p_train, p_test = holdout_split(X, price)
print(X.dtypes)

# %%
# Train the entity-embedding network
# ----------------------------------
# ``cut``, ``color`` and ``clarity`` are pandas categoricals, so the default
# ``categorical_features="from_dtype"`` embeds them. ``log_target=True`` fits
# log(price) and predicts prices. The other settings are the defaults: hidden
# layers of 200 and 100 units and Adam at 1e-2; with more than 10,000 training
# rows, early stopping holds out 10% of them, reports a validation loss after
# every epoch, cuts the rate by 0.3 when it stalls for 2 epochs and stops after
# 6 (smaller tables get 15 epochs of a one-cycle schedule instead).
# :func:`sknlp_rnn.recipes.entity_embedding_regressor` is this recipe.
net = entity_embedding_regressor(random_state=0)
net.fit(X_train, p_train)
print("embedding sizes:", net.embedding_sizes_)
for epoch in net.history_[-3:]:
    print(
        f"epoch {epoch['epoch']:2d}  train loss {epoch['train_loss']:.4f}  "
        f"valid loss {epoch['valid_loss']:.4f}"
    )

# %%
# Compare with gradient boosting
# ------------------------------
# Both models are scored by the RMSE of log(price), i.e. roughly the typical
# relative error of a predicted price.
# The baseline, :func:`sknlp_rnn.recipes.gradient_boosting_baseline`, is
# ``HistGradientBoostingRegressor(categorical_features="from_dtype")``.
hgb = gradient_boosting_baseline().fit(X_train, np.log(p_train))
rmse_net = root_mean_squared_error(np.log(p_test), np.log(net.predict(X_test)))
rmse_hgb = root_mean_squared_error(np.log(p_test), hgb.predict(X_test))
print(f"EntityEmbeddingRegressor  RMSE(log price) = {rmse_net:.4f}")
print(f"HistGradientBoosting      RMSE(log price) = {rmse_hgb:.4f}")

# %%
# The embeddings as features for gradient boosting
# ------------------------------------------------
# ``transform`` replaces each categorical column by its learned embedding
# vector (columns ``clarity_0``, ``clarity_1``, ...) and passes the continuous
# columns through raw, so the fitted network's embeddings can feed another
# model, as in the entity-embeddings paper. Gradient boosting on them instead
# of the raw grades changes little here, where each column has a handful of
# grades that boosting handles natively; embeddings help most with categories
# of many levels (see the user guide's "Embeddings as features").
features_train, features_test = net.transform(X_train), net.transform(X_test)
print(list(net.get_feature_names_out()))
hgb_emb = gradient_boosting_baseline().fit(features_train, np.log(p_train))
rmse_emb = root_mean_squared_error(np.log(p_test), hgb_emb.predict(features_test))
print(f"HistGradientBoosting on embeddings  RMSE(log price) = {rmse_emb:.4f}")

# %%
# The learned clarity embedding and the training curve
# ----------------------------------------------------
# ``embeddings_["clarity"]`` is a DataFrame with one row per grade (plus the
# ``<unknown>`` slot used for unseen or missing values). A PCA to two
# dimensions shows how the network arranged the grades: nothing told it that
# the grades are ordered, yet (with this seed) they line up in order, from I1
# (worst) through SI2, SI1, VS2, VS1, VVS2 and VVS1 to IF (best). ``history_``
# is skorch's per-epoch record of the fit.
clarity = net.embeddings_["clarity"].drop(index="<unknown>")
points = PCA(n_components=2).fit_transform(clarity.to_numpy())
history = net.history_
fig, (ax_emb, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.5))
ax_emb.scatter(points[:, 0], points[:, 1], c=np.arange(len(points)), cmap="viridis")
for label, (px, py) in zip(clarity.index, points, strict=True):
    ax_emb.annotate(label, (px, py), textcoords="offset points", xytext=(4, 4))
ax_emb.set(xlabel="PC 1", ylabel="PC 2", title="clarity embedding (PCA)")
ax_loss.plot(history[:, "epoch"], history[:, "train_loss"], "o-", label="train")
ax_loss.plot(history[:, "epoch"], history[:, "valid_loss"], "o-", label="valid")
ax_loss.set(
    xlabel="epoch",
    ylabel="MSE of standardised log price",
    yscale="log",
    title="Training curve",
)
ax_loss.legend()
fig.tight_layout()
plt.show()
