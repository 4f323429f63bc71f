"""Lesson 8: finding similar movies by distance between embeddings.

Two movies are similar when their embeddings are close. The seed post measures the
distance from every movie to every other one in two nested Python loops: n^2 tiny tensor
operations, minutes for a few thousand movies. The same numbers come out of a handful of
matrix operations, using ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b, in a fraction of a second.
The whole [n, n] matrix grows with the square of the catalogue (about 28 GB for the 84k
movies of ML-32M), so the last step computes the same neighbours one block of rows at a time.
"""
# This file is generated from solutions/lesson08_similarity.py by `make stubs`: fill in the
# functions marked TODO. `make check LESSON=8` grades your work and
# `make reset LESSON=8` brings back this version (your file is backed up first).
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
    # TODO Task 8.1: all-pairs Euclidean distances without a loop.
    # Read lessons/lesson08_similarity.md, task 8.1; `make hint LESSON=8 TASK=8.1` if you are stuck.
    raise NotImplementedError("Lesson 8.1: all-pairs Euclidean distances without a loop")


def most_similar(embeddings: torch.Tensor, k: int) -> torch.Tensor:
    """For every row, the rows of its ``k`` nearest other rows, nearest first: int64
    ``[n, k]``. A movie is never its own neighbour; equal distances go to the lower row."""
    # TODO Task 8.2: the k nearest other movies of every movie.
    # Read lessons/lesson08_similarity.md, task 8.2; `make hint LESSON=8 TASK=8.2` if you are stuck.
    raise NotImplementedError("Lesson 8.2: the k nearest other movies of every movie")


def similar_titles(title: str, k: int, embeddings: torch.Tensor, top_movies: list[int],
                   id_by_title: dict[str, int], title_by_id: dict[int, str]) -> list[str]:
    """The titles of the ``k`` movies nearest to the movie called ``title``.

    Raises ``KeyError`` if the title is not one of the catalogue's (``top_movies``)."""
    # TODO Task 8.3: the nearest movies of a title.
    # Read lessons/lesson08_similarity.md, task 8.3; `make hint LESSON=8 TASK=8.3` if you are stuck.
    raise NotImplementedError("Lesson 8.3: the nearest movies of a title")


def most_similar_blocked(embeddings: torch.Tensor, k: int, block_rows: int = 1024) -> torch.Tensor:
    """The same neighbours as :func:`most_similar`, computed ``block_rows`` rows at a time.

    For each block of rows, compute their distances to *every* row (a ``[block_rows, n]``
    matrix, never the whole ``[n, n]`` one), put +inf where a row meets itself (row
    ``start + i`` of the whole matrix is row ``i`` of the block), keep each row's ``k``
    nearest other rows (nearest first, equal distances to the lower row) and move on, so
    memory grows as ``n * k`` plus one block. int64 ``[n, k]``.
    """
    # TODO Task 8.4: the same neighbours, one block of rows at a time.
    # Read lessons/lesson08_similarity.md, task 8.4; `make hint LESSON=8 TASK=8.4` if you are stuck.
    raise NotImplementedError("Lesson 8.4: the same neighbours, one block of rows at a time")


def _k_smallest_lower_row_first(values: torch.Tensor, k: int) -> torch.Tensor:
    """Columns of the ``k`` smallest entries of each row, smallest first, equal values in
    column order: what a stable sort gives, without sorting whole rows."""
    if k + 1 > values.shape[1]:
        return torch.sort(values, dim=1, stable=True).indices[:, :k]
    # topk may pick any of several equal values. Ask for one more than needed: where the
    # (k+1)-th smallest is larger than the k-th, the k picked are exactly the k smallest,
    # and only their order is left to fix: by value, then by column.
    smallest, columns = torch.topk(values, k + 1, dim=1, largest=False, sorted=True)
    columns = columns[:, :k].sort(dim=1).values
    columns = columns.gather(1, values.gather(1, columns).sort(dim=1, stable=True).indices)
    # Where the k-th value has a twin just outside, a stable sort of those rows decides.
    tied = smallest[:, k] == smallest[:, k - 1]
    if bool(tied.any()):
        columns[tied] = torch.sort(values[tied], dim=1, stable=True).indices[:, :k]
    return columns
