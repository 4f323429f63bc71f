"""The two models ``make demo`` trains, each by whose code and on which path.

- the MSE two-tower of lessons 5-6 (:func:`train_mse`): lesson 5's parameters, trained by
  lesson 6's ``train`` (the textbook) or by ``fast.mse_training.train`` (the fast path, only
  where every lesson 5-6 function it stands in for is the reference's), with the two
  baselines it must beat (:func:`measure_baselines`);
- the retrieval two-tower of lesson 12 (:func:`train_retrieval`): lesson 12's
  ``train_retrieval`` on every fold of the training users (``solutions.evaluation``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from types import SimpleNamespace

import torch

from course.config import CourseConfig
from course.containers import Examples, Params, PreparedData, TrainHistory
from fast import mse_training
from recommender import paths
from recommender.code import Code
from solutions import evaluation as ev
from solutions.pipeline import new_parameters

#: The lessons whose code makes each model (for its record: model.json's "code").
MSE_LESSONS = (1, 2, 3, 4, 5, 6)
RETRIEVAL_LESSONS = (1, 2, 3, 4, 5, 6, 12)
#: The lesson functions the retrieval model's training calls (it has no fast path yet).
RETRIEVAL_CALLS = {4: ("user_mean_ratings", "build_examples"),
                   5: ("init_parameters", "user_tower", "item_tower"),
                   6: ("learning_rate", "sample_minibatch"),
                   12: ("fold_splits", "implicit_contexts", "catalogue_logits", "softmax_loss", "adam_step",
                        "train_retrieval")}
MSE_NAME, RETRIEVAL_NAME = "MSE two-tower (lessons 5-6)", "softmax two-tower (lesson 12)"


@dataclass(frozen=True)
class MSEBaselines:
    """Two predictors that learn nothing, scored on the MSE model's validation examples."""
    user_mean: float   # predict the user's own mean rating: 0 for the debiased target
    movie_mean: float  # predict the movie's mean debiased rating among training users

    @property
    def better(self) -> float:
        return min(self.user_mean, self.movie_mean)


@dataclass
class MSEModel:
    """Lessons 5-6's model, trained on ``data`` (lessons 1-4's inputs)."""
    params: Params
    history: TrainHistory
    path: paths.TrainingPath
    data: PreparedData

    @property
    def best_val_loss(self) -> float:
        return self.history.val_loss[self.history.steps.index(self.history.best_step)]


@dataclass
class RetrievalModel:
    """Lesson 12's model and the path that trained it."""
    model: ev.RetrievalModel
    path: paths.TrainingPath


def measure_baselines(data: PreparedData) -> MSEBaselines:
    """The user's own mean (predict 0) and the movie's mean debiased rating among the
    training users, on the validation examples."""
    train, val = data.train, data.val
    num_movies = len(data.top_movies)
    total = torch.zeros(num_movies, dtype=torch.float64).index_add_(0, train.movie_row, train.target.double())
    count = torch.bincount(train.movie_row, minlength=num_movies).double()
    movie_mean = torch.where(count > 0, total / count.clamp(min=1), 0.0)
    predicted = movie_mean[val.movie_row]
    return MSEBaselines(float((val.target ** 2).mean()), float(((predicted - val.target.double()) ** 2).mean()))


def to_device(data: PreparedData, device: torch.device) -> PreparedData:
    """The tensors the training loop reads, moved to ``device``."""
    def move(ex: Examples) -> Examples:
        return Examples(ex.user_row.to(device), ex.movie_row.to(device), ex.target.to(device))
    return replace(data, user_context=data.user_context.to(device),
                   movie_genres=data.movie_genres.to(device), train=move(data.train), val=move(data.val))


def params_to(params: Params, device: torch.device) -> Params:
    return Params(*(p.detach().to(device).requires_grad_(True) for p in params.as_list()))


def mse_path(code: Code) -> paths.TrainingPath:
    return paths.choose(MSE_NAME, code, mse_training.STANDS_FOR, "fast/mse_training.py")


def retrieval_path(code: Code) -> paths.TrainingPath:
    return paths.choose(RETRIEVAL_NAME, code, RETRIEVAL_CALLS)


def train_mse(data: PreparedData, cfg: CourseConfig, code: Code, device: torch.device,
              progress: bool = False) -> MSEModel:
    """New parameters (``code``'s lesson 5) trained with ``cfg.train``: by ``code``'s lesson 6
    ``train``, or by the fast path where :func:`mse_path` allows it (``progress`` shows a
    bar there)."""
    path = mse_path(code)
    params = params_to(new_parameters(data, cfg.model, code), device)
    on_device = to_device(data, device)
    generator = torch.Generator().manual_seed(cfg.train.seed)
    if path.fast:
        history = mse_training.train(params, on_device, cfg.train, generator, progress=progress)
    else:
        history = code.l6.train(params, on_device, cfg.train, generator)
    return MSEModel(params, history, path, data)


def train_retrieval(s: SimpleNamespace, task: ev.RankingTask, cfg: CourseConfig, code: Code,
                    device: torch.device) -> RetrievalModel:
    """Lesson 12's model on ``task``'s training users, by ``code``."""
    return RetrievalModel(ev.train_retrieval_model(s, task, cfg, device, code=code), retrieval_path(code))
