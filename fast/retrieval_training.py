"""Lesson 12's training loop, fast: the same steps, each made of fewer and cheaper passes.

Measured at ML-32M size (42,838 movies, minibatches of 512 users whose contexts hold about
160,000 nonzero slots, 1,024 negatives, one thread), a step of lesson 12's loop fed sparse
contexts (fast/retrieval_contexts.py) took about 33 ms. This module takes about 26 ms for the
same step (3,000 steps: 79 s instead of 92 to 96 s), from three changes:

- **the user tower's backward.** Lesson 5's ``user_tower`` multiplies the sparse minibatch
  contexts by ``user_W`` (``torch.addmm`` of a CSR matrix); autograd's gradient of ``user_W``
  transposes that matrix every step. Here :class:`SparseProduct` makes the same product and,
  backward, adds each stored value's share of the gradient into the ``user_W`` row it read
  (``index_add_``, a few thousand values at a time), with no transpose.
- **the loss.** Lesson 12's ``catalogue_logits`` divides the product by the temperature, and
  its losses then add the logit adjustment and the logQ correction: four passes over the
  ``[512, 1536]`` logits forward, as many backward. :func:`adjusted_softmax_loss` makes them one
  vector over the candidates that ``torch.addmm`` adds while it multiplies.
- **Adam.** Lesson 12's ``adam_step`` writes Adam one formula a line, so each step reads and
  writes the 3.2 million numbers of the user tower and the id table nine times (7.5 ms).
  PyTorch's fused Adam (``torch.optim.Adam(fused=True)``) makes one pass (1.6 ms). It computes
  the same update in another order of operations (``lr / (1 - b1^t)`` times
  ``m / (sqrt(v) / sqrt(1 - b2^t) + eps)``).

So the parameters agree with the textbook's to rounding, not bit for bit. Everything else is
the lessons' own code (lesson 6's ``sample_minibatch`` and ``learning_rate`` as lesson 12
imports them, lesson 5's ``item_tower``, the weight decay by autograd), called in the
textbook loop's order, so the same draws give the same minibatches and negatives. Proven
equal to lesson 12's ``train_retrieval`` (losses and parameters after 300 steps, in float64)
and to lesson 5's ``user_tower`` and its gradients in tests/test_fast_paths.py.
"""
from __future__ import annotations

import torch

from course.config import RetrievalConfig
from course.containers import Examples, Params
from fast.retrieval_contexts import SparseContexts
from solutions import lesson05_weights as l5
from solutions import lesson12_retrieval as l12

#: The textbook functions whose numbers this module gives (lesson -> names): the loop, the
#: optimiser's step, and the tower, logits and losses it computes its own way.
STANDS_FOR = {5: ("user_tower",), 12: ("train_retrieval", "adam_step", "catalogue_logits", "softmax_loss",
                                       "sampled_softmax_loss")}


class SparseProduct(torch.autograd.Function):
    """``contexts @ user_W`` for a minibatch of sparse contexts (a CSR matrix), whose backward
    adds each stored value's share of the gradient into the ``user_W`` row that value read:
    the sum autograd's transpose of the CSR matrix gives, without the transpose."""

    CHUNK = 8192   # stored values a scatter takes at a time: its [CHUNK, D] stays in the cache

    @staticmethod
    def forward(ctx, user_W: torch.Tensor, contexts: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(contexts.crow_indices(), contexts.col_indices(), contexts.values())
        ctx.rows_of_W = user_W.shape[0]
        return torch.mm(contexts, user_W)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        starts, columns, values = ctx.saved_tensors
        row = torch.repeat_interleave(torch.arange(len(starts) - 1, device=grad.device), starts.diff())
        grad_W = grad.new_zeros((ctx.rows_of_W, grad.shape[1]))
        for first in range(0, len(columns), SparseProduct.CHUNK):
            part = slice(first, first + SparseProduct.CHUNK)
            grad_W.index_add_(0, columns[part], grad.index_select(0, row[part]).mul_(values[part, None]))
        return grad_W, None


def user_tower(params: Params, contexts: SparseContexts, rows: torch.Tensor) -> torch.Tensor:
    """Lesson 5's ``user_tower(params, contexts[rows])``: ``tanh(context @ user_W + user_b)``,
    the product by :class:`SparseProduct`."""
    batch = contexts[rows]
    return torch.tanh(SparseProduct.apply(params.user_W, batch.to(params.user_W.dtype)) + params.user_b)


def adjusted_softmax_loss(users: torch.Tensor, items: torch.Tensor, targets: torch.Tensor, candidates: torch.Tensor,
                          log_popularity: torch.Tensor, cfg: RetrievalConfig) -> torch.Tensor:
    """Lesson 12's ``catalogue_logits`` of the user embeddings ``users`` against the candidates'
    item embeddings ``items``, then its ``softmax_loss`` (every movie a candidate) or
    ``sampled_softmax_loss`` (the batch's own movies, then ``cfg.num_negatives`` drawn), in
    fewer passes over the ``[B, candidates]`` logits: the terms each candidate gets (the logit
    adjustment, and the sampled softmax's logQ correction) are one vector that the product
    itself adds (``torch.addmm``), and the accidental hits are masked in place."""
    bias = cfg.logit_adjustment * log_popularity[candidates]
    if cfg.num_negatives is not None:
        bias = bias - (torch.log(torch.tensor(float(cfg.num_negatives))) + log_popularity[candidates])
    adjusted = torch.addmm(bias, users, items.T, alpha=1.0 / cfg.temperature)
    if cfg.num_negatives is None:
        target = adjusted.gather(1, targets[:, None]).squeeze(1)
    else:
        batch = torch.arange(len(targets), device=targets.device)
        hit = candidates[None, :] == targets[:, None]   # a column holding row b's own movie, but column b
        hit[batch, batch] = False
        adjusted = adjusted.masked_fill_(hit, float("-inf"))
        target = adjusted[batch, batch]
    return (torch.logsumexp(adjusted, dim=1) - target).mean()


def train_retrieval(params: Params, contexts, examples: Examples, movie_genres: torch.Tensor,
                    log_popularity: torch.Tensor, cfg: RetrievalConfig, generator: torch.Generator) -> list[float]:
    """Lesson 12's ``train_retrieval`` (same arguments, same result), for contexts given as
    :class:`SparseContexts` (the fast path's); any other contexts go to lesson 12's own loop."""
    if not isinstance(contexts, SparseContexts):
        return l12.train_retrieval(params, contexts, examples, movie_genres, log_popularity, cfg, generator)
    adam = torch.optim.Adam(params.as_list(), lr=0.0, betas=cfg.betas, eps=cfg.eps, fused=True)
    losses = []
    device = params.user_W.device
    schedule = cfg.train
    sampling = log_popularity.exp()
    for step in range(schedule.steps):
        rows = l12.sample_minibatch(len(examples), schedule.batch_size, generator).to(device)
        users = user_tower(params, contexts, examples.user_row[rows])
        targets = examples.movie_row[rows]
        if cfg.num_negatives is None:
            candidates = torch.arange(movie_genres.shape[0], device=device)
        else:
            negatives = torch.multinomial(sampling, cfg.num_negatives, replacement=True, generator=generator)
            candidates = torch.cat([targets, negatives.to(device)])
        items = l5.item_tower(params, movie_genres[candidates], candidates)
        loss = adjusted_softmax_loss(users, items, targets, candidates, log_popularity, cfg)
        if schedule.weight_decay:
            loss = loss + schedule.weight_decay * sum((p ** 2).sum() for p in params.as_list())
        adam.zero_grad(set_to_none=True)
        loss.backward()
        adam.param_groups[0]["lr"] = l12.learning_rate(step, schedule.lr_schedule)
        adam.step()
        losses.append(float(loss.detach()))
    return losses
