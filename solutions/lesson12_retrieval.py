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
    # BEGIN SOLUTION 12.1
    rows = ratings[["userId", "movieId", "rating"]].sort_values(["userId", "movieId"], kind="stable")
    rows = rows.reset_index(drop=True)
    key = np.random.default_rng(seed).random(len(rows))
    order = np.lexsort((key, rows["userId"].to_numpy()))
    dealt = np.empty(len(rows), dtype=np.int64)
    dealt[order] = rows.iloc[order].groupby("userId").cumcount().to_numpy() % num_folds
    splits = []
    for fold in range(num_folds):
        split = rows.copy()
        split["is_history"] = dealt != fold
        splits.append(split)
    return splits
    # END SOLUTION


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
    # BEGIN SOLUTION 12.2
    num_movies = len(movie_index)
    history = split[split["is_history"] & split["userId"].isin(user_ids)]
    row = pd.Index(user_ids).get_indexer(history["userId"])
    column = history["movieId"].map(movie_index).to_numpy()
    watched = torch.zeros((len(user_ids), num_movies), dtype=torch.float32)
    watched[torch.tensor(row, dtype=torch.int64), torch.tensor(column, dtype=torch.int64)] = 1.0
    count = watched.sum(dim=1, keepdim=True)
    genres = movie_genres.to(torch.float32)
    share = watched @ genres / count.clamp(min=1.0)
    genre_block = torch.where(count > 0, share - genres.mean(dim=0), 0.0)
    return torch.cat([watched / count.clamp(min=1.0).sqrt(), genre_block], dim=1)
    # END SOLUTION


def catalogue_logits(params: Params, user_context: torch.Tensor, movie_genres: torch.Tensor,
                     temperature: float, movie_rows: torch.Tensor | None = None) -> torch.Tensor:
    """Scores of every catalogue movie for a batch of users: ``[B, M]`` (or ``[B, len(movie_rows)]``).

    The user embeddings of ``user_context`` ``[B, C]`` (lesson 5's ``user_tower``) dotted
    with the combined embedding of every movie (lesson 5's ``item_tower`` on all of
    ``movie_genres`` ``[M, G]`` and rows ``0..M-1``), divided by ``temperature``: a small
    temperature makes the softmax sharper, as if the embeddings were longer. With
    ``movie_rows``, only those movies, in that order (the sampled softmax of task 12.7).
    """
    # BEGIN SOLUTION 12.3
    if movie_rows is None:
        movie_rows = torch.arange(movie_genres.shape[0], device=movie_genres.device)
    users = user_tower(params, user_context)
    items = item_tower(params, movie_genres[movie_rows], movie_rows)
    return users @ items.T / temperature
    # END SOLUTION


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
    # BEGIN SOLUTION 12.4
    adjusted = logits + alpha * log_popularity
    target = adjusted.gather(1, target_rows[:, None]).squeeze(1)
    return (torch.logsumexp(adjusted, dim=1) - target).mean()
    # END SOLUTION


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
    # BEGIN SOLUTION 12.5
    beta1, beta2 = betas
    for p in params.as_list():
        p.grad = None
    loss.backward()
    state.step += 1
    with torch.no_grad():
        for p, m, v in zip(params.as_list(), state.first, state.second):
            m.mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
            m_hat = m / (1.0 - beta1 ** state.step)
            v_hat = v / (1.0 - beta2 ** state.step)
            p -= lr * m_hat / (v_hat.sqrt() + eps)
    # END SOLUTION


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
    # BEGIN SOLUTION 12.6
    state = new_adam_state(params)
    losses = []
    device = params.user_W.device
    schedule = cfg.train
    sampling = log_popularity.exp()   # the distribution the sampled softmax draws its negatives from
    for step in range(schedule.steps):
        rows = sample_minibatch(len(examples), schedule.batch_size, generator).to(device)
        context, targets = contexts[examples.user_row[rows]], examples.movie_row[rows]
        if cfg.num_negatives is None:  # the whole catalogue
            logits = catalogue_logits(params, context, movie_genres, cfg.temperature)
            loss = softmax_loss(logits, targets, log_popularity, cfg.logit_adjustment)
        else:  # the batch's own movies and cfg.num_negatives drawn by popularity (task 12.7)
            negatives = torch.multinomial(sampling, cfg.num_negatives, replacement=True, generator=generator)
            candidates = torch.cat([targets, negatives.to(device)])
            logits = catalogue_logits(params, context, movie_genres, cfg.temperature, candidates)
            loss = sampled_softmax_loss(logits, targets, candidates, log_popularity, cfg.num_negatives,
                                        cfg.logit_adjustment)
        if schedule.weight_decay:
            loss = loss + schedule.weight_decay * sum((p ** 2).sum() for p in params.as_list())
        adam_step(params, loss, state, learning_rate(step, schedule.lr_schedule), cfg.betas, cfg.eps)
        losses.append(float(loss.detach()))
    return losses
    # END SOLUTION


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
    # BEGIN SOLUTION 12.7
    log_expected = torch.log(torch.tensor(float(num_negatives))) + log_popularity[candidate_rows]
    adjusted = logits - log_expected + alpha * log_popularity[candidate_rows]
    batch = torch.arange(len(target_rows), device=logits.device)
    hit = candidate_rows[None, :] == target_rows[:, None]
    hit[batch, batch] = False
    adjusted = adjusted.masked_fill(hit, float("-inf"))
    return (torch.logsumexp(adjusted, dim=1) - adjusted[batch, batch]).mean()
    # END SOLUTION
