"""Lesson 11's reference ``split_by_time`` orders the rows with lesson 3's one-key sort; the
lesson text teaches ``sort_values`` on three columns and ``cumcount``. Both must give the
same split, whatever the input's row order and however many ratings share a second."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from solutions.lesson03_masking import history_size
from solutions.lesson11_temporal import split_by_time


def taught_split(ratings: pd.DataFrame, history_fraction: float, min_ratings_per_user: int) -> pd.DataFrame:
    """The split as lesson 11's text describes it."""
    rows = ratings[["userId", "movieId", "rating", "timestamp"]].sort_values(
        ["userId", "timestamp", "movieId"], kind="stable")
    rows = rows[rows.groupby("userId")["movieId"].transform("size") > min_ratings_per_user].reset_index(drop=True)
    position = rows.groupby("userId").cumcount().to_numpy()
    size = rows.groupby("userId")["movieId"].transform("size").to_numpy()
    rows["is_history"] = position < history_size(size, history_fraction)
    return rows[["userId", "movieId", "rating", "is_history", "timestamp"]]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("min_ratings", [0, 3])
def test_reference_split_is_the_taught_sort(seed, min_ratings):
    rng = np.random.default_rng(seed)
    n = 5000
    user = rng.integers(1, 300, n)
    movie = rng.integers(1, 2000, n)
    ratings = pd.DataFrame({"userId": user, "movieId": movie, "rating": rng.integers(1, 11, n) / 2.0,
                            # few distinct seconds: many ratings of one user share one
                            "timestamp": 1_000_000_000 + rng.integers(0, 40, n) * 86_400})
    ratings = ratings.drop_duplicates(["userId", "movieId"]).sample(frac=1.0, random_state=seed)
    got = split_by_time(ratings, 0.8, min_ratings)
    pd.testing.assert_frame_equal(got, taught_split(ratings, 0.8, min_ratings), check_exact=True)
    assert got["is_history"].any() and (~got["is_history"]).any()


def test_empty_ratings_give_an_empty_split():
    empty = pd.DataFrame({"userId": np.zeros(0, "int64"), "movieId": np.zeros(0, "int64"),
                          "rating": np.zeros(0), "timestamp": np.zeros(0, "int64")})
    assert list(split_by_time(empty, 0.8, 0).columns) == ["userId", "movieId", "rating", "is_history", "timestamp"]
    assert len(split_by_time(empty, 0.8, 0)) == 0
