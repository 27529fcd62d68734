"""
=========================================
Collaborative filtering on MovieLens
=========================================

Learn a factor vector and a bias for every user and every movie of MovieLens
(100,004 ratings from 671 users on 9,066 movies) with
:class:`~sknlp_rnn.CollabFilterRegressor`: a rating is the dot product of the
user's and the movie's factors plus both biases, squashed into the rating
range by a scaled sigmoid. We measure the RMSE on a held-out 20% of the
ratings, read the movies with the highest and lowest learned bias, draw the
movie factors of the most-rated movies in two dimensions and plot the training
curve. Then we add the day of each rating and the movie's genres as side
features, which lowers the held-out RMSE to 0.850. Needs the
``datasets`` and ``plot`` extras
(``pip install "sknlp-rnn[datasets,plot]"``).
"""

# %%
# The ratings
# -----------
# Each row is one rating: a user id, a movie id and 0.5 to 5 stars. We hold
# out a random 20% of the ratings (seed 42, as in ``benchmarks/collab.py``).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA

from sknlp_rnn.datasets import load_movielens
from sknlp_rnn.recipes import collab_filter, holdout_split

ratings = load_movielens().frame
titles = ratings.drop_duplicates("movieId").set_index("movieId")["title"]
titles = titles.fillna("movie " + titles.index.to_series().astype(str))
train, test, _, _ = holdout_split(ratings, ratings["rating"])
print(f"{len(train)} training ratings, {len(test)} held out")
print(ratings[["userId", "movieId", "title", "rating"]].head())

# %%
# Fit
# ---
# The defaults are the benchmarked settings: 50 factors, ``y_range="auto"``
# (here (0, 5.5)), batches of 1536 ratings, Adam with a one-cycle learning
# rate schedule peaking at 1.2e-2 over 4 epochs, and an L2 penalty of 0.08 on
# the factors of the ids in each batch (biases are not penalised). We keep
# 10% of the training ratings aside to watch a validation loss while training.
# :func:`sknlp_rnn.recipes.collab_filter` is this recipe (the demo runs it too).
model = collab_filter(validation_fraction=0.1, random_state=0)
model.fit(train[["userId", "movieId"]], train["rating"])

pred = model.predict(test[["userId", "movieId"]])
rmse = np.sqrt(np.mean((pred - test["rating"]) ** 2))
baseline = np.sqrt(np.mean((train["rating"].mean() - test["rating"]) ** 2))
print(f"held-out RMSE: {rmse:.4f} (global mean: {baseline:.4f})")

# %%
# Training curve
# --------------
# ``history_`` is skorch's record of every epoch. The training loss includes
# the L2 penalty; the validation loss is the plain mean squared error.
history = model.history_
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(history[:, "epoch"], history[:, "train_loss"], label="train loss (MSE + L2)")
ax.plot(history[:, "epoch"], history[:, "valid_loss"], label="validation MSE")
ax.set_xlabel("epoch")
ax.set_ylabel("loss")
ax.legend()
fig.tight_layout()

# %%
# Movie biases
# ------------
# A movie's bias is what is left of its ratings once the users' tastes (the
# factors) are accounted for: a low bias means that even the users who like
# this kind of movie rate it low. We look only at movies with at least 20
# ratings.
counts = train["movieId"].value_counts()
bias = model.item_bias_[counts[counts >= 20].index]
print("lowest bias:")
print(titles[bias.nsmallest(8).index].to_string())
print("\nhighest bias:")
print(titles[bias.nlargest(8).index].to_string())

# %%
# The day of the rating and the genres
# ------------------------------------
# ``load_movielens`` also derives ``user_day``: the user and the calendar day
# of each rating (``"15@2009-12-29"``). Columns after the user and item ids are
# side features; with the default ``side_features="bias"`` each of their
# values gets a learned bias and nothing else. A user-day bias is the user's
# mood that day (the day-specific user bias of Koren's timeSVD): people rate
# in sessions, and a session's ratings lean the same way. A genre bias is
# shared by every movie of a genre combination, so it also informs movies
# rated once or never in training, whose own bias has little to go on.
side = ["userId", "movieId", "user_day", "genres"]
daily = collab_filter(random_state=0).fit(train[side], train["rating"])
daily_rmse = np.sqrt(np.mean((daily.predict(test[side]) - test["rating"]) ** 2))
print(
    f"held-out RMSE with user_day and genres: {daily_rmse:.4f} (ids only: {rmse:.4f})"
)

genre_counts = train["genres"].value_counts()
genre_bias = daily.side_biases_["genres"][genre_counts[genre_counts >= 300].index]
print("\ngenres rated lowest, then highest (300 ratings or more):")
print(genre_bias.sort_values().iloc[[0, 1, 2, -3, -2, -1]].round(3).to_string())
day_bias = daily.side_biases_["user_day"]
print(f"\n{len(day_bias)} user-days, biases with std {day_bias.std():.3f}")

# %%
# Movie factors in two dimensions
# -------------------------------
# The factors of the 50 most-rated movies, projected on their first two
# principal components. Movies close together are liked by the same users.
top = counts.index[:50]
factors = model.item_factors_.loc[top]
xy = PCA(n_components=2).fit_transform(factors)
fig, ax = plt.subplots(figsize=(9, 9))
ax.scatter(xy[:, 0], xy[:, 1], s=10)
for (x, y), movie in zip(xy, top, strict=True):
    ax.annotate(titles[movie][:30], (x, y), fontsize=7)
ax.set_xlabel("first principal component")
ax.set_ylabel("second principal component")
fig.tight_layout()

# %%
# Recommendations and similar movies
# ----------------------------------
# ``recommend`` ranks the movies a user has not rated yet;
# ``similar_items`` ranks movies by the cosine similarity of their factors.
# The factors of movies rated only a handful of times are short, noisy
# vectors, so we keep the similar movies with at least 50 ratings.
recs = model.recommend(train["userId"].iloc[0], n=5)
recs["title"] = titles[recs["movieId"]].to_numpy()
print(recs)
matrix = titles[titles == "Matrix, The"].index[0]
similar = model.similar_items(matrix, n=500)
similar = similar[similar["movieId"].map(counts) >= 50].head(5)
similar["title"] = titles[similar["movieId"]].to_numpy()
print(similar)

plt.show()
