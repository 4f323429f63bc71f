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

from course.config import EVAL_CHUNK, TrainConfig
from course.containers import Examples, Params, PreparedData, TrainHistory
from solutions.lesson05_weights import item_tower, predict, user_tower


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
    user and the item tower once for every movie, then each prediction is one row-wise dot
    product of two looked-up rows. Go through the examples in chunks of ``EVAL_CHUNK``
    (``course/config.py``) so memory stays bounded.
    """
    # TODO Task 6.5: the loss on a whole set.
    # Read lessons/lesson06_training.md, task 6.5; `make hint LESSON=6 TASK=6.5` if you are stuck.
    raise NotImplementedError("Lesson 6.5: the loss on a whole set")


def train(params: Params, data: PreparedData, cfg: TrainConfig, generator: torch.Generator) -> TrainHistory:
    """Train ``params`` in place on ``data.train`` for ``cfg.steps`` steps.

    Every ``cfg.eval_every`` steps (from step 0), and once after the last step, record the
    step and the full training and validation losses (:func:`evaluate`). Each step:
    sample a minibatch of training rows (:func:`sample_minibatch` with ``generator``),
    compute :func:`batch_loss` with ``cfg.weight_decay``, and take an :func:`sgd_step` at
    :func:`learning_rate`. With ``cfg.patience`` set, stop after that many evaluations
    without a new best validation loss; either way, put back the parameters of the best
    validation loss before returning.
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
