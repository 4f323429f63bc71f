"""Lesson 12's training, fast: the same loop, fed sparse context rows.

A retrieval context is a catalogue wide (one slot per movie, then the genres) and nearly
all zeros: a user who watched 100 of ML-32M's 40,000 movies. Lesson 12's loop reads its
minibatch's contexts dense (``contexts[rows]``), and lesson 5's user tower multiplies them,
``[B, 40,000] @ [40,000, D]``: most of a step's time goes to multiplying zeros. Here the
minibatch's rows come as a sparse CSR matrix instead (:class:`SparseContexts`); lesson 5's
``user_tower`` hands it to ``torch.addmm``, which multiplies only the stored values, and
autograd gives ``user_W`` the same gradient. Everything else is the reference's own code.

The training contexts themselves are made here too, straight into sparse rows
(:func:`implicit_context_rows`): lesson 12's ``implicit_contexts`` builds each block of
users as a dense catalogue-wide matrix first, which at ML-32M size is most of a demo's time.

It stands in for the functions that see the contexts (``STANDS_FOR``), so it runs only
where they are all the reference's; tests/test_fast_paths.py proves, in float64, that lesson
12's ``train_retrieval`` fed this way gives the same losses and parameters as fed dense, and
that :func:`implicit_context_rows` gives ``implicit_contexts``' rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from course.containers import ContextRows

#: The textbook functions whose numbers this module gives (lesson -> names): the loop, the
#: functions it hands the contexts to, and the one that makes them.
STANDS_FOR = {5: ("user_tower",), 12: ("implicit_contexts", "catalogue_logits", "train_retrieval")}


def implicit_context_rows(split: pd.DataFrame, user_ids: np.ndarray, movie_index: dict[int, int],
                          movie_genres: torch.Tensor, genres_only: bool = False) -> ContextRows:
    """Lesson 12's ``implicit_contexts(split, user_ids, movie_index, movie_genres)`` as sparse
    rows, never dense: ``1 / sqrt(h)`` at each history movie, then each genre's share of the
    history minus the catalogue's (only the nonzero values are kept, as ``ContextRows.from_dense``
    keeps them). With ``genres_only``, the movie block is left out (a new user's context)."""
    num_movies, num_genres = len(movie_index), movie_genres.shape[1]
    history = split[split["is_history"].to_numpy() & split["userId"].isin(user_ids).to_numpy()]
    user = torch.tensor(pd.Index(user_ids).get_indexer(history["userId"]), dtype=torch.int64)
    movie = torch.tensor(history["movieId"].map(movie_index).to_numpy(), dtype=torch.int64)
    pair = torch.unique(user * num_movies + movie)                 # one per (user, movie), in row order
    user, movie = pair // num_movies, pair % num_movies
    count = torch.bincount(user, minlength=len(user_ids)).to(torch.float32)
    genres = movie_genres.to(torch.float32)
    share = torch.zeros((len(user_ids), num_genres), dtype=torch.float32).index_add_(0, user, genres[movie])
    share = torch.where(count[:, None] > 0, share / count.clamp(min=1.0)[:, None] - genres.mean(dim=0), 0.0)
    genre_user, genre = share.nonzero(as_tuple=True)
    users = torch.cat([genre_user] if genres_only else [user, genre_user])
    columns = torch.cat([num_movies + genre] if genres_only else [movie, num_movies + genre])
    values = torch.cat(([] if genres_only else [1.0 / count[user].sqrt()]) + [share[genre_user, genre]])
    order = torch.argsort(users * (num_movies + num_genres) + columns)   # row by row, columns in order
    starts = torch.zeros(len(user_ids) + 1, dtype=torch.int64)
    starts[1:] = torch.cumsum(torch.bincount(users, minlength=len(user_ids)), 0)
    return ContextRows(starts, columns[order], values[order], num_movies + num_genres)


class SparseContexts:
    """``ContextRows`` whose minibatches come out as sparse CSR matrices."""

    def __init__(self, rows: ContextRows) -> None:
        self.rows = rows

    def __getitem__(self, index):
        return self.rows.sparse_rows(index)

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows.shape

    def to(self, device) -> "SparseContexts":
        return self
