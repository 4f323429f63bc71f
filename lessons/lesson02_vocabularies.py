"""Lesson 2: vocabularies, the maps from things (movies, genres) to positions in tensors.

A model only sees numbers at positions. A vocabulary fixes, once and for all, which
position stands for which movie or genre. It must be deterministic: a Python ``set`` of
genre strings iterates in a different order in every process (string hashing is salted),
so a vocabulary built from it silently scrambles a saved model's inputs.
"""
# This file is generated from solutions/lesson02_vocabularies.py by `make stubs`: fill in the
# functions marked TODO. `make check LESSON=2` grades your work and
# `make reset LESSON=2` brings back this version (your file is backed up first).
from __future__ import annotations

from course.containers import ContextIndex


def build_movie_index(top_movies: list[int]) -> dict[int, int]:
    """Map each movie id to its row in the item id embedding table: the position of the
    movie in ``top_movies`` (0 for the most-rated movie)."""
    # TODO Task 2.1: map each top movie to its row in the embedding table.
    # Read lessons/lesson02_vocabularies.md, task 2.1; `make hint LESSON=2 TASK=2.1` if you are stuck.
    raise NotImplementedError("Lesson 2.1: map each top movie to its row in the embedding table")


def build_genre_index(genres_by_id: dict[int, tuple[str, ...]]) -> dict[str, int]:
    """Map every genre that appears in ``genres_by_id`` to a column, genres in sorted
    (alphabetical) order so the index is the same in every run."""
    # TODO Task 2.2: map each genre to a column, in sorted order.
    # Read lessons/lesson02_vocabularies.md, task 2.2; `make hint LESSON=2 TASK=2.2` if you are stuck.
    raise NotImplementedError("Lesson 2.2: map each genre to a column, in sorted order")


def build_user_context_index(top_movies: list[int], genre_index: dict[str, int],
                             num_context_movies: int) -> ContextIndex:
    """Slots of the user context vector.

    The first ``num_context_movies`` movies of ``top_movies`` (the most-rated ones) take
    slots 0..K-1, in that order; then every genre takes slot K + its column in
    ``genre_index``. ``size`` is the total number of slots. If there are fewer top movies
    than ``num_context_movies``, all of them are used.
    """
    # TODO Task 2.3: lay out the user context: context movies, then genres.
    # Read lessons/lesson02_vocabularies.md, task 2.3; `make hint LESSON=2 TASK=2.3` if you are stuck.
    raise NotImplementedError("Lesson 2.3: lay out the user context: context movies, then genres")
