"""The ranking evaluation of lessons 10-12 chained on one split: the inputs of the protocol,
every predictor's scores, the retrieval model's training and the metrics table.

Not a lesson (nothing to fill in): ``make demo`` (through recommender/), the notebooks
10-12 and the checks' fixture use it. Each split trains its own models on its own training
users; held-out users only ever give their watch history as input and their labels as the
answer. Every function that calls a lesson takes ``code``, the lesson modules to call
(``code.l4`` ... ``code.l12``): the reference's by default, a learner's in ``make demo``.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch

from course.config import CourseConfig, RankingConfig
from course.containers import ContextIndex, Examples, Params
from solutions.pipeline import REFERENCE

METRICS = ("ndcg@10", "hr@10", "recall@10", "mrr", "coverage")   # the keys of metrics.json (k = 10)


@dataclass
class RankingTask:
    """One evaluation protocol: who trains, who is ranked, what counts as a hit."""
    train_users: np.ndarray          # user ids whose every rating the models may learn from
    eval_users: np.ndarray           # held-out user ids with at least one relevant label
    eval_rows: torch.Tensor          # their rows in stages.user_means (the lesson-4 contexts)
    seen: torch.Tensor               # bool [U, M]: the held-out users' watch history
    relevant: torch.Tensor           # bool [U, M]: their labels rated >= relevant_rating
    train_interactions: torch.Tensor  # float64 [N, M]: 1 where a training user rated a movie
    train_rating_sum: torch.Tensor   # float64 [M]
    train_rating_count: torch.Tensor  # float64 [M]
    train_liked_count: torch.Tensor  # float64 [M]: the training users' ratings >= relevant_rating


def user_movie_matrix(rows: pd.DataFrame, user_ids: np.ndarray, movie_index: dict[int, int]) -> torch.Tensor:
    """bool [len(user_ids), M]: True where ``rows`` holds (user, movie)."""
    matrix = torch.zeros((len(user_ids), len(movie_index)), dtype=torch.bool)
    user_row = pd.Index(user_ids).get_indexer(rows["userId"])
    movie_row = rows["movieId"].map(movie_index).to_numpy()
    matrix[torch.tensor(user_row, dtype=torch.int64), torch.tensor(movie_row, dtype=torch.int64)] = True
    return matrix


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
    interactions = user_movie_matrix(trained, np.sort(train_users), s.movie_index).to(torch.float64)
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


def baseline_scores(task: RankingTask, cfg: RankingConfig,
                    code: SimpleNamespace | None = None) -> dict[str, torch.Tensor]:
    """Scores ``[U, M]`` of lesson 10's baselines. EASE only where its [M, M] matrices fit
    (``cfg.ease_max_movies``)."""
    l10 = (code or REFERENCE).l10
    users, num_movies = task.seen.shape
    generator = torch.Generator().manual_seed(cfg.random_seed)
    scores = {
        "random": torch.rand((users, num_movies), generator=generator, dtype=torch.float64),
        "most-popular": l10.most_popular_scores(task.train_interactions).expand(users, num_movies),
        "bayesian-average": l10.bayesian_average_scores(task.train_rating_sum, task.train_rating_count,
                                                        cfg.bayes_prior_weight).expand(users, num_movies),
    }
    if num_movies <= cfg.ease_max_movies:
        weights = l10.ease_weights(task.train_interactions, cfg.ease_l2)
        scores["ease"] = task.seen.to(torch.float64) @ weights
    return scores


@torch.no_grad()
def mse_model_scores(params: Params, s: SimpleNamespace, task: RankingTask,
                     code: SimpleNamespace | None = None) -> torch.Tensor:
    """The lesson 1-9 model: predicted debiased rating of every movie for each held-out user."""
    l5 = (code or REFERENCE).l5
    users = l5.user_tower(params, s.user_context[task.eval_rows].to(params.user_W.device))
    items = l5.item_tower(params, s.movie_genres.to(params.user_W.device),
                          torch.arange(len(s.movie_index), device=params.user_W.device))
    return (users @ items.T).cpu()


def rank(scores: torch.Tensor, task: RankingTask, code: SimpleNamespace | None = None) -> torch.Tensor:
    """Every held-out user's whole ranking of the catalogue, seen movies last (lesson 10's
    ``rank_unseen``: all the columns, for the MRR)."""
    return (code or REFERENCE).l10.rank_unseen(scores, task.seen, task.seen.shape[1])


def ranking_summary(ranked: torch.Tensor, task: RankingTask, k: int,
                    code: SimpleNamespace | None = None) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """Mean metrics of rankings made by :func:`rank` (the keys of :data:`METRICS` for k = 10)
    and the per-user values (lesson 10's ``ranking_metrics`` and ``catalogue_coverage``)."""
    l10 = (code or REFERENCE).l10
    per_user = l10.ranking_metrics(ranked, task.relevant, k)
    coverage = l10.catalogue_coverage(ranked, task.seen.shape[1], k)
    summary = {f"ndcg@{k}": float(per_user["ndcg"].mean()), f"hr@{k}": float(per_user["hr"].mean()),
               f"recall@{k}": float(per_user["recall"].mean()), "mrr": float(per_user["mrr"].mean()),
               "coverage": coverage}
    return summary, per_user


def evaluate_scores(scores: torch.Tensor, task: RankingTask, k: int,
                    code: SimpleNamespace | None = None) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
    """:func:`ranking_summary` of :func:`rank`: the metrics of one predictor's scores."""
    return ranking_summary(rank(scores, task, code), task, k, code)


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
                       new_user_share: float = 0.0,
                       code: SimpleNamespace | None = None) -> tuple[torch.Tensor, Examples]:
    """Contexts and examples of every fold: each training rating is a label once (lesson 12).

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
    num_movies = len(s.movie_index)
    draw = torch.Generator().manual_seed(seed)
    contexts, user_row, movie_row, target = [], [], [], []
    offset = 0
    for split in l12.fold_splits(rows, num_folds, seed):
        means = l4.user_mean_ratings(split)
        users = means.index.to_numpy()
        contexts.append(l12.implicit_contexts(split, users, s.movie_index, s.movie_genres))
        examples = l4.build_examples(split, users, means, s.movie_index)
        rows_of_users = examples.user_row + offset
        offset += len(users)
        if new_user_share > 0:
            wanted = l12.implicit_contexts(split.assign(is_history=~split["is_history"]), users,
                                           s.movie_index, s.movie_genres)
            wanted[:, :num_movies] = 0.0
            contexts.append(wanted)
            new_user = torch.rand(len(examples), generator=draw) < new_user_share
            rows_of_users = torch.where(new_user, rows_of_users + len(users), rows_of_users)
            offset += len(users)
        user_row.append(rows_of_users)
        movie_row.append(examples.movie_row)
        target.append(examples.target)
    return torch.cat(contexts), Examples(torch.cat(user_row), torch.cat(movie_row), torch.cat(target))


def retrieval_context_index(s: SimpleNamespace) -> ContextIndex:
    """Slots of the retrieval context: movie row i at slot i, then the genres."""
    num_movies = len(s.movie_index)
    return ContextIndex(movie_slot=dict(s.movie_index),
                        genre_slot={g: num_movies + c for g, c in s.genre_index.items()},
                        size=num_movies + len(s.genre_index))


def train_retrieval_model(s: SimpleNamespace, task: RankingTask, cfg: CourseConfig,
                          device: torch.device | None = None, seed: int | None = None,
                          code: SimpleNamespace | None = None) -> RetrievalModel:
    """Lesson 12's model trained on ``task.train_users`` only, by ``code``'s lessons 5 and 12
    (with the lesson 4 and 6 functions they call)."""
    code = code or REFERENCE
    device = device or torch.device("cpu")
    r = cfg.retrieval if seed is None else cfg.retrieval.with_seed(seed)
    contexts, examples = retrieval_examples(s, task.train_users, r.num_folds, r.fold_seed, r.new_user_share, code)
    index = retrieval_context_index(s)
    params = code.l5.init_parameters(index.size, len(s.genre_index), len(s.movie_index), r.model,
                                torch.Generator().manual_seed(r.model.init_seed))
    params = Params(*(p.detach().to(device).requires_grad_(True) for p in params.as_list()))
    prior = log_popularity(task)
    losses = code.l12.train_retrieval(
        params, contexts.to(device),
        Examples(examples.user_row.to(device), examples.movie_row.to(device), examples.target.to(device)),
        s.movie_genres.to(device), prior.to(device), r, torch.Generator().manual_seed(r.train.seed))
    return RetrievalModel(params, losses, index, prior)


@torch.no_grad()
def retrieval_scores(model: RetrievalModel, s: SimpleNamespace, task: RankingTask,
                     temperature: float, popularity_weight: float,
                     code: SimpleNamespace | None = None) -> torch.Tensor:
    """The retrieval model's scores ``[U, M]`` for the held-out users, from their history only:
    the logits at the training temperature plus ``popularity_weight`` times the log-popularity
    of the training users (the prior the towers cannot hold: they have no per-movie bias)."""
    l12 = (code or REFERENCE).l12
    device = model.params.user_W.device
    contexts = l12.implicit_contexts(s.split, task.eval_users, s.movie_index, s.movie_genres)
    logits = l12.catalogue_logits(model.params, contexts.to(device), s.movie_genres.to(device), temperature).cpu()
    return logits + popularity_weight * model.log_popularity[None, :]


def bootstrap_difference(per_user_a: dict[str, torch.Tensor], per_user_b: dict[str, torch.Tensor],
                         cfg: RankingConfig, metric: str = "ndcg",
                         code: SimpleNamespace | None = None) -> tuple[float, float, float]:
    """Paired bootstrap of (a - b) for one per-user metric (lesson 10's ``paired_bootstrap``)."""
    return (code or REFERENCE).l10.paired_bootstrap(per_user_a[metric], per_user_b[metric], cfg.bootstrap_samples,
                                cfg.bootstrap_confidence, torch.Generator().manual_seed(cfg.bootstrap_seed))
