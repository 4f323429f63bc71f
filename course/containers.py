"""Plain data containers passed between lessons.

They live here, not in a lesson file, so that the learner's stubs and the reference
solutions hand each other exactly the same types.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for annotations: keeps `import course.containers` light
    import numpy as np
    import torch


@dataclass(frozen=True)
class MovieMaps:
    """Lookups about movies built in lesson 1."""
    title_by_id: dict[int, str]             # every movie in movies.csv
    id_by_title: dict[str, int]             # duplicate titles resolve to the smallest movieId
    genres_by_id: dict[int, tuple[str, ...]]  # top movies only, genres sorted
    avg_rating_by_id: dict[int, float]      # top movies only
    num_ratings_by_id: dict[int, int]       # top movies only


@dataclass(frozen=True)
class ContextIndex:
    """Slots of the user context vector (lesson 2): context movies first, then genres."""
    movie_slot: dict[int, int]
    genre_slot: dict[str, int]
    size: int


@dataclass(frozen=True)
class Examples:
    """Training examples (lesson 4): one row per (user, label movie)."""
    user_row: torch.Tensor   # int64 [N], row of the user in the user context matrix
    movie_row: torch.Tensor  # int64 [N], row of the movie in the movie index
    target: torch.Tensor     # float32 [N], the label rating minus the user's history mean

    def __len__(self) -> int:
        return int(self.target.shape[0])


@dataclass(frozen=True)
class PreparedData:
    """Everything lessons 1-4 produce, ready for the model (built by solutions.pipeline)."""
    top_movies: list[int]
    maps: MovieMaps
    movie_index: dict[int, int]
    genre_index: dict[str, int]
    context_index: ContextIndex
    user_ids: np.ndarray          # userId of each row of user_context
    user_means: np.ndarray        # float64, each user's mean history rating
    user_context: torch.Tensor    # float32 [num_users, context_size]
    movie_genres: torch.Tensor    # float32 [num_movies, num_genres], multi-hot
    train: Examples
    val: Examples


@dataclass
class Params:
    """The model's trainable tensors (lesson 5), named after what they are.

    Shapes, with G genres, M movies, C user-context slots, F = item feature size and
    E = item id size (the user embedding has F + E entries, to match the item side):
    """
    item_feature_W: torch.Tensor        # [G, F]   genre multi-hot -> item feature embedding
    item_feature_b: torch.Tensor        # [F]
    item_embedding_table: torch.Tensor  # [M, E]   one learned row per movie
    item_id_W: torch.Tensor             # [E, E]   layer on top of the id embedding
    item_id_b: torch.Tensor             # [E]
    user_W: torch.Tensor                # [C, F+E] user context -> user embedding
    user_b: torch.Tensor                # [F+E]

    NAMES = ("item_feature_W", "item_feature_b", "item_embedding_table", "item_id_W", "item_id_b",
             "user_W", "user_b")

    def as_list(self) -> list[torch.Tensor]:
        """All parameters, in the seed post's order."""
        return [getattr(self, name) for name in self.NAMES]

    def clone(self) -> "Params":
        """A detached copy that still requires gradients (for snapshots and checks)."""
        return Params(*(p.detach().clone().requires_grad_(True) for p in self.as_list()))


@dataclass(frozen=True)
class TrainHistory:
    """What training records (lesson 6): full-set losses at every evaluation."""
    steps: list[int]          # the step at which each evaluation happened
    train_loss: list[float]   # mean squared error on the whole training set
    val_loss: list[float]     # mean squared error on the whole validation set
    best_step: int            # step of the lowest validation loss (its parameters are kept)
    stopped_early: bool


@dataclass(frozen=True)
class MovieEmbeddings:
    """Every movie's embeddings (lesson 7), row i for top_movies[i]."""
    id: torch.Tensor        # [M, E]   tanh(table @ item_id_W + item_id_b)
    feature: torch.Tensor   # [M, F]   tanh(genres @ item_feature_W + item_feature_b)
    combined: torch.Tensor  # [M, F+E] feature then id, the vector the user embedding is dotted with


@dataclass
class AdamState:
    """The hand-written Adam optimiser's memory (lesson 12): the step count and, for every
    parameter in ``Params.as_list()`` order, the running means of its gradient and of its
    squared gradient."""
    step: int
    first: list[torch.Tensor]
    second: list[torch.Tensor]
