"""The ranking evaluation of lessons 10-12 chained on one split: the inputs of the protocol,
every predictor's scores, the retrieval model's training and the metrics table.

Not a lesson (nothing to fill in): ``make demo`` (through recommender/), the notebooks
10-12 and the checks' fixture use it. Each split trains its own models on its own training
users; held-out users only ever give their watch history as input and their labels as the
answer. Every function that calls a lesson takes ``code``, the lesson modules to call
(``code.l4`` ... ``code.l12``): the reference's by default, a learner's in ``make demo``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pandas as pd
import torch

from course.config import CourseConfig, RankingConfig
from course.containers import ContextIndex, ContextRows, Examples, Params
from solutions.pipeline import REFERENCE



@dataclass
class RankingTask:
    """One evaluation protocol: who trains, who is ranked, what counts as a hit.

    The user x movie matrices are sparse (CSR, 1.0 where the pair is present): at ML-32M size
    the held-out users' histories and the training users' ratings would be billions of
    cells dense. :meth:`seen_rows` and :meth:`relevant_rows` give one block of held-out
    users dense, as lesson 10's functions take them."""
    train_users: np.ndarray          # user ids whose every rating the models may learn from
    eval_users: np.ndarray           # held-out user ids with at least one relevant label
    eval_rows: torch.Tensor          # their rows in stages.user_means (the lesson-4 contexts)
    seen: torch.Tensor               # sparse CSR [U, M]: the held-out users' watch history
    relevant: torch.Tensor           # sparse CSR [U, M]: their labels rated >= relevant_rating
    train_interactions: torch.Tensor  # sparse CSR float64 [N, M]: 1 where a training user rated a movie
    train_rating_sum: torch.Tensor   # float64 [M]
    train_rating_count: torch.Tensor  # float64 [M]
    train_liked_count: torch.Tensor  # float64 [M]: the training users' ratings >= relevant_rating

    @property
    def num_movies(self) -> int:
        return int(self.seen.shape[1])

    @property
    def num_users(self) -> int:
        return int(self.seen.shape[0])

    def seen_rows(self, first: int = 0, last: int | None = None) -> torch.Tensor:
        """bool ``[last - first, M]``: the watch histories of held-out users first..last-1."""
        return dense_rows(self.seen, first, self.num_users if last is None else last)

    def relevant_rows(self, first: int = 0, last: int | None = None) -> torch.Tensor:
        """bool ``[last - first, M]``: the relevant labels of held-out users first..last-1."""
        return dense_rows(self.relevant, first, self.num_users if last is None else last)


def user_movie_matrix(rows: pd.DataFrame, user_ids: np.ndarray, movie_index: dict[int, int]) -> torch.Tensor:
    """Sparse CSR float64 ``[len(user_ids), M]``: 1.0 where ``rows`` holds (user, movie).
    Rows of users not in ``user_ids`` are left out."""
    num_users, num_movies = len(user_ids), len(movie_index)
    user_row = torch.tensor(pd.Index(user_ids).get_indexer(rows["userId"]), dtype=torch.int64)
    movie_row = torch.tensor(rows["movieId"].map(movie_index).to_numpy(), dtype=torch.int64)
    known = user_row >= 0
    pair = torch.unique(user_row[known] * num_movies + movie_row[known])       # sorted by user, then movie
    row_starts = torch.zeros(num_users + 1, dtype=torch.int64)
    row_starts[1:] = torch.cumsum(torch.bincount(pair // num_movies, minlength=num_users), 0)
    return sparse_csr(row_starts, pair % num_movies, torch.ones(len(pair), dtype=torch.float64),
                      (num_users, num_movies))


def sparse_csr(row_starts: torch.Tensor, columns: torch.Tensor, values: torch.Tensor,
               size: tuple[int, int]) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR support is in beta state"
        return torch.sparse_csr_tensor(row_starts, columns, values, size=size)


def sparse_rows(matrix: torch.Tensor, first: int, last: int) -> torch.Tensor:
    """Rows first..last-1 of a sparse CSR matrix, still sparse CSR."""
    starts = matrix.crow_indices()
    lo, hi = int(starts[first]), int(starts[last])
    return sparse_csr(starts[first:last + 1] - lo, matrix.col_indices()[lo:hi], matrix.values()[lo:hi],
                      (last - first, matrix.shape[1]))


def dense_rows(matrix: torch.Tensor, first: int, last: int) -> torch.Tensor:
    """bool ``[last - first, M]``: rows first..last-1 of a sparse CSR matrix, dense."""
    starts = matrix.crow_indices()
    counts = starts[first + 1:last + 1] - starts[first:last]
    block = torch.zeros((last - first, matrix.shape[1]), dtype=torch.bool)
    block[torch.repeat_interleave(torch.arange(last - first), counts),
          matrix.col_indices()[int(starts[first]):int(starts[last])]] = True
    return block


def ranking_task(s: SimpleNamespace, train_users: np.ndarray, eval_users: np.ndarray,
                 cfg: RankingConfig) -> RankingTask:
    """The protocol on one split (``s`` from ``solutions.pipeline.prepare_stages``)."""
    split = s.split
    held_out = split[split["userId"].isin(eval_users)]
    labels = held_out[~held_out["is_history"] & (held_out["rating"] >= cfg.relevant_rating)]
    # A user without a single liked label cannot be ranked: every metric would be 0 or undefined.
    eval_users = np.sort(np.intersect1d(np.asarray(eval_users), labels["userId"].unique()))
    seen = user_movie_matrix(held_out[held_out["is_history"]], eval_users, s.movie_index)
    relevant = user_movie_matrix(labels, eval_users, s.movie_index)
    trained = split[split["userId"].isin(train_users)]
    interactions = user_movie_matrix(trained, np.sort(train_users), s.movie_index)
    movie_row = torch.tensor(trained["movieId"].map(s.movie_index).to_numpy(), dtype=torch.int64)
    num_movies = len(s.movie_index)
    rating_sum = torch.zeros(num_movies, dtype=torch.float64).index_add_(
        0, movie_row, torch.tensor(trained["rating"].to_numpy(), dtype=torch.float64))
    rating_count = torch.bincount(movie_row, minlength=num_movies).to(torch.float64)
    liked = torch.tensor((trained["rating"] >= cfg.relevant_rating).to_numpy())
    liked_count = torch.bincount(movie_row[liked], minlength=num_movies).to(torch.float64)
    eval_rows = torch.tensor(s.user_means.index.get_indexer(eval_users), dtype=torch.int64)
    return RankingTask(np.sort(train_users), eval_users, eval_rows, seen, relevant, interactions,
                       rating_sum, rating_count, liked_count)


#: Users whose lesson-12 contexts are made at once: a dense context is a catalogue wide
#: (2,048 x 40,000 float32 are 330 MB), so the training folds are made a block at a time.
CONTEXT_BLOCK_USERS = 2048

# ---------------------------------------------------------------- predictors, block by block

#: A predictor's scores for held-out users ``first..last-1``: float ``[last - first, M]``.
#: The evaluation asks for one block of users at a time, so no [all users, all movies]
#: matrix is ever made. A scorer may give the same memory back for every block: a block's
#: scores are read before the next block is asked for (copy them to keep them).
Scorer = Callable[[int, int], torch.Tensor]


class ReusedMemory:
    """One tensor's memory, handed out again for every block of the same size or smaller."""

    def __init__(self) -> None:
        self.memory: torch.Tensor | None = None

    def of(self, shape: tuple[int, int], dtype: torch.dtype) -> torch.Tensor:
        size = shape[0] * shape[1]
        if self.memory is None or self.memory.numel() < size or self.memory.dtype != dtype:
            self.memory = torch.empty(size, dtype=dtype)
        return self.memory[:size].view(shape)


class SharedScorer:
    """A :data:`Scorer` that gives every user the same scores (a chart): ``shared`` ``[M]``.
    The evaluation knows that each user's top movies are then among the chart's first
    ``depth + (movies the user has seen)``, and ranks only those columns."""

    def __init__(self, shared: torch.Tensor) -> None:
        self.shared = shared

    def __call__(self, first: int, last: int) -> torch.Tensor:
        return self.shared.expand(last - first, len(self.shared))


class LeadingScorer:
    """A :data:`Scorer` that knows only the catalogue's first ``leading`` movies (the most
    rated; EASE on part of the catalogue, the MSE model on its own catalogue): every other
    movie gets one score below all of theirs, so it ranks after them in catalogue order.
    Called with ``width``, it gives only the first ``width`` columns: the evaluation knows
    that a user's first ``depth`` unseen movies are among the first ``leading + depth +
    (movies the user has seen)``."""

    def __init__(self, leading: int, num_movies: int, known: Callable[[int, int], torch.Tensor]) -> None:
        self.leading, self.num_movies, self.known = leading, num_movies, known
        self.block = ReusedMemory()   # the same memory for every block (a fresh one is zeroed page by page)

    def __call__(self, first: int, last: int, width: int | None = None) -> torch.Tensor:
        part = self.known(first, last)
        width = self.num_movies if width is None else width
        if width <= self.leading:
            return part[:, :width]
        scores = self.block.of((last - first, width), part.dtype)
        scores[:, :self.leading] = part
        scores[:, self.leading:] = float(part.min()) - 1.0 if part.numel() else 0.0
        return scores


def dense_scorer(scores: torch.Tensor) -> Scorer:
    """A scorer that reads its blocks from scores already computed ``[U, M]`` (small data)."""
    return lambda first, last: scores[first:last]


def baseline_scorers(task: RankingTask, cfg: RankingConfig, code: SimpleNamespace | None = None) -> dict[str, Scorer]:
    """Lesson 10's baselines, each as a :data:`Scorer`: random, most-popular, Bayesian average,
    and EASE (:func:`ease_scorer`)."""
    l10 = (code or REFERENCE).l10
    num_movies = task.num_movies
    generator = torch.Generator().manual_seed(cfg.random_seed)
    # Blocks are drawn in order from one generator: the same numbers as one [U, M] draw. They
    # are drawn into the same memory each time (a fresh float64 block is 700 MB at ML-32M
    # size, which the system zeroes page by page: more than the draws cost).
    block = ReusedMemory()
    popular = l10.most_popular_scores(task.train_interactions)
    bayesian = l10.bayesian_average_scores(task.train_rating_sum, task.train_rating_count, cfg.bayes_prior_weight)
    return {
        "random": lambda first, last: torch.rand((last - first, num_movies), generator=generator, dtype=torch.float64,
                                                 out=block.of((last - first, num_movies), torch.float64)),
        "most-popular": SharedScorer(popular),
        "bayesian-average": SharedScorer(bayesian),
        "ease": ease_scorer(task, cfg, code),
    }


def ease_movies(task: RankingTask, cfg: RankingConfig) -> int:
    """How many movies EASE sees: the whole catalogue, or its ``cfg.ease_max_movies`` most
    rated (the catalogue is in order of ratings, most first) where ``[M, M]`` is too big."""
    return min(task.num_movies, cfg.ease_max_movies)


def ease_full_gib(num_movies: int) -> float:
    """GiB of one float64 ``[M, M]`` matrix: what EASE on the whole catalogue needs, at least
    twice (the Gram matrix and its inverse)."""
    return num_movies ** 2 * 8 / 2 ** 30


def ease_scorer(task: RankingTask, cfg: RankingConfig, code: SimpleNamespace | None = None) -> Scorer:
    """EASE (lesson 10's ``ease_weights``) on the :func:`ease_movies` most-rated movies; the
    rest of the catalogue, which EASE did not see, is ranked below them in catalogue order
    (most rated first)."""
    l10 = (code or REFERENCE).l10
    seen_movies = ease_movies(task, cfg)
    interactions, history = task.train_interactions, task.seen
    if seen_movies < task.num_movies:
        interactions, history = first_columns(interactions, seen_movies), first_columns(history, seen_movies)
    weights = l10.ease_weights(interactions, cfg.ease_l2)
    # A user's scores are their 0/1 history row times B: the rows are sparse, so only the
    # movies each user watched are multiplied.
    return LeadingScorer(seen_movies, task.num_movies, history_product(history, weights))


#: Columns of the weights per piece in :func:`history_product`: 6,000 rows x 256 float64
#: columns is 12 MB, which stays in a server core's cache.
PRODUCT_COLUMNS = 256


def history_product(history: torch.Tensor, weights: torch.Tensor) -> Scorer:
    """The :data:`Scorer` ``history[first:last] @ weights`` for sparse CSR rows ``history``.
    A sparse row times ``weights`` adds whole rows of ``weights``, and EASE's at ML-32M size
    (6,000 x 6,000 float64, 288 MB) does not stay in the CPU's cache: each block would read it
    from memory again, row after row. So ``weights`` is cut once into pieces of
    :data:`PRODUCT_COLUMNS` columns and each block is multiplied piece by piece: every score
    is the same sum, in the same order, as the whole product's (a test), at half the time."""
    pieces = [weights[:, start:start + PRODUCT_COLUMNS].contiguous()
              for start in range(0, weights.shape[1], PRODUCT_COLUMNS)]

    def scores(first: int, last: int) -> torch.Tensor:
        rows = sparse_rows(history, first, last)
        return torch.cat([torch.sparse.mm(rows, piece) for piece in pieces], dim=1)
    return scores


def first_columns(matrix: torch.Tensor, columns: int) -> torch.Tensor:
    """The first ``columns`` columns of a sparse CSR matrix, still sparse CSR."""
    keep = matrix.col_indices() < columns
    row_of = torch.repeat_interleave(torch.arange(matrix.shape[0]), matrix.crow_indices().diff())
    row_starts = torch.zeros(matrix.shape[0] + 1, dtype=torch.int64)
    row_starts[1:] = torch.cumsum(torch.bincount(row_of[keep], minlength=matrix.shape[0]), 0)
    return sparse_csr(row_starts, matrix.col_indices()[keep], matrix.values()[keep], (matrix.shape[0], columns))


def chosen_columns(matrix: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """The columns ``columns`` (ascending) of a sparse CSR matrix, still sparse CSR: column
    ``columns[j]`` becomes column j."""
    position = torch.full((matrix.shape[1],), -1, dtype=torch.int64)
    position[columns] = torch.arange(len(columns))
    place = position[matrix.col_indices()]
    keep = place >= 0
    row_of = torch.repeat_interleave(torch.arange(matrix.shape[0]), matrix.crow_indices().diff())
    row_starts = torch.zeros(matrix.shape[0] + 1, dtype=torch.int64)
    row_starts[1:] = torch.cumsum(torch.bincount(row_of[keep], minlength=matrix.shape[0]), 0)
    return sparse_csr(row_starts, place[keep], matrix.values()[keep], (matrix.shape[0], len(columns)))


def baseline_scores(task: RankingTask, cfg: RankingConfig,
                    code: SimpleNamespace | None = None) -> dict[str, torch.Tensor]:
    """Every baseline's scores ``[U, M]`` for all the held-out users at once (small data: the
    notebooks and the checks' fixture)."""
    return {name: scorer(0, task.num_users) for name, scorer in baseline_scorers(task, cfg, code).items()}


@torch.no_grad()
def mse_model_scores(params: Params, s: SimpleNamespace, task: RankingTask,
                     code: SimpleNamespace | None = None) -> torch.Tensor:
    """The lesson 1-9 model: predicted debiased rating of every movie for each held-out user."""
    return mse_scorer(params, s.user_context[task.eval_rows], s.movie_genres, code)(0, task.num_users)


def mse_scorer(params: Params, user_context: torch.Tensor, movie_genres: torch.Tensor,
               code: SimpleNamespace | None = None) -> Scorer:
    """The MSE model's :data:`Scorer`: user i of a block is row i of ``user_context`` (the
    held-out users' lesson-4 contexts, from their history only), scored against every
    movie's combined embedding (lesson 5's towers)."""
    l5 = (code or REFERENCE).l5
    device = params.user_W.device
    with torch.no_grad():
        items = l5.item_tower(params, movie_genres.to(device), torch.arange(movie_genres.shape[0], device=device))

    @torch.no_grad()
    def scores(first: int, last: int) -> torch.Tensor:
        return (l5.user_tower(params, user_context[first:last].to(device)) @ items.T).cpu()
    return scores


# ---------------------------------------------------------------- the streamed evaluation

def metric_names(k: int, cfg: RankingConfig, num_movies: int) -> dict[str, str]:
    """Lesson 10's per-user metric -> its key in the table and metrics.json. The MRR looks
    at the whole ranking unless ``cfg.mrr_depth`` cuts it (then its key says where)."""
    depth = cfg.mrr_depth
    return {"ndcg": f"ndcg@{k}", "hr": f"hr@{k}", "recall": f"recall@{k}",
            "mrr": "mrr" if depth is None or depth >= num_movies else f"mrr@{depth}"}


@dataclass
class RankedPredictor:
    """One predictor's place in the held-out users' top k."""
    summary: dict[str, float]            # metric key -> mean over users (and "coverage")
    per_user: dict[str, torch.Tensor]    # lesson 10's per-user metrics, float64 [U] each
    top: torch.Tensor                    # int64 [U, k]: every user's top k, best first


def evaluate_ranking(scorer: Scorer, task: RankingTask, cfg: RankingConfig,
                     code: SimpleNamespace | None = None, blocks: Callable | None = None) -> RankedPredictor:
    """Lesson 10's metrics of one predictor, streamed: ``cfg.block_users`` held-out users at a
    time, their scores, their histories and their labels dense for that block only. Each
    block is ranked by lesson 10's ``rank_unseen`` to the depth the MRR needs (the whole
    catalogue unless ``cfg.mrr_depth``), scored by ``ranking_metrics``, and only its top k is
    kept, for ``catalogue_coverage`` at the end. ``blocks``, if given, is called with each
    block's ``(first, last, scores, seen, relevant, ranked)`` (the demo's metric check).

    A fast stand-in for ``rank_unseen`` or ``ranking_metrics`` (``fast/``) that says
    ``takes_sparse_rows`` gets the block's histories or labels as sparse CSR rows instead:
    dense, they are a catalogue wide, and making and reading them costs more than the
    ranking. Lesson 10's own functions always get them dense."""
    l10 = (code or REFERENCE).l10
    k, movies = cfg.k, task.num_movies
    depth = movies if cfg.mrr_depth is None else min(movies, max(cfg.mrr_depth, k))
    sparse_seen = getattr(l10.rank_unseen, "takes_sparse_rows", False)
    sparse_relevant = getattr(l10.ranking_metrics, "takes_sparse_rows", False)
    parts, tops = [], []
    chart = torch.sort(scorer.shared, descending=True, stable=True).indices if isinstance(scorer, SharedScorer) \
        else None
    for first in range(0, task.num_users, cfg.block_users):
        last = min(first + cfg.block_users, task.num_users)
        seen = sparse_rows(task.seen, first, last) if sparse_seen else task.seen_rows(first, last)
        relevant = sparse_rows(task.relevant, first, last) if sparse_relevant else task.relevant_rows(first, last)
        scores = None if isinstance(scorer, LeadingScorer) and scorer.leading < movies else scorer(first, last)
        if isinstance(scorer, LeadingScorer) and scorer.leading < movies:
            width = min(movies, scorer.leading + depth + int(task.seen.crow_indices()[first:last + 1].diff().max()))
            scores = scorer(first, last, width)
            ranked = l10.rank_unseen(scores, first_columns(seen, width) if sparse_seen else seen[:, :width], depth)
        elif chart is not None:
            # The same chart for everyone: every user's first `depth` unseen movies are among
            # the chart's first depth + (most movies a user of the block has seen); rank those
            # columns only, in catalogue order so that ties still go to the lower row.
            width = min(movies, depth + int(task.seen.crow_indices()[first:last + 1].diff().max()))
            columns = torch.sort(chart[:width]).values
            ranked = columns[l10.rank_unseen(scores[:, columns],
                                             chosen_columns(seen, columns) if sparse_seen else seen[:, columns],
                                             depth)]
        else:
            ranked = l10.rank_unseen(scores, seen, depth)
        parts.append(l10.ranking_metrics(ranked, relevant, k))
        tops.append(ranked[:, :k])
        if blocks is not None:
            seen = dense_rows(seen, 0, last - first) if sparse_seen else seen
            relevant = dense_rows(relevant, 0, last - first) if sparse_relevant else relevant
            blocks(first, last, scores, seen[:, :scores.shape[1]], relevant, ranked)
    per_user = {name: torch.cat([part[name] for part in parts]) for name in parts[0]}
    top = torch.cat(tops)
    names = metric_names(k, cfg, movies)
    summary = {key: float(per_user[name].mean()) for name, key in names.items() if name in per_user}
    summary["coverage"] = l10.catalogue_coverage(top, movies, k)
    return RankedPredictor(summary, per_user, top)


def evaluate_scores(scores: torch.Tensor, task: RankingTask, cfg: RankingConfig,
                    code: SimpleNamespace | None = None) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """The metrics of scores already computed ``[U, M]`` (small data): ``(summary, per_user)``."""
    ranked = evaluate_ranking(dense_scorer(scores), task, cfg, code)
    return ranked.summary, ranked.per_user


# ---------------------------------------------------------------- the retrieval model (lesson 12)

@dataclass
class RetrievalModel:
    params: Params
    losses: list[float]
    context_index: ContextIndex      # the retrieval context: every catalogue movie, then the genres
    log_popularity: torch.Tensor


def log_popularity(task: RankingTask) -> torch.Tensor:
    """The retrieval model's popularity prior: log of each movie's share of the training
    users' *liked* ratings (``relevant_rating`` or more, what the evaluation counts as a hit),
    one pseudo-count each. Measured on the tuning users (notebook 12), it ranks better than the
    share of all ratings, the most-popular chart's count: a movie many watch but few like is
    a weaker bet."""
    counts = task.train_liked_count + 1.0
    return torch.log(counts / counts.sum()).to(torch.float32)


def retrieval_examples(s: SimpleNamespace, train_users: np.ndarray, num_folds: int, seed: int,
                       new_user_share: float = 0.0, code: SimpleNamespace | None = None,
                       context_rows: Callable | None = None) -> tuple[ContextRows, Examples]:
    """Contexts and examples of every fold: each training rating is a label once (lesson 12).

    The contexts come back as :class:`course.containers.ContextRows`: sparse in memory,
    dense a minibatch at a time (``contexts[rows]``, as lesson 12's loop reads them).
    ``context_rows(split, users, movie_index, movie_genres, genres_only)``, if given, makes
    them instead of lesson 12's ``implicit_contexts`` (the fast path's sparse rows).

    With ``new_user_share`` > 0, each fold also gets a *new-user* context per user: no
    movies, and in the genre block the genres of the movies the user went on to watch (the
    fold's labels, as lesson 12's ``implicit_contexts`` computes them for a history). That
    share of the examples, drawn at random (``seed``), sees it instead of the user's fold
    context; the movie to predict is one of those labels, so its genres are in the question
    on purpose. A persona of lesson 9 is such a user: no history, only the genres they are
    after (and a few favourites); without these examples the towers never learn what a
    genre slot asks for, because real histories say it through their movies. Held-out users
    are always ranked from their history: these contexts only ever train.
    """
    l4, l12 = (code or REFERENCE).l4, (code or REFERENCE).l12
    rows = s.split[s.split["userId"].isin(train_users)]
    # Every fold is a copy of these rows: at ML-32M size five copies of 25 million rows, so
    # the ids and ratings travel in 32 bits (the folds, the contexts and the examples the
    # retrieval model reads are the same).
    rows = rows[["userId", "movieId", "rating"]].astype({"userId": np.int32, "movieId": np.int32,
                                                          "rating": np.float32})
    num_movies = len(s.movie_index)
    draw = torch.Generator().manual_seed(seed)
    contexts, user_row, movie_row, target = [], [], [], []
    offset = 0

    def contexts_of(split: pd.DataFrame, users: np.ndarray, genres_only: bool = False) -> ContextRows:
        """Lesson 12's contexts of ``users``, a block at a time, each block made sparse before
        the next (a dense block is a catalogue wide)."""
        if context_rows is not None:
            return context_rows(split, users, s.movie_index, s.movie_genres, genres_only)
        blocks = []
        if not split["userId"].is_monotonic_increasing:   # the reference's folds are; a learner's may not be
            split = split.sort_values("userId", kind="stable")
        user_column = split["userId"].to_numpy()
        for first in range(0, len(users), CONTEXT_BLOCK_USERS):
            block = users[first:first + CONTEXT_BLOCK_USERS]
            lo = np.searchsorted(user_column, block[0], side="left")
            hi = np.searchsorted(user_column, block[-1], side="right")
            dense = l12.implicit_contexts(split.iloc[lo:hi], block, s.movie_index, s.movie_genres)
            if genres_only:
                dense[:, :num_movies] = 0.0
            blocks.append(ContextRows.from_dense([dense]))
        return ContextRows.concat(blocks)

    folds = l12.fold_splits(rows, num_folds, seed)
    del rows
    while folds:
        split = folds.pop(0)   # each fold let go once used
        means = l4.user_mean_ratings(split)
        users = means.index.to_numpy()
        contexts.append(contexts_of(split, users))
        examples = l4.build_examples(split, users, means, s.movie_index)
        rows_of_users = examples.user_row + offset
        offset += len(users)
        if new_user_share > 0:
            contexts.append(contexts_of(split.assign(is_history=~split["is_history"]), users, genres_only=True))
            new_user = torch.rand(len(examples), generator=draw) < new_user_share
            rows_of_users = torch.where(new_user, rows_of_users + len(users), rows_of_users)
            offset += len(users)
        user_row.append(rows_of_users)
        movie_row.append(examples.movie_row)
        target.append(examples.target)
    return ContextRows.concat(contexts), Examples(torch.cat(user_row), torch.cat(movie_row), torch.cat(target))


def retrieval_context_index(s: SimpleNamespace) -> ContextIndex:
    """Slots of the retrieval context: movie row i at slot i, then the genres."""
    num_movies = len(s.movie_index)
    return ContextIndex(movie_slot=dict(s.movie_index),
                        genre_slot={g: num_movies + c for g, c in s.genre_index.items()},
                        size=num_movies + len(s.genre_index))


def train_retrieval_model(s: SimpleNamespace, task: RankingTask, cfg: CourseConfig,
                          device: torch.device | None = None, seed: int | None = None,
                          code: SimpleNamespace | None = None,
                          contexts_as: Callable[[ContextRows], object] | None = None,
                          context_rows: Callable | None = None,
                          examples_of: Callable | None = None,
                          training_loop: Callable | None = None) -> RetrievalModel:
    """Lesson 12's model trained on ``task.train_users`` only, by ``code``'s lessons 5 and 12
    (with the lesson 4 and 6 functions they call). ``contexts_as``, if given, wraps the
    training contexts before lesson 12's loop reads them (the fast path's sparse rows).
    ``examples_of(s, train_users, num_folds, seed, new_user_share)``, if given, makes the
    contexts and examples of every fold instead of :func:`retrieval_examples` (the fast
    path's, all folds in one pass). ``training_loop``, if given, trains instead of lesson 12's
    ``train_retrieval`` (the fast path's, with the same arguments and result)."""
    code = code or REFERENCE
    device = device or torch.device("cpu")
    r = cfg.retrieval if seed is None else cfg.retrieval.with_seed(seed)
    if examples_of is not None:
        contexts, examples = examples_of(s, task.train_users, r.num_folds, r.fold_seed, r.new_user_share)
    else:
        contexts, examples = retrieval_examples(s, task.train_users, r.num_folds, r.fold_seed, r.new_user_share,
                                                code, context_rows)
    index = retrieval_context_index(s)
    params = code.l5.init_parameters(index.size, len(s.genre_index), len(s.movie_index), r.model,
                                torch.Generator().manual_seed(r.model.init_seed))
    params = Params(*(p.detach().to(device).requires_grad_(True) for p in params.as_list()))
    prior = log_popularity(task)
    if contexts_as is not None:
        contexts = contexts_as(contexts)
    losses = (training_loop or code.l12.train_retrieval)(
        params, contexts.to(device),
        Examples(examples.user_row.to(device), examples.movie_row.to(device), examples.target.to(device)),
        s.movie_genres.to(device), prior.to(device), r, torch.Generator().manual_seed(r.train.seed))
    return RetrievalModel(params, losses, index, prior)


def retrieval_scorer(model: RetrievalModel, s: SimpleNamespace, task: RankingTask,
                     temperature: float, popularity_weight: float, code: SimpleNamespace | None = None,
                     context_rows: Callable | None = None, contexts_as: Callable | None = None,
                     logits: Callable[[torch.Tensor], torch.Tensor] | None = None) -> Scorer:
    """The retrieval model's :data:`Scorer` for the held-out users, from their history only:
    the logits at the training temperature plus ``popularity_weight`` times the log-popularity
    of the training users (the prior the towers cannot hold: they have no per-movie bias).
    Each block's contexts are made for that block (``[B, M + G]``: a whole catalogue wide),
    or, with ``context_rows`` and ``contexts_as`` (the fast path's), once for every held-out
    user as sparse rows. ``logits(contexts)``, if given (the fast path's, which keeps one
    block's memory from call to call), stands in for lesson 12's ``catalogue_logits`` of the
    model at ``temperature``; the prior is then added in place."""
    l12 = (code or REFERENCE).l12
    device = model.params.user_W.device
    genres = s.movie_genres.to(device)
    rows = None if context_rows is None else contexts_as(context_rows(s.split, task.eval_users, s.movie_index,
                                                                       s.movie_genres, False))

    @torch.no_grad()
    def scores(first: int, last: int) -> torch.Tensor:
        if rows is None:
            contexts = l12.implicit_contexts(s.split, task.eval_users[first:last], s.movie_index, s.movie_genres)
        else:
            contexts = rows[torch.arange(first, last)]
        prior = popularity_weight * model.log_popularity[None, :]
        if logits is not None:
            return logits(contexts.to(device)).cpu().add_(prior)
        return l12.catalogue_logits(model.params, contexts.to(device), genres, temperature).cpu() + prior
    return scores


def retrieval_scores(model: RetrievalModel, s: SimpleNamespace, task: RankingTask,
                     temperature: float, popularity_weight: float,
                     code: SimpleNamespace | None = None) -> torch.Tensor:
    """:func:`retrieval_scorer`'s scores ``[U, M]`` for all the held-out users at once (small data)."""
    return retrieval_scorer(model, s, task, temperature, popularity_weight, code)(0, task.num_users)


def bootstrap_difference(per_user_a: dict[str, torch.Tensor], per_user_b: dict[str, torch.Tensor],
                         cfg: RankingConfig, metric: str = "ndcg",
                         code: SimpleNamespace | None = None) -> tuple[float, float, float]:
    """Paired bootstrap of (a - b) for one per-user metric (lesson 10's ``paired_bootstrap``)."""
    return (code or REFERENCE).l10.paired_bootstrap(per_user_a[metric], per_user_b[metric], cfg.bootstrap_samples,
                                cfg.bootstrap_confidence, torch.Generator().manual_seed(cfg.bootstrap_seed))
