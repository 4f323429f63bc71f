# %% [markdown]
# # Lesson 3, worked through: masking the watch history
#
# The reference solution of `lessons/lesson03_masking.py` on `ml-latest-small`. Read
# `lessons/lesson03_masking.md` first.
#
# The user tower never sees who a user is, only what they watched. To train it we hide part
# of each user's ratings (the labels) and ask the model to predict them from the rest (the
# watch history).

# %%
# Setup: the course's thread policy (one torch thread, so sums run in the same order on
# any machine and the printed values below are reproducible), 4-decimal printing, the
# tuned settings (never hard-coded here) and the data folder. The course is installed as
# a package by `make venv`.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course.notebook import setup

CFG, DATA = setup("ml-latest-small")

# %% [markdown]
# Inputs from lessons 1 and 2, built with the reference code: the ratings of the top movies.

# %%
from solutions.lesson01_cleaning import (clean_ratings, count_ratings_per_movie, keep_top_movie_ratings,
                                         select_top_movies)
from solutions.pipeline import read_movielens

ratings, movies = read_movielens(DATA)
clean = clean_ratings(ratings)
top_movies = select_top_movies(count_ratings_per_movie(clean), CFG.data.min_ratings_per_movie)
top_ratings = keep_top_movie_ratings(clean, top_movies)
print(f"{len(top_ratings):,} ratings of {len(top_movies):,} top movies by {top_ratings['userId'].nunique()} users")

# %% [markdown]
# ## Task 3.1: `history_size`
#
# The share of a user's ratings that becomes watch history, rounded down.

# %%
from solutions.lesson03_masking import history_size, split_watch_history

num_ratings = np.array([6, 7, 8, 9, 10, 11, 20, 100])
pd.DataFrame({"ratings": num_ratings,
              "history": history_size(num_ratings, CFG.data.history_fraction),
              "labels": num_ratings - history_size(num_ratings, CFG.data.history_fraction)}).set_index("ratings").T

# %% [markdown]
# ## Task 3.2: `split_watch_history`
#
# Users with `min_ratings_per_user` ratings or fewer are left out; every other user's
# ratings are shuffled with a seeded generator and cut in two.

# %%
split = split_watch_history(top_ratings, CFG.data.history_fraction, CFG.data.min_ratings_per_user,
                            CFG.data.split_seed)
print(f"history_fraction = {CFG.data.history_fraction}, min_ratings_per_user = {CFG.data.min_ratings_per_user}, "
      f"split_seed = {CFG.data.split_seed}")
print(f"users kept: {split['userId'].nunique()} of {top_ratings['userId'].nunique()}")
print(f"rows: {len(split):,}, history: {int(split['is_history'].sum()):,} "
      f"({split['is_history'].mean():.1%}), labels: {int((~split['is_history']).sum()):,}")
split.head()

# %% [markdown]
# One user, in full: the history is what the model will be shown, the labels what it must
# guess. The shuffle picked the labels at random, not the oldest or the lowest ids.

# %%
user = int(split["userId"].iloc[0])
one = split[split["userId"] == user].merge(movies[["movieId", "title"]], on="movieId")
print(f"user {user}: {int(one['is_history'].sum())} history ratings, {int((~one['is_history']).sum())} labels")
one[~one["is_history"]].head(8)

# %% [markdown]
# Three properties the checks insist on, seen on the real data: history and labels never
# share a (user, movie) pair; the same seed gives the same split whatever the row order of
# the input; another seed gives another split.

# %%
pairs = split.groupby(["userId", "movieId"])["is_history"].nunique()
print("a (user, movie) pair in both history and labels:", bool((pairs > 1).any()))

shuffled_input = top_ratings.sample(frac=1.0, random_state=7)
again = split_watch_history(shuffled_input, CFG.data.history_fraction, CFG.data.min_ratings_per_user,
                            CFG.data.split_seed)
print("same seed, shuffled input, same split:", again.equals(split))

other = split_watch_history(top_ratings, CFG.data.history_fraction, CFG.data.min_ratings_per_user,
                            CFG.data.split_seed + 1)
moved = (other.set_index(["userId", "movieId"])["is_history"]
         != split.set_index(["userId", "movieId"])["is_history"].reindex(
             other.set_index(["userId", "movieId"]).index)).mean()
print(f"another seed: {moved:.1%} of the ratings change side")

# %% [markdown]
# How many labels do users have? A few heavy raters have hundreds, the typical user a few
# dozen or fewer. Lesson 4 caps the number of labels per user (`max_labels`) so that a
# handful of heavy raters cannot fill the training set.

# %%
labels_per_user = split[~split["is_history"]].groupby("userId").size()
labels_per_user.describe()

# %%
figure, axes = plt.subplots(figsize=(7, 3.5))
axes.hist(labels_per_user.to_numpy(), bins=np.logspace(0, np.log10(labels_per_user.max() + 1), 30))
axes.set_xscale("log")
axes.set_xlabel("labels of the user (log scale)")
axes.set_ylabel("users")
axes.set_title("Labels per user")
figure.tight_layout()
plt.show()
