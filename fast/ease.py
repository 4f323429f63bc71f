"""Lesson 10's ``ease_weights``, fast: the same Gram matrix counted where it is cheapest.

The textbook multiplies the sparse 0/1 matrix ``X`` by itself: ``XᵀX`` counts, for every two
movies, the users who rated both. A sparse product costs one step per pair of movies in a
user's row, ``h²`` for a user with ``h`` ratings; a dense product costs ``2·M²`` per user
whatever ``h``. On ML-32M's 6,000 most-rated movies, a median user has about 60 of them and
pays little, but the heaviest tenth of the users (several hundred each) hold nine tenths of
all the pairs. So each user goes where they are cheaper:

- users with many ratings: their rows dense, as 8-bit integers, multiplied with
  ``torch._int_mm`` (integer products summed in 32 bits; the CPU's vector units do several
  times more of those per second than of float32 products);
- the rest: the textbook's sparse product.

The counts are whole numbers, so every part is exact and their sum is the textbook's Gram
matrix bit for bit, in whatever order the parts are added. The inverse comes from the
matrix's Cholesky factor (it is symmetric positive definite), half the arithmetic of the
textbook's general inverse and the same weights to rounding; the rest (the L2 term, the
weights) is the textbook's own code. Because the order does not matter, the
parts (the sparse product and each block of dense rows) are computed side by side on the
cores the machine leaves idle (``course.threads.evaluation_workers``, as the MSE model's
evaluation does; each operation still on one thread). Proven equal in
tests/test_fast_paths.py.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed

import torch

from course.threads import evaluation_workers

#: The textbook functions whose numbers this module gives (lesson -> names).
STANDS_FOR = {10: ("ease_weights",)}

#: Seconds per pair of a user's movies in the sparse product, and per multiply-add of the
#: 8-bit dense product, measured on a 2-core x86 server: only their ratio matters, to
#: choose which users go dense (those with more than about sqrt(2·M²·dense/sparse) ratings).
SPARSE_PAIR_COST = 6e-9
DENSE_PRODUCT_COST = 1.5e-12
#: Users per dense block: [block, M] int8 rows stay a few tens of MB.
DENSE_BLOCK_USERS = 4096


def ease_weights(interactions: torch.Tensor, l2: float) -> torch.Tensor:
    """Lesson 10's ``ease_weights(interactions, l2)``: float64 ``[M, M]``, diagonal 0."""
    num_movies = interactions.shape[1]
    gram = cooccurrence_counts(interactions) + l2 * torch.eye(num_movies, dtype=torch.float64)
    # XᵀX + l2·I is symmetric and positive definite (l2 > 0): its inverse from its Cholesky
    # factor takes half the arithmetic of the textbook's general inverse (6,000 movies on one
    # thread: 7.1 s instead of 12.5 s), the same matrix to rounding.
    factor = torch.linalg.cholesky(gram)
    del gram
    precision = torch.cholesky_inverse(factor)
    del factor
    weights = -precision / precision.diagonal()[None, :]
    weights.fill_diagonal_(0.0)
    return weights


def cooccurrence_counts(interactions: torch.Tensor) -> torch.Tensor:
    """``XᵀX`` float64 ``[M, M]`` (whole numbers, exact) of the 0/1 matrix ``X`` with ones
    where ``interactions`` (sparse CSR ``[N, M]``) stores a nonzero value. The parts are
    added into one float64 matrix as they come: no second [M, M] copy of the counts."""
    num_users, num_movies = interactions.shape
    crow, columns = interactions.crow_indices(), interactions.col_indices()
    rated = interactions.values() != 0
    row_of = torch.repeat_interleave(torch.arange(num_users), crow.diff())
    row_of, columns = row_of[rated], columns[rated]
    ratings = torch.bincount(row_of, minlength=num_users)
    heavy = ratings.to(torch.float64) ** 2 * SPARSE_PAIR_COST > 2.0 * num_movies ** 2 * DENSE_PRODUCT_COST
    in_heavy = heavy[row_of]
    parts = [lambda: _sparse_counts(row_of[~in_heavy], columns[~in_heavy], num_users, num_movies)]
    parts += _dense_parts(row_of[in_heavy], columns[in_heavy], num_movies)
    counts = torch.zeros((num_movies, num_movies), dtype=torch.float64)
    workers = min(evaluation_workers(), len(parts))
    if workers > 1:
        # Added as each part is done (whole numbers: any order gives the same sum), so that
        # finished parts do not wait in memory behind a slower one.
        with ThreadPoolExecutor(workers) as pool:
            for done in as_completed([pool.submit(compute) for compute in parts]):
                counts += done.result()
    else:
        for compute in parts:
            counts += compute()
    return counts


def _sparse_counts(row_of: torch.Tensor, columns: torch.Tensor, num_users: int, num_movies: int) -> torch.Tensor:
    """The textbook's sparse product, for the users of ``row_of``."""
    x = torch.sparse_coo_tensor(torch.stack([row_of, columns]), torch.ones(len(columns), dtype=torch.float64),
                                (num_users, num_movies))
    return torch.sparse.mm(x.t(), x).to_dense()


def _dense_parts(row_of: torch.Tensor, columns: torch.Tensor, num_movies: int) -> list:
    """The same counts for the users of ``row_of`` from their rows dense: one part (a
    function giving int32 ``[M, M]``) per block of users. ``row_of`` is in row order."""
    users, ratings = torch.unique_consecutive(row_of, return_counts=True)
    starts = torch.zeros(len(users) + 1, dtype=torch.int64)
    starts[1:] = torch.cumsum(ratings, 0)
    place = torch.repeat_interleave(torch.arange(len(users)), ratings)   # each rating's dense row
    width = -(-num_movies // 8) * 8                     # the 8-bit product wants a multiple of 8

    def block(first: int, last: int):
        def compute() -> torch.Tensor:
            rows = torch.zeros((last - first, width), dtype=torch.int8)
            span = slice(int(starts[first]), int(starts[last]))
            rows[place[span] - first, columns[span]] = 1
            return _int8_gram(rows)[:num_movies, :num_movies]
        return compute
    return [block(first, min(first + DENSE_BLOCK_USERS, len(users)))
            for first in range(0, len(users), DENSE_BLOCK_USERS)]


def _int8_gram(rows: torch.Tensor) -> torch.Tensor:
    """``rowsᵀ @ rows`` of a 0/1 int8 block, summed in 32-bit integers (exact: at most a
    block's users). Where this build of torch has no 8-bit product, float32 (also exact)."""
    try:
        return torch._int_mm(rows.T.contiguous(), rows)
    except (RuntimeError, AttributeError):
        as_float = rows.to(torch.float32)
        return (as_float.T @ as_float).round().to(torch.int32)
