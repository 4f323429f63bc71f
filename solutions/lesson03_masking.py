"""Lesson 3: masking part of each user's ratings to make training examples.

The user tower never sees a user id, only what the user watched. To teach it, we hide
some of each user's ratings (the labels) and ask the model to predict them from the rest
(the watch history). A label that leaks into the history would let the model copy the
answer, so the two parts must never overlap. The hidden part is chosen by a seeded shuffle:
random, so labels are not all the oldest or the lowest-id movies, and reproducible.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def history_size(num_ratings: np.ndarray, history_fraction: float) -> np.ndarray:
    """How many of a user's ratings go to the watch history: ``history_fraction`` of
    ``num_ratings`` rounded down, element-wise, as int64 (works on a plain int too).
    Computed as ``floor(num_ratings * history_fraction)`` in floating point, like the
    seed post's ``int(n * 0.8)``."""
    # BEGIN SOLUTION 3.1
    return np.floor(np.asarray(num_ratings) * history_fraction).astype("int64")
    # END SOLUTION


def split_watch_history(ratings: pd.DataFrame, history_fraction: float,
                        min_ratings_per_user: int, seed: int) -> pd.DataFrame:
    """Split every user's ratings into watch history and labels.

    Users with ``min_ratings_per_user`` ratings or fewer are left out. For each remaining
    user, their ratings are shuffled with a generator seeded by ``seed``; the first
    :func:`history_size` of them become the watch history, the rest the labels.

    Returns a frame with columns ``userId``, ``movieId``, ``rating`` and a boolean
    ``is_history``, one row per kept rating. The same input and seed always give the same
    split, whatever the input's row order.
    """
    # BEGIN SOLUTION 3.2
    # Sort first so the result does not depend on the input's row order.
    rows = ratings[["userId", "movieId", "rating"]].sort_values(["userId", "movieId"], kind="stable")
    per_user = rows.groupby("userId")["movieId"].transform("size")
    rows = rows[per_user > min_ratings_per_user].reset_index(drop=True)

    # One random key per rating, then sort by (user, key): a per-user shuffle in one pass.
    rng = np.random.default_rng(seed)
    shuffle_key = rng.random(len(rows))
    order = np.lexsort((shuffle_key, rows["userId"].to_numpy()))
    rows = rows.iloc[order].reset_index(drop=True)

    position = rows.groupby("userId").cumcount().to_numpy()
    num_ratings = rows.groupby("userId")["movieId"].transform("size").to_numpy()
    rows["is_history"] = position < history_size(num_ratings, history_fraction)
    return rows
    # END SOLUTION
