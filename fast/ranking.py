"""Lesson 10's ``rank_unseen``, fast: the best ``k`` of each row without sorting the row.

The textbook sorts every user's whole row of scores (a stable sort, so equal scores go to
the lower row) and keeps the first ``k``. At ML-32M size a row holds tens of thousands of
movies and a block of users costs seconds to sort; only ``k`` of them are kept. Here:

1. ``torch.topk`` finds each row's ``k + 1`` best scores (a selection, not a sort);
2. where the (k+1)-th is below the k-th (no tie across the cut, the usual case for real
   scores), the top k are exactly those ``k`` movies: they are put in row order, then sorted
   by score with a stable sort, so ties among them go to the lower row as in the textbook;
3. the other rows (ties at the k-th score: charts, the one score a partial scorer gives the
   movies it does not know) take every movie scoring the k-th score or more as candidates,
   and sort those the same way; a row with fewer than k unseen movies is sorted whole.

Seen movies are scored minus infinity first, as in the lesson, so they come last. ``seen``
may be the lesson's dense bool matrix, or the block's rows of a sparse CSR matrix whose
stored pairs are the seen movies (``takes_sparse_rows``: the streamed evaluation then never
makes the dense [users, movies] mask). Scores keep their own dtype (converting to float64
keeps their order and their ties, so it changes nothing but the time). Proven equal to
lesson 10's ``rank_unseen`` on scores full of ties (tests/test_fast_paths.py).
"""
from __future__ import annotations

from contextlib import contextmanager

import torch

#: The textbook functions whose numbers this module gives (lesson -> names).
STANDS_FOR = {10: ("rank_unseen",)}


def rank_unseen(scores: torch.Tensor, seen: torch.Tensor, k: int) -> torch.Tensor:
    """Lesson 10's ``rank_unseen(scores, seen, k)``: int64 ``[U, k]``, best first."""
    users, movies = scores.shape
    k = min(k, movies)
    if k == 0 or users == 0:
        return torch.zeros((users, k), dtype=torch.int64)
    with seen_last(scores, seen) as masked:
        return best_of_rows(masked, k)


# The streamed evaluation may hand ``seen`` as sparse CSR rows (solutions/evaluation.py).
rank_unseen.takes_sparse_rows = True


@contextmanager
def seen_last(scores: torch.Tensor, seen: torch.Tensor):
    """``scores`` with every seen movie at minus infinity, for the ``with`` block.

    From sparse rows, the few seen cells are overwritten in ``scores`` itself and put back
    afterwards: a copy of a block's scores costs more than the ranking's own selection."""
    scores = scores.detach()
    if seen.layout != torch.sparse_csr:
        yield scores.masked_fill(seen, float("-inf")) if scores.is_floating_point() \
            else scores.to(torch.float64).masked_fill(seen, float("-inf"))
        return
    rows = torch.repeat_interleave(torch.arange(seen.shape[0]), seen.crow_indices().diff())
    cells = (rows, seen.col_indices())
    if not scores.is_floating_point() or not scores.is_contiguous() or scores.requires_grad:
        masked = scores.to(torch.float64 if not scores.is_floating_point() else scores.dtype, copy=True)
        masked.index_put_(cells, torch.tensor(float("-inf"), dtype=masked.dtype))
        yield masked
        return
    kept = scores[cells]
    scores.index_put_(cells, torch.tensor(float("-inf"), dtype=scores.dtype))
    try:
        yield scores
    finally:
        scores.index_put_(cells, kept)


def best_of_rows(masked: torch.Tensor, k: int) -> torch.Tensor:
    """Each row's ``k`` highest columns, best first, equal scores in column order."""
    users, movies = masked.shape
    if k >= movies:
        return torch.sort(masked, dim=1, descending=True, stable=True).indices[:, :k]
    top = torch.topk(masked, k + 1, dim=1, sorted=True)
    clear = top.values[:, k] < top.values[:, k - 1]   # no tie across the cut (False where NaN or -inf is there)
    columns = torch.sort(top.indices[:, :k], dim=1).values                 # row order
    ranked = columns.gather(1, torch.sort(masked.gather(1, columns), dim=1, descending=True, stable=True).indices)
    if not bool(clear.all()):
        rows = (~clear).nonzero().squeeze(1)
        ranked[rows] = best_with_ties(masked[rows], k)
    return ranked


def best_with_ties(masked: torch.Tensor, k: int) -> torch.Tensor:
    """:func:`best_of_rows` for rows whose k-th score ties with the next ones: every movie
    scoring the k-th score or more is a candidate (k of them, or more), in row order."""
    users = masked.shape[0]
    threshold = torch.topk(masked, k, dim=1, sorted=False).values.min(dim=1, keepdim=True).values
    whole = torch.isinf(threshold.squeeze(1)) & (threshold.squeeze(1) < 0)   # fewer than k unseen movies
    whole |= torch.isnan(threshold.squeeze(1))                                # NaN scores: the textbook's sort
    candidate = (masked >= threshold) & ~whole[:, None]
    user, movie = candidate.nonzero(as_tuple=True)                # row by row, each in movie order
    counts = torch.bincount(user, minlength=users)
    place = torch.arange(len(user)) - (torch.cumsum(counts, 0) - counts)[user]
    width = max(int(counts.max()), k)
    columns = torch.zeros((users, width), dtype=torch.int64)
    values = torch.full((users, width), float("-inf"), dtype=masked.dtype)
    columns[user, place] = movie
    values[user, place] = masked[user, movie]
    ranked = columns.gather(1, torch.sort(values, dim=1, descending=True, stable=True).indices[:, :k])
    if bool(whole.any()):   # the textbook's whole sort, for those rows only
        rows = whole.nonzero().squeeze(1)
        ranked[rows] = torch.sort(masked[rows], dim=1, descending=True, stable=True).indices[:, :k]
    return ranked
