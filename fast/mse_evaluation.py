"""Lesson 6's ``evaluate``, fast: both sets of a training run in one pass of each tower.

The textbook ``evaluate`` (solutions/lesson06_training.py) computes every user's and every
movie's embedding, then one looked-up dot product per example, chunk by chunk. It is called
twice per evaluation (training and validation set), 51 times in the seed post's 50,000-step
run. At ML-32M size (6.25M examples, 200k users) three things make it about three times
cheaper here, measured by ``make bench``:

- the bookkeeping that never changes during a run (who has examples, each set ordered by
  user, sparse patterns) is done once, by :func:`plan_evaluation`;
- a watch history fills about a tenth of the context's movie slots, so the user tower
  multiplies those slots as a sparse matrix and the genre block as a dense one:
  ``tanh(movie_slots @ W[:genres] + genre_block @ W[genres:] + b)`` is lesson 5's
  ``tanh(context @ W + b)`` in half the time;
- each set's examples are a sparse pattern whose stored values are the targets, so
  ``torch.sparse.sampled_addmm(pattern, users, movies.T, beta=-1)`` gives every prediction
  minus its target in one operation; and the users are cut into fixed parts that
  :func:`course.threads.evaluation_workers` threads compute side by side (each operation
  still on one thread; the parts and their order do not depend on the thread count, so the
  losses are the same on every machine).

It writes out the reference's lesson 5 towers, so it stands in for them (``STANDS_FOR``).
"""
from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import torch

from course.config import EVAL_CHUNK, EVAL_PART_USERS
from course.containers import Examples, Params, PreparedData
from course.threads import evaluation_workers
from solutions.lesson05_weights import item_tower

#: The textbook functions whose numbers this module gives (lesson -> names).
STANDS_FOR = {5: ("user_tower", "item_tower"), 6: ("evaluate",)}


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


def on_workers(function, items: list) -> list:
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


def csr_pattern(row_starts: torch.Tensor, columns: torch.Tensor, values: torch.Tensor,
                size: tuple[int, int]) -> torch.Tensor:
    """A sparse CSR matrix: row u holds ``values[row_starts[u]:row_starts[u + 1]]`` at those
    ``columns`` (no copies, no checks: the plan builds them valid)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR support is in beta state"
        return torch.sparse_csr_tensor(row_starts, columns, values, size=size, check_invariants=False)


def plan_evaluation(data: PreparedData, example_sets: list[Examples]) -> EvaluationPlan:
    """The bookkeeping of ``evaluate`` done once for a whole training run: which users have
    an example in any of ``example_sets`` (their context rows, gathered once), each set
    ordered by user, and on a CPU the parts an evaluation is cut into with their sparse
    pieces (see :func:`evaluate_sets`)."""
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
        starts[1:] = torch.bincount(examples.user_row, minlength=len(user_context)).cumsum(0)
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
            part_patterns.append(None if first == last else csr_pattern(
                starts[first_user:last_user + 1] - first, examples.movie_row[first:last],
                examples.target[first:last], (last_user - first_user, data.movie_genres.shape[0])))
        patterns.append(part_patterns)
    return EvaluationPlan(user_context, sets, parts, on_workers(pieces, parts), patterns)


def _looked_up_errors(user_embeddings: torch.Tensor, movie_embeddings: torch.Tensor,
                      examples: Examples) -> torch.Tensor:
    """Prediction minus target of every example, by looking rows up chunk by chunk (off a CPU)."""
    errors = torch.empty(len(examples), dtype=user_embeddings.dtype, device=user_embeddings.device)
    for start in range(0, len(examples), EVAL_CHUNK):
        end = min(start + EVAL_CHUNK, len(examples))
        # index_select copies whole rows, faster than indexing with [] for row look-ups.
        errors[start:end] = (user_embeddings.index_select(0, examples.user_row[start:end])
                             * movie_embeddings.index_select(0, examples.movie_row[start:end])).sum(dim=1)
    return errors - examples.target


@torch.no_grad()
def evaluate_sets(params: Params, data: PreparedData, plan: EvaluationPlan) -> list[float]:
    """Lesson 6's ``evaluate(params, data, examples)`` of every set of ``plan``, up to float
    rounding, with each tower run once for all the sets (see the module text)."""
    movie_rows = torch.arange(data.movie_genres.shape[0], device=data.movie_genres.device)
    movie_embeddings = item_tower(params, data.movie_genres, movie_rows)
    if plan.patterns is None:  # not a CPU: one part, rows looked up
        user_embeddings = torch.tanh(torch.addmm(params.user_b, plan.user_context, params.user_W))
        losses = []
        for examples in plan.sets:
            errors = _looked_up_errors(user_embeddings, movie_embeddings, examples)
            losses.append(float(torch.dot(errors, errors)) / len(examples) if len(examples) else 0.0)
        return losses

    movie_embeddings_t = movie_embeddings.T.contiguous()  # read row by row by every product
    first_genre_slot = plan.context_pieces[0][0].shape[1]
    movie_slot_W, genre_W = params.user_W[:first_genre_slot], params.user_W[first_genre_slot:]

    @torch.no_grad()  # gradient tracking is per thread: the pool's threads need it off too
    def squared_errors(part: int) -> list[float]:
        """Each set's sum of squared errors over the examples of the users of one part."""
        movie_slots, genre_block = plan.context_pieces[part]
        # Lesson 5's user tower, tanh(context @ W + b), on the context's two pieces.
        user_embeddings = torch.tanh(torch.addmm(torch.addmm(params.user_b, genre_block, genre_W),
                                                 movie_slots, movie_slot_W))
        sums = []
        for pattern in plan.patterns[part]:
            if pattern is None:
                sums.append(0.0)
                continue
            errors = torch.sparse.sampled_addmm(pattern, user_embeddings, movie_embeddings_t, beta=-1.0).values()
            sums.append(float(torch.dot(errors, errors)))
        return sums

    part_sums = on_workers(squared_errors, list(range(len(plan.parts))))
    return [sum(sums[i] for sums in part_sums) / len(examples) if len(examples) else 0.0
            for i, examples in enumerate(plan.sets)]
