"""Lesson 6's training loop, fast: the gradients of lessons 5-6 written out by hand.

At the seed post's batch of 64 a step is a few dozen tiny operations, and autograd adds
its own bookkeeping to each one (recording the graph, then walking it back). Here the
backward pass is the chain rule through the three towers, written out
(:func:`minibatch_gradients`), and every parameter moves as soon as its gradient is known
(:func:`apply_sgd`): ``W.addmm_(x.T, d, alpha=-lr)`` is ``W -= lr * (x.T @ d)`` in one
operation, and only the rows of the id embedding table that the minibatch touches move
(``index_add_`` adds repeated movies' contributions together, as autograd does).
:func:`train` is lesson 6's ``train`` with this step and :mod:`fast.mse_evaluation`'s
evaluation; ``make bench`` times both loops.

Proven equal to the textbook (tests/test_fast_paths.py): the same loss and gradients as
``batch_loss`` and ``loss.backward()``, and the same history and parameters as lesson 6's
``train`` after 300 steps, in float64.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from course.config import TrainConfig
from course.containers import Params, PreparedData, TrainHistory
from fast import mse_evaluation
from solutions.lesson06_training import learning_rate, sample_minibatch

#: The textbook functions whose numbers this module gives (lesson -> names): the towers and
#: prediction it differentiates, and every function lesson 6's ``train`` calls.
STANDS_FOR = {5: ("user_tower", "item_tower", "predict"),
              6: ("learning_rate", "sample_minibatch", "batch_loss", "sgd_step", "evaluate", "train")}


class LayerGradient(NamedTuple):
    """The gradient of one ``tanh(inputs @ W + b)`` layer: ``W``'s is ``inputs.T @ deltas``
    and ``b``'s is ``deltas.sum(0)``, kept as the two factors (the update multiplies them in
    place)."""
    inputs: torch.Tensor
    deltas: torch.Tensor


class MinibatchGradients(NamedTuple):
    """Everything one step needs, from one forward and one backward pass."""
    errors: torch.Tensor            # prediction minus target of each example of the minibatch
    user: LayerGradient             # user_W, user_b
    item_feature: LayerGradient     # item_feature_W, item_feature_b
    item_id: LayerGradient          # item_id_W, item_id_b
    table_rows: torch.Tensor        # the id embedding table rows the minibatch touched ...
    table_deltas: torch.Tensor      # ... and each one's gradient (repeated rows add up)

    @property
    def mse(self) -> torch.Tensor:
        """The minibatch's mean squared error (0-dim): ``batch_loss`` without weight decay."""
        return (self.errors * self.errors).mean()

    def dense(self, params: Params, weight_decay: float = 0.0) -> list[torch.Tensor]:
        """The seven gradients of ``mse + weight_decay * sum(p ** 2)``, in ``Params`` order,
        as autograd would leave them in ``p.grad`` (for the tests)."""
        table = torch.zeros_like(params.item_embedding_table).index_add_(0, self.table_rows, self.table_deltas)
        grads = [self.item_feature.inputs.T @ self.item_feature.deltas, self.item_feature.deltas.sum(dim=0), table,
                 self.item_id.inputs.T @ self.item_id.deltas, self.item_id.deltas.sum(dim=0),
                 self.user.inputs.T @ self.user.deltas, self.user.deltas.sum(dim=0)]
        return [g + 2.0 * weight_decay * p.detach() for g, p in zip(grads, params.as_list())]


def minibatch_gradients(params: Params, data: PreparedData, rows: torch.Tensor) -> MinibatchGradients:
    """Lesson 6's ``batch_loss(params, data, data.train, rows)`` without weight decay, and
    its gradients by the chain rule (lesson 5's towers written out)."""
    with torch.no_grad():
        return _gradients(params, data, rows)


def _gradients(params: Params, data: PreparedData, rows: torch.Tensor) -> MinibatchGradients:
    examples, p = data.train, params
    users = examples.user_row.index_select(0, rows)
    movies = examples.movie_row.index_select(0, rows)
    # Forward, keeping what the backward pass needs.
    context = data.user_context.index_select(0, users)
    genres = data.movie_genres.index_select(0, movies)
    id_rows = p.item_embedding_table.index_select(0, movies)
    user = torch.tanh(torch.addmm(p.user_b, context, p.user_W))
    feature = torch.tanh(torch.addmm(p.item_feature_b, genres, p.item_feature_W))
    identity = torch.tanh(torch.addmm(p.item_id_b, id_rows, p.item_id_W))
    item = torch.cat([feature, identity], dim=1)
    error = (user * item).sum(dim=1) - examples.target.index_select(0, rows)
    # Backward. loss = mean(error^2), so d loss / d prediction = 2 * error / B; a prediction
    # is user . item, so each side's gradient is d_prediction times the other side;
    # tanh'(x) = 1 - tanh(x)^2, from the outputs already computed.
    d_prediction = (error * (2.0 / len(rows))).unsqueeze(1)
    d_user = d_prediction * item * (1 - user * user)
    d_item = d_prediction * user * (1 - item * item)
    d_feature, d_identity = d_item[:, :feature.shape[1]], d_item[:, feature.shape[1]:]
    return MinibatchGradients(
        errors=error, user=LayerGradient(context, d_user),
        item_feature=LayerGradient(genres, d_feature), item_id=LayerGradient(id_rows, d_identity),
        table_rows=movies, table_deltas=d_identity @ p.item_id_W.T)


def apply_sgd(params: Params, grads: MinibatchGradients, lr: float, weight_decay: float = 0.0) -> None:
    """Lesson 6's ``sgd_step``: every parameter moves by ``-lr`` times its gradient, in place.

    The penalty ``weight_decay * p^2`` has gradient ``2 * weight_decay * p``: every entry of
    every tensor (the whole embedding table too) shrinks a little first."""
    with torch.no_grad():
        _apply_sgd(params, grads, lr, weight_decay)


def _apply_sgd(params: Params, grads: MinibatchGradients, lr: float, weight_decay: float) -> None:
    p = params
    if weight_decay:
        torch._foreach_mul_(p.as_list(), 1.0 - 2.0 * lr * weight_decay)
    for weight, bias, layer in ((p.user_W, p.user_b, grads.user),
                                (p.item_feature_W, p.item_feature_b, grads.item_feature),
                                (p.item_id_W, p.item_id_b, grads.item_id)):
        weight.addmm_(layer.inputs.T, layer.deltas, alpha=-lr)
        bias.add_(layer.deltas.sum(dim=0), alpha=-lr)
    p.item_embedding_table.index_add_(0, grads.table_rows, grads.table_deltas, alpha=-lr)


def minibatch_step(params: Params, data: PreparedData, rows: torch.Tensor, lr: float,
                   weight_decay: float = 0.0) -> None:
    """``sgd_step(params, batch_loss(params, data, data.train, rows, weight_decay), lr)``,
    with the gradients by hand (one ``no_grad`` block for both halves: at these sizes even
    that costs)."""
    with torch.no_grad():
        _apply_sgd(params, _gradients(params, data, rows), lr, weight_decay)


def train(params: Params, data: PreparedData, cfg: TrainConfig, generator: torch.Generator,
          progress: bool = False) -> TrainHistory:
    """Lesson 6's ``train``: the same minibatches (lesson 6's ``sample_minibatch`` and
    ``learning_rate``, the same generator), the same evaluations, the same early stopping,
    with :func:`minibatch_step` and :func:`fast.mse_evaluation.evaluate_sets`. ``progress``
    shows a progress bar."""
    steps, train_loss, val_loss = [], [], []
    best_loss, best_step, best_params = float("inf"), 0, params.clone()
    evaluations_since_best = 0
    plan = mse_evaluation.plan_evaluation(data, [data.train, data.val])
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=cfg.steps, desc="training (fast path)", unit="step", leave=False)

    def record(step: int) -> bool:
        nonlocal best_loss, best_step, best_params, evaluations_since_best
        steps.append(step)
        train_value, val_value = mse_evaluation.evaluate_sets(params, data, plan)
        train_loss.append(train_value)
        val_loss.append(val_value)
        if bar is not None:
            bar.set_postfix(train=f"{train_value:.3f}", val=f"{val_value:.3f}")
        if val_value < best_loss:
            best_loss, best_step, best_params = val_value, step, params.clone()
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
