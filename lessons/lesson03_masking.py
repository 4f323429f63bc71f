"""Lesson 3: masking part of each user's ratings to make training examples.

The user tower never sees a user id, only what the user watched. To teach it, we hide
some of each user's ratings (the labels) and ask the model to predict them from the rest
(the watch history). A label that leaks into the history would let the model copy the
answer, so the two parts must never overlap. The hidden part is chosen by a seeded shuffle:
random, so labels are not all the oldest or the lowest-id movies, and reproducible.
"""
# This file is generated from solutions/lesson03_masking.py by `make stubs`: fill in the
# functions marked TODO. `make check LESSON=3` grades your work and
# `make reset LESSON=3` brings back this version (your file is backed up first).
from __future__ import annotations

import numpy as np
import pandas as pd


def history_size(num_ratings: np.ndarray, history_fraction: float) -> np.ndarray:
    """How many of a user's ratings go to the watch history: ``history_fraction`` of
    ``num_ratings`` rounded down, element-wise, as int64 (works on a plain int too).
    Computed as ``floor(num_ratings * history_fraction)`` in floating point, like the
    seed post's ``int(n * 0.8)``."""
    # TODO Task 3.1: how many ratings go to the watch history.
    # Read lessons/lesson03_masking.md, task 3.1; `make hint LESSON=3 TASK=3.1` if you are stuck.
    raise NotImplementedError("Lesson 3.1: how many ratings go to the watch history")


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
    # TODO Task 3.2: split each user's ratings into watch history and labels.
    # Read lessons/lesson03_masking.md, task 3.2; `make hint LESSON=3 TASK=3.2` if you are stuck.
    raise NotImplementedError("Lesson 3.2: split each user's ratings into watch history and labels")
