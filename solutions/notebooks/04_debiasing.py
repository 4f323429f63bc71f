# %% [markdown]
# # Lesson 4, worked through: debiasing and the datasets
#
# The reference solution of `lessons/lesson04_debiasing.py` on `ml-latest-small`. Read
# `lessons/lesson04_debiasing.md` first.
#
# This lesson turns the split of lesson 3 into tensors: a context vector per user, a genre
# vector per movie, and one training example per label. Every rating is taken relative to
# the user's own average, measured on the watch history only.

# %%
# Setup: the course's thread policy (one torch thread, so sums run in the same order on
# any machine and the printed values below are reproducible), 4-decimal printing, the
# tuned settings (never hard-coded here) and the data folder. The course is installed as
# a package by `make venv`.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from course.notebook import setup

CFG, DATA = setup("ml-latest-small")

# %% [markdown]
# Inputs from lessons 1 to 3, built with the reference code.

# %%
from solutions.lesson01_cleaning import (build_movie_maps, clean_ratings, count_ratings_per_movie,
                                         keep_top_movie_ratings, select_top_movies)
from solutions.lesson02_vocabularies import build_genre_index, build_movie_index, build_user_context_index
from solutions.lesson03_masking import split_watch_history
from solutions.pipeline import read_movielens

ratings, movies = read_movielens(DATA)
clean = clean_ratings(ratings)
top_movies = select_top_movies(count_ratings_per_movie(clean), CFG.data.min_ratings_per_movie)
top_ratings = keep_top_movie_ratings(clean, top_movies)
maps = build_movie_maps(movies, top_ratings, top_movies)
movie_index = build_movie_index(top_movies)
genre_index = build_genre_index(maps.genres_by_id)
context_index = build_user_context_index(top_movies, genre_index, CFG.data.num_context_movies)
split = split_watch_history(top_ratings, CFG.data.history_fraction, CFG.data.min_ratings_per_user,
                            CFG.data.split_seed)
print(f"{len(split):,} ratings of {split['userId'].nunique()} users, {len(top_movies):,} movies, "
      f"{len(genre_index)} genres, context size {context_index.size}")

# %% [markdown]
# ## Task 4.1: `user_mean_ratings`
#
# Each user's mean over their *history* rows. Users differ a lot: for some a 3 is a bad
# rating, for others a good one. That is what debiasing removes.

# %%
from solutions.lesson04_debiasing import (build_examples, build_user_contexts, movie_genre_matrix,
                                          select_users, split_users, user_genre_affinity, user_mean_ratings)

user_means = user_mean_ratings(split)
user_means.describe()

# %%
figure, axes = plt.subplots(figsize=(7, 3.5))
axes.hist(user_means.to_numpy(), bins=np.arange(0.75, 5.26, 0.125))
axes.set_xlabel("the user's mean history rating (stars)")
axes.set_ylabel("users")
axes.set_title("Every user has their own scale")
figure.tight_layout()
plt.show()

# %% [markdown]
# ## Task 4.2: `movie_genre_matrix`
#
# One multi-hot row per top movie: the input of the item-feature tower.

# %%
movie_genres = movie_genre_matrix(top_movies, maps.genres_by_id, genre_index)
print("shape:", tuple(movie_genres.shape), movie_genres.dtype)
genres_of = {column: genre for genre, column in genre_index.items()}
for row in range(3):
    on = [genres_of[int(c)] for c in torch.nonzero(movie_genres[row]).flatten()]
    print(f"row {row} {maps.title_by_id[top_movies[row]]}: {on}")
print(f"genres per movie: mean {movie_genres.sum(dim=1).mean():.4f}, max {int(movie_genres.sum(dim=1).max())}")

# %% [markdown]
# ## Task 4.3: `user_genre_affinity`
#
# Per user and genre, how much better (or worse) than their own average the user rates
# that genre's movies in their history; 0 for a genre they have not rated.

# %%
genre_affinity = user_genre_affinity(split, user_means, movie_index, movie_genres)
print("shape:", tuple(genre_affinity.shape))
user = int(user_means.index[0])
print(f"user {user}, mean history rating {user_means.loc[user]:.4f}:")
pd.Series(genre_affinity[0].numpy(), index=list(genre_index), name="affinity").sort_values(ascending=False).to_frame()

# %% [markdown]
# ## Task 4.4: `build_user_contexts`
#
# One row per user: debiased history ratings in the context-movie slots, then the genre
# affinities. Labels never appear in it.

# %%
user_context = build_user_contexts(split, user_means, context_index, genre_affinity)
movie_block = user_context[:, :len(context_index.movie_slot)]
print("shape:", tuple(user_context.shape), user_context.dtype)
print(f"context movies rated per user: mean {(movie_block != 0).sum(dim=1).float().mean():.4f}")
slot_title = {slot: maps.title_by_id[m] for m, slot in context_index.movie_slot.items()}
entries = torch.nonzero(movie_block[0]).flatten()[:6]
pd.DataFrame({"slot": entries.numpy(), "title": [slot_title[int(s)] for s in entries],
              "debiased rating": movie_block[0, entries].numpy()}).set_index("slot")

# %%
# No label leaks into a context: every nonzero movie slot of a user is one of their history ratings.
history = split[split["is_history"]]
history_pairs = set(zip(history["userId"].tolist(), history["movieId"].tolist()))
movie_of_slot = {slot: m for m, slot in context_index.movie_slot.items()}
rows, slots = torch.nonzero(movie_block, as_tuple=True)
context_pairs = set(zip(user_means.index.to_numpy()[rows.numpy()].tolist(), [movie_of_slot[s] for s in slots.tolist()]))
leaks = len(context_pairs - history_pairs)
print(f"nonzero movie slots: {len(rows):,}, of which labels: {leaks}")

# %% [markdown]
# ## Tasks 4.5 to 4.7: users, the split, the examples
#
# Users with too few or too many labels are set aside; the rest are split *by user* into
# training and validation, so the validation loss measures the model on people it has
# never seen. Each example is (user row, movie row, debiased target).

# %%
users = select_users(split, CFG.data.min_labels, CFG.data.max_labels)
train_users, val_users = split_users(users, CFG.data.train_user_fraction, CFG.data.split_seed)
train = build_examples(split, train_users, user_means, movie_index)
val = build_examples(split, val_users, user_means, movie_index)
print(f"min_labels = {CFG.data.min_labels}, max_labels = {CFG.data.max_labels}, "
      f"train_user_fraction = {CFG.data.train_user_fraction}")
print(f"users kept: {len(users)}; training users: {len(train_users)}, validation users: {len(val_users)}, "
      f"in both: {len(np.intersect1d(train_users, val_users))}")
pd.DataFrame({"examples": [len(train), len(val)],
              "target mean": [float(train.target.mean()), float(val.target.mean())],
              "target std": [float(train.target.std()), float(val.target.std())]},
             index=["training", "validation"])

# %%
pd.DataFrame({"user_row": train.user_row[:5].numpy(), "movie_row": train.movie_row[:5].numpy(),
              "title": [maps.title_by_id[top_movies[int(r)]] for r in train.movie_row[:5]],
              "target": train.target[:5].numpy()})

# %% [markdown]
# The targets are centred near 0: a model that always predicts 0 (the user's own average)
# already has a mean squared error equal to the targets' mean square. Lesson 6 must beat it.

# %%
print(f"always predict the user's mean: training MSE {float((train.target ** 2).mean()):.4f}, "
      f"validation MSE {float((val.target ** 2).mean()):.4f}")
