"""The five example users of the seed post: liked and disliked genres, favourite titles.

Titles are spelt as in MovieLens' movies.csv.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Persona:
    name: str
    liked_genres: tuple[str, ...]
    disliked_genres: tuple[str, ...]
    favourite_titles: tuple[str, ...]


PERSONAS: tuple[Persona, ...] = (
    Persona("Horror Lover", ("Horror",), ("Children",),
            ("Blair Witch Project, The (1999)", "Silence of the Lambs, The (1991)", "Sixth Sense, The (1999)")),
    Persona("Children's Movie Lover", ("Children",), ("Horror", "Romance", "Drama"),
            ("Toy Story 2 (1999)", "Finding Nemo (2003)", "Monsters, Inc. (2001)")),
    Persona("Sci-Fi Lover", ("Sci-Fi",), ("Romance", "Children"),
            ("Star Wars: Episode V - The Empire Strikes Back (1980)", "Matrix, The (1999)", "Terminator, The (1984)")),
    Persona("Comedy Lover", ("Comedy",), ("Children",),
            ("American Pie (1999)", "Dumb & Dumber (Dumb and Dumber) (1994)",
             "Austin Powers: The Spy Who Shagged Me (1999)", "Big Lebowski, The (1998)")),
    Persona("Fantasy Lover", ("Fantasy",), ("Horror", "Children"),
            ("Lord of the Rings: The Fellowship of the Ring, The (2001)", "Gladiator (2000)", "300 (2007)")),
)

#: The seed post's query movies for "most similar".
SIMILAR_QUERIES: tuple[str, ...] = (
    "Lord of the Rings: The Return of the King, The (2003)",
    "Star Wars: Episode IV - A New Hope (1977)",
    "Toy Story (1995)",
    "Saving Private Ryan (1998)",
    "Kill Bill: Vol. 1 (2003)",
    "American Pie (1999)",
    "Princess Mononoke (Mononoke-hime) (1997)",
)
