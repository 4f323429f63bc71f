"""Lesson 2: vocabularies, the maps from things (movies, genres) to positions in tensors.

A model only sees numbers at positions. A vocabulary fixes, once and for all, which
position stands for which movie or genre. It must be deterministic: a Python ``set`` of
genre strings iterates in a different order in every process (string hashing is salted),
so a vocabulary built from it silently scrambles a saved model's inputs.
"""
from __future__ import annotations

from course.containers import ContextIndex


def build_movie_index(top_movies: list[int]) -> dict[int, int]:
    """Map each movie id to its row in the item id embedding table: the position of the
    movie in ``top_movies`` (0 for the most-rated movie)."""
    # BEGIN SOLUTION 2.1
    return {movie_id: row for row, movie_id in enumerate(top_movies)}
    # END SOLUTION


def build_genre_index(genres_by_id: dict[int, tuple[str, ...]]) -> dict[str, int]:
    """Map every genre that appears in ``genres_by_id`` to a column, genres in sorted
    (alphabetical) order so the index is the same in every run."""
    # BEGIN SOLUTION 2.2
    all_genres = sorted({genre for genres in genres_by_id.values() for genre in genres})
    return {genre: column for column, genre in enumerate(all_genres)}
    # END SOLUTION


def build_user_context_index(top_movies: list[int], genre_index: dict[str, int],
                             num_context_movies: int) -> ContextIndex:
    """Slots of the user context vector.

    The first ``num_context_movies`` movies of ``top_movies`` (the most-rated ones) take
    slots 0..K-1, in that order; then every genre takes slot K + its column in
    ``genre_index``. ``size`` is the total number of slots. If there are fewer top movies
    than ``num_context_movies``, all of them are used.
    """
    # BEGIN SOLUTION 2.3
    context_movies = top_movies[:num_context_movies]
    movie_slot = {movie_id: slot for slot, movie_id in enumerate(context_movies)}
    offset = len(context_movies)
    genre_slot = {genre: offset + column for genre, column in genre_index.items()}
    return ContextIndex(movie_slot, genre_slot, offset + len(genre_index))
    # END SOLUTION
