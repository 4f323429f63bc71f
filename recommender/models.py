"""The two models ``make demo`` trains, each by whose code and on which path.

- the MSE two-tower of lessons 5-6 (:func:`train_mse`): lesson 5's parameters, trained by
  lesson 6's ``train`` (the textbook) or by ``fast.mse_training.train`` (the fast path, only
  where every lesson 5-6 function it stands in for is the reference's), with the two
  baselines it must beat (:func:`measure_baselines`);
- the retrieval two-tower of lesson 12 (:func:`train_retrieval`): lesson 12's
  ``train_retrieval`` on every fold of the training users (``solutions.evaluation``);
- the autoencoder two-tower of lesson 13 (:func:`train_autoencoder`): lesson 13's
  ``init_autoencoder`` and ``train_autoencoder`` (with lesson 12's ``adam_step``) on the
  training users' whole rows (``solutions.autoencoder``). It has no fast path.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
import torch

from course.config import CourseConfig
from course.containers import Examples, Params, PreparedData, TrainHistory
from fast import mse_training, retrieval_contexts, retrieval_folds, retrieval_training, time_split
from recommender import paths
from recommender.code import Code, with_functions
from solutions import autoencoder as ae
from solutions import evaluation as ev
from solutions.pipeline import new_parameters

#: The lessons whose code makes each model (for its record: model.json's "code").
MSE_LESSONS = (1, 2, 3, 4, 5, 6)
RETRIEVAL_LESSONS = (1, 2, 3, 4, 5, 6, 12)
#: The lesson functions the retrieval model's training calls.
RETRIEVAL_CALLS = {4: ("user_mean_ratings", "build_examples"),
                   5: ("init_parameters", "user_tower", "item_tower"),
                   6: ("learning_rate", "sample_minibatch"),
                   12: ("fold_splits", "implicit_contexts", "catalogue_logits", "softmax_loss", "adam_step",
                        "train_retrieval", "sampled_softmax_loss")}
AUTOENCODER_LESSONS = (1, 2, 3, 4, 12, 13)
#: The lesson functions the autoencoder's training and scoring call (lessons 1-4 make its
#: split and catalogue; lesson 12 lends its Adam).
AUTOENCODER_CALLS = {12: ("adam_step",),
                     13: ("normalise_history", "input_dropout", "autoencoder_logits", "multinomial_loss",
                          "train_autoencoder")}
MSE_NAME, RETRIEVAL_NAME = "MSE two-tower (lessons 5-6)", "softmax two-tower (lesson 12)"
AUTOENCODER_NAME = "autoencoder two-tower (lesson 13)"


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


@dataclass
class AutoencoderModel:
    """Lesson 13's model and the path that trained it (always the textbook)."""
    model: ae.AutoencoderModel
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
    """The fast path of lesson 12's training feeds its own loop sparse context rows; it runs
    only where the functions that see them are the reference's (fast/retrieval_contexts.py),
    and makes every fold in one pass where the fold functions are the reference's too
    (fast/retrieval_folds.py), and takes a faster step (the user tower's gradient scattered,
    a fused Adam) where the loop and its Adam step are the reference's (fast/retrieval_training.py)."""
    extra = [name for name, module in (("fast/retrieval_folds.py", retrieval_folds),
                                       ("fast/retrieval_training.py", retrieval_training))
             if not code.yours_among(module.STANDS_FOR)]
    modules = ", ".join(["fast/retrieval_contexts.py"] + extra[:-1]) + (f" and {extra[-1]}" if extra else "")
    path = paths.choose(RETRIEVAL_NAME, code, RETRIEVAL_CALLS, modules)
    return replace(path, fast=not code.yours_among(retrieval_contexts.STANDS_FOR))


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
    path = retrieval_path(code)
    return RetrievalModel(ev.train_retrieval_model(s, task, cfg, device, code=code, **retrieval_fast_parts(path),
                                                   examples_of=retrieval_folds_of(path, code),
                                                   training_loop=retrieval_loop_of(path, code)),
                          path)


def retrieval_loop_of(path: paths.TrainingPath, code: Code):
    """The fast path's training loop (fast/retrieval_training.py: the user tower's gradient
    scattered, a fused Adam), where lesson 12's loop and its Adam step are the reference's; None (lesson 12's
    own loop) otherwise."""
    if path.fast and not code.yours_among(retrieval_training.STANDS_FOR):
        return retrieval_training.train_retrieval
    return None


def retrieval_folds_of(path: paths.TrainingPath, code: Code):
    """The fast path's maker of every fold's contexts and examples in one pass
    (fast/retrieval_folds.py), where the lesson 4 and 12 functions it stands in for are the
    reference's too; None (lesson 12's folds, one at a time) otherwise."""
    if path.fast and not code.yours_among(retrieval_folds.STANDS_FOR):
        return retrieval_folds.retrieval_examples
    return None


def autoencoder_path(code: Code) -> paths.TrainingPath:
    return paths.choose(AUTOENCODER_NAME, code, AUTOENCODER_CALLS)


def train_autoencoder(s: SimpleNamespace, task: ev.RankingTask, cfg: CourseConfig, code: Code) -> AutoencoderModel:
    """Lesson 13's model on ``task``'s training users, by ``code``'s lesson 13 (its own seed,
    ``cfg.autoencoder.seed``: 0). It trains on the CPU: full batch, a few seconds at
    ml-latest-small size."""
    return AutoencoderModel(ae.train_autoencoder_model(s, task, cfg, code=code.l13), autoencoder_path(code))


def retrieval_fast_parts(path: paths.TrainingPath) -> dict:
    """What the fast path of lesson 12 changes (fast/retrieval_contexts.py): contexts made
    straight into sparse rows, and read by the towers sparse. Nothing on the textbook path."""
    return {"contexts_as": retrieval_contexts.SparseContexts,
            "context_rows": retrieval_contexts.implicit_context_rows} if path.fast else {}


def split_code(code: Code) -> Code | SimpleNamespace:
    """``code`` for lessons 1-4 and 11 (``solutions.pipeline.prepare_stages``), with lesson 11's
    ``split_by_time`` on its fast path (fast/time_split.py) where it is the reference's: the
    textbook's three-column sort takes about 20 s at ML-32M size, twice a time-ordered split."""
    return with_functions(code, 11, {"split_by_time": time_split.split_by_time} if split_on_fast_path(code) else {})


def split_on_fast_path(code: Code) -> bool:
    """Whether lesson 11's ``split_by_time`` is the reference's, so that fast/time_split.py runs."""
    return not code.yours_among(time_split.STANDS_FOR)


def train_mse_for_ranking(ratings, movies, cfg: CourseConfig, s: SimpleNamespace, task: ev.RankingTask,
                          code: Code, device: torch.device,
                          own_stages: SimpleNamespace | None = None) -> tuple[MSEModel, ev.Scorer]:
    """The MSE model for a ranking whose catalogue is larger than its own (ML-32M: the ranking
    and the retrieval model take every movie with ``cfg.ranking.min_ratings_per_movie``
    ratings, the MSE model keeps the seed post's settings).

    Lessons 1-4 with ``cfg.data`` make its inputs, on the same split; it trains on the
    ranking's training users only (its validation users: the ranking's held-out users). A
    held-out user's context comes from their history in the ranking's split (``s``), on the
    MSE model's catalogue, so no label of the ranking ever enters it. Its scores go to its
    movies' columns of the ranking's catalogue; every other movie is ranked below them, in
    catalogue order (most rated first).

    ``own_stages``, if given, are lessons 1-4 with ``cfg.data`` on this split already (the
    demo's own, split kept): they are used instead of running the lessons again."""
    from solutions.pipeline import prepare_stages, to_prepared

    l4 = code.l4
    if own_stages is not None and own_stages.cfg == cfg.data and own_stages.split_kind == s.split_kind \
            and own_stages.split is not None:
        own = SimpleNamespace(**vars(own_stages))   # its own training users below, the demo's left as they are
    else:
        own = prepare_stages(ratings, movies, cfg.data, split_code(code), split_kind=s.split_kind)
    own.train_users = np.intersect1d(own.users, task.train_users)
    own.val_users = np.intersect1d(own.users, s.val_users)
    own.train = l4.build_examples(own.split, own.train_users, own.user_means, own.movie_index)
    own.val = l4.build_examples(own.split, own.val_users, own.user_means, own.movie_index)
    model = train_mse(to_prepared(own), cfg, code, device)

    history = s.split[s.split["userId"].isin(task.eval_users) & s.split["movieId"].isin(own.movie_index.keys())]
    means = l4.user_mean_ratings(history)
    affinity = l4.user_genre_affinity(history, means, own.movie_index, own.movie_genres)
    found = l4.build_user_contexts(history, means, own.context_index, affinity)
    contexts = torch.zeros((task.num_users, own.context_index.size), dtype=found.dtype)
    row = torch.tensor(means.index.get_indexer(task.eval_users), dtype=torch.int64)
    contexts[row >= 0] = found[row[row >= 0]]          # a user with no history there: an empty context
    columns = torch.tensor([s.movie_index[m] for m in own.top_movies], dtype=torch.int64)
    own_scores = ev.mse_scorer(model.params, contexts, own.movie_genres, code)
    if torch.equal(columns, torch.arange(len(columns))):
        # Both catalogues are lesson 1's, most rated first: the MSE model's is the other's start.
        return model, ev.LeadingScorer(len(columns), task.num_movies, own_scores)

    def scores(first: int, last: int) -> torch.Tensor:
        part = own_scores(first, last)
        placed = torch.full((last - first, task.num_movies), float(part.min()) - 1.0 if part.numel() else 0.0,
                            dtype=part.dtype)
        placed[:, columns] = part
        return placed
    return model, scores
