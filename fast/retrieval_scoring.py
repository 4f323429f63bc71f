"""Lesson 12's ``catalogue_logits`` for the ranking, fast: the item tower once, one block's memory.

The ranking scores each block of held-out users against the whole catalogue with lesson 12's
``catalogue_logits``, which runs lesson 5's item tower over every movie again for each block
and makes a fresh ``[block, movies]`` matrix for the product and another for the division
by the temperature. At ML-32M size such a matrix is 350 MB, and the system zeroes a fresh
one page by page: that costs more than the arithmetic. Here the item tower runs once, the
product goes into one matrix kept from block to block and is divided there, in place: the
same operations on the same numbers (tests/test_fast_paths.py).
"""
from __future__ import annotations

import torch

from course.containers import Params
from solutions import lesson05_weights as l5

#: The textbook functions whose numbers this module gives (lesson -> names).
STANDS_FOR = {5: ("user_tower", "item_tower"), 12: ("catalogue_logits",)}


class CatalogueLogits:
    """``catalogue_logits(params, contexts, movie_genres, temperature)`` for one model, called
    with a block's ``contexts`` only. The logits it gives are overwritten by the next call."""

    @torch.no_grad()
    def __init__(self, params: Params, movie_genres: torch.Tensor, temperature: float) -> None:
        rows = torch.arange(movie_genres.shape[0], device=movie_genres.device)
        self.params, self.temperature = params, temperature
        self.items = l5.item_tower(params, movie_genres[rows], rows)
        self.memory: torch.Tensor | None = None

    @torch.no_grad()
    def __call__(self, user_context: torch.Tensor) -> torch.Tensor:
        users = l5.user_tower(self.params, user_context)
        shape = (users.shape[0], self.items.shape[0])
        if self.memory is None or self.memory.numel() < shape[0] * shape[1] or self.memory.dtype != users.dtype:
            self.memory = torch.empty(shape[0] * shape[1], dtype=users.dtype, device=users.device)
        logits = self.memory[:shape[0] * shape[1]].view(shape)
        torch.mm(users, self.items.T, out=logits)
        return logits.div_(self.temperature)
