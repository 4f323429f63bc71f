"""Lesson 7: precomputing every movie's embeddings.

The item towers do not depend on the user. So once training is done, each movie's
embedding can be computed once, for the whole catalogue in one batched pass, and reused
for every user: recommending then costs one user-tower pass and one matrix product.
"""
# This file is generated from solutions/lesson07_embeddings.py by `make stubs`: fill in the
# functions marked TODO. `make check LESSON=7` grades your work and
# `make reset LESSON=7` brings back this version (your file is backed up first).
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
    # TODO Task 7.1: every movie's id, feature and combined embedding in one pass.
    # Read lessons/lesson07_embeddings.md, task 7.1; `make hint LESSON=7 TASK=7.1` if you are stuck.
    raise NotImplementedError("Lesson 7.1: every movie's id, feature and combined embedding in one pass")
