"""Lesson 4: debiasing, feature vectors and the training examples.

Some people rate everything 4 or 5, others rarely give more than 3. A raw 4.0 means
"loved it" for the first kind and "meh" for the second, so every rating is taken relative
to the user's own mean. The mean must come from the watch history only: the labels are
what we predict, and their values must not leak into the inputs.

Each user's context vector is built once and stored in one matrix; an example only holds
the row of its user, not a copy of the vector (the seed post copies it per example, which
for 32M ratings is far more memory than the machine has).
"""
# This file is generated from solutions/lesson04_debiasing.py by `make stubs`: fill in the
# functions marked TODO. `make check LESSON=4` grades your work and
# `make reset LESSON=4` brings back this version (your file is backed up first).
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
    # TODO Task 4.1: each user's mean rating, from the watch history only.
    # Read lessons/lesson04_debiasing.md, task 4.1; `make hint LESSON=4 TASK=4.1` if you are stuck.
    raise NotImplementedError("Lesson 4.1: each user's mean rating, from the watch history only")


def movie_genre_matrix(top_movies: list[int], genres_by_id: dict[int, tuple[str, ...]],
                       genre_index: dict[str, int]) -> torch.Tensor:
    """Multi-hot genres of the catalogue: float32 ``[len(top_movies), len(genre_index)]``,
    row i for ``top_movies[i]``, 1.0 in the column of each of its genres, else 0.0."""
    # TODO Task 4.2: multi-hot genre matrix of the catalogue.
    # Read lessons/lesson04_debiasing.md, task 4.2; `make hint LESSON=4 TASK=4.2` if you are stuck.
    raise NotImplementedError("Lesson 4.2: multi-hot genre matrix of the catalogue")


def user_genre_affinity(split: pd.DataFrame, user_means: pd.Series, movie_index: dict[int, int],
                        movie_genres: torch.Tensor) -> torch.Tensor:
    """Per user and genre: the mean history rating of the user's movies in that genre,
    minus the user's mean. 0.0 for a genre the user has no history rating in.

    float32 ``[len(user_means), num_genres]``, rows in ``user_means.index`` order.
    """
    # TODO Task 4.3: debiased per-genre taste of every user.
    # Read lessons/lesson04_debiasing.md, task 4.3; `make hint LESSON=4 TASK=4.3` if you are stuck.
    raise NotImplementedError("Lesson 4.3: debiased per-genre taste of every user")


def build_user_contexts(split: pd.DataFrame, user_means: pd.Series, context_index: ContextIndex,
                        genre_affinity: torch.Tensor) -> torch.Tensor:
    """The user context matrix: float32 ``[len(user_means), context_index.size]``.

    For each user (rows in ``user_means.index`` order): at the slot of every context
    movie in their watch history, the debiased rating (rating minus the user's mean);
    in the genre slots (a contiguous block after the movie slots, in genre column
    order), their genre affinity. Every other entry is 0.0. Labels never appear.
    """
    # TODO Task 4.4: the user context matrix: debiased history ratings and genre affinities.
    # Read lessons/lesson04_debiasing.md, task 4.4; `make hint LESSON=4 TASK=4.4` if you are stuck.
    raise NotImplementedError("Lesson 4.4: the user context matrix: debiased history ratings and genre affinities")


def select_users(split: pd.DataFrame, min_labels: int, max_labels: int) -> np.ndarray:
    """Ids (ascending, int64) of users with ``min_labels <= number of labels < max_labels``:
    too few labels teach little, and a handful of users with thousands of ratings would
    otherwise dominate the training set."""
    # TODO Task 4.5: keep users with a useful number of labels.
    # Read lessons/lesson04_debiasing.md, task 4.5; `make hint LESSON=4 TASK=4.5` if you are stuck.
    raise NotImplementedError("Lesson 4.5: keep users with a useful number of labels")


def split_users(user_ids: np.ndarray, train_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split users, not examples, into training and validation users.

    Shuffle ``user_ids`` with a generator seeded by ``seed``; the first
    ``floor(len * train_fraction)`` are training users, the rest validation users.
    Both are returned sorted ascending. A user is never in both, so the validation loss
    measures how the model does on people it has never seen.
    """
    # TODO Task 4.6: split users (not examples) into training and validation.
    # Read lessons/lesson04_debiasing.md, task 4.6; `make hint LESSON=4 TASK=4.6` if you are stuck.
    raise NotImplementedError("Lesson 4.6: split users (not examples) into training and validation")


def build_examples(split: pd.DataFrame, users: np.ndarray, user_means: pd.Series,
                   movie_index: dict[int, int]) -> Examples:
    """One example per label of each user in ``users``.

    ``user_row`` is the user's position in ``user_means.index``, ``movie_row`` the movie's
    row in ``movie_index``, ``target`` the label rating minus the user's history mean
    (float32). Examples are ordered by user row, then movie row.
    """
    # TODO Task 4.7: one example per label: user row, movie row, debiased target.
    # Read lessons/lesson04_debiasing.md, task 4.7; `make hint LESSON=4 TASK=4.7` if you are stuck.
    raise NotImplementedError("Lesson 4.7: one example per label: user row, movie row, debiased target")
