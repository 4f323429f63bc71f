"""Lesson 9: recommendations for a brand-new user.

This is the payoff of a user tower that reads features instead of an id: a person who
tells us three favourite movies and a few genres they like or dislike gets a context
vector like any training user, and so an embedding, and so a score for every movie,
without any retraining.
"""
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
    # BEGIN SOLUTION 9.1
    if title in id_by_title:
        return id_by_title[title]
    close = difflib.get_close_matches(title, list(id_by_title), n=3, cutoff=0.5)
    suggestion = "; did you mean " + " or ".join(repr(t) for t in close) + "?" if close else "."
    raise UnknownTitleError(f"no movie is titled {title!r} in the catalogue{suggestion}")
    # END SOLUTION


def persona_context(liked_genres: list[str], disliked_genres: list[str], favourite_ids: list[int],
                    context_index: ContextIndex, strength: float = 2.0) -> torch.Tensor:
    """A new user's context vector (float32 ``[context_index.size]``).

    ``+strength`` in the slot of each liked genre and of each favourite movie that has a
    context slot, ``-strength`` in the slot of each disliked genre, 0.0 elsewhere. An
    unknown genre raises ``ValueError`` naming the valid genres. Favourite movies without
    a context slot are skipped (the user tower has no input for them).
    """
    # BEGIN SOLUTION 9.2
    unknown = [g for g in [*liked_genres, *disliked_genres] if g not in context_index.genre_slot]
    if unknown:
        valid = ", ".join(sorted(context_index.genre_slot))
        raise ValueError(f"unknown genre(s) {unknown}; the genres are: {valid}")
    context = torch.zeros(context_index.size, dtype=torch.float32)
    for genre in liked_genres:
        context[context_index.genre_slot[genre]] = strength
    for genre in disliked_genres:
        context[context_index.genre_slot[genre]] = -strength
    for movie_id in favourite_ids:
        if movie_id in context_index.movie_slot:
            context[context_index.movie_slot[movie_id]] = strength
    return context
    # END SOLUTION


@torch.no_grad()
def score_catalogue(params: Params, user_context: torch.Tensor, combined_embeddings: torch.Tensor) -> torch.Tensor:
    """Predicted (debiased) rating of every movie for one user: the user embedding of
    ``user_context`` ``[C]`` dotted with each row of ``combined_embeddings`` ``[M, F+E]``.
    Returns ``[M]``, in one matrix product."""
    # BEGIN SOLUTION 9.3
    user = torch.tanh(user_context @ params.user_W + params.user_b)
    return combined_embeddings @ user
    # END SOLUTION


def recommend(scores: torch.Tensor, exclude_rows: list[int], n: int = 10) -> list[int]:
    """Rows of the ``n`` best-scored movies, best first, leaving out ``exclude_rows``
    (the movies the user already told us they like). Equal scores go to the lower row."""
    # BEGIN SOLUTION 9.4
    masked = scores.clone().to(torch.float64)
    if exclude_rows:
        masked[torch.tensor(exclude_rows, dtype=torch.int64)] = float("-inf")
    order = torch.sort(-masked, stable=True).indices
    kept = order[torch.isfinite(masked[order])]
    return [int(i) for i in kept[:n]]
    # END SOLUTION


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
    # BEGIN SOLUTION 9.5
    lines = [f"Hello, {name}",
             f"Because you like: [{', '.join(liked_genres)}]",
             f"And hate: [{', '.join(disliked_genres)}]",
             "",
             "And enjoyed these movies:",
             *favourite_titles,
             "",
             "You should watch:",
             *(f"{i}. {title}" for i, title in enumerate(recommended_titles, 1))]
    return "\n".join(lines)
    # END SOLUTION
