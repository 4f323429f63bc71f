"""Lesson 5: the model's weights as plain tensors, and the forward pass.

No ``nn.Module``, no ``nn.Linear``: every weight is a tensor we create, scale and mark
``requires_grad`` ourselves, so nothing about the model is hidden. Three small towers:
the user tower reads the user context, the item-feature tower reads a movie's genres, and
the item-id tower looks up a learned row per movie. The prediction is the dot product of
the user embedding with the two item embeddings placed side by side.
"""
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
    # BEGIN SOLUTION 5.1
    f, e, u = cfg.item_feature_dim, cfg.item_id_dim, cfg.user_dim
    drawn = [
        torch.randn((num_genres, f), generator=generator),
        torch.randn(f, generator=generator),
        torch.rand((num_movies, e), generator=generator),
        torch.randn((e, e), generator=generator),
        torch.randn(e, generator=generator),
        torch.randn((num_context_features, u), generator=generator),
        torch.randn(u, generator=generator),
    ]
    return Params(*((t * cfg.weight_scale).requires_grad_(True) for t in drawn))
    # END SOLUTION


def user_tower(params: Params, user_context: torch.Tensor) -> torch.Tensor:
    """User embeddings ``[B, F+E]``: ``tanh(user_context @ user_W + user_b)`` for a batch
    of user context rows ``[B, C]``."""
    # BEGIN SOLUTION 5.2
    # addmm(b, x, W) is x @ W + b in one operation (the same numbers, one step less).
    return torch.tanh(torch.addmm(params.user_b, user_context, params.user_W))
    # END SOLUTION


def item_tower(params: Params, movie_genres: torch.Tensor, movie_rows: torch.Tensor) -> torch.Tensor:
    """Combined item embeddings ``[B, F+E]`` for a batch of movies.

    ``movie_genres`` ``[B, G]`` are the movies' multi-hot genres and ``movie_rows`` ``[B]``
    their rows in the id embedding table. The feature embedding is
    ``tanh(movie_genres @ item_feature_W + item_feature_b)``, the id embedding
    ``tanh(item_embedding_table[movie_rows] @ item_id_W + item_id_b)``; the result is the
    two side by side, feature embedding first.
    """
    # BEGIN SOLUTION 5.3
    feature = torch.tanh(torch.addmm(params.item_feature_b, movie_genres, params.item_feature_W))
    identity = torch.tanh(torch.addmm(params.item_id_b, params.item_embedding_table[movie_rows], params.item_id_W))
    return torch.cat([feature, identity], dim=1)
    # END SOLUTION


def predict(params: Params, user_context: torch.Tensor, movie_genres: torch.Tensor,
            movie_rows: torch.Tensor) -> torch.Tensor:
    """Predicted debiased ratings ``[B]``: the row-wise dot product of the user embedding
    and the combined item embedding of each (user, movie) pair."""
    # BEGIN SOLUTION 5.4
    users = user_tower(params, user_context)
    items = item_tower(params, movie_genres, movie_rows)
    return (users * items).sum(dim=1)
    # END SOLUTION
