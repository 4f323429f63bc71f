"""Lesson 6: training by hand.

No optimiser object either: each step samples a minibatch, computes the loss, clears the
old gradients, back-propagates, and moves every parameter a little against its gradient.
Every so often we measure the loss on the *whole* training and validation sets; the gap
between the two curves is how we see the model starting to memorise instead of learn.
"""
from __future__ import annotations

from pathlib import Path

import torch

from course.config import EVAL_CHUNK, TrainConfig
from course.containers import Examples, Params, PreparedData, TrainHistory
from solutions.lesson05_weights import item_tower, predict, user_tower


def learning_rate(step: int, schedule: tuple[tuple[int, float], ...]) -> float:
    """The learning rate at ``step``: the rate of the last ``(first_step, rate)`` pair of
    ``schedule`` whose first step is at or before ``step``."""
    # BEGIN SOLUTION 6.1
    rate = schedule[0][1]
    for first_step, value in schedule:
        if step >= first_step:
            rate = value
    return rate
    # END SOLUTION


def sample_minibatch(num_examples: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """``batch_size`` example rows drawn uniformly, with replacement, from
    ``0..num_examples-1`` using ``generator`` (int64 tensor)."""
    # BEGIN SOLUTION 6.2
    return torch.randint(0, num_examples, (batch_size,), generator=generator)
    # END SOLUTION


def batch_loss(params: Params, data: PreparedData, examples: Examples, rows: torch.Tensor,
               weight_decay: float = 0.0) -> torch.Tensor:
    """Mean squared error of the predictions for ``examples`` at ``rows``, plus
    ``weight_decay`` times the sum of the squares of every parameter (0 by default)."""
    # BEGIN SOLUTION 6.3
    # index_select(0, rows) is t[rows] for a 1-D tensor of rows, and faster for whole rows.
    users = examples.user_row.index_select(0, rows)
    movies = examples.movie_row.index_select(0, rows)
    predictions = predict(params, data.user_context.index_select(0, users), data.movie_genres.index_select(0, movies),
                          movies)
    loss = ((predictions - examples.target.index_select(0, rows)) ** 2).mean()
    if weight_decay:
        loss = loss + weight_decay * sum((p ** 2).sum() for p in params.as_list())
    return loss
    # END SOLUTION


def sgd_step(params: Params, loss: torch.Tensor, lr: float) -> None:
    """One step of gradient descent: clear every parameter's old gradient, back-propagate
    ``loss``, then move each parameter by ``-lr`` times its gradient (in place)."""
    # BEGIN SOLUTION 6.4
    for p in params.as_list():
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params.as_list():
            p -= lr * p.grad
    # END SOLUTION


@torch.no_grad()
def evaluate(params: Params, data: PreparedData, examples: Examples) -> float:
    """Mean squared error over *all* of ``examples`` (no weight decay, no gradients).

    A user has many examples (about 27 each at ML-32M size) and a movie thousands, but
    their embeddings do not depend on the example: compute the user tower once for every
    user and the item tower once for every movie, then each prediction is one row-wise dot
    product of two looked-up rows. Go through the examples in chunks of ``EVAL_CHUNK``
    (``course/config.py``) so memory stays bounded.
    """
    # BEGIN SOLUTION 6.5
    n = len(examples)
    if n == 0:
        return 0.0
    user_embeddings = user_tower(params, data.user_context)
    movie_rows = torch.arange(data.movie_genres.shape[0], device=data.movie_genres.device)
    movie_embeddings = item_tower(params, data.movie_genres, movie_rows)
    squared_error = 0.0
    for start in range(0, n, EVAL_CHUNK):
        users = examples.user_row[start:start + EVAL_CHUNK]
        movies = examples.movie_row[start:start + EVAL_CHUNK]
        predictions = (user_embeddings[users] * movie_embeddings[movies]).sum(dim=1)
        errors = predictions - examples.target[start:start + EVAL_CHUNK]
        squared_error += float((errors ** 2).sum())
    return squared_error / n
    # END SOLUTION


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
    # BEGIN SOLUTION 6.6
    steps, train_loss, val_loss = [], [], []
    best_loss, best_step, best_params = float("inf"), 0, params.clone()
    evaluations_since_best = 0

    def record(step: int) -> bool:
        """Evaluate both sets at ``step``; True when patience has run out."""
        nonlocal best_loss, best_step, best_params, evaluations_since_best
        steps.append(step)
        train_loss.append(evaluate(params, data, data.train))
        val_loss.append(evaluate(params, data, data.val))
        if val_loss[-1] < best_loss:
            best_loss, best_step, best_params = val_loss[-1], step, params.clone()
            evaluations_since_best = 0
        else:
            evaluations_since_best += 1
        return cfg.patience is not None and evaluations_since_best >= cfg.patience

    stopped_early = False
    device = params.user_W.device
    for step in range(cfg.steps):
        if step % cfg.eval_every == 0 and record(step):
            stopped_early = True
            break
        rows = sample_minibatch(len(data.train), cfg.batch_size, generator).to(device)
        loss = batch_loss(params, data, data.train, rows, cfg.weight_decay)
        sgd_step(params, loss, learning_rate(step, cfg.lr_schedule))
    else:
        record(cfg.steps)

    with torch.no_grad():
        for p, best in zip(params.as_list(), best_params.as_list()):
            p.copy_(best)
    return TrainHistory(steps, train_loss, val_loss, best_step, stopped_early)
    # END SOLUTION


def plot_loss_curve(history: TrainHistory, path: str | Path) -> Path:
    """Save the training and validation loss curves against the step as a PNG at ``path``
    (folders created as needed) and return the path. Mark the best step."""
    # BEGIN SOLUTION 6.7
    from matplotlib.figure import Figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    axes.plot(history.steps, history.train_loss, label="training set")
    axes.plot(history.steps, history.val_loss, label="validation set")
    axes.axvline(history.best_step, color="grey", linestyle=":", label=f"best step ({history.best_step})")
    axes.set_xlabel("step")
    axes.set_ylabel("mean squared error (debiased rating)")
    axes.set_title("Loss during training")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return path
    # END SOLUTION
