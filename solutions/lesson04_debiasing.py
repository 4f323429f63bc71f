"""Lesson 4: debiasing, feature vectors and the training examples.

Some people rate everything 4 or 5, others rarely give more than 3. A raw 4.0 means
"loved it" for the first kind and "meh" for the second, so every rating is taken relative
to the user's own mean. The mean must come from the watch history only: the labels are
what we predict, and their values must not leak into the inputs.

Each user's context vector is built once and stored in one matrix; an example only holds
the row of its user, not a copy of the vector (the seed post copies it per example, which
for 32M ratings is far more memory than the machine has).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from course.containers import ContextIndex, Examples


def user_mean_ratings(split: pd.DataFrame) -> pd.Series:
    """Each user's mean rating over their watch history rows only (``is_history``).

    Returns a float64 Series indexed by ``userId`` in ascending order. This order defines
    the user rows of every matrix built below.
    """
    # BEGIN SOLUTION 4.1
    history = split[split["is_history"]]
    return history.groupby("userId")["rating"].mean().sort_index().astype("float64")
    # END SOLUTION


def movie_genre_matrix(top_movies: list[int], genres_by_id: dict[int, tuple[str, ...]],
                       genre_index: dict[str, int]) -> torch.Tensor:
    """Multi-hot genres of the catalogue: float32 ``[len(top_movies), len(genre_index)]``,
    row i for ``top_movies[i]``, 1.0 in the column of each of its genres, else 0.0."""
    # BEGIN SOLUTION 4.2
    matrix = torch.zeros((len(top_movies), len(genre_index)), dtype=torch.float32)
    for row, movie_id in enumerate(top_movies):
        for genre in genres_by_id[movie_id]:
            matrix[row, genre_index[genre]] = 1.0
    return matrix
    # END SOLUTION


def user_genre_affinity(split: pd.DataFrame, user_means: pd.Series, movie_index: dict[int, int],
                        movie_genres: torch.Tensor) -> torch.Tensor:
    """Per user and genre: the mean history rating of the user's movies in that genre,
    minus the user's mean. 0.0 for a genre the user has no history rating in.

    float32 ``[len(user_means), num_genres]``, rows in ``user_means.index`` order.
    """
    # BEGIN SOLUTION 4.3
    history = split[split["is_history"]]
    user_row = torch.tensor(user_means.index.get_indexer(history["userId"]), dtype=torch.int64)
    movie_row = torch.tensor(history["movieId"].map(movie_index).to_numpy(), dtype=torch.int64)
    rating = torch.tensor(history["rating"].to_numpy(), dtype=torch.float64)

    # Sparse (user x movie) matrices times the (movie x genre) multi-hot give, per user and
    # genre, the sum of ratings and the number of ratings, without a Python loop.
    shape = (len(user_means), movie_genres.shape[0])
    where = torch.stack([user_row, movie_row])
    genres = movie_genres.to(torch.float64)
    rating_sum = torch.sparse_coo_tensor(where, rating, shape, check_invariants=True) @ genres
    rating_count = torch.sparse_coo_tensor(where, torch.ones_like(rating), shape, check_invariants=True) @ genres

    mean = torch.tensor(user_means.to_numpy(), dtype=torch.float64).unsqueeze(1)
    affinity = torch.where(rating_count > 0, rating_sum / rating_count.clamp(min=1) - mean, 0.0)
    return affinity.to(torch.float32)
    # END SOLUTION


def build_user_contexts(split: pd.DataFrame, user_means: pd.Series, context_index: ContextIndex,
                        genre_affinity: torch.Tensor) -> torch.Tensor:
    """The user context matrix: float32 ``[len(user_means), context_index.size]``.

    For each user (rows in ``user_means.index`` order): at the slot of every context
    movie in their watch history, the debiased rating (rating minus the user's mean);
    in the genre slots (a contiguous block after the movie slots, in genre column
    order), their genre affinity. Every other entry is 0.0. Labels never appear.
    """
    # BEGIN SOLUTION 4.4
    context = torch.zeros((len(user_means), context_index.size), dtype=torch.float32)
    history = split[split["is_history"] & split["movieId"].isin(context_index.movie_slot.keys())]
    user_row = user_means.index.get_indexer(history["userId"])
    slot = history["movieId"].map(context_index.movie_slot).to_numpy()
    debiased = history["rating"].to_numpy() - user_means.to_numpy()[user_row]
    context[torch.tensor(user_row), torch.tensor(slot)] = torch.tensor(debiased, dtype=torch.float32)

    first_genre_slot = len(context_index.movie_slot)
    context[:, first_genre_slot:first_genre_slot + genre_affinity.shape[1]] = genre_affinity
    return context
    # END SOLUTION


def select_users(split: pd.DataFrame, min_labels: int, max_labels: int) -> np.ndarray:
    """Ids (ascending, int64) of users with ``min_labels <= number of labels < max_labels``:
    too few labels teach little, and a handful of users with thousands of ratings would
    otherwise dominate the training set."""
    # BEGIN SOLUTION 4.5
    labels_per_user = split[~split["is_history"]].groupby("userId").size()
    kept = labels_per_user[(labels_per_user >= min_labels) & (labels_per_user < max_labels)]
    return np.sort(kept.index.to_numpy().astype("int64"))
    # END SOLUTION


def split_users(user_ids: np.ndarray, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split users, not examples, into training and validation users.

    Shuffle ``user_ids`` with a generator seeded by ``seed``; the first
    ``floor(len * train_fraction)`` are training users, the rest validation users.
    Both are returned sorted ascending. A user is never in both, so the validation loss
    measures how the model does on people it has never seen.
    """
    # BEGIN SOLUTION 4.6
    shuffled = np.random.default_rng(seed).permutation(np.asarray(user_ids))
    num_train = int(np.floor(len(shuffled) * train_fraction))
    return np.sort(shuffled[:num_train]), np.sort(shuffled[num_train:])
    # END SOLUTION


def build_examples(split: pd.DataFrame, users: np.ndarray, user_means: pd.Series,
                   movie_index: dict[int, int]) -> Examples:
    """One example per label of each user in ``users``.

    ``user_row`` is the user's position in ``user_means.index``, ``movie_row`` the movie's
    row in ``movie_index``, ``target`` the label rating minus the user's history mean
    (float32). Examples are ordered by user row, then movie row.
    """
    # BEGIN SOLUTION 4.7
    labels = split[~split["is_history"] & split["userId"].isin(users)]
    user_row = user_means.index.get_indexer(labels["userId"])
    movie_row = labels["movieId"].map(movie_index).to_numpy()
    target = labels["rating"].to_numpy() - user_means.to_numpy()[user_row]
    order = np.lexsort((movie_row, user_row))
    return Examples(
        user_row=torch.tensor(user_row[order], dtype=torch.int64),
        movie_row=torch.tensor(movie_row[order], dtype=torch.int64),
        target=torch.tensor(target[order], dtype=torch.float32),
    )
    # END SOLUTION
