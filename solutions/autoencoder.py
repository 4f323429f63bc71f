"""Lesson 13's autoencoder two-tower on lesson 10's ranking protocol: its inputs, its
training on a split's training users, its scores for the held-out users, and the ablation
that takes its pieces away one at a time.

Not a lesson (nothing to fill in): notebook 13, ``python -m commands.autoencoder`` and the
tests use it. As for lesson 12's model, only the training users' ratings train it; a
held-out user is scored from their watch history alone. ``code`` is the lesson-13 module to
call (the reference's by default).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from types import ModuleType, SimpleNamespace

import torch

from course.config import AutoencoderConfig, CourseConfig
from course.containers import AutoencoderParams
from solutions import evaluation as ev
from solutions import lesson13_autoencoder as reference


@dataclass
class AutoencoderModel:
    params: AutoencoderParams
    losses: list[float]
    cfg: AutoencoderConfig


def training_rows(s: SimpleNamespace, task: ev.RankingTask, relevant_rating: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(watched, liked)``, float32 ``[N, M]`` for the training users in ``task.train_users``
    order: 1.0 for every movie they rated, and for every movie they rated ``relevant_rating``
    or more. Every rating of a training user counts (no history/label cut: the model learns
    to fill in what dropout hides)."""
    rows = s.split[s.split["userId"].isin(task.train_users)]
    watched = task.train_interactions.to_dense().to(torch.float32)
    liked = ev.user_movie_matrix(rows[rows["rating"] >= relevant_rating], task.train_users, s.movie_index)
    return watched, liked.to_dense().to(torch.float32)


def train_autoencoder_model(s: SimpleNamespace, task: ev.RankingTask, cfg: CourseConfig,
                            settings: AutoencoderConfig | None = None, seed: int | None = None,
                            code: ModuleType | None = None) -> AutoencoderModel:
    """Lesson 13's model trained on ``task.train_users`` with ``settings`` (default
    ``cfg.autoencoder``; ``seed`` replaces its seed): the initial weights, then the dropout
    masks, come from one generator seeded with it."""
    l13 = code or reference
    a = settings or cfg.autoencoder
    if seed is not None:
        a = a.with_seed(seed)
    watched, liked = training_rows(s, task, cfg.ranking.relevant_rating)
    generator = torch.Generator().manual_seed(a.seed)
    params = l13.init_autoencoder(task.num_movies, a.hidden, generator)
    losses = l13.train_autoencoder(params, watched, liked, a, generator)
    return AutoencoderModel(params, losses, a)


def autoencoder_scorer(model: AutoencoderModel, task: ev.RankingTask,
                       code: ModuleType | None = None) -> ev.Scorer:
    """The held-out users' scores, a block at a time: their watched rows (history only),
    normalised as in training, through both towers (no dropout: that is for training)."""
    l13 = code or reference

    @torch.no_grad()
    def scores(first: int, last: int) -> torch.Tensor:
        seen = task.seen_rows(first, last).to(torch.float32)
        inputs = l13.normalise_history(seen) if model.cfg.normalise else seen
        return l13.autoencoder_logits(model.params, inputs, model.cfg.nonlinear)
    return scores


def evaluate_autoencoder(model: AutoencoderModel, task: ev.RankingTask, cfg: CourseConfig,
                         code: ModuleType | None = None) -> ev.RankedPredictor:
    return ev.evaluate_ranking(autoencoder_scorer(model, task, code), task, cfg.ranking)


#: The ablation: the course's model, then each piece taken away (or swapped) alone.
ABLATION = {
    "autoencoder (lesson 13)": {},
    "no input dropout": {"dropout": 0.0},
    "no tanh (linear user tower)": {"nonlinear": False},
    "no normalisation": {"normalise": False},
    "squared error instead of softmax": {"loss": "squared"},
    "no weight decay": {"weight_decay": 0.0},
}


#: How the settings were chosen: each one changed alone, measured on a tuning part of the
#: training users (notebook 13), never on the held-out users.
TUNING = {
    "chosen": {},
    "hidden 100": {"hidden": 100},
    "hidden 400": {"hidden": 400},
    "weight decay 0.001": {"weight_decay": 0.001},
    "weight decay 0.01": {"weight_decay": 0.01},
    "40 steps": {"epochs": 40},
    "160 steps": {"epochs": 160},
    "lr 0.003": {"lr": 0.003},
    "dropout 0.2": {"dropout": 0.2},
}


def ablation(s: SimpleNamespace, task: ev.RankingTask, cfg: CourseConfig, seeds: tuple[int, ...] = (0,),
             code: ModuleType | None = None, variants: dict[str, dict] | None = None) -> dict[str, dict[str, float]]:
    """NDCG@k of each variant (:data:`ABLATION` unless ``variants`` is given, e.g.
    :data:`TUNING`), as a mean over ``seeds``, and per seed:
    ``{variant: {"ndcg@10": mean, "seeds": {seed: value}, ...}}``."""
    key = f"ndcg@{cfg.ranking.k}"
    out = {}
    for name, changes in (ABLATION if variants is None else variants).items():
        settings = replace(cfg.autoencoder, **changes)
        per_seed = {}
        for seed in seeds:
            model = train_autoencoder_model(s, task, cfg, settings, seed=seed, code=code)
            per_seed[seed] = evaluate_autoencoder(model, task, cfg, code).summary[key]
        out[name] = {key: sum(per_seed.values()) / len(per_seed), "seeds": per_seed, "changes": changes}
    return out
