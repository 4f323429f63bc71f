"""Lesson 10's ``rank_unseen``, fast: the best ``k`` of each row without sorting the row.

The textbook sorts every user's whole row of scores (a stable sort, so equal scores go to
the lower row) and keeps the first ``k``. At ML-32M size a row holds tens of thousands of
movies and a block of users costs seconds to sort; only ``k`` of them are kept. Here:

1. ``torch.topk`` finds each row's k-th best score ``t`` (a selection, not a sort);
2. the candidates are the movies scoring ``t`` or more: k of them, or a few more where
   scores tie at ``t``;
3. each row's candidates, in row order, are sorted by score with a stable sort, so ties go
   to the lower row exactly as the textbook's sort sends them, and the first k are kept.

Seen movies are scored minus infinity first, as in the lesson, so they come last; a row
with fewer than k unseen movies is sorted whole. Scores keep their own dtype (converting
to float64 keeps their order and their ties, so it changes nothing but the time). Proven
equal to lesson 10's ``rank_unseen`` on scores full of ties (tests/test_fast_paths.py).
"""
from __future__ import annotations

import torch

#: The textbook functions whose numbers this module gives (lesson -> names).
STANDS_FOR = {10: ("rank_unseen",)}


def rank_unseen(scores: torch.Tensor, seen: torch.Tensor, k: int) -> torch.Tensor:
    """Lesson 10's ``rank_unseen(scores, seen, k)``: int64 ``[U, k]``, best first."""
    masked = scores.detach().masked_fill(seen, float("-inf"))
    users, movies = masked.shape
    k = min(k, movies)
    if k == 0 or users == 0:
        return torch.zeros((users, k), dtype=torch.int64)
    threshold = torch.topk(masked, k, dim=1, sorted=False).values.min(dim=1, keepdim=True).values
    whole = torch.isinf(threshold.squeeze(1)) & (threshold.squeeze(1) < 0)   # fewer than k unseen movies
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
