"""Lesson 12: from ratings to retrieval.

Lessons 5-6 taught the towers to predict a rating for movies a user *did* watch. Trained
only on watched pairs, the model never learns which movies people do not pick, and its top
10 is full of niche films it expects to be rated well. Here the very same towers of lesson 5
learn a different question: of the whole catalogue, which movie will this user watch next?
The answer is a softmax over every movie, and the loss is the minus log-probability of the
movie they actually watched. Two more changes, both small: the user context says *which*
movies, and how much of each genre, someone watched (not how far from their mean they rated
them), and every training user's ratings serve as labels once, in turn, instead of only a
fifth of them.
"""
# This file is generated from solutions/lesson12_retrieval.py by `make stubs`: fill in the
# functions marked TODO. `make check LESSON=12` grades your work and
# `make reset LESSON=12` brings back this version (your file is backed up first).
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from course.config import RetrievalConfig
from course.containers import AdamState, Examples, Params
from solutions.lesson05_weights import item_tower, user_tower
from solutions.lesson06_training import learning_rate, sample_minibatch


def fold_splits(ratings: pd.DataFrame, num_folds: int, seed: int) -> list[pd.DataFrame]:
    """``num_folds`` splits of the training users' ratings in lesson 3's format, in which
    every rating is a label exactly once.

    Sort ``ratings`` (``userId``, ``movieId``, ``rating``) by user then movie, give every
    rating a random key (``np.random.default_rng(seed).random``), order each user's
    ratings by that key and deal them out like cards: the i-th rating of a user (0-based,
    in key order) goes to fold ``i % num_folds``. Split f is a frame with the columns
    ``userId``, ``movieId``, ``rating`` and ``is_history``, which is False exactly for the
    ratings of fold f; its rows in (user, movie) order.
    """
    # TODO Task 12.1: deal every training rating into folds, so each one is a label once.
    # Read lessons/lesson12_retrieval.md, task 12.1; `make hint LESSON=12 TASK=12.1` if you are stuck.
    raise NotImplementedError("Lesson 12.1: deal every training rating into folds, so each one is a label once")


def implicit_contexts(split: pd.DataFrame, user_ids: np.ndarray, movie_index: dict[int, int],
                      movie_genres: torch.Tensor) -> torch.Tensor:
    """The retrieval model's user contexts: float32 ``[len(user_ids), M + G]``.

    Row u is for ``user_ids[u]``; only the history rows (``is_history``) of ``split`` count.
    Movie block (M = ``len(movie_index)`` columns, one per catalogue movie, at
    ``movie_index[movieId]``): ``1 / sqrt(h)`` for each of the user's ``h`` history movies,
    0.0 elsewhere, so a long history does not shout louder than a short one. Genre block
    (G columns, after the movies): the share of the user's history movies in each genre
    (``movie_genres`` ``[M, G]``, multi-hot) minus the catalogue's share of that genre
    (the column means of ``movie_genres``): which genres someone watches more, or less,
    than the catalogue holds. A user without history movies gets 0.0 everywhere.
    Labels never appear.
    """
    # TODO Task 12.2: the user context of a retrieval model: which movies and genres, not how rated.
    # Read lessons/lesson12_retrieval.md, task 12.2; `make hint LESSON=12 TASK=12.2` if you are stuck.
    raise NotImplementedError("Lesson 12.2: the user context of a retrieval model: which movies and genres, not how rated")


def catalogue_logits(params: Params, user_context: torch.Tensor, movie_genres: torch.Tensor,
                     temperature: float, movie_rows: torch.Tensor | None = None) -> torch.Tensor:
    """Scores of every catalogue movie for a batch of users: ``[B, M]`` (or ``[B, len(movie_rows)]``).

    The user embeddings of ``user_context`` ``[B, C]`` (lesson 5's ``user_tower``) dotted
    with the combined embedding of every movie (lesson 5's ``item_tower`` on all of
    ``movie_genres`` ``[M, G]`` and rows ``0..M-1``), divided by ``temperature``: a small
    temperature makes the softmax sharper, as if the embeddings were longer. With
    ``movie_rows``, only those movies, in that order (the sampled softmax of task 12.7).
    """
    # TODO Task 12.3: every movie's score for a batch of users, at a temperature.
    # Read lessons/lesson12_retrieval.md, task 12.3; `make hint LESSON=12 TASK=12.3` if you are stuck.
    raise NotImplementedError("Lesson 12.3: every movie's score for a batch of users, at a temperature")


def softmax_loss(logits: torch.Tensor, target_rows: torch.Tensor, log_popularity: torch.Tensor,
                 alpha: float) -> torch.Tensor:
    """Mean cross-entropy of a softmax over the catalogue (a 0-d tensor).

    For each row b, with adjusted logits ``z = logits[b] + alpha * log_popularity``
    (``log_popularity`` ``[M]``, logit adjustment, Menon et al. 2021): ``logsumexp(z) -
    z[target_rows[b]]``, the minus log-probability of the movie the user watched. Use
    ``torch.logsumexp``: ``exp`` of a logit of 100 overflows float32. With ``alpha = 0``
    it is the plain softmax loss; a positive alpha gives popular movies a head start during
    training only, so the towers spend less effort learning popularity.
    """
    # TODO Task 12.4: the softmax cross-entropy over the catalogue, with logit adjustment.
    # Read lessons/lesson12_retrieval.md, task 12.4; `make hint LESSON=12 TASK=12.4` if you are stuck.
    raise NotImplementedError("Lesson 12.4: the softmax cross-entropy over the catalogue, with logit adjustment")


def adam_step(params: Params, loss: torch.Tensor, state: AdamState, lr: float,
              betas: tuple[float, float], eps: float) -> None:
    """One hand-written Adam step (Kingma and Ba, 2015), in place.

    Clear the old gradients, back-propagate ``loss``, add 1 to ``state.step`` (t), then for
    every parameter p with gradient g and its moments m, v in ``state.first`` and
    ``state.second`` (same order as ``params.as_list()``): ``m = b1·m + (1 - b1)·g``,
    ``v = b2·v + (1 - b2)·g²``, and ``p -= lr · m̂ / (sqrt(v̂) + eps)`` with the
    bias-corrected ``m̂ = m / (1 - b1^t)`` and ``v̂ = v / (1 - b2^t)``. Each parameter
    gets its own step size, so the id embedding rows of rare movies still move.
    """
    # TODO Task 12.5: one hand-written Adam step.
    # Read lessons/lesson12_retrieval.md, task 12.5; `make hint LESSON=12 TASK=12.5` if you are stuck.
    raise NotImplementedError("Lesson 12.5: one hand-written Adam step")


def new_adam_state(params: Params) -> AdamState:
    """Zero moments for every parameter, step 0."""
    return AdamState(0, [torch.zeros_like(p) for p in params.as_list()],
                     [torch.zeros_like(p) for p in params.as_list()])


def train_retrieval(params: Params, contexts: torch.Tensor, examples: Examples, movie_genres: torch.Tensor,
                    log_popularity: torch.Tensor, cfg: RetrievalConfig, generator: torch.Generator) -> list[float]:
    """Train ``params`` in place for ``cfg.train.steps`` steps; return every step's loss.

    The loop of lesson 6 with a new loss and optimiser; its schedule is ``cfg.train`` (a
    lesson-6 ``TrainConfig``). Each step: draw ``cfg.train.batch_size`` example rows (lesson
    6's ``sample_minibatch`` with ``generator``), compute the :func:`catalogue_logits` of
    their users' contexts (``contexts[examples.user_row[rows]]``) at ``cfg.temperature``, the
    :func:`softmax_loss` against their movies (``examples.movie_row[rows]``) with
    ``cfg.logit_adjustment`` as alpha, plus ``cfg.train.weight_decay`` times the sum of every
    parameter squared, then take an :func:`adam_step` at lesson 6's
    ``learning_rate(step, cfg.train.lr_schedule)`` with ``cfg.betas`` and ``cfg.eps`` (one
    :class:`AdamState` for the whole run, from zero).

    With ``cfg.num_negatives`` set (a large catalogue), each step scores only the batch's own
    movies and that many negatives drawn, with replacement, from ``exp(log_popularity)``
    (``torch.multinomial`` with ``generator``, right after the minibatch), and takes
    :func:`sampled_softmax_loss` instead of :func:`softmax_loss`.
    """
    # TODO Task 12.6: the training loop of lesson 6 with the softmax loss and Adam.
    # Read lessons/lesson12_retrieval.md, task 12.6; `make hint LESSON=12 TASK=12.6` if you are stuck.
    raise NotImplementedError("Lesson 12.6: the training loop of lesson 6 with the softmax loss and Adam")


def sampled_softmax_loss(logits: torch.Tensor, target_rows: torch.Tensor, candidate_rows: torch.Tensor,
                         log_popularity: torch.Tensor, num_negatives: int, alpha: float) -> torch.Tensor:
    """The softmax loss over a sample of the catalogue, corrected for how it was drawn (a 0-d tensor).

    ``candidate_rows`` ``[B + S]`` are the batch's own movies (``target_rows`` ``[B]``, in
    batch order) then ``S = num_negatives`` movies drawn with replacement from
    ``q = exp(log_popularity)``; ``logits`` ``[B, B + S]`` score every candidate for every
    user, so row b's own movie is column b. Each candidate c was expected in the sample
    ``S * q[c]`` times: subtract ``log(S * q[c])`` from its logits (the logQ correction, Bengio
    and Senecal 2008), so that a popular movie drawn again and again does not look like a
    strong rival, and add ``alpha * log_popularity[c]`` as :func:`softmax_loss` does. A column
    other than b that holds row b's own movie is no rival of it (an accidental hit): leave it
    out of row b's softmax (``-inf``). The loss is the mean over rows of ``logsumexp(z[b]) -
    z[b, b]``.
    """
    # TODO Task 12.7: a sampled softmax, corrected for how its negatives were drawn.
    # Read lessons/lesson12_retrieval.md, task 12.7; `make hint LESSON=12 TASK=12.7` if you are stuck.
    raise NotImplementedError("Lesson 12.7: a sampled softmax, corrected for how its negatives were drawn")
