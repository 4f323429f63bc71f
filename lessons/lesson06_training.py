"""Lesson 6: training by hand.

No optimiser object either: each step samples a minibatch, computes the loss, clears the
old gradients, back-propagates, and moves every parameter a little against its gradient.
Every so often we measure the loss on the *whole* training and validation sets; the gap
between the two curves is how we see the model starting to memorise instead of learn.
"""
# This file is generated from solutions/lesson06_training.py by `make stubs`: fill in the
# functions marked TODO. `make check LESSON=6` grades your work and
# `make reset LESSON=6` brings back this version (your file is backed up first).
from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import torch

from course.config import TrainConfig
from course.containers import Examples, Params, PreparedData, TrainHistory
from course.threads import evaluation_workers
from solutions.lesson05_weights import item_tower, predict, user_tower

# Examples per pass when evaluating a whole set: small enough that a chunk's looked-up rows
# stay in the CPU's cache (8,192 x 50 floats is 1.6 MB), large enough that the few
# operations per chunk cost little next to the work.
EVAL_CHUNK = 8192
# Users per part when evaluate_sets shares an evaluation between threads: 16,384 users'
# context rows are 18 MB at ML-32M size, and 12 parts keep two threads evenly busy.
EVAL_PART_USERS = 16_384


def learning_rate(step: int, schedule: tuple[tuple[int, float], ...]) -> float:
    """The learning rate at ``step``: the rate of the last ``(first_step, rate)`` pair of
    ``schedule`` whose first step is at or before ``step``."""
    # TODO Task 6.1: the learning-rate schedule.
    # Read lessons/lesson06_training.md, task 6.1; `make hint LESSON=6 TASK=6.1` if you are stuck.
    raise NotImplementedError("Lesson 6.1: the learning-rate schedule")


def sample_minibatch(num_examples: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """``batch_size`` example rows drawn uniformly, with replacement, from
    ``0..num_examples-1`` using ``generator`` (int64 tensor)."""
    # TODO Task 6.2: draw a minibatch of example rows.
    # Read lessons/lesson06_training.md, task 6.2; `make hint LESSON=6 TASK=6.2` if you are stuck.
    raise NotImplementedError("Lesson 6.2: draw a minibatch of example rows")


def batch_loss(params: Params, data: PreparedData, examples: Examples, rows: torch.Tensor,
               weight_decay: float = 0.0) -> torch.Tensor:
    """Mean squared error of the predictions for ``examples`` at ``rows``, plus
    ``weight_decay`` times the sum of the squares of every parameter (0 by default)."""
    # TODO Task 6.3: mean squared error of a minibatch, plus weight decay.
    # Read lessons/lesson06_training.md, task 6.3; `make hint LESSON=6 TASK=6.3` if you are stuck.
    raise NotImplementedError("Lesson 6.3: mean squared error of a minibatch, plus weight decay")


def sgd_step(params: Params, loss: torch.Tensor, lr: float) -> None:
    """One step of gradient descent: clear every parameter's old gradient, back-propagate
    ``loss``, then move each parameter by ``-lr`` times its gradient (in place)."""
    # TODO Task 6.4: one hand-written gradient descent step.
    # Read lessons/lesson06_training.md, task 6.4; `make hint LESSON=6 TASK=6.4` if you are stuck.
    raise NotImplementedError("Lesson 6.4: one hand-written gradient descent step")


@torch.no_grad()
def evaluate(params: Params, data: PreparedData, examples: Examples) -> float:
    """Mean squared error over *all* of ``examples`` (no weight decay, no gradients).

    A user has many examples (about 27 each at ML-32M size) and a movie thousands, but
    their embeddings do not depend on the example: compute the user tower once for every
    user that has an example and the item tower once for every movie, then each
    prediction is one row-wise dot product of two looked-up rows. Go through the examples
    in chunks of ``EVAL_CHUNK`` so memory stays bounded.
    """
    # TODO Task 6.5: the loss on a whole set.
    # Read lessons/lesson06_training.md, task 6.5; `make hint LESSON=6 TASK=6.5` if you are stuck.
    raise NotImplementedError("Lesson 6.5: the loss on a whole set")


def _row_dot_products(left: torch.Tensor, right: torch.Tensor, left_rows: torch.Tensor,
                      right_rows: torch.Tensor) -> torch.Tensor:
    """``left[left_rows[i]] . right[right_rows[i]]`` for every i: one dot product per example.

    Looking the rows up and multiplying them (``(left[a] * right[b]).sum(dim=1)``) copies two
    50-number rows per example through memory, chunk by chunk. When ``left_rows`` never
    decreases (examples ordered by user, as lesson 4 builds them) and on a CPU, the pairs
    are the stored entries of a sparse user x movie matrix, and
    ``torch.sparse.sampled_addmm`` computes exactly these dot products in one pass,
    about five times faster at ML-32M size.
    """
    n = len(left_rows)
    if n and left.device.type == "cpu" and bool((left_rows[1:] >= left_rows[:-1]).all()):
        row_starts = torch.zeros(len(left) + 1, dtype=torch.int64)
        row_starts[1:] = torch.bincount(left_rows, minlength=len(left)).cumsum(0)
        pattern = _csr_pattern(row_starts, right_rows, torch.zeros(n, dtype=left.dtype), (len(left), len(right)))
        # right.T made contiguous once: the product reads it row by row.
        return torch.sparse.sampled_addmm(pattern, left, right.T.contiguous(), beta=0.0).values()
    out = torch.empty(n, dtype=left.dtype if n else torch.float32, device=left_rows.device)
    for start in range(0, n, EVAL_CHUNK):
        end = min(start + EVAL_CHUNK, n)
        # index_select copies whole rows, faster than indexing with [] for row look-ups.
        out[start:end] = (left.index_select(0, left_rows[start:end])
                          * right.index_select(0, right_rows[start:end])).sum(dim=1)
    return out


def minibatch_step(params: Params, data: PreparedData, rows: torch.Tensor, lr: float,
                   weight_decay: float = 0.0) -> None:
    """One training step on the rows ``rows`` of ``data.train``: what
    ``sgd_step(params, batch_loss(params, data, data.train, rows, weight_decay), lr)`` does,
    up to float rounding, about twice as fast. Given (not a task): :func:`train` may use it.

    At the blog's batch of 64 a step is a few dozen tiny operations, and autograd adds its
    own bookkeeping to each one (recording the graph, then walking it back). Here the
    gradients are written out by hand, the chain rule through the three towers, and every
    parameter moves as soon as its gradient is known: ``W.addmm_(x.T, d, alpha=-lr)`` is
    ``W -= lr * (x.T @ d)`` in one operation. The id embedding table's gradient is non-zero
    only in the rows of the minibatch's movies, so only those rows move (``index_add_``
    adds repeated movies' contributions together, as autograd does). A test compares this
    step with autograd's, parameter by parameter.

    The gradients are those of the reference's lesson 5 and of this lesson's ``batch_loss``
    and ``sgd_step``. With ``HAND_GRADIENTS`` False (``make demo`` sets it when it runs your
    own versions of those through the reference's loop) the step is exactly
    ``sgd_step(batch_loss(...))``, so what you wrote is what trains.
    """
    if not HAND_GRADIENTS:
        sgd_step(params, batch_loss(params, data, data.train, rows, weight_decay), lr)
        return
    examples = data.train
    users = examples.user_row.index_select(0, rows)
    movies = examples.movie_row.index_select(0, rows)
    p = params
    with torch.no_grad():
        # Forward, keeping what the backward pass needs (lesson 5's towers, written out).
        context = data.user_context.index_select(0, users)
        genres = data.movie_genres.index_select(0, movies)
        id_rows = p.item_embedding_table.index_select(0, movies)
        user = torch.tanh(torch.addmm(p.user_b, context, p.user_W))
        feature = torch.tanh(torch.addmm(p.item_feature_b, genres, p.item_feature_W))
        identity = torch.tanh(torch.addmm(p.item_id_b, id_rows, p.item_id_W))
        item = torch.cat([feature, identity], dim=1)
        error = (user * item).sum(dim=1) - examples.target.index_select(0, rows)
        # Backward. loss = mean(error^2), so d loss / d prediction = 2 * error / B; a
        # prediction is user . item, so each side's gradient is d_prediction times the other
        # side; tanh'(x) = 1 - tanh(x)^2, from the outputs already computed.
        d_prediction = (error * (2.0 / len(rows))).unsqueeze(1)
        d_user = d_prediction * item * (1 - user * user)
        d_item = d_prediction * user * (1 - item * item)
        d_feature, d_identity = d_item[:, :feature.shape[1]], d_item[:, feature.shape[1]:]
        d_id_rows = d_identity @ p.item_id_W.T  # before item_id_W moves
        if weight_decay:
            # The penalty weight_decay * p^2 has gradient 2 * weight_decay * p: every entry
            # of every tensor (the whole embedding table too) shrinks a little.
            torch._foreach_mul_(p.as_list(), 1.0 - 2.0 * lr * weight_decay)
        p.user_W.addmm_(context.T, d_user, alpha=-lr)
        p.user_b.add_(d_user.sum(dim=0), alpha=-lr)
        p.item_feature_W.addmm_(genres.T, d_feature, alpha=-lr)
        p.item_feature_b.add_(d_feature.sum(dim=0), alpha=-lr)
        p.item_id_W.addmm_(id_rows.T, d_identity, alpha=-lr)
        p.item_id_b.add_(d_identity.sum(dim=0), alpha=-lr)
        p.item_embedding_table.index_add_(0, movies, d_id_rows, alpha=-lr)


# minibatch_step's hand-written gradients are those of these functions as the reference writes
# them (lesson number -> names), and evaluate_sets writes out the reference's user tower.
# `make demo` sets HAND_GRADIENTS to False in its copy of this lesson when your own version of
# any of them is in use, so that what you wrote is what trains and is evaluated.
HAND_DIFFERENTIATED = {5: ("predict", "user_tower", "item_tower"), 6: ("batch_loss", "sgd_step")}
HAND_GRADIENTS = True


class EvaluationPlan(NamedTuple):
    """What :func:`evaluate_sets` needs about its example sets and never changes between
    two evaluations of a training run (made by :func:`plan_evaluation`)."""
    user_context: torch.Tensor   # the context rows of the users that have an example
    sets: list[Examples]         # each set with user rows into user_context, ordered by user
    parts: list[tuple[int, int]]    # the users (first, last + 1) of each part of an evaluation
    # On a CPU, per part: its context as two pieces, the movie slots as a sparse CSR matrix and
    # the genre block dense; and per set, its examples as a CSR pattern over the part's users
    # whose stored values are the targets (None for a part without examples). None elsewhere.
    context_pieces: list[tuple[torch.Tensor, torch.Tensor]] | None
    patterns: list[list[torch.Tensor | None]] | None


def _on_workers(function, items: list) -> list:
    """``[function(item) for item in items]``, the items shared between
    :func:`course.threads.evaluation_workers` threads (one thread when there is one item,
    one worker, or no thread can start)."""
    workers = min(evaluation_workers(), len(items))
    if workers > 1:
        # A pool per call (two threads start in well under a millisecond), so that no idle
        # thread outlives it, for instance into a process forked later.
        try:
            with ThreadPoolExecutor(workers) as pool:
                return list(pool.map(function, items))
        except RuntimeError as error:  # "can't start new thread" (a process limit): one thread does
            if "thread" not in str(error):
                raise
    return [function(item) for item in items]


def plan_evaluation(data: PreparedData, example_sets: list[Examples]) -> EvaluationPlan:
    """The bookkeeping of :func:`evaluate` done once for a whole training run: which users
    have an example in any of ``example_sets`` (their context rows, gathered once), each set
    ordered by user with where each user's examples start, and on a CPU the parts an
    evaluation is cut into (see :func:`evaluate_sets`). Given (not a task)."""
    num_users = data.user_context.shape[0]
    device = data.user_context.device
    has_examples = torch.zeros(num_users, dtype=torch.bool, device=device)
    for examples in example_sets:
        has_examples[examples.user_row] = True
    if 2 * int(has_examples.sum()) > num_users:  # most users: every row, no copy
        user_context, slot = data.user_context, None
    else:
        users = has_examples.nonzero().squeeze(1)
        user_context = data.user_context.index_select(0, users)
        slot = torch.full((num_users,), -1, dtype=torch.int64, device=device)
        slot[users] = torch.arange(len(users), device=device)
    sets, row_starts = [], []
    for examples in example_sets:
        user_rows = examples.user_row if slot is None else slot[examples.user_row]
        if len(user_rows) and not bool((user_rows[1:] >= user_rows[:-1]).all()):
            order = torch.argsort(user_rows, stable=True)  # lesson 4's examples are in order already
            examples = Examples(user_rows[order], examples.movie_row[order], examples.target[order])
        else:
            examples = Examples(user_rows, examples.movie_row, examples.target)
        sets.append(examples)
        starts = torch.zeros(len(user_context) + 1, dtype=torch.int64, device=device)
        starts[1:] = torch.bincount(user_rows, minlength=len(user_context)).cumsum(0)
        row_starts.append(starts)

    num_context_users = len(user_context)
    if device.type != "cpu":
        return EvaluationPlan(user_context, sets, [(0, num_context_users)], None, None)
    parts = [(first, min(first + EVAL_PART_USERS, num_context_users))
             for first in range(0, max(num_context_users, 1), EVAL_PART_USERS)]
    first_genre_slot = len(data.context_index.movie_slot)

    def pieces(part: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        first_user, last_user = part
        rows = user_context[first_user:last_user]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta state"
            # By way of COO: measured a third faster than to_sparse_csr() on this strided slice.
            return rows[:, :first_genre_slot].to_sparse().to_sparse_csr(), rows[:, first_genre_slot:].contiguous()

    patterns = []
    for first_user, last_user in parts:
        part_patterns = []
        for examples, starts in zip(sets, row_starts):
            first, last = int(starts[first_user]), int(starts[last_user])
            part_patterns.append(None if first == last else _csr_pattern(
                starts[first_user:last_user + 1] - first, examples.movie_row[first:last],
                examples.target[first:last], (last_user - first_user, data.movie_genres.shape[0])))
        patterns.append(part_patterns)
    return EvaluationPlan(user_context, sets, parts, _on_workers(pieces, parts), patterns)


def _csr_pattern(row_starts: torch.Tensor, columns: torch.Tensor, values: torch.Tensor,
                 size: tuple[int, int]) -> torch.Tensor:
    """A sparse CSR matrix: row u holds ``values[row_starts[u]:row_starts[u + 1]]`` at those
    ``columns`` (no copies, no checks: the plan builds them valid)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR support is in beta state"
        return torch.sparse_csr_tensor(row_starts, columns, values, size=size, check_invariants=False)


@torch.no_grad()
def evaluate_sets(params: Params, data: PreparedData, plan: EvaluationPlan) -> list[float]:
    """:func:`evaluate` of every set of ``plan`` (see :func:`plan_evaluation`), up to float
    rounding, with each tower run once for all the sets. Given (not a task): the reference
    :func:`train` evaluates the training and validation sets with it.

    On a CPU, three things make one evaluation at ML-32M size about three times cheaper
    than :func:`evaluate` (``make bench`` times it):

    - The users are cut into parts of ``EVAL_PART_USERS`` (the part's user tower, then its
      examples' errors and their sum of squares), and the parts run on
      :func:`course.threads.evaluation_workers` threads at once. Each operation still runs
      on one thread (the course's policy), but an evaluation is a few large pieces of
      arithmetic that another core can share without the hand-over costs that make two
      threads slow on a training step. The parts do not depend on the number of threads and
      their sums are added in part order, so the losses are the same on every machine.
    - A watch history fills about a tenth of the context's movie slots, so the user tower
      multiplies those slots as a sparse matrix and the genre block as a dense one:
      ``tanh(movie_slots @ W[:genres] + genre_block @ W[genres:] + b)`` is lesson 5's
      ``tanh(context @ W + b)``, in half the time. (Only while the reference's lesson 5 is
      the one in use, see ``HAND_GRADIENTS``; otherwise ``user_tower`` itself runs.)
    - Each set's examples are a sparse pattern whose stored values are the targets, so
      ``torch.sparse.sampled_addmm(pattern, users, movies.T, beta=-1)`` gives every
      prediction minus its target in one operation.
    """
    movie_rows = torch.arange(data.movie_genres.shape[0], device=data.movie_genres.device)
    movie_embeddings = item_tower(params, data.movie_genres, movie_rows)
    if plan.patterns is None:  # not a CPU: one part, the look-ups of _row_dot_products
        losses = []
        user_embeddings = user_tower(params, plan.user_context)
        for examples in plan.sets:
            if len(examples) == 0:
                losses.append(0.0)
                continue
            errors = _row_dot_products(user_embeddings, movie_embeddings, examples.user_row,
                                       examples.movie_row) - examples.target
            losses.append(float(torch.dot(errors, errors)) / len(examples))
        return losses

    movie_embeddings_t = movie_embeddings.T.contiguous()  # read row by row by every product
    first_genre_slot = plan.context_pieces[0][0].shape[1]
    movie_slot_W, genre_W = params.user_W[:first_genre_slot], params.user_W[first_genre_slot:]

    @torch.no_grad()  # gradient tracking is per thread: the pool's threads need it off too
    def squared_errors(part: int) -> list[float]:
        """Each set's sum of squared errors over the examples of the users of one part."""
        if HAND_GRADIENTS:  # the reference's user tower, written out on the two pieces
            movie_slots, genre_block = plan.context_pieces[part]
            user_embeddings = torch.tanh(torch.addmm(torch.addmm(params.user_b, genre_block, genre_W),
                                                     movie_slots, movie_slot_W))
        else:
            first_user, last_user = plan.parts[part]
            user_embeddings = user_tower(params, plan.user_context[first_user:last_user])
        sums = []
        for pattern in plan.patterns[part]:
            if pattern is None:
                sums.append(0.0)
                continue
            errors = torch.sparse.sampled_addmm(pattern, user_embeddings, movie_embeddings_t, beta=-1.0).values()
            sums.append(float(torch.dot(errors, errors)))
        return sums

    part_sums = _on_workers(squared_errors, list(range(len(plan.parts))))
    return [sum(sums[i] for sums in part_sums) / len(examples) if len(examples) else 0.0
            for i, examples in enumerate(plan.sets)]


def train(params: Params, data: PreparedData, cfg: TrainConfig, generator: torch.Generator,
          progress: bool = False) -> TrainHistory:
    """Train ``params`` in place on ``data.train`` for ``cfg.steps`` steps.

    Every ``cfg.eval_every`` steps (from step 0), and once after the last step, record the
    step and the full training and validation losses (:func:`evaluate`). Each step:
    sample a minibatch of training rows (:func:`sample_minibatch` with ``generator``),
    compute :func:`batch_loss` with ``cfg.weight_decay``, and take an :func:`sgd_step` at
    :func:`learning_rate` (:func:`minibatch_step` does the two, faster). With ``cfg.patience`` set, stop after that many evaluations
    without a new best validation loss; either way, put back the parameters of the best
    validation loss before returning. ``progress`` shows a progress bar.
    """
    # TODO Task 6.6: the training loop with evaluation and early stopping.
    # Read lessons/lesson06_training.md, task 6.6; `make hint LESSON=6 TASK=6.6` if you are stuck.
    raise NotImplementedError("Lesson 6.6: the training loop with evaluation and early stopping")


def plot_loss_curve(history: TrainHistory, path: str | Path) -> Path:
    """Save the training and validation loss curves against the step as a PNG at ``path``
    (folders created as needed) and return the path. Mark the best step."""
    # TODO Task 6.7: the loss-curve figure.
    # Read lessons/lesson06_training.md, task 6.7; `make hint LESSON=6 TASK=6.7` if you are stuck.
    raise NotImplementedError("Lesson 6.7: the loss-curve figure")
