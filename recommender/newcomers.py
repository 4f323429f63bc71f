"""Lesson 13's model answering a newcomer: the few films they name, the genres they love and
hate, and a score for every movie of the catalogue (``make recommend`` and the demo's
personas, whenever lesson 13's model is the one that answers).

The titles count through lesson 13's ``newcomer_scores`` (the lift: how much the named films
raise each movie above what the model gives someone who named none), so two titles call for
the films that go with them rather than the popular films everyone gets. The genres count as
lesson 9's personas make them count for the other models, with a fixed weight
(``course.config.NEWCOMER_GENRE_WEIGHT``): added where a movie has a loved genre, taken away
where it has a hated genre and none loved. The model itself knows no genres: its input is the
watched row alone.
"""
from __future__ import annotations

from typing import Sequence

import torch

from course.config import NEWCOMER_GENRE_WEIGHT
from course.containers import AutoencoderParams


def genre_weights(genres: Sequence[Sequence[str]], liked: Sequence[str], hated: Sequence[str],
                  weight: float = NEWCOMER_GENRE_WEIGHT) -> torch.Tensor:
    """``[M]``: ``+weight`` for a movie with a genre in ``liked``, ``-weight`` for one with a
    genre in ``hated`` and none in ``liked``, 0 otherwise (``genres``: each movie's, in row order)."""
    loved, disliked = set(liked), set(hated)
    return torch.tensor([weight if loved & set(g) else -weight if disliked & set(g) else 0.0 for g in genres])


@torch.no_grad()
def scores(l13, params: AutoencoderParams, favourite_rows: Sequence[int], genres: Sequence[Sequence[str]],
           liked: Sequence[str], hated: Sequence[str], normalise: bool = True, nonlinear: bool = True) -> torch.Tensor:
    """Every movie's score ``[M]`` for a newcomer who named the movies at ``favourite_rows``
    and the genres ``liked`` and ``hated``, by ``l13`` (a lesson 13 module: the learner's or
    the reference's). With no title named the lift is 0 everywhere; the genres decide, and
    what the model gives someone who named nothing only orders films of equal weight."""
    num_movies = params.V.shape[0]
    watched = torch.zeros((1, num_movies))
    watched[0, list(favourite_rows)] = 1.0
    weights = genre_weights(genres, liked, hated)
    if not favourite_rows:
        nobody = l13.autoencoder_logits(params, watched, nonlinear)[0]
        return weights + 1e-3 * (nobody - nobody.mean()) / nobody.std().clamp(min=1e-12)
    inputs = l13.normalise_history(watched) if normalise else watched
    return l13.newcomer_scores(params, inputs, nonlinear)[0] + weights
