"""Lessons 10-12 on one split: which model trains on which split, and every predictor's
place in a held-out user's top 10.

Each split (lesson 3's random mask, lesson 11's time order) gets its own MSE model, its own
retrieval model, its own autoencoder (lesson 13) and its own baselines, all trained on that split's training users only,
all by ``code`` (the learner's lessons where written). Where the learner wrote part of
lesson 10, the same rankings are also scored by the reference's metrics and every
difference is reported (:class:`MetricCheck`): a wrong NDCG must not pass for a good model.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import torch

from course import measure
from course.config import AUTOENCODER_MAX_CELLS, CourseConfig
from fast import ease as fast_ease
from fast import ranking as fast_ranking
from fast import ranking_metrics as fast_metrics
from fast import retrieval_scoring as fast_scoring
from recommender import models, paths
from recommender.code import Code, with_functions
from solutions import autoencoder as ae
from solutions import evaluation as ev
from solutions.pipeline import REFERENCE, prepare_stages, to_prepared

#: The predictors of the table, by their key in metrics.json, and what the table calls them.
PREDICTORS = {
    "mse-two-tower": "MSE two-tower (lessons 1-9)",
    "softmax-two-tower": "softmax two-tower (lesson 12)",
    "autoencoder": "autoencoder two-tower (lesson 13)",
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
class Cost:
    """What one predictor took: wall seconds to train (0 for what learns nothing), wall
    seconds to score and rank every held-out user, and the process's peak memory then."""
    train_s: float
    evaluate_s: float
    peak_gib: float


@dataclass
class SplitRanking:
    """Everything lessons 10-12 measured on one split."""
    split_kind: str
    stages: SimpleNamespace                      # lessons 1-4 (and 11) on this split, the ranking's catalogue
    task: ev.RankingTask                         # who trains, who is ranked, what is a hit
    mse: models.MSEModel
    retrieval: models.RetrievalModel
    metrics: dict[str, dict[str, float]]         # predictor -> metric -> mean over users
    per_user: dict[str, dict[str, torch.Tensor]]
    interval: tuple[float, float, float]         # softmax two-tower - most-popular, NDCG@k
    autoencoder: models.AutoencoderModel | None  # None: too large to train here (AUTOENCODER_MAX_CELLS)
    autoencoder_interval: tuple[float, float, float] | None   # autoencoder - EASE, NDCG@k
    check: MetricCheck | None                    # None: lesson 10 is the reference's
    costs: dict[str, Cost]                       # predictor -> what it took
    ease_movies: int                             # how many movies EASE saw
    mse_movies: int                              # how many movies the MSE model scores (its catalogue)

    @property
    def ease_left_out(self) -> bool:
        return self.ease_movies < self.task.num_movies


@dataclass
class Measured:
    seconds: float = 0.0
    peak_gib: float = 0.0


@contextmanager
def measured():
    """The wall time and the peak memory of the work in the ``with`` block."""
    result = Measured()
    measure.reset_peak()
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.seconds, result.peak_gib = time.perf_counter() - start, measure.peak_gib()


#: Lesson 10's fast stand-ins of the evaluation, each run where its lesson functions are the reference's.
RANKING_FAST_MODULES = (fast_ranking, fast_metrics)


def ranking_code(code: Code) -> SimpleNamespace:
    """``code`` with lesson 10's ``rank_unseen`` (fast/ranking.py: the textbook sorts each
    user's whole row) and ``ranking_metrics`` (fast/ranking_metrics.py: the textbook reads
    the labels dense) on their fast paths, each where it is the reference's."""
    return with_functions(code, 10, {name: getattr(module, name) for module in RANKING_FAST_MODULES
                                     if not code.yours_among(module.STANDS_FOR) for name in module.STANDS_FOR[10]})


def ranking_path(code: Code) -> paths.TrainingPath:
    return paths.choose("ranking (lesson 10's rank_unseen)", code, fast_ranking.STANDS_FOR, "fast/ranking.py")


def baseline_code(code: Code) -> SimpleNamespace:
    """``code`` with lesson 10's ``ease_weights`` on the fast path (fast/ease.py) where it is
    the reference's: the textbook's sparse product spends most of EASE's time at ML-32M size."""
    return with_functions(code, 10, {} if code.yours_among(fast_ease.STANDS_FOR)
                          else {"ease_weights": fast_ease.ease_weights})


def ease_path(code: Code) -> paths.TrainingPath:
    return paths.choose("EASE (lesson 10's ease_weights)", code, fast_ease.STANDS_FOR, "fast/ease.py")


def metrics_path(code: Code) -> paths.TrainingPath:
    return paths.choose("ranking metrics (lesson 10's ranking_metrics)", code, fast_metrics.STANDS_FOR,
                        "fast/ranking_metrics.py")


def _checker(name: str, code: Code, cfg: CourseConfig, check: MetricCheck):
    """Called with every block the learner's lesson 10 ranked: the reference's ranking and
    metrics of the same scores, and every difference (at most one sentence per kind)."""
    k, said = cfg.ranking.k, set()

    def compare(first, last, scores, seen, relevant, ranked):
        label = PREDICTORS.get(name, name)
        reference_ranked = fast_ranking.rank_unseen(scores, seen, ranked.shape[1])
        if "rank" not in said and not torch.equal(torch.as_tensor(ranked)[:, :k], reference_ranked[:, :k]):
            said.add("rank")
            check.differences.append(f"{label}: your rank_unseen gives another top {k} than the reference's for "
                                     f"the same scores")
        got = code.l10.ranking_metrics(ranked, relevant, k)
        want = REFERENCE.l10.ranking_metrics(torch.as_tensor(ranked), relevant, k)
        for metric, values in want.items():
            mine = torch.as_tensor(got.get(metric, torch.full_like(values, float("nan")))).to(torch.float64)
            if metric not in said and not torch.allclose(mine, values, rtol=1e-9, atol=1e-12):
                said.add(metric)
                key = ev.metric_names(k, cfg.ranking, relevant.shape[1]).get(metric, metric)
                check.differences.append(f"{label} {key}: yours {float(mine.mean()):.6f}, the reference's "
                                         f"{float(values.mean()):.6f} for the same rankings (users {first}-{last - 1})")
    return compare


def rank_split(cfg: CourseConfig, ratings, movies, split_kind: str, code: Code, device: torch.device,
               mse_model: models.MSEModel | None = None, mse_stages: SimpleNamespace | None = None) -> SplitRanking:
    """One split of the ranking evaluation. The catalogue is ``cfg.ranking``'s (lesson 1 with
    its ``min_ratings_per_movie``; the MSE model's own where that is None). ``mse_model`` (the
    demo's main model) is ranked when it was trained on exactly this split's inputs; otherwise
    this split trains its own, on this split's training users only. ``mse_stages`` (the demo's
    lessons 1-4, split kept) spare that model its lessons 1-4 where they are this split's;
    they are let go once it is trained (the caller must not keep them: at ML-32M size the
    split is most of a gigabyte)."""
    s = prepare_stages(ratings, movies, ranking_data_config(cfg), models.split_code(code), split_kind=split_kind)
    s.clean = s.top_ratings = None   # lessons 1-3's tables: the split is all the ranking reads from here on
    task = ev.ranking_task(s, s.train_users, s.val_users, cfg.ranking)
    trained: dict[str, Measured] = {}
    with measured() as trained["mse-two-tower"]:
        if ranking_data_config(cfg) != cfg.data:
            mse_model, mse_scores = models.train_mse_for_ranking(ratings, movies, cfg, s, task, code, device,
                                                                 mse_stages)
        else:
            if mse_model is None or not _same_inputs(mse_model, s):
                mse_model = models.train_mse(to_prepared(s), cfg, code, device)
            mse_scores = ev.mse_scorer(mse_model.params, s.user_context[task.eval_rows], s.movie_genres, code)
        mse_stages = None   # the demo's split, let go before lesson 12's folds (the demo's peak)
    with measured() as trained["softmax-two-tower"]:
        retrieval = models.train_retrieval(s, task, cfg, code, device)
    autoencoder = None
    if autoencoder_fits(task):
        with measured() as trained["autoencoder"]:
            autoencoder = models.train_autoencoder(s, task, cfg, code)
    with measured() as trained["ease"]:   # the baselines learn here: EASE is nearly all of it
        scorers = {"mse-two-tower": mse_scores,
                   "softmax-two-tower": ev.retrieval_scorer(retrieval.model, s, task, cfg.retrieval.temperature,
                                                            cfg.retrieval.popularity_weight_for(split_kind), code,
                                                            **models.retrieval_fast_parts(retrieval.path),
                                                            **retrieval_logits(retrieval, s, cfg, code)),
                   **({"autoencoder": ae.autoencoder_scorer(autoencoder.model, task, code.l13)} if autoencoder else {}),
                   **ev.baseline_scorers(task, cfg.ranking, baseline_code(code))}
    evaluation_code = ranking_code(code)
    check = MetricCheck() if code.yours_among({10: METRIC_FUNCTIONS}) else None
    metrics, per_user, costs = {}, {}, {}
    for name in list(scorers):
        # Each scorer keeps a block's memory (hundreds of MB at ML-32M size): let it go once
        # its predictor is ranked, so that the scorers' blocks never add up.
        scorer = scorers.pop(name)
        with measured() as evaluated:
            ranked = ev.evaluate_ranking(scorer, task, cfg.ranking, evaluation_code,
                                         _checker(name, code, cfg, check) if check is not None else None)
        del scorer
        training = trained.get(name, Measured())
        costs[name] = Cost(training.seconds, evaluated.seconds, max(training.peak_gib, evaluated.peak_gib))
        metrics[name], per_user[name] = ranked.summary, ranked.per_user
    interval = ev.bootstrap_difference(per_user["softmax-two-tower"], per_user["most-popular"], cfg.ranking,
                                       code=code)
    versus_ease = (ev.bootstrap_difference(per_user["autoencoder"], per_user["ease"], cfg.ranking, code=code)
                   if autoencoder else None)
    return SplitRanking(split_kind, s, task, mse_model, retrieval, metrics, per_user, interval, autoencoder,
                        versus_ease, check, costs,
                        ev.ease_movies(task, cfg.ranking), len(mse_model.data.top_movies))


def retrieval_logits(retrieval: models.RetrievalModel, s: SimpleNamespace, cfg: CourseConfig, code: Code) -> dict:
    """Lesson 12's ``catalogue_logits`` of the ranking on the fast path (fast/retrieval_scoring.py)
    where it and the towers are the reference's; nothing on the textbook path."""
    if code.yours_among(fast_scoring.STANDS_FOR):
        return {}
    params = retrieval.model.params
    return {"logits": fast_scoring.CatalogueLogits(params, s.movie_genres.to(params.user_W.device),
                                                   cfg.retrieval.temperature)}


def autoencoder_fits(task: ev.RankingTask) -> bool:
    """Whether lesson 13's dense [training users, movies] rows fit the demo here."""
    return len(task.train_users) * task.num_movies <= AUTOENCODER_MAX_CELLS


def ranking_data_config(cfg: CourseConfig):
    """Lesson 1-4 settings of the ranking's catalogue (and the retrieval model's)."""
    if cfg.ranking.min_ratings_per_movie is None:
        return cfg.data
    return replace(cfg.data, min_ratings_per_movie=cfg.ranking.min_ratings_per_movie)


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
