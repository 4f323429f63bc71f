"""Lesson 6: training by hand.

No optimiser object either: each step samples a minibatch, computes the loss, clears the
old gradients, back-propagates, and moves every parameter a little against its gradient.
Every so often we measure the loss on the *whole* training and validation sets; the gap
between the two curves is how we see the model starting to memorise instead of learn.
"""
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
    tensors = params.as_list()
    for p in tensors:
        p.grad = None
    loss.backward()
    with torch.no_grad():
        # The same arithmetic as `for p in tensors: p -= lr * p.grad`, as two operations on
        # all seven tensors at once (torch._foreach_*), not fourteen small ones.
        torch._foreach_sub_(tensors, torch._foreach_mul([p.grad for p in tensors], lr))
    # END SOLUTION


@torch.no_grad()
def evaluate(params: Params, data: PreparedData, examples: Examples) -> float:
    """Mean squared error over *all* of ``examples`` (no weight decay, no gradients).

    A user has many examples (about 27 each at ML-32M size) and a movie thousands, but
    their embeddings do not depend on the example: compute the user tower once for every
    user that has an example and the item tower once for every movie, then each
    prediction is one row-wise dot product of two looked-up rows. Go through the examples
    in chunks of ``EVAL_CHUNK`` so memory stays bounded.
    """
    # BEGIN SOLUTION 6.5
    n = len(examples)
    if n == 0:
        return 0.0
    device = examples.target.device
    num_users = data.user_context.shape[0]
    has_examples = torch.bincount(examples.user_row, minlength=num_users) > 0
    if 2 * int(has_examples.sum()) > num_users:
        # Most users have examples (a training set): every user's embedding, in one product.
        user_embeddings = user_tower(params, data.user_context)
        user_rows = examples.user_row
    else:
        # Only the users that have an example, each once, and where each one's embedding lands.
        users = has_examples.nonzero().squeeze(1)
        user_embeddings = torch.cat([user_tower(params, data.user_context.index_select(0, chunk))
                                     for chunk in users.split(8 * EVAL_CHUNK)])
        slot = torch.full((num_users,), -1, dtype=torch.int64, device=device)
        slot[users] = torch.arange(len(users), device=device)
        user_rows = slot[examples.user_row]
    movie_rows = torch.arange(data.movie_genres.shape[0], device=device)
    movie_embeddings = item_tower(params, data.movie_genres, movie_rows)
    predictions = _row_dot_products(user_embeddings, movie_embeddings, user_rows, examples.movie_row)

    errors = predictions - examples.target
    return float(torch.dot(errors, errors)) / n  # the sum of squared errors, in one operation
    # END SOLUTION


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
    # BEGIN SOLUTION 6.6
    steps, train_loss, val_loss = [], [], []
    best_loss, best_step, best_params = float("inf"), 0, params.clone()
    evaluations_since_best = 0
    stopped_early = False
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=cfg.steps, desc="training", unit="step", leave=False)

    def record(step: int) -> bool:
        nonlocal best_loss, best_step, best_params, evaluations_since_best
        steps.append(step)
        train_loss.append(evaluate(params, data, data.train))
        val_loss.append(evaluate(params, data, data.val))
        if bar is not None:
            bar.set_postfix(train=f"{train_loss[-1]:.3f}", val=f"{val_loss[-1]:.3f}")
        if val_loss[-1] < best_loss:
            best_loss, best_step, best_params = val_loss[-1], step, params.clone()
            evaluations_since_best = 0
        else:
            evaluations_since_best += 1
        return cfg.patience is not None and evaluations_since_best >= cfg.patience

    device = params.user_W.device
    for step in range(cfg.steps):
        if step % cfg.eval_every == 0 and record(step):
            stopped_early = True
            break
        rows = sample_minibatch(len(data.train), cfg.batch_size, generator).to(device)
        # batch_loss with cfg.weight_decay, then sgd_step: minibatch_step does both.
        minibatch_step(params, data, rows, learning_rate(step, cfg.lr_schedule), cfg.weight_decay)
        if bar is not None:
            bar.update(1)
    else:
        record(cfg.steps)
    if bar is not None:
        bar.close()

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
