"""Lesson 9: recommendations for a brand-new user.

This is the payoff of a user tower that reads features instead of an id: a person who
tells us three favourite movies and a few genres they like or dislike gets a context
vector like any training user, and so an embedding, and so a score for every movie,
without any retraining.
"""
# This file is generated from solutions/lesson09_personas.py by `make stubs`: fill in the
# functions marked TODO. `make check LESSON=9` grades your work and
# `make reset LESSON=9` brings back this version (your file is backed up first).
from __future__ import annotations

import difflib

import torch

from course.containers import ContextIndex, Params


class UnknownTitleError(KeyError):
    """A title that is not in the catalogue; the message suggests the closest ones."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def resolve_title(title: str, id_by_title: dict[str, int]) -> int:
    """The movie id of ``title``, spelt exactly as in movies.csv.

    An unknown or misspelt title raises :class:`UnknownTitleError` whose message names the
    title and suggests up to three of the closest titles (difflib), so a typo is easy to fix.
    """
    # TODO Task 9.1: find a title, or suggest the closest ones.
    # Read lessons/lesson09_personas.md, task 9.1; `make hint LESSON=9 TASK=9.1` if you are stuck.
    raise NotImplementedError("Lesson 9.1: find a title, or suggest the closest ones")


def persona_context(liked_genres: list[str], disliked_genres: list[str], favourite_ids: list[int],
                    context_index: ContextIndex, strength: float = 2.0) -> torch.Tensor:
    """A new user's context vector (float32 ``[context_index.size]``).

    ``+strength`` in the slot of each liked genre and of each favourite movie that has a
    context slot, ``-strength`` in the slot of each disliked genre, 0.0 elsewhere. An
    unknown genre raises ``ValueError`` naming the valid genres. Favourite movies without
    a context slot are skipped (the user tower has no input for them).
    """
    # TODO Task 9.2: a new user's context vector.
    # Read lessons/lesson09_personas.md, task 9.2; `make hint LESSON=9 TASK=9.2` if you are stuck.
    raise NotImplementedError("Lesson 9.2: a new user's context vector")


@torch.no_grad()
def score_catalogue(params: Params, user_context: torch.Tensor, combined_embeddings: torch.Tensor) -> torch.Tensor:
    """Predicted (debiased) rating of every movie for one user: the user embedding of
    ``user_context`` ``[C]`` dotted with each row of ``combined_embeddings`` ``[M, F+E]``.
    Returns ``[M]``, in one matrix product."""
    # TODO Task 9.3: score the whole catalogue in one product.
    # Read lessons/lesson09_personas.md, task 9.3; `make hint LESSON=9 TASK=9.3` if you are stuck.
    raise NotImplementedError("Lesson 9.3: score the whole catalogue in one product")


def recommend(scores: torch.Tensor, exclude_rows: list[int], n: int = 10) -> list[int]:
    """Rows of the ``n`` best-scored movies, best first, leaving out ``exclude_rows``
    (the movies the user already told us they like). Equal scores go to the lower row."""
    # TODO Task 9.4: the top n, without the movies the user already likes.
    # Read lessons/lesson09_personas.md, task 9.4; `make hint LESSON=9 TASK=9.4` if you are stuck.
    raise NotImplementedError("Lesson 9.4: the top n, without the movies the user already likes")


def format_recommendations(name: str, liked_genres: list[str], disliked_genres: list[str],
                           favourite_titles: list[str], recommended_titles: list[str]) -> str:
    """The greeting the course prints for a persona, for example::

        Hello, Horror Lover
        Because you like: [Horror]
        And hate: [Children]

        And enjoyed these movies:
        Blair Witch Project, The (1999)

        You should watch:
        1. Alien (1979)
    """
    # TODO Task 9.5: the 'Hello, ...' greeting.
    # Read lessons/lesson09_personas.md, task 9.5; `make hint LESSON=9 TASK=9.5` if you are stuck.
    raise NotImplementedError("Lesson 9.5: the 'Hello, ...' greeting")
