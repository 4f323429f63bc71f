"""Lesson 7: precomputing every movie's embeddings.

The item towers do not depend on the user. So once training is done, each movie's
embedding can be computed once, for the whole catalogue in one batched pass, and reused
for every user: recommending then costs one user-tower pass and one matrix product.
"""
from __future__ import annotations

import torch

from course.containers import MovieEmbeddings, Params


@torch.no_grad()
def movie_embeddings(params: Params, movie_genres: torch.Tensor) -> MovieEmbeddings:
    """The id, feature and combined embeddings of every movie, in one batched pass.

    Row i is the movie at row i of ``movie_genres`` (and of the id embedding table).
    ``combined`` is the feature embedding then the id embedding, side by side, exactly what
    the item tower of lesson 5 computes for one movie. No gradients are kept.
    """
    # BEGIN SOLUTION 7.1
    identity = torch.tanh(params.item_embedding_table @ params.item_id_W + params.item_id_b)
    feature = torch.tanh(movie_genres @ params.item_feature_W + params.item_feature_b)
    return MovieEmbeddings(id=identity, feature=feature, combined=torch.cat([feature, identity], dim=1))
    # END SOLUTION
