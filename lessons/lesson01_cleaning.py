"""Lesson 1: cleaning the ratings and building the movie lookups.

The large MovieLens set hides a NaN, and one NaN is enough to turn every loss into NaN
many steps later. So we drop incomplete rows first, make the ids proper integers (they are
dictionary keys and tensor indices later), and keep only movies with enough ratings for
the model to learn something about them.
"""
# This file is generated from solutions/lesson01_cleaning.py by `make stubs`: fill in the
# functions marked TODO. `make check LESSON=1` grades your work and
# `make reset LESSON=1` brings back this version (your file is backed up first).
from __future__ import annotations

import pandas as pd

from course.containers import MovieMaps


def clean_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``ratings`` without rows that have a missing value.

    ``userId`` and ``movieId`` become int64 (a NaN forces pandas to read ``movieId`` as
    float). The index is reset to 0..n-1 and the input frame is left unchanged.
    """
    # TODO Task 1.1: drop rows with a missing value and make the ids int64.
    # Read lessons/lesson01_cleaning.md, task 1.1; `make hint LESSON=1 TASK=1.1` if you are stuck.
    raise NotImplementedError("Lesson 1.1: drop rows with a missing value and make the ids int64")


def count_ratings_per_movie(ratings: pd.DataFrame) -> pd.Series:
    """Number of ratings of every movie in ``ratings``.

    Returns an int64 Series named ``num_ratings``, indexed by ``movieId``, ordered from the
    most-rated movie to the least; movies with the same count are ordered by ascending
    ``movieId``, so the order never depends on how the input happened to be sorted.
    """
    # TODO Task 1.2: count the ratings of every movie, most-rated first.
    # Read lessons/lesson01_cleaning.md, task 1.2; `make hint LESSON=1 TASK=1.2` if you are stuck.
    raise NotImplementedError("Lesson 1.2: count the ratings of every movie, most-rated first")


def select_top_movies(rating_counts: pd.Series, min_ratings_per_movie: int) -> list[int]:
    """Movie ids with strictly more than ``min_ratings_per_movie`` ratings.

    ``rating_counts`` is the output of :func:`count_ratings_per_movie`; the returned list
    keeps its order (most-rated first) and holds plain Python ``int``.
    """
    # TODO Task 1.3: keep movies with strictly more than min_ratings_per_movie ratings.
    # Read lessons/lesson01_cleaning.md, task 1.3; `make hint LESSON=1 TASK=1.3` if you are stuck.
    raise NotImplementedError("Lesson 1.3: keep movies with strictly more than min_ratings_per_movie ratings")


def keep_top_movie_ratings(ratings: pd.DataFrame, top_movies: list[int]) -> pd.DataFrame:
    """The rows of ``ratings`` whose movie is in ``top_movies``, in their original order,
    with the index reset to 0..n-1."""
    # TODO Task 1.4: keep only the ratings of top movies.
    # Read lessons/lesson01_cleaning.md, task 1.4; `make hint LESSON=1 TASK=1.4` if you are stuck.
    raise NotImplementedError("Lesson 1.4: keep only the ratings of top movies")


def build_movie_maps(movies: pd.DataFrame, ratings: pd.DataFrame, top_movies: list[int]) -> MovieMaps:
    """Lookups used by every later lesson.

    - ``title_by_id``: every movie of ``movies``.
    - ``id_by_title``: the reverse; when two movies share a title the smaller id wins.
    - ``genres_by_id``: top movies only, the pipe-separated genres as a sorted tuple.
    - ``avg_rating_by_id`` and ``num_ratings_by_id``: top movies only, from ``ratings``
      (already cleaned and reduced to top movies).
    """
    # TODO Task 1.5: build the title, genre and average-rating lookups.
    # Read lessons/lesson01_cleaning.md, task 1.5; `make hint LESSON=1 TASK=1.5` if you are stuck.
    raise NotImplementedError("Lesson 1.5: build the title, genre and average-rating lookups")
