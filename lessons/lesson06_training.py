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

from pathlib import Path

import torch

from course.config import TrainConfig
from course.containers import Examples, Params, PreparedData, TrainHistory
from solutions.lesson05_weights import item_tower, predict, user_tower

# Examples per pass when evaluating a whole set: small enough that a chunk's looked-up rows
# stay in the CPU's cache (8,192 x 50 floats is 1.6 MB), large enough that the few
# operations per chunk cost little next to the work.
EVAL_CHUNK = 8192


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
        import warnings

        row_starts = torch.zeros(len(left) + 1, dtype=torch.int64)
        row_starts[1:] = torch.bincount(left_rows, minlength=len(left)).cumsum(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "sparse CSR support is in beta state"
            pattern = torch.sparse_csr_tensor(row_starts, right_rows, torch.zeros(n, dtype=left.dtype),
                                              size=(len(left), len(right)), check_invariants=False)
            return torch.sparse.sampled_addmm(pattern, left, right.T, beta=0.0).values()
    out = torch.empty(n, dtype=left.dtype if n else torch.float32, device=left_rows.device)
    for start in range(0, n, EVAL_CHUNK):
        end = min(start + EVAL_CHUNK, n)
        # index_select copies whole rows, faster than indexing with [] for row look-ups.
        out[start:end] = (left.index_select(0, left_rows[start:end])
                          * right.index_select(0, right_rows[start:end])).sum(dim=1)
    return out


def minibatch_step(params: Params, data: PreparedData, rows: torch.Tensor, lr: float,
                   weight_decay: float = 0.0) -> None:
    """One training step on the rows ``rows`` of ``data.train``: exactly
    ``sgd_step(params, batch_loss(params, data, data.train, rows, weight_decay), lr)``,
    the same numbers, only faster. Given (not a task): :func:`train` may use it.

    A minibatch of 64 examples touches at most 64 rows of the id embedding table, yet the
    gradient of ``table[movie_rows]`` is a table-sized tensor of zeros with those rows filled
    in, and the step then walks the whole table (5,904 x 25 numbers at ML-32M size) to move
    64 rows. Without weight decay the other rows' gradient is exactly 0, so this step
    gathers the touched rows into a small leaf tensor, trains that, and writes the rows
    back. (With weight decay every row has a gradient: then it is the plain step.)
    """
    if weight_decay:
        sgd_step(params, batch_loss(params, data, data.train, rows, weight_decay), lr)
        return
    examples = data.train
    movies = examples.movie_row.index_select(0, rows)
    touched, position = torch.unique(movies, return_inverse=True)
    table = params.item_embedding_table
    small = Params(*(table.detach().index_select(0, touched).requires_grad_(True) if p is table else p
                     for p in params.as_list()))
    users = examples.user_row.index_select(0, rows)
    predictions = predict(small, data.user_context.index_select(0, users), data.movie_genres.index_select(0, movies),
                          position)
    sgd_step(small, ((predictions - examples.target.index_select(0, rows)) ** 2).mean(), lr)
    with torch.no_grad():
        table.index_copy_(0, touched, small.item_embedding_table)


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
