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
    # Sort by (user, movie) first, so the result does not depend on the input's row order.
    # At ML-32M size (26M ratings) one stable sort of a single integer key, user * (number
    # of movie ids) + movie, is several times faster than sort_values on two columns.
    order = _stable_order(ratings["userId"].to_numpy(), ratings["movieId"].to_numpy())

    # Each user's ratings are now one run of rows: where the runs start and how long they are.
    user = ratings["userId"].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]]) if len(user) else np.zeros(0, dtype="int64")
    del user
    lengths = np.diff(np.r_[starts, len(order)])
    kept = lengths > min_ratings_per_user
    order = order[np.repeat(kept, lengths)]
    lengths = lengths[kept]

    # One random key per kept rating, then sort by (user, key): a per-user shuffle in one pass.
    rng = np.random.default_rng(seed)
    shuffle_key = rng.random(len(order))
    order = order[_stable_order(np.repeat(np.arange(len(lengths)), lengths), shuffle_key)]
    del shuffle_key

    # The first history_size(n) of each user's n shuffled ratings are the watch history.
    position = np.arange(len(order))
    position -= np.repeat(np.cumsum(lengths) - lengths, lengths)
    is_history = position < np.repeat(history_size(lengths, history_fraction), lengths)
    del position
    split = pd.DataFrame({name: ratings[name].to_numpy()[order] for name in ("userId", "movieId", "rating")})
    split["is_history"] = is_history
    return split
    # END SOLUTION


def _stable_order(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The order of a stable sort by ``first``, then ``second``: ``np.lexsort((second,
    first))``, done as one sort of a single int64 key (about ten times faster on 26M rows).

    ``first`` holds integers; ``second`` integers, or floats from ``Generator.random``, which
    are multiples of 2**-53, so ``second * 2**53`` is an exact integer below 2**53.
    """
    if len(first) == 0:
        return np.zeros(0, dtype="int64")
    first = first.astype("int64")  # a copy, changed in place below
    first -= first.min()
    if second.dtype.kind == "f":
        exact = (second * 2.0 ** 53).astype("int64")
        if not np.array_equal(exact / 2.0 ** 53, second):  # not Generator.random's floats
            return np.lexsort((second, first))
    else:
        exact = second.astype("int64")
        exact -= exact.min()
    first_bits = int(first.max()).bit_length()
    second_bits = max(int(exact.max()).bit_length(), 1)
    if first_bits + second_bits <= 62:
        first <<= second_bits
        first |= exact
        del exact
        return np.argsort(first, kind="stable")
    if second.dtype.kind != "f":
        return np.lexsort((second, first))
    # Too many bits for both: keep the high bits of the random key. If two keys of one user
    # then look equal (rare: well under one run in a hundred at ML-32M size), sort exactly.
    shift = first_bits + second_bits - 62
    key = first << (second_bits - shift)
    exact >>= shift
    key |= exact
    del exact
    order = np.argsort(key, kind="stable")
    if bool((np.diff(key[order]) == 0).any()):
        return np.lexsort((second, first))
    return order
