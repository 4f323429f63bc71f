"""The reference pipeline: lessons 1-4 chained on a ratings and a movies table, and a
reference training run (lessons 5-6).

Not a lesson (nothing to fill in): ``make demo``, the notebooks, the benchmarks and the
checks use it to build a lesson's inputs with the reference code.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import torch

from course.config import CourseConfig, DataConfig, ModelConfig
from course.containers import Params, PreparedData, TrainHistory
from solutions import lesson01_cleaning as l1
from solutions import lesson02_vocabularies as l2
from solutions import lesson03_masking as l3
from solutions import lesson04_debiasing as l4
from solutions import lesson05_weights as l5
from solutions import lesson06_training as l6


def read_movielens(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``ratings.csv`` and ``movies.csv`` of a MovieLens folder, as pandas reads them."""
    folder = Path(folder)
    ratings = pd.read_csv(folder / "ratings.csv")
    movies = pd.read_csv(folder / "movies.csv")
    return ratings, movies


SPLITS = ("random", "temporal")


def prepare_stages(ratings: pd.DataFrame, movies: pd.DataFrame, cfg: DataConfig,
                   split_kind: str = "random") -> SimpleNamespace:
    """Run lessons 1-4 and keep every intermediate result (the checks use them as inputs).

    ``split_kind`` picks how each user's ratings become history and labels: ``"random"``,
    lesson 3's seeded mask, or ``"temporal"``, lesson 11's earlier/later split.
    """
    if split_kind not in SPLITS:
        raise ValueError(f"split_kind must be one of {SPLITS}, not {split_kind!r}")
    s = SimpleNamespace(raw_ratings=ratings, movies=movies, cfg=cfg, split_kind=split_kind)
    # Lesson 1
    s.clean = l1.clean_ratings(ratings)
    s.rating_counts = l1.count_ratings_per_movie(s.clean)
    s.top_movies = l1.select_top_movies(s.rating_counts, cfg.min_ratings_per_movie)
    s.top_ratings = l1.keep_top_movie_ratings(s.clean, s.top_movies)
    s.maps = l1.build_movie_maps(movies, s.top_ratings, s.top_movies)
    # Lesson 2
    s.movie_index = l2.build_movie_index(s.top_movies)
    s.genre_index = l2.build_genre_index(s.maps.genres_by_id)
    s.context_index = l2.build_user_context_index(s.top_movies, s.genre_index, cfg.num_context_movies)
    # Lesson 3
    if split_kind == "temporal":  # lesson 11
        from solutions import lesson11_temporal as l11
        s.split = l11.split_by_time(s.top_ratings, cfg.history_fraction, cfg.min_ratings_per_user)
    else:
        s.split = l3.split_watch_history(s.top_ratings, cfg.history_fraction, cfg.min_ratings_per_user,
                                         cfg.split_seed)
    # Lesson 4
    s.user_means = l4.user_mean_ratings(s.split)
    s.movie_genres = l4.movie_genre_matrix(s.top_movies, s.maps.genres_by_id, s.genre_index)
    s.genre_affinity = l4.user_genre_affinity(s.split, s.user_means, s.movie_index, s.movie_genres)
    s.user_context = l4.build_user_contexts(s.split, s.user_means, s.context_index, s.genre_affinity)
    s.users = l4.select_users(s.split, cfg.min_labels, cfg.max_labels)
    s.train_users, s.val_users = l4.split_users(s.users, cfg.train_user_fraction, cfg.split_seed)
    s.train = l4.build_examples(s.split, s.train_users, s.user_means, s.movie_index)
    s.val = l4.build_examples(s.split, s.val_users, s.user_means, s.movie_index)
    return s


def to_prepared(s: SimpleNamespace) -> PreparedData:
    return PreparedData(
        top_movies=s.top_movies, maps=s.maps, movie_index=s.movie_index, genre_index=s.genre_index,
        context_index=s.context_index, user_ids=s.user_means.index.to_numpy(),
        user_means=s.user_means.to_numpy(dtype=np.float64), user_context=s.user_context,
        movie_genres=s.movie_genres, train=s.train, val=s.val,
    )


def prepare(ratings: pd.DataFrame, movies: pd.DataFrame, cfg: DataConfig,
            split_kind: str = "random") -> PreparedData:
    """Lessons 1-4 with the reference code: raw MovieLens tables in, model inputs out."""
    return to_prepared(prepare_stages(ratings, movies, cfg, split_kind))


def new_parameters(data: PreparedData, cfg: ModelConfig) -> Params:
    """Fresh model parameters for ``data`` (lesson 5), drawn from ``cfg.init_seed``."""
    return l5.init_parameters(data.context_index.size, len(data.genre_index), len(data.top_movies),
                              cfg, torch.Generator().manual_seed(cfg.init_seed))


def train_model(data: PreparedData, cfg: CourseConfig, progress: bool = False) -> tuple[Params, TrainHistory]:
    """Lessons 5-6 with the reference code: new parameters, trained with ``cfg.train``."""
    params = new_parameters(data, cfg.model)
    history = l6.train(params, data, cfg.train, torch.Generator().manual_seed(cfg.train.seed), progress=progress)
    return params, history
