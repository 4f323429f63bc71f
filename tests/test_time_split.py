"""fast/time_split.py orders lesson 11's split with lesson 3's one-key sort; lesson 11's
``split_by_time`` sorts three columns and numbers rows with ``cumcount``. Both must give the
same split, whatever the input's row order and however many ratings share a second."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fast import time_split
from solutions.lesson11_temporal import split_by_time


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("min_ratings", [0, 3])
def test_fast_time_split_is_lesson_11s(seed, min_ratings):
    rng = np.random.default_rng(seed)
    n = 5000
    user = rng.integers(1, 300, n)
    movie = rng.integers(1, 2000, n)
    ratings = pd.DataFrame({"userId": user, "movieId": movie, "rating": rng.integers(1, 11, n) / 2.0,
                            # few distinct seconds: many ratings of one user share one
                            "timestamp": 1_000_000_000 + rng.integers(0, 40, n) * 86_400})
    ratings = ratings.drop_duplicates(["userId", "movieId"]).sample(frac=1.0, random_state=seed)
    got = time_split.split_by_time(ratings, 0.8, min_ratings)
    pd.testing.assert_frame_equal(got, split_by_time(ratings, 0.8, min_ratings), check_exact=True)
    assert got["is_history"].any() and (~got["is_history"]).any()


def test_empty_ratings_give_an_empty_split():
    empty = pd.DataFrame({"userId": np.zeros(0, "int64"), "movieId": np.zeros(0, "int64"),
                          "rating": np.zeros(0), "timestamp": np.zeros(0, "int64")})
    got = time_split.split_by_time(empty, 0.8, 0)
    assert list(got.columns) == ["userId", "movieId", "rating", "is_history", "timestamp"] and len(got) == 0
