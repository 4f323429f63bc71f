"""Lesson 11: a time-ordered split.

Lesson 3 hid a *random* 20 % of each user's ratings. Then the watch history of a user can
hold movies they rated years after a label: the model is asked to "predict" a 1995 rating
from what the user watched in 2015. Real recommenders never see the future, so here each
user's history is their *earlier* ratings and the labels their *later* ones, and we measure
how much of the future the random mask let in, and how much the per-user time split still
lets in through the other users.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from solutions.lesson03_masking import history_size


def split_by_time(ratings: pd.DataFrame, history_fraction: float, min_ratings_per_user: int) -> pd.DataFrame:
    """Split every user's ratings into watch history (earlier) and labels (later).

    Users with ``min_ratings_per_user`` ratings or fewer are left out. Each remaining user's
    ratings are ordered by ``timestamp``, equal timestamps by ``movieId`` (so the split never
    depends on the input's row order); the first :func:`history_size` of them become the
    watch history, the rest the labels.

    Returns the columns of lesson 3's split, ``userId``, ``movieId``, ``rating``,
    ``is_history``, plus ``timestamp``; rows ordered by user, then time, then movie.
    """
    # BEGIN SOLUTION 11.1
    rows = ratings[["userId", "movieId", "rating", "timestamp"]]
    rows = rows.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    per_user = rows.groupby("userId")["movieId"].transform("size")
    rows = rows[per_user > min_ratings_per_user].reset_index(drop=True)
    position = rows.groupby("userId").cumcount().to_numpy()
    num_ratings = rows.groupby("userId")["movieId"].transform("size").to_numpy()
    rows["is_history"] = position < history_size(num_ratings, history_fraction)
    return rows[["userId", "movieId", "rating", "is_history", "timestamp"]]
    # END SOLUTION


def future_history_share(split: pd.DataFrame, ratings: pd.DataFrame) -> float:
    """How much of the future a split lets into the watch history.

    ``split`` has ``userId``, ``movieId`` and ``is_history`` (lesson 3's or
    :func:`split_by_time`'s); the rating times come from ``ratings`` (``userId``,
    ``movieId``, ``timestamp``; one rating per user and movie). For each user, the moment
    of prediction is the time of their *earliest* label. Returns the share (0..1) of all
    history rows rated strictly after their user's moment of prediction: 0.0 for a
    time-ordered split.
    """
    # BEGIN SOLUTION 11.2
    times = split[["userId", "movieId", "is_history"]].merge(
        ratings[["userId", "movieId", "timestamp"]], on=["userId", "movieId"], how="left", validate="one_to_one")
    moment = times[~times["is_history"]].groupby("userId")["timestamp"].min()
    history = times[times["is_history"]]
    prediction_time = history["userId"].map(moment)
    # A user without labels has no moment of prediction: their history is in no one's future.
    later = (history["timestamp"] > prediction_time) & prediction_time.notna()
    return float(later.sum()) / max(len(history), 1)
    # END SOLUTION


def later_training_share(training_times: np.ndarray, label_times: np.ndarray) -> float:
    """What a per-user time split does *not* prevent: the training users' ratings made after
    the moment being predicted.

    ``training_times`` are the timestamps of every rating the model trains on (all of the
    training users' ratings); ``label_times`` those of the held-out users' labels. For each
    label, the share of training ratings made strictly later; returns the mean over labels
    (0..1). Done with a sort and ``np.searchsorted``, not a loop over labels.
    """
    # BEGIN SOLUTION 11.3
    ordered = np.sort(np.asarray(training_times))
    labels = np.asarray(label_times)
    if len(ordered) == 0 or len(labels) == 0:
        return 0.0
    later = len(ordered) - np.searchsorted(ordered, labels, side="right")
    return float(np.mean(later / len(ordered)))
    # END SOLUTION
