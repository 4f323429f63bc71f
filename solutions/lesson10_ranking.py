"""Lesson 10: is the model any good? Ranking evaluation and the baselines to beat.

A recommender is judged by what it puts in a person's top 10, not by the error of one
predicted rating. So for every held-out user we rank the whole catalogue, leave out the
movies they already watched (their history: recommending those again is no help), keep the
top K, and count how many of their labels rated 4 or more made it there. The same protocol
scores four predictors that learn nothing or almost nothing (random, a popularity chart, a
Bayesian-average chart and EASE, a few lines of linear algebra), which tell us where the
bar is. A paired bootstrap over users then says whether a difference is real or luck.
"""
from __future__ import annotations

import torch


def rank_unseen(scores: torch.Tensor, seen: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` best-scored rows of every user, best first: int64 ``[U, k]``.

    ``scores`` is float ``[U, M]`` (one score per user and catalogue movie), ``seen`` bool
    ``[U, M]`` (True for the movies in a user's watch history). Seen movies are ranked after
    every unseen one, so they never enter a top K while the user has K unseen movies left.
    Equal scores go to the lower row (a stable sort), so the ranking is reproducible.
    """
    # BEGIN SOLUTION 10.1
    masked = scores.detach().to(torch.float64).masked_fill(seen, float("-inf"))
    order = torch.sort(masked, dim=1, descending=True, stable=True).indices
    return order[:, :k]
    # END SOLUTION


def ranking_metrics(ranked: torch.Tensor, relevant: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
    """Per-user ranking metrics, float64 ``[U]`` each, under the keys ``"hr"``, ``"recall"``,
    ``"ndcg"`` and ``"mrr"``.

    ``ranked`` is int64 ``[U, n]`` (each user's movie rows, best first, n >= k) and
    ``relevant`` bool ``[U, M]`` (True for a user's relevant labels; every user has at least
    one). With a *hit* being a relevant movie among the first ``k`` of ``ranked``:

    - ``hr``: 1.0 if the top k holds at least one hit, else 0.0 (hit rate);
    - ``recall``: hits divided by the user's number of relevant movies;
    - ``ndcg``: the sum over hits of ``1 / log2(position + 1)`` (positions 1..k), divided
      by the same sum for a perfect ranking, whose first ``min(k, number relevant)``
      positions are all hits;
    - ``mrr``: ``1 / position`` of the first relevant movie anywhere in ``ranked`` (all n
      columns, not only k), 0.0 if there is none (reciprocal rank; its mean is the MRR).
    """
    # BEGIN SOLUTION 10.2
    is_hit = relevant.gather(1, ranked).to(torch.float64)            # [U, n]
    top = is_hit[:, :k]
    num_relevant = relevant.sum(dim=1).to(torch.float64)
    hits = top.sum(dim=1)
    discount = 1.0 / torch.log2(torch.arange(2, k + 2, dtype=torch.float64))   # positions 1..k
    dcg = (top * discount).sum(dim=1)
    ideal_hits = num_relevant.clamp(max=k).to(torch.int64)
    ideal_dcg = torch.cumsum(discount, dim=0)[ideal_hits - 1]
    first = torch.where(is_hit.any(dim=1), is_hit.argmax(dim=1) + 1, 0).to(torch.float64)
    reciprocal = torch.where(first > 0, 1.0 / first.clamp(min=1), 0.0)
    return {"hr": (hits > 0).to(torch.float64), "recall": hits / num_relevant,
            "ndcg": dcg / ideal_dcg, "mrr": reciprocal}
    # END SOLUTION


def catalogue_coverage(ranked: torch.Tensor, num_movies: int, k: int) -> float:
    """Share of the catalogue's ``num_movies`` movies that appear in at least one user's
    top ``k`` (the first ``k`` columns of ``ranked``). A chart shows everyone the same ten
    movies; a personal recommender spreads over the catalogue."""
    # BEGIN SOLUTION 10.3
    shown = torch.unique(ranked[:, :k])
    return float(shown.numel()) / num_movies
    # END SOLUTION


def most_popular_scores(interactions: torch.Tensor) -> torch.Tensor:
    """The popularity chart: float64 ``[M]``, the number of training users who rated each
    movie. ``interactions`` is a sparse CSR matrix ``[N, M]`` whose stored values are nonzero
    where training user n rated movie m (``interactions.col_indices()`` holds the movie of
    every stored value, ``interactions.values()`` the values)."""
    # BEGIN SOLUTION 10.4
    rated = interactions.values() != 0
    return torch.bincount(interactions.col_indices()[rated], minlength=interactions.shape[1]).to(torch.float64)
    # END SOLUTION


def bayesian_average_scores(rating_sum: torch.Tensor, rating_count: torch.Tensor,
                            prior_weight: float) -> torch.Tensor:
    """The "best rated" chart, shrunk towards the mean: float64 ``[M]``.

    ``rating_sum`` and ``rating_count`` ``[M]`` are the sum and number of the training
    users' ratings of each movie. Each movie gets ``prior_weight`` imaginary ratings at the
    global mean rating ``C`` (all ratings' sum over all ratings' count):
    ``(rating_sum + prior_weight * C) / (rating_count + prior_weight)``. A movie rated
    5.0 by one person no longer tops the chart.
    """
    # BEGIN SOLUTION 10.5
    rating_sum = rating_sum.to(torch.float64)
    rating_count = rating_count.to(torch.float64)
    global_mean = rating_sum.sum() / rating_count.sum()
    return (rating_sum + prior_weight * global_mean) / (rating_count + prior_weight)
    # END SOLUTION


def ease_weights(interactions: torch.Tensor, l2: float) -> torch.Tensor:
    """EASE (Steck, 2019): the item-item weights ``B`` float64 ``[M, M]`` that best rebuild
    each training user's row ``X`` from the user's other movies, ``X ≈ X @ B`` with
    ``diag(B) = 0``, with an L2 penalty ``l2``. Closed form: ``P = (XᵀX + l2·I)⁻¹``, then
    ``B[i, j] = -P[i, j] / P[j, j]`` off the diagonal and 0 on it.

    ``interactions`` is a sparse CSR matrix ``[N, M]``, stored values nonzero where training
    user n rated movie m (as for :func:`most_popular_scores`). A user's scores are then
    ``their 0/1 history row @ B``. Memory is quadratic in M: fine for a few thousand movies,
    not for the 80,000 of ML-32M.
    """
    # BEGIN SOLUTION 10.6
    pairs = interactions.to_sparse_coo()
    x = torch.sparse_coo_tensor(pairs.indices(), (pairs.values() != 0).to(torch.float64), pairs.shape)
    # X is mostly zeros: the sparse product counts, for every two movies, the users who rated both.
    gram = torch.sparse.mm(x.t(), x).to_dense() + l2 * torch.eye(x.shape[1], dtype=torch.float64)
    precision = torch.linalg.inv(gram)
    weights = -precision / precision.diagonal()[None, :]
    weights.fill_diagonal_(0.0)
    return weights
    # END SOLUTION


def paired_bootstrap(metric_a: torch.Tensor, metric_b: torch.Tensor, num_samples: int,
                     confidence: float, generator: torch.Generator) -> tuple[float, float, float]:
    """How sure are we that predictor A beats predictor B? ``(mean difference, low, high)``.

    ``metric_a`` and ``metric_b`` ``[U]`` are the two predictors' per-user values on the
    *same* users. The difference ``a - b`` is taken per user (paired: a user who is easy for
    one predictor is usually easy for the other). Draw ``num_samples`` resamples of the U
    users with replacement (``torch.randint`` with ``generator``, one ``[num_samples, U]``
    draw), take the mean difference of each, and return the observed mean difference and
    the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the resampled
    means (``torch.quantile``, linear interpolation). An interval above 0 says A's gain is
    unlikely to be luck of which users were held out.
    """
    # BEGIN SOLUTION 10.7
    difference = metric_a.to(torch.float64) - metric_b.to(torch.float64)
    users = difference.shape[0]
    picks = torch.randint(0, users, (num_samples, users), generator=generator)
    means = difference[picks].mean(dim=1)
    tail = (1.0 - confidence) / 2.0
    bounds = torch.quantile(means, torch.tensor([tail, 1.0 - tail], dtype=torch.float64))
    return float(difference.mean()), float(bounds[0]), float(bounds[1])
    # END SOLUTION
