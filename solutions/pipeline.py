"""The reference pipeline: lessons 1-4 chained on a ratings and a movies table, and a
reference training run (lessons 5-6).

Both set the course's thread policy first (``course.threads``: one thread, measured).

Not a lesson (nothing to fill in): ``make demo``, the notebooks, the benchmarks and the
checks use it to build a lesson's inputs with the reference code.
"""
from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, ContextManager

import numpy as np
import pandas as pd
import torch

from course.config import CourseConfig, DataConfig, ModelConfig
from course.containers import Params, PreparedData, TrainHistory
from course.threads import use_course_threads
from solutions import lesson01_cleaning as l1
from solutions import lesson02_vocabularies as l2
from solutions import lesson03_masking as l3
from solutions import lesson04_debiasing as l4
from solutions import lesson05_weights as l5
from solutions import lesson06_training as l6
from solutions import lesson07_embeddings as l7
from solutions import lesson08_similarity as l8
from solutions import lesson09_personas as l9
from solutions import lesson10_ranking as l10
from solutions import lesson11_temporal as l11
from solutions import lesson12_retrieval as l12


def read_movielens(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``ratings.csv`` and ``movies.csv`` of a MovieLens folder, as pandas reads them."""
    folder = Path(folder)
    ratings = pd.read_csv(folder / "ratings.csv")
    movies = pd.read_csv(folder / "movies.csv")
    return ratings, movies


# The lesson modules the pipeline and solutions/evaluation.py call by default: the reference.
# ``make demo`` passes its own namespace (attributes l1 ... l12, recommender/code.py) to run a
# learner's lessons through the same steps.
REFERENCE = SimpleNamespace(l1=l1, l2=l2, l3=l3, l4=l4, l5=l5, l6=l6, l7=l7, l8=l8, l9=l9, l10=l10, l11=l11,
                            l12=l12)


SPLITS = ("random", "temporal")


def prepare_stages(ratings: pd.DataFrame, movies: pd.DataFrame, cfg: DataConfig,
                   code: SimpleNamespace | None = None,
                   stage: Callable[[str], ContextManager] | None = None,
                   keep_tables: bool = True, split_kind: str = "random",
                   keep_split: bool | None = None) -> SimpleNamespace:
    """Run lessons 1-4 and keep every intermediate result (the checks use them as inputs).

    ``split_kind`` picks how each user's ratings become history and labels: ``"random"``,
    lesson 3's seeded mask, or ``"temporal"``, lesson 11's earlier/later split.

    ``code`` holds the lesson modules to call (``code.l1`` ... ``code.l4``, and ``code.l11`` for
    the time-ordered split); the reference by default.
    With ``keep_tables=False`` the big intermediate tables are let go as soon as the next
    lesson has used them (``clean`` after lesson 1, ``top_ratings`` after lesson 3, ``split``
    at the end; they are then None): at ML-32M size that is about 2.5 GB less at the peak.
    :func:`prepare` does this. ``keep_split=True`` keeps ``split`` all the same (the demo's
    ranking at ML-32M size starts its MSE model from it). ``stage``, if given, is called with each lesson's name
    ("lesson 1: cleaning", ...) and must return a context manager that wraps that lesson's
    work: ``make bench`` passes one that measures each lesson's time and peak memory.
    """
    if split_kind not in SPLITS:
        raise ValueError(f"split_kind must be one of {SPLITS}, not {split_kind!r}")
    use_course_threads()
    code = code or REFERENCE
    l1, l2, l3, l4, l11 = code.l1, code.l2, code.l3, code.l4, code.l11
    stage = stage or (lambda name: nullcontext())
    s = SimpleNamespace(raw_ratings=ratings, movies=movies, cfg=cfg, split_kind=split_kind)
    with stage("lesson 1: cleaning"):
        s.clean = l1.clean_ratings(ratings)
        s.rating_counts = l1.count_ratings_per_movie(s.clean)
        s.top_movies = l1.select_top_movies(s.rating_counts, cfg.min_ratings_per_movie)
        s.top_ratings = l1.keep_top_movie_ratings(s.clean, s.top_movies)
        s.maps = l1.build_movie_maps(movies, s.top_ratings, s.top_movies)
        if not keep_tables:
            s.clean = None
    with stage("lesson 2: vocabularies"):
        s.movie_index = l2.build_movie_index(s.top_movies)
        s.genre_index = l2.build_genre_index(s.maps.genres_by_id)
        s.context_index = l2.build_user_context_index(s.top_movies, s.genre_index, cfg.num_context_movies)
    with stage("lesson 3: masking"):
        if split_kind == "temporal":  # lesson 11
            s.split = l11.split_by_time(s.top_ratings, cfg.history_fraction, cfg.min_ratings_per_user)
        else:
            s.split = l3.split_watch_history(s.top_ratings, cfg.history_fraction, cfg.min_ratings_per_user,
                                             cfg.split_seed)
        if not keep_tables:
            s.top_ratings = None
    with stage("lesson 4: debiasing, examples"):
        s.user_means = l4.user_mean_ratings(s.split)
        s.movie_genres = l4.movie_genre_matrix(s.top_movies, s.maps.genres_by_id, s.genre_index)
        s.genre_affinity = l4.user_genre_affinity(s.split, s.user_means, s.movie_index, s.movie_genres)
        s.user_context = l4.build_user_contexts(s.split, s.user_means, s.context_index, s.genre_affinity)
        s.users = l4.select_users(s.split, cfg.min_labels, cfg.max_labels)
        s.train_users, s.val_users = l4.split_users(s.users, cfg.train_user_fraction, cfg.split_seed)
        s.train = l4.build_examples(s.split, s.train_users, s.user_means, s.movie_index)
        s.val = l4.build_examples(s.split, s.val_users, s.user_means, s.movie_index)
        if not (keep_tables if keep_split is None else keep_split):
            s.split = None
    return s


def to_prepared(s: SimpleNamespace) -> PreparedData:
    return PreparedData(
        top_movies=s.top_movies, maps=s.maps, movie_index=s.movie_index, genre_index=s.genre_index,
        context_index=s.context_index, user_ids=s.user_means.index.to_numpy(),
        user_means=s.user_means.to_numpy(dtype=np.float64), user_context=s.user_context,
        movie_genres=s.movie_genres, train=s.train, val=s.val,
    )


def prepare(ratings: pd.DataFrame, movies: pd.DataFrame, cfg: DataConfig,
            code: SimpleNamespace | None = None, split_kind: str = "random") -> PreparedData:
    """Lessons 1-4 (the reference code unless ``code`` says otherwise): raw MovieLens
    tables in, model inputs out. The big intermediate tables are let go on the way."""
    return to_prepared(prepare_stages(ratings, movies, cfg, code, keep_tables=False, split_kind=split_kind))


def new_parameters(data: PreparedData, cfg: ModelConfig, code: SimpleNamespace | None = None) -> Params:
    """Fresh model parameters for ``data`` (lesson 5's ``init_parameters`` of ``code``, the
    reference by default), drawn from ``cfg.init_seed``."""
    return (code or REFERENCE).l5.init_parameters(data.context_index.size, len(data.genre_index), len(data.top_movies),
                              cfg, torch.Generator().manual_seed(cfg.init_seed))


def train_model(data: PreparedData, cfg: CourseConfig) -> tuple[Params, TrainHistory]:
    """Lessons 5-6 with the reference code, as their texts teach them: new parameters,
    trained with ``cfg.train`` by lesson 6's ``train``."""
    use_course_threads()
    params = new_parameters(data, cfg.model)
    history = l6.train(params, data, cfg.train, torch.Generator().manual_seed(cfg.train.seed))
    return params, history
