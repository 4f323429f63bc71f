"""Checks for lesson 1: cleaning the ratings and the movie lookups."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from checks.framework import CheckFailed, check, expect, expect_type
from checks.properties import PROPERTY


def _clean(learner, fx):
    return learner.clean_ratings(fx.raw.ratings.copy())


@check("1.1", points=2, title="rows with a missing value are dropped")
def no_missing_values(learner, ref, fx):
    out = _clean(learner, fx)
    expect_type(out, pd.DataFrame, "clean_ratings' result")
    nan_rows = int(out.isna().any(axis=1).sum())
    expect(nan_rows == 0, f"{nan_rows} row(s) of your cleaned ratings still have a missing value (NaN); "
                          f"a NaN rating turns every later loss into NaN.")
    expected = len(ref.clean_ratings(fx.raw.ratings.copy()))
    expect(len(out) == expected, f"your cleaned table has {len(out)} rows; the raw table has "
                                 f"{len(fx.raw.ratings)} rows of which {len(fx.raw.ratings) - expected} "
                                 f"have a missing value, so {expected} rows should remain.")
    return "exact"


@check("1.1", points=1, title="exactly the complete rows are kept (random tables)")
def keeps_exactly_complete_rows(learner, ref, fx):
    values = st.one_of(st.just(np.nan), st.integers(1, 50).map(float))

    @PROPERTY
    @given(st.lists(st.tuples(st.integers(1, 9), values, st.sampled_from([0.5, 3.0, 5.0, np.nan])),
                    min_size=1, max_size=12))
    def prop(rows):
        frame = pd.DataFrame(rows, columns=["userId", "movieId", "rating"])
        frame["timestamp"] = np.arange(len(frame), dtype="int64")
        out = learner.clean_ratings(frame.copy())
        expect_type(out, pd.DataFrame, "clean_ratings' result")
        complete = frame.dropna()
        if len(out) != len(complete) or out.isna().any(axis=None):
            raise CheckFailed(
                f"on a table of {len(frame)} rows where {len(frame) - len(complete)} have a missing value "
                f"(in movieId or rating), your result has {len(out)} rows"
                + (" and still holds a missing value" if out.isna().any(axis=None) else "")
                + f"; it should have {len(complete)}. A NaN in any column makes the row unusable.")
    prop()


@check("1.1", points=1, title="ids are int64 and the index is 0..n-1")
def ids_are_integers(learner, ref, fx):
    out = _clean(learner, fx)
    expect_type(out, pd.DataFrame, "clean_ratings' result")
    for column in ("userId", "movieId"):
        expect(column in out.columns, f"the column {column!r} is missing from your result.")
        expect(str(out[column].dtype) == "int64",
               f"{column} has dtype {out[column].dtype}; it should be int64 (ids are lookup keys and tensor indices).")
    expect(out.index.equals(pd.RangeIndex(len(out))),
           "the index of your result is not 0..n-1: the dropped rows left gaps (reset the index).")


@check("1.1", points=1, title="the input table is left unchanged")
def input_untouched(learner, ref, fx):
    given_frame = fx.raw.ratings.copy()
    learner.clean_ratings(given_frame)
    expect(given_frame.equals(fx.raw.ratings),
           "clean_ratings changed the table it was given (inplace=True, or assigning into it). "
           "Return a new table instead: the caller may still need the raw one.")


def _counts(learner, fx):
    out = learner.count_ratings_per_movie(fx.s.clean.copy())
    expect_type(out, pd.Series, "count_ratings_per_movie's result")
    return out


@check("1.2", points=2, title="every movie's number of ratings")
def counts_are_right(learner, ref, fx):
    out = _counts(learner, fx)
    expected = fx.s.rating_counts
    expect(len(out) == len(expected), f"your result has {len(out)} movies; the ratings cover {len(expected)} movies.")
    expect(set(out.index) == set(expected.index), "the index of your result should be the movieIds of the rated movies.")
    aligned = out.reindex(expected.index)
    wrong = aligned[aligned != expected]
    if len(wrong):
        movie = wrong.index[0]
        raise CheckFailed(f"{len(wrong)} movie(s) have a wrong count; for example movie {movie} has "
                          f"{int(expected[movie])} ratings but your count says {aligned[movie]}.")
    expect(str(out.dtype) == "int64", f"counts have dtype {out.dtype}; they should be int64.")
    expect(out.name == "num_ratings", f"the Series should be named 'num_ratings', not {out.name!r}.")
    return "exact"


@check("1.2", points=2, title="most-rated first, ties broken by ascending movieId")
def counts_order(learner, ref, fx):
    # Shuffle the rows: a correct order must not depend on the input's order.
    shuffled = fx.s.clean.sample(frac=1.0, random_state=7).reset_index(drop=True)
    out = learner.count_ratings_per_movie(shuffled)
    expect_type(out, pd.Series, "count_ratings_per_movie's result")
    ids, counts = list(out.index), list(out.to_numpy())
    for i in range(len(ids) - 1):
        if counts[i] < counts[i + 1]:
            raise CheckFailed(f"movie {ids[i + 1]} ({counts[i + 1]} ratings) comes after movie {ids[i]} "
                              f"({counts[i]} ratings): the most-rated movies must come first.")
        if counts[i] == counts[i + 1] and ids[i] > ids[i + 1]:
            raise CheckFailed(f"movies {ids[i]} and {ids[i + 1]} both have {counts[i]} ratings, but {ids[i]} "
                              f"comes first: ties must be ordered by ascending movieId, or the order "
                              f"(and so the vocabulary) changes with the order of the input rows.")
    return "exact"


@check("1.3", points=2, title="strictly more than min_ratings_per_movie")
def threshold_is_strict(learner, ref, fx):
    threshold = fx.cfg.data.min_ratings_per_movie
    counts = pd.Series([threshold + 3, threshold + 1, threshold, threshold - 1],
                       index=pd.Index([11, 22, 33, 44], name="movieId"), name="num_ratings")
    out = learner.select_top_movies(counts, threshold)
    expect_type(out, list, "select_top_movies' result")
    expect(33 not in out, f"movie 33 has exactly min_ratings_per_movie={threshold} ratings and should be "
                          f"left out: keep movies with *more than* the threshold (> not >=).")
    expect(22 in out and 11 in out, f"movies with more than {threshold} ratings are missing from your result.")
    expect(44 not in out, f"movie 44 has fewer than {threshold} ratings and should be left out.")
    expect(out == [11, 22], "the kept movies should stay in the order of the counts (most-rated first).")


@check("1.3", points=1, title="top movies of the fixture, in order, as ints")
def top_movies_match(learner, ref, fx):
    out = learner.select_top_movies(fx.s.rating_counts.copy(), fx.cfg.data.min_ratings_per_movie)
    expect_type(out, list, "select_top_movies' result")
    expect(all(type(m) is int for m in out), "the movie ids should be plain Python ints (use int(x)).")
    expected = fx.s.top_movies
    expect(len(out) == len(expected), f"you kept {len(out)} movies; {len(expected)} have more than "
                                      f"{fx.cfg.data.min_ratings_per_movie} ratings.")
    expect(out == expected, "you kept the right number of movies, but not the same movies in the same order.")
    return "exact"


@check("1.4", points=1, title="only ratings of top movies, original order, index reset")
def keeps_top_movie_ratings(learner, ref, fx):
    out = learner.keep_top_movie_ratings(fx.s.clean.copy(), list(fx.s.top_movies))
    expect_type(out, pd.DataFrame, "keep_top_movie_ratings' result")
    outside = int((~out["movieId"].isin(fx.s.top_movies)).sum())
    expect(outside == 0, f"{outside} of your rows are ratings of movies that are not top movies.")
    expected = fx.s.top_ratings
    expect(len(out) == len(expected), f"your result has {len(out)} rows; the top movies have {len(expected)} ratings.")
    expect(out.index.equals(pd.RangeIndex(len(out))), "the index of your result is not 0..n-1: reset it.")
    expect(out.reset_index(drop=True).equals(expected), "the rows are right but not in their original order.")
    return "exact"


def _maps(learner, fx, movies=None, ratings=None, top=None):
    movies = fx.raw.movies.copy() if movies is None else movies
    ratings = fx.s.top_ratings.copy() if ratings is None else ratings
    top = list(fx.s.top_movies) if top is None else top
    return learner.build_movie_maps(movies, ratings, top)


@check("1.5", points=1, title="titles, and the smaller id for a shared title")
def titles(learner, ref, fx):
    maps = _maps(learner, fx)
    expected = fx.s.maps
    expect(maps.title_by_id == expected.title_by_id,
           f"title_by_id should map each of the {len(expected.title_by_id)} movies of movies.csv to its title "
           f"(yours has {len(maps.title_by_id)} entries).")
    movies = pd.DataFrame({"movieId": [30, 10, 50, 20], "title": ["Emma (1996)"] * 3 + ["Heat (1995)"],
                           "genres": ["Drama", "Comedy", "Romance", "Action"]})
    ratings = pd.DataFrame({"userId": [1, 2], "movieId": [10, 20], "rating": [4.0, 3.0], "timestamp": [0, 0]})
    small = learner.build_movie_maps(movies, ratings, [10, 20])
    expect(small.id_by_title.get("Emma (1996)") == 10,
           "three movies share the title 'Emma (1996)' (ids 30, 10 and 50, in that order in the file); "
           f"id_by_title should give the smaller id, 10, but gives {small.id_by_title.get('Emma (1996)')}.")


@check("1.5", points=1, title="genres of top movies as sorted tuples")
def genres(learner, ref, fx):
    maps = _maps(learner, fx)
    expected = fx.s.maps.genres_by_id
    extra = sorted(set(maps.genres_by_id) - set(expected))
    if extra:
        raise CheckFailed(f"genres_by_id has {len(extra)} movies that are not top movies (e.g. movie {extra[0]}).")
    expect(set(maps.genres_by_id) == set(expected), "genres_by_id should cover every top movie.")
    movies = pd.DataFrame({"movieId": [5], "title": ["Odd (2000)"], "genres": ["Sci-Fi|Action|Drama"]})
    ratings = pd.DataFrame({"userId": [1], "movieId": [5], "rating": [4.0], "timestamp": [0]})
    small = learner.build_movie_maps(movies, ratings, [5])
    expect(small.genres_by_id.get(5) == ("Action", "Drama", "Sci-Fi"),
           "for genres 'Sci-Fi|Action|Drama' genres_by_id should hold the sorted tuple "
           f"('Action', 'Drama', 'Sci-Fi'), not {small.genres_by_id.get(5)!r}.")
    expect(maps.genres_by_id == expected, "some top movies have the wrong genres.")
    return "exact"


@check("1.5", points=2, title="average rating and number of ratings of top movies")
def averages(learner, ref, fx):
    maps = _maps(learner, fx)
    expected = fx.s.maps
    expect(set(maps.avg_rating_by_id) == set(expected.avg_rating_by_id),
           "avg_rating_by_id should have one entry per top movie.")
    worst = max(abs(maps.avg_rating_by_id[m] - v) for m, v in expected.avg_rating_by_id.items())
    expect(worst < 1e-9, f"some average ratings are off (by up to {worst:.3g} stars).")
    expect(maps.num_ratings_by_id == expected.num_ratings_by_id, "some numbers of ratings are off.")
    return f"max abs diff {worst:.1e}"
