"""Lesson 11: a time-ordered split.

Lesson 3 hid a *random* 20 % of each user's ratings. Then the watch history of a user can
hold movies they rated years after a label: the model is asked to "predict" a 1995 rating
from what the user watched in 2015. Real recommenders never see the future, so here each
user's history is their *earlier* ratings and the labels their *later* ones, and we measure
how much of the future the random mask let in, and how much the per-user time split still
lets in through the other users.
"""
# This file is generated from solutions/lesson11_temporal.py by `make stubs`: fill in the
# functions marked TODO. `make check LESSON=11` grades your work and
# `make reset LESSON=11` brings back this version (your file is backed up first).
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
    # TODO Task 11.1: each user's earlier ratings are the history, the later ones the labels.
    # Read lessons/lesson11_temporal.md, task 11.1; `make hint LESSON=11 TASK=11.1` if you are stuck.
    raise NotImplementedError("Lesson 11.1: each user's earlier ratings are the history, the later ones the labels")


def future_history_share(split: pd.DataFrame, ratings: pd.DataFrame) -> float:
    """How much of the future a split lets into the watch history.

    ``split`` has ``userId``, ``movieId`` and ``is_history`` (lesson 3's or
    :func:`split_by_time`'s); the rating times come from ``ratings`` (``userId``,
    ``movieId``, ``timestamp``; one rating per user and movie). For each user, the moment
    of prediction is the time of their *earliest* label. Returns the share (0..1) of all
    history rows rated strictly after their user's moment of prediction: 0.0 for a
    time-ordered split.
    """
    # TODO Task 11.2: how much of the future a split lets into the watch history.
    # Read lessons/lesson11_temporal.md, task 11.2; `make hint LESSON=11 TASK=11.2` if you are stuck.
    raise NotImplementedError("Lesson 11.2: how much of the future a split lets into the watch history")


def later_training_share(training_times: np.ndarray, label_times: np.ndarray) -> float:
    """What a per-user time split does *not* prevent: the training users' ratings made after
    the moment being predicted.

    ``training_times`` are the timestamps of every rating the model trains on (all of the
    training users' ratings); ``label_times`` those of the held-out users' labels. For each
    label, the share of training ratings made strictly later; returns the mean over labels
    (0..1). Done with a sort and ``np.searchsorted``, not a loop over labels.
    """
    # TODO Task 11.3: how many training ratings come after the moment being predicted.
    # Read lessons/lesson11_temporal.md, task 11.3; `make hint LESSON=11 TASK=11.3` if you are stuck.
    raise NotImplementedError("Lesson 11.3: how many training ratings come after the moment being predicted")
