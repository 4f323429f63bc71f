"""Checks for lesson 2: the movie, genre and user-context vocabularies."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from checks.framework import CheckFailed, check, expect, expect_type
from checks.properties import PROPERTY


@check("2.1", points=2, title="movie id -> embedding row, in top_movies order")
def movie_index(learner, ref, fx):
    out = learner.build_movie_index(list(fx.s.top_movies))
    expect_type(out, dict, "build_movie_index's result")
    expect(len(out) == len(fx.s.top_movies), f"your index has {len(out)} movies; there are {len(fx.s.top_movies)} top movies.")
    rows = sorted(out.values())
    expect(rows == list(range(len(out))), "the rows should be exactly 0..n-1 (the most-rated movie at row 0), each used once.")
    first = fx.s.top_movies[0]
    expect(out.get(first) == 0, f"the most-rated movie ({first}) should get row 0, not {out.get(first)}.")
    wrong = [m for m, row in fx.s.movie_index.items() if out.get(m) != row]
    expect(not wrong, f"{len(wrong)} movies are not at their position in top_movies (e.g. movie {wrong[:1]}).")
    return "exact"


@check("2.2", points=2, title="genres numbered in sorted order")
def genre_index_sorted(learner, ref, fx):
    out = learner.build_genre_index(dict(fx.s.maps.genres_by_id))
    expect_type(out, dict, "build_genre_index's result")
    expected = fx.s.genre_index
    expect(set(out) == set(expected), f"your index has {len(out)} genres; the top movies have {len(expected)} distinct genres.")
    expect(sorted(out.values()) == list(range(len(out))), "genre columns should be exactly 0..G-1, each used once.")
    in_order = sorted(out, key=out.get)
    expect(in_order == sorted(out), f"genres are not numbered in sorted order: column 0 is {in_order[0]!r} and "
                                    f"column 1 is {in_order[1]!r}. A set's order of strings changes between runs.")
    return "exact"


@check("2.2", points=1, title="the same genre index in a fresh Python process")
def genre_index_stable_across_processes(learner, ref, fx):
    # String hashing is salted per process: an index built from a set's order differs
    # between processes. Build the index in two child processes with different salts.
    genres = "{1: ('Drama', 'Action'), 2: ('Comedy', 'Horror', 'Sci-Fi'), 3: ('Western', 'Fantasy', 'War')}"
    outputs = set()
    for returncode, stdout, last in learner.procedure("in_fresh_interpreters", "build_genre_index", genres, [1, 2]):
        if returncode != 0:
            if last.startswith("NotImplementedError"):
                raise NotImplementedError(last.split(":", 1)[-1].strip())
            raise CheckFailed(f"build_genre_index failed in a fresh process: {last}")
        outputs.add(stdout)
    expect(len(outputs) == 1, "build_genre_index numbers the genres differently in different Python processes "
                              "(the order of a set of strings changes): sort the genres before numbering them.")


@check("2.3", points=2, title="context movies first, then genres at an offset")
def context_layout(learner, ref, fx):
    k = fx.cfg.data.num_context_movies
    out = learner.build_user_context_index(list(fx.s.top_movies), dict(fx.s.genre_index), k)
    expected = fx.s.context_index
    expect(hasattr(out, "movie_slot") and hasattr(out, "genre_slot") and hasattr(out, "size"),
           "build_user_context_index should return a ContextIndex(movie_slot, genre_slot, size).")
    expect(len(out.movie_slot) == len(expected.movie_slot),
           f"movie_slot has {len(out.movie_slot)} movies; it should hold the first {k} top movies.")
    expect(out.movie_slot == expected.movie_slot, f"movie_slot should give the i-th most-rated movie slot i (i < {k}).")
    expect(out.genre_slot == expected.genre_slot,
           f"genre_slot should place genre column j at slot {len(expected.movie_slot)} + j, right after the movie slots.")
    expect(out.size == expected.size, f"size is {out.size}; {len(expected.movie_slot)} movie slots + "
                                      f"{len(expected.genre_slot)} genre slots make {expected.size}.")
    return "exact"


@check("2.3", points=1, title="slots never collide (random sizes)")
def context_slots_distinct(learner, ref, fx):
    @PROPERTY
    @given(st.integers(0, 12), st.integers(0, 15), st.integers(1, 6))
    def prop(num_movies, num_context, num_genres):
        top = [100 + 7 * i for i in range(num_movies)]
        genres = {f"G{j}": j for j in range(num_genres)}
        out = learner.build_user_context_index(top, genres, num_context)
        slots = list(out.movie_slot.values()) + list(out.genre_slot.values())
        expected_movies = min(num_movies, num_context)
        if len(out.movie_slot) != expected_movies:
            raise CheckFailed(f"with {num_movies} top movies and num_context_movies={num_context}, movie_slot "
                              f"should hold {expected_movies} movies, not {len(out.movie_slot)}.")
        if sorted(slots) != list(range(len(slots))) or out.size != len(slots):
            raise CheckFailed(f"with {num_movies} top movies, num_context_movies={num_context} and {num_genres} genres "
                              f"the slots should be exactly 0..{len(slots) - 1} with size {len(slots)}; yours have "
                              f"collisions or gaps (size {out.size}).")
    prop()
