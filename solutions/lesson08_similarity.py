"""Lesson 8: finding similar movies by distance between embeddings.

Two movies are similar when their embeddings are close. The seed post measures the
distance from every movie to every other one in two nested Python loops: n^2 tiny tensor
operations, minutes for a few thousand movies. The same numbers come out of a handful of
matrix operations, using ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b, in a fraction of a second.
"""
from __future__ import annotations

import torch


def pairwise_distances_loop(embeddings: torch.Tensor) -> torch.Tensor:
    """The slow, obvious version: Euclidean distance of every pair in two Python loops.
    Kept to show the idea and to measure the speed-up (make bench); do not use it on the
    whole catalogue."""
    n = embeddings.shape[0]
    distances = torch.zeros((n, n), dtype=embeddings.dtype)
    for i in range(n):
        for j in range(n):
            distances[i, j] = torch.sqrt(torch.sum((embeddings[i] - embeddings[j]) ** 2))
    return distances


def pairwise_distances(embeddings: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between all rows of ``embeddings`` ``[n, d]``: an ``[n, n]``
    matrix, symmetric, 0 on the diagonal, no Python loop over movies.

    Rounding can make a squared distance slightly negative; clamp it at 0 before the
    square root.
    """
    # BEGIN SOLUTION 8.1
    squared_norms = (embeddings ** 2).sum(dim=1)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2.0 * embeddings @ embeddings.T
    distances = squared.clamp(min=0.0).sqrt()
    distances.fill_diagonal_(0.0)
    return distances
    # END SOLUTION


def most_similar(embeddings: torch.Tensor, k: int) -> torch.Tensor:
    """For every row, the rows of its ``k`` nearest other rows, nearest first: int64
    ``[n, k]``. A movie is never its own neighbour; equal distances go to the lower row."""
    # BEGIN SOLUTION 8.2
    distances = pairwise_distances(embeddings)
    distances.fill_diagonal_(float("inf"))
    # A stable sort keeps equal distances in row order, so ties are deterministic.
    return torch.sort(distances, dim=1, stable=True).indices[:, :k]
    # END SOLUTION


def similar_titles(title: str, k: int, embeddings: torch.Tensor, top_movies: list[int],
                   id_by_title: dict[str, int], title_by_id: dict[int, str]) -> list[str]:
    """The titles of the ``k`` movies nearest to the movie called ``title``.

    Raises ``KeyError`` if the title is not one of the catalogue's (``top_movies``)."""
    # BEGIN SOLUTION 8.3
    row_of = {movie_id: row for row, movie_id in enumerate(top_movies)}
    row = row_of[id_by_title[title]]
    # One row of the distance matrix is all we need here.
    distances = ((embeddings - embeddings[row]) ** 2).sum(dim=1).sqrt()
    distances[row] = float("inf")
    order = torch.sort(distances, stable=True).indices[:k]
    return [title_by_id[top_movies[int(i)]] for i in order]
    # END SOLUTION
