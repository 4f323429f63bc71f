"""Lesson 12's training loop, fast: the same steps, with Adam's arithmetic in kept memory.

Lesson 12's ``adam_step`` writes Adam as the paper does, one formula a line: ``m̂ = m / (1 -
b1^t)``, ``v̂ = v / (1 - b2^t)``, ``p -= lr · m̂ / (sqrt(v̂) + eps)``. Each of those makes a new
tensor the size of the parameter. At ML-32M size the user tower's weights and the movie id
table are each tens of megabytes, so every step asks the system for five fresh tables and
writes each once: Adam took two thirds of a step's time. Here each parameter keeps two
buffers of its size for the whole run, and the same operations, in the same order and on the
same values, write into them (``torch.div(..., out=)``, ``sqrt_``, ``mul_``, ``div_``): the
results are the textbook's bit for bit.

Everything else is the lessons' own code (lesson 6's ``sample_minibatch`` and
``learning_rate`` as lesson 12 imports them, ``catalogue_logits``, the
losses, the weight decay by autograd), called in the textbook loop's order, so the same
draws give the same minibatches and negatives. Proven equal, parameters and losses after
300 steps, in tests/test_fast_paths.py.
"""
from __future__ import annotations

import torch

from course.config import RetrievalConfig
from course.containers import Examples, Params
from solutions import lesson12_retrieval as l12

#: The textbook functions whose numbers this module gives (lesson -> names): the loop and
#: the optimiser's step it writes into kept memory.
STANDS_FOR = {12: ("train_retrieval", "adam_step")}


class KeptAdam:
    """Lesson 12's ``AdamState`` with two scratch buffers per parameter."""

    def __init__(self, params: Params) -> None:
        self.state = l12.new_adam_state(params)
        self.scratch = [(torch.empty_like(p), torch.empty_like(p)) for p in params.as_list()]

    def step(self, params: Params, loss: torch.Tensor, lr: float, betas: tuple[float, float], eps: float) -> None:
        """Lesson 12's ``adam_step(params, loss, state, lr, betas, eps)``."""
        beta1, beta2 = betas
        state = self.state
        for p in params.as_list():
            p.grad = None
        loss.backward()
        state.step += 1
        with torch.no_grad():
            for p, m, v, (update, denominator) in zip(params.as_list(), state.first, state.second, self.scratch):
                m.mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
                torch.div(m, 1.0 - beta1 ** state.step, out=update)            # m̂
                torch.div(v, 1.0 - beta2 ** state.step, out=denominator)       # v̂
                denominator.sqrt_().add_(eps)
                p.sub_(update.mul_(lr).div_(denominator))


def train_retrieval(params: Params, contexts, examples: Examples, movie_genres: torch.Tensor,
                    log_popularity: torch.Tensor, cfg: RetrievalConfig, generator: torch.Generator) -> list[float]:
    """Lesson 12's ``train_retrieval`` (same arguments, same result)."""
    adam = KeptAdam(params)
    losses = []
    device = params.user_W.device
    schedule = cfg.train
    sampling = log_popularity.exp()
    for step in range(schedule.steps):
        rows = l12.sample_minibatch(len(examples), schedule.batch_size, generator).to(device)
        context, targets = contexts[examples.user_row[rows]], examples.movie_row[rows]
        if cfg.num_negatives is None:
            logits = l12.catalogue_logits(params, context, movie_genres, cfg.temperature)
            loss = l12.softmax_loss(logits, targets, log_popularity, cfg.logit_adjustment)
        else:
            negatives = torch.multinomial(sampling, cfg.num_negatives, replacement=True, generator=generator)
            candidates = torch.cat([targets, negatives.to(device)])
            logits = l12.catalogue_logits(params, context, movie_genres, cfg.temperature, candidates)
            loss = l12.sampled_softmax_loss(logits, targets, candidates, log_popularity, cfg.num_negatives,
                                            cfg.logit_adjustment)
        if schedule.weight_decay:
            loss = loss + schedule.weight_decay * sum((p ** 2).sum() for p in params.as_list())
        adam.step(params, loss, l12.learning_rate(step, schedule.lr_schedule), cfg.betas, cfg.eps)
        losses.append(float(loss.detach()))
    return losses
