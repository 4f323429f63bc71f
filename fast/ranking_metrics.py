"""Lesson 10's ``ranking_metrics``, fast: hits looked up in the sparse labels.

The textbook takes a block's relevant labels as a dense bool ``[users, movies]`` matrix and
sums each row to count a user's relevant movies: at ML-32M size that is 88 million cells
per block of 2,048 users read to count some 40 labels a user. Here the labels come as the
block's rows of the sparse CSR matrix they are kept in (``takes_sparse_rows``): a user's
count is the length of their row, and a ranked movie is a hit where its (user, movie) pair
is among the stored pairs (a binary search in the sorted pairs). From the same 0/1 hits the
metrics are the textbook's own formulas, so they are the same float64 numbers
(tests/test_fast_paths.py). Given a dense matrix, it is lesson 10's function.
"""
from __future__ import annotations

import torch

from solutions import lesson10_ranking as l10

#: The textbook functions whose numbers this module gives (lesson -> names).
STANDS_FOR = {10: ("ranking_metrics",)}


def ranking_metrics(ranked: torch.Tensor, relevant: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """Lesson 10's ``ranking_metrics(ranked, relevant, k)``; ``relevant`` dense bool or sparse
    CSR ``[U, M]`` (the stored pairs are the relevant labels)."""
    if relevant.layout != torch.sparse_csr:
        return l10.ranking_metrics(ranked, relevant, k)
    is_hit = stored_pairs(relevant, ranked).to(torch.float64)        # [U, n]
    top = is_hit[:, :k]
    num_relevant = relevant.crow_indices().diff().to(torch.float64)
    # From here on, lesson 10's formulas as the textbook writes them (the same float64 sums).
    hits = top.sum(dim=1)
    discount = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))   # positions 1..k
    dcg = (top * discount).sum(dim=1)
    ideal_hits = num_relevant.clamp(max=k).to(torch.int64)
    ideal_dcg = torch.cumsum(discount, dim=0)[ideal_hits - 1]
    first = torch.where(is_hit.any(dim=1), is_hit.argmax(dim=1) + 1, 0).to(torch.float64)
    reciprocal = torch.where(first > 0, 1.0 / first.clamp(min=1), 0.0)
    return {"hr": (hits > 0).to(torch.float64), "recall": hits / num_relevant,
            "ndcg": dcg / ideal_dcg, "mrr": reciprocal}


ranking_metrics.takes_sparse_rows = True


def stored_pairs(matrix: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """bool ``[U, n]``: whether ``(u, columns[u, j])`` is stored in the sparse CSR ``matrix``."""
    users, width = matrix.shape
    rows = torch.repeat_interleave(torch.arange(users), matrix.crow_indices().diff())
    keys = torch.sort(rows * width + matrix.col_indices()).values
    if len(keys) == 0:
        return torch.zeros(columns.shape, dtype=torch.bool)
    wanted = torch.arange(users)[:, None] * width + columns
    place = torch.searchsorted(keys, wanted).clamp(max=len(keys) - 1)
    return keys[place] == wanted
