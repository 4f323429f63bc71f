"""Checks for lesson 3: splitting each user's ratings into watch history and labels."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from checks.framework import CheckFailed, check, expect, expect_type
from checks.properties import PROPERTY


@check("3.1", points=1, title="80% rounded down")
def history_size_floor(learner, ref, fx):
    for n, expected in ((7, 5), (10, 8), (6, 4), (1, 0)):
        got = learner.history_size(np.array([n]), 0.8)
        got = int(np.asarray(got).reshape(-1)[0])
        expect(got == expected, f"history_size of {n} ratings at 0.8 should be {expected} "
                                f"(80% of {n} is {0.8 * n:g}, rounded down), not {got}.")


@check("3.1", points=1, title="element-wise on arrays (random sizes and fractions)")
def history_size_property(learner, ref, fx):
    @PROPERTY
    @given(st.lists(st.integers(0, 5000), min_size=1, max_size=20),
           st.sampled_from([0.5, 0.75, 0.8, 0.9]))
    def prop(sizes, fraction):
        got = np.asarray(learner.history_size(np.array(sizes), fraction))
        expected = ref.history_size(np.array(sizes), fraction)
        if got.shape != expected.shape or not np.array_equal(got, expected):
            raise CheckFailed(f"for {len(sizes)} users and history_fraction={fraction}, history_size should "
                              f"return {len(sizes)} whole numbers, floor(n * fraction) each; yours differ "
                              f"(shape {got.shape}).")
        if not np.issubdtype(got.dtype, np.integer):
            raise CheckFailed(f"history_size returns dtype {got.dtype}; counts should be integers (int64).")
    prop()


def _split(learner, fx, ratings=None, seed=None):
    cfg = fx.cfg.data
    ratings = fx.s.top_ratings.copy() if ratings is None else ratings
    out = learner.split_watch_history(ratings, cfg.history_fraction, cfg.min_ratings_per_user,
                                      cfg.split_seed if seed is None else seed)
    expect_type(out, pd.DataFrame, "split_watch_history's result")
    missing = {"userId", "movieId", "rating", "is_history"} - set(out.columns)
    expect(not missing, f"your result lacks the column(s) {sorted(missing)}.")
    expect(out["is_history"].dtype == bool, f"is_history has dtype {out['is_history'].dtype}; it should be bool.")
    return out


def _assignment(split: pd.DataFrame) -> pd.Series:
    """is_history per (userId, movieId), sorted, for comparing two splits."""
    return split.set_index(["userId", "movieId"])["is_history"].sort_index()


@check("3.2", points=2, title="labels never appear in the watch history")
def no_overlap(learner, ref, fx):
    out = _split(learner, fx)
    dup = out[out.duplicated(["userId", "movieId"], keep=False)]
    if len(dup):
        row = dup.iloc[0]
        roles = sorted(set(dup[(dup.userId == row.userId) & (dup.movieId == row.movieId)]["is_history"]))
        if roles == [False, True]:
            raise CheckFailed(f"a movie in a user's labels also appears in their watch history "
                              f"(user {row.userId}, movie {row.movieId}): the model could copy the answer.")
        raise CheckFailed(f"user {row.userId}'s rating of movie {row.movieId} appears more than once.")
    kept = fx.s.top_ratings[fx.s.top_ratings.userId.isin(out.userId.unique())]
    expect(len(out) == len(kept), f"your split has {len(out)} rows, but the kept users have {len(kept)} ratings: "
                                  f"every rating should be either history or label, exactly once.")


@check("3.2", points=2, title="history size per user, and users with too few ratings skipped")
def sizes(learner, ref, fx):
    cfg = fx.cfg.data
    out = _split(learner, fx)
    per_user = fx.s.top_ratings.groupby("userId").size()
    should_keep = set(per_user[per_user > cfg.min_ratings_per_user].index)
    kept = set(out["userId"].unique())
    few = sorted(kept - should_keep)
    expect(not few, f"user {few[0] if few else ''} has {per_user.get(few[0], 0) if few else 0} ratings "
                    f"(min_ratings_per_user={cfg.min_ratings_per_user}) and should be skipped: users with "
                    f"that many or fewer ratings are left out.")
    lost = sorted(should_keep - kept)
    expect(not lost, f"user {lost[0] if lost else ''} has {per_user.get(lost[0], 0) if lost else 0} ratings, more than "
                     f"min_ratings_per_user={cfg.min_ratings_per_user}, but is missing from your split.")
    history = out.groupby("userId")["is_history"].sum()
    for user, count in history.items():
        n = int(per_user[user])
        want = int(np.floor(n * cfg.history_fraction))
        if int(count) != want:
            raise CheckFailed(f"user {user} has {n} ratings, so {want} of them (floor of "
                              f"{cfg.history_fraction} x {n}) should be history; your split has {int(count)}.")


@check("3.2", points=1, title="each row keeps its own rating")
def ratings_preserved(learner, ref, fx):
    out = _split(learner, fx)
    original = fx.s.top_ratings.set_index(["userId", "movieId"])["rating"]
    got = out.set_index(["userId", "movieId"])["rating"]
    aligned = original.reindex(got.index)
    bad = got[(aligned != got).to_numpy()]
    expect(len(bad) == 0, f"{len(bad)} rows have a rating that is not the user's rating of that movie "
                          f"(e.g. user {bad.index[0][0] if len(bad) else ''}): shuffle whole rows, not columns.")


@check("3.2", points=2, title="same seed, same split (whatever the input's row order)")
def deterministic(learner, ref, fx):
    first = _assignment(_split(learner, fx))
    second = _assignment(_split(learner, fx))
    expect(first.equals(second), "two calls with the same seed gave different splits: the shuffle must use a "
                                 "generator seeded with `seed` (np.random.default_rng(seed)), not global randomness.")
    reordered = fx.s.top_ratings.sample(frac=1.0, random_state=3).reset_index(drop=True)
    third = _assignment(_split(learner, fx, ratings=reordered))
    expect(first.equals(third), "shuffling the rows of the input changed your split: sort the ratings "
                                "(by userId, movieId) before drawing the random order.")


@check("3.2", points=1, title="another seed gives another split")
def seed_matters(learner, ref, fx):
    a = _assignment(_split(learner, fx, seed=1))
    b = _assignment(_split(learner, fx, seed=2))
    expect(not a.equals(b), "seeds 1 and 2 gave the same split: the seed argument is not used for the shuffle.")


@check("3.2", points=1, title="the history is a random part, not the first movies")
def random_not_first(learner, ref, fx):
    out = _split(learner, fx)
    first_by_id = 0
    users = 0
    for user, rows in out.groupby("userId"):
        history = set(rows.loc[rows.is_history, "movieId"])
        lowest = set(sorted(rows.movieId)[:len(history)])
        users += 1
        first_by_id += history == lowest
    expect(first_by_id < users / 2,
           f"for {first_by_id} of {users} users the watch history is exactly their lowest movie ids: the ratings "
           f"were not shuffled, so labels would always be the newest-numbered movies.")


@check("3.2", points=1, title="the history is the first part of the shuffled order")
def history_first(learner, ref, fx):
    # Following the recipe (seeded keys drawn after sorting and filtering) with the
    # history and the labels swapped, the labels are the *first* rows of the shuffled
    # order, so every user's labels lie inside the reference's history. Another correct
    # shuffle makes that very unlikely: it would need it for every one of many users.
    cfg = fx.cfg.data
    out = _split(learner, fx)
    expected = ref.split_watch_history(fx.s.top_ratings.copy(), cfg.history_fraction,
                                       cfg.min_ratings_per_user, cfg.split_seed)
    if _assignment(out).equals(_assignment(expected)):
        return "same split as the reference"
    ref_history = set(zip(expected.loc[expected.is_history, "userId"], expected.loc[expected.is_history, "movieId"]))
    labels = out[~out.is_history]
    users = labels.userId.nunique()
    inside = all((u, m) in ref_history for u, m in zip(labels.userId, labels.movieId))
    expect(not (users >= 20 and inside),
           "your watch history is the last part of each user's shuffled ratings and the labels the first "
           "part: history and labels are swapped. The first history_size(n) rows of the shuffled order "
           "are the history (position < history_size), the rest are the labels.")
