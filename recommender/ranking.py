"""Lessons 10-12 on one split: which model trains on which split, and every predictor's
place in a held-out user's top 10.

Each split (lesson 3's random mask, lesson 11's time order) gets its own MSE model, its own
retrieval model and its own baselines, all trained on that split's training users only,
all by ``code`` (the learner's lessons where written). Where the learner wrote part of
lesson 10, the same rankings are also scored by the reference's metrics and every
difference is reported (:class:`MetricCheck`): a wrong NDCG must not pass for a good model.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import torch

from course.config import CourseConfig
from recommender import models
from recommender.code import Code
from solutions import evaluation as ev
from solutions.pipeline import REFERENCE, prepare_stages, to_prepared

#: The predictors of the table, by their key in metrics.json, and what the table calls them.
PREDICTORS = {
    "mse-two-tower": "MSE two-tower (lessons 1-9)",
    "softmax-two-tower": "softmax two-tower (lesson 12)",
    "random": "random",
    "most-popular": "most-popular (training users' counts)",
    "bayesian-average": "Bayesian-average rating",
    "ease": "EASE (closed form)",
}
SPLITS = ("random", "temporal")
#: Lesson 10's functions whose results the table shows (the metric check compares them).
METRIC_FUNCTIONS = ("rank_unseen", "ranking_metrics", "catalogue_coverage")


@dataclass
class MetricCheck:
    """Lesson 10's own ranking and metrics against the reference's, on the same scores."""
    differences: list[str] = field(default_factory=list)   # one sentence per difference

    @property
    def agrees(self) -> bool:
        return not self.differences


@dataclass
class SplitRanking:
    """Everything lessons 10-12 measured on one split."""
    split_kind: str
    stages: SimpleNamespace                      # lessons 1-4 (and 11) on this split
    task: ev.RankingTask                         # who trains, who is ranked, what is a hit
    mse: models.MSEModel
    retrieval: models.RetrievalModel
    metrics: dict[str, dict[str, float]]         # predictor -> metric -> mean over users
    per_user: dict[str, dict[str, torch.Tensor]]
    interval: tuple[float, float, float]         # softmax two-tower - most-popular, NDCG@k
    check: MetricCheck | None                    # None: lesson 10 is the reference's

    @property
    def ease_left_out(self) -> bool:
        return "ease" not in self.metrics


def _check_metrics(scores: dict[str, torch.Tensor], ranked: dict[str, torch.Tensor],
                   metrics: dict[str, dict[str, float]], task: ev.RankingTask, k: int) -> MetricCheck:
    """The reference's ranking and metrics of the same scores, and every difference."""
    check = MetricCheck()
    for name, value in scores.items():
        reference_ranked = ev.rank(value, task, REFERENCE)
        if not torch.equal(torch.as_tensor(ranked[name])[:, :k], reference_ranked[:, :k]):
            check.differences.append(f"{PREDICTORS.get(name, name)}: your rank_unseen gives another top {k} "
                                     f"than the reference's for the same scores")
        reference, _ = ev.ranking_summary(torch.as_tensor(ranked[name]), task, k, REFERENCE)
        for metric, want in reference.items():
            got = metrics[name].get(metric)
            if got is None or not abs(got - want) <= 1e-9 * max(1.0, abs(want)):
                check.differences.append(f"{PREDICTORS.get(name, name)} {metric}: yours {got}, the reference's "
                                         f"{want:.6f} for the same ranking")
    return check


def rank_split(cfg: CourseConfig, ratings, movies, split_kind: str, code: Code, device: torch.device,
               mse_model: models.MSEModel | None = None) -> SplitRanking:
    """One split of the ranking evaluation. ``mse_model`` (the demo's main model) is ranked
    when it was trained on exactly this split's inputs; otherwise this split trains its own."""
    s = prepare_stages(ratings, movies, cfg.data, code, split_kind=split_kind)
    task = ev.ranking_task(s, s.train_users, s.val_users, cfg.ranking)
    if mse_model is None or not _same_inputs(mse_model, s):
        mse_model = models.train_mse(to_prepared(s), cfg, code, device)
    retrieval = models.train_retrieval(s, task, cfg, code, device)
    scores = {"mse-two-tower": ev.mse_model_scores(mse_model.params, s, task, code),
              "softmax-two-tower": ev.retrieval_scores(retrieval.model, s, task, cfg.retrieval.temperature,
                                                       cfg.retrieval.popularity_weight_for(split_kind), code),
              **ev.baseline_scores(task, cfg.ranking, code)}
    metrics, per_user, ranked = {}, {}, {}
    for name, value in scores.items():
        ranked[name] = ev.rank(value, task, code)
        metrics[name], per_user[name] = ev.ranking_summary(ranked[name], task, cfg.ranking.k, code)
    interval = ev.bootstrap_difference(per_user["softmax-two-tower"], per_user["most-popular"], cfg.ranking,
                                       code=code)
    check = None
    if code.yours_among({10: METRIC_FUNCTIONS}):
        check = _check_metrics(scores, ranked, metrics, task, cfg.ranking.k)
    return SplitRanking(split_kind, s, task, mse_model, retrieval, metrics, per_user, interval, check)


def _same_inputs(model: models.MSEModel, s: SimpleNamespace) -> bool:
    data = model.data
    return (list(data.top_movies) == list(s.top_movies) and data.context_index == s.context_index
            and torch.equal(data.user_context.cpu(), s.user_context))


@torch.no_grad()
def retrieval_item_vectors(result: SplitRanking, code: Code) -> torch.Tensor:
    """Every catalogue movie's vector in the retrieval model of one split (lesson 5's item tower)."""
    params, s = result.retrieval.model.params, result.stages
    device = params.user_W.device
    return code.l5.item_tower(params, s.movie_genres.to(device), torch.arange(len(s.movie_index), device=device))


def retrieval_data(result: SplitRanking):
    """The catalogue and vocabularies the retrieval model of one split was trained with,
    with its own user-context layout (every movie, then the genres)."""
    from dataclasses import replace

    return replace(to_prepared(result.stages), context_index=result.retrieval.model.context_index)
