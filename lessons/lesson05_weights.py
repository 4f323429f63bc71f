"""Lesson 5: the model's weights as plain tensors, and the forward pass.

No ``nn.Module``, no ``nn.Linear``: every weight is a tensor we create, scale and mark
``requires_grad`` ourselves, so nothing about the model is hidden. Three small towers:
the user tower reads the user context, the item-feature tower reads a movie's genres, and
the item-id tower looks up a learned row per movie. The prediction is the dot product of
the user embedding with the two item embeddings placed side by side.
"""
# This file is generated from solutions/lesson05_weights.py by `make stubs`: fill in the
# functions marked TODO. `make check LESSON=5` grades your work and
# `make reset LESSON=5` brings back this version (your file is backed up first).
from __future__ import annotations

import torch

from course.config import ModelConfig
from course.containers import Params


def init_parameters(num_context_features: int, num_genres: int, num_movies: int,
                    cfg: ModelConfig, generator: torch.Generator) -> Params:
    """Create the seven parameter tensors from ``generator``.

    Draw them in this order, so the same seed gives the same model everywhere: genre
    weights and bias (``randn``), the id embedding table (``rand``: uniform in [0, 1)),
    the id layer's weights and bias (``randn``), the user weights and bias (``randn``).
    Multiply each by ``cfg.weight_scale`` (small weights keep the first losses sane), then
    make each a leaf tensor that requires gradients. Shapes are listed on
    :class:`course.containers.Params`; all float32.
    """
    # TODO Task 5.1: create the seven parameter tensors from a seeded generator.
    # Read lessons/lesson05_weights.md, task 5.1; `make hint LESSON=5 TASK=5.1` if you are stuck.
    raise NotImplementedError("Lesson 5.1: create the seven parameter tensors from a seeded generator")


def user_tower(params: Params, user_context: torch.Tensor) -> torch.Tensor:
    """User embeddings ``[B, F+E]``: ``tanh(user_context @ user_W + user_b)`` for a batch
    of user context rows ``[B, C]``."""
    # TODO Task 5.2: the user tower: one tanh layer.
    # Read lessons/lesson05_weights.md, task 5.2; `make hint LESSON=5 TASK=5.2` if you are stuck.
    raise NotImplementedError("Lesson 5.2: the user tower: one tanh layer")


def item_tower(params: Params, movie_genres: torch.Tensor, movie_rows: torch.Tensor) -> torch.Tensor:
    """Combined item embeddings ``[B, F+E]`` for a batch of movies.

    ``movie_genres`` ``[B, G]`` are the movies' multi-hot genres and ``movie_rows`` ``[B]``
    their rows in the id embedding table. The feature embedding is
    ``tanh(movie_genres @ item_feature_W + item_feature_b)``, the id embedding
    ``tanh(item_embedding_table[movie_rows] @ item_id_W + item_id_b)``; the result is the
    two side by side, feature embedding first.
    """
    # TODO Task 5.3: the item towers, feature embedding then id embedding.
    # Read lessons/lesson05_weights.md, task 5.3; `make hint LESSON=5 TASK=5.3` if you are stuck.
    raise NotImplementedError("Lesson 5.3: the item towers, feature embedding then id embedding")


def predict(params: Params, user_context: torch.Tensor, movie_genres: torch.Tensor,
            movie_rows: torch.Tensor) -> torch.Tensor:
    """Predicted debiased ratings ``[B]``: the row-wise dot product of the user embedding
    and the combined item embedding of each (user, movie) pair."""
    # TODO Task 5.4: the prediction: a batched dot product.
    # Read lessons/lesson05_weights.md, task 5.4; `make hint LESSON=5 TASK=5.4` if you are stuck.
    raise NotImplementedError("Lesson 5.4: the prediction: a batched dot product")
