"""Lesson 1: cleaning the ratings and building the movie lookups.

The large MovieLens set hides a NaN, and one NaN is enough to turn every loss into NaN
many steps later. So we drop incomplete rows first, make the ids proper integers (they are
dictionary keys and tensor indices later), and keep only movies with enough ratings for
the model to learn something about them.
"""
from __future__ import annotations

import pandas as pd

from course.containers import MovieMaps


def clean_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``ratings`` without rows that have a missing value.

    ``userId`` and ``movieId`` become int64 (a NaN forces pandas to read ``movieId`` as
    float). The index is reset to 0..n-1 and the input frame is left unchanged.
    """
    # BEGIN SOLUTION 1.1
    cleaned = ratings.dropna().reset_index(drop=True)
    return cleaned.astype({"userId": "int64", "movieId": "int64"})
    # END SOLUTION


def count_ratings_per_movie(ratings: pd.DataFrame) -> pd.Series:
    """Number of ratings of every movie in ``ratings``.

    Returns an int64 Series named ``num_ratings``, indexed by ``movieId``, ordered from the
    most-rated movie to the least; movies with the same count are ordered by ascending
    ``movieId``, so the order never depends on how the input happened to be sorted.
    """
    # BEGIN SOLUTION 1.2
    counts = ratings.groupby("movieId")["rating"].size().astype("int64").rename("num_ratings")
    counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    return counts
    # END SOLUTION


def select_top_movies(rating_counts: pd.Series, min_ratings_per_movie: int) -> list[int]:
    """Movie ids with strictly more than ``min_ratings_per_movie`` ratings.

    ``rating_counts`` is the output of :func:`count_ratings_per_movie`; the returned list
    keeps its order (most-rated first) and holds plain Python ``int``.
    """
    # BEGIN SOLUTION 1.3
    kept = rating_counts[rating_counts > min_ratings_per_movie]
    return [int(movie_id) for movie_id in kept.index]
    # END SOLUTION


def keep_top_movie_ratings(ratings: pd.DataFrame, top_movies: list[int]) -> pd.DataFrame:
    """The rows of ``ratings`` whose movie is in ``top_movies``, in their original order,
    with the index reset to 0..n-1."""
    # BEGIN SOLUTION 1.4
    return ratings[ratings["movieId"].isin(top_movies)].reset_index(drop=True)
    # END SOLUTION


def build_movie_maps(movies: pd.DataFrame, ratings: pd.DataFrame, top_movies: list[int]) -> MovieMaps:
    """Lookups used by every later lesson.

    - ``title_by_id``: every movie of ``movies``.
    - ``id_by_title``: the reverse; when two movies share a title the smaller id wins.
    - ``genres_by_id``: top movies only, the pipe-separated genres as a sorted tuple.
    - ``avg_rating_by_id`` and ``num_ratings_by_id``: top movies only, from ``ratings``
      (already cleaned and reduced to top movies).
    """
    # BEGIN SOLUTION 1.5
    ordered = movies.sort_values("movieId", kind="stable")
    ids = [int(m) for m in ordered["movieId"]]
    titles = [str(t) for t in ordered["title"]]
    title_by_id = dict(zip(ids, titles))
    id_by_title: dict[str, int] = {}
    for movie_id, title in zip(ids, titles):
        id_by_title.setdefault(title, movie_id)

    top = set(top_movies)
    genres_by_id = {
        movie_id: tuple(sorted(genres.split("|")))
        for movie_id, genres in zip(ids, ordered["genres"])
        if movie_id in top
    }
    stats = ratings[ratings["movieId"].isin(top)].groupby("movieId")["rating"].agg(["mean", "size"])
    avg_rating_by_id = {int(m): float(v) for m, v in stats["mean"].items()}
    num_ratings_by_id = {int(m): int(v) for m, v in stats["size"].items()}
    return MovieMaps(title_by_id, id_by_title, genres_by_id, avg_rating_by_id, num_ratings_by_id)
    # END SOLUTION
