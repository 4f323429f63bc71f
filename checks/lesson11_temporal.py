"""Checks for lesson 11: the time-ordered split and how much of the future leaks."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from checks.compare import far, near
from checks.framework import CheckFailed, check, expect, expect_type

COLUMNS = ["userId", "movieId", "rating", "is_history", "timestamp"]


def _split(learner, ratings: pd.DataFrame, history_fraction: float, min_ratings: int, what: str) -> pd.DataFrame:
    given = ratings.copy()
    out = learner.split_by_time(given, history_fraction, min_ratings)
    expect_type(out, pd.DataFrame, "split_by_time's result")
    expect(given.equals(ratings), "split_by_time changed the frame it was given: work on a copy.")
    missing = [c for c in COLUMNS if c not in out.columns]
    expect(not missing, f"on {what}, split_by_time's result lacks the column(s) {missing}: keep userId, movieId, "
                        f"rating, is_history and the timestamp (the other tasks of lesson 11 use it).")
    expect(out["is_history"].dtype == bool, f"is_history should be boolean, not {out['is_history'].dtype}.")
    return out


def _diagnose_split(out: pd.DataFrame, ratings: pd.DataFrame, history_fraction: float, min_ratings: int) -> None:
    counts = ratings.groupby("userId").size()
    kept = set(counts[counts > min_ratings].index)
    got_users = set(out["userId"].unique())
    if got_users != kept:
        extra = sorted(got_users - kept)[:3]
        if extra:
            raise CheckFailed(f"users with min_ratings_per_user ({min_ratings}) ratings or fewer should be left out, "
                              f"but e.g. user(s) {extra} are in the split.")
        raise CheckFailed(f"users with more than min_ratings_per_user ({min_ratings}) ratings are missing, e.g. "
                          f"{sorted(kept - got_users)[:3]}.")
    expect(len(out) == int(counts[list(kept)].sum()),
           "the split should hold every rating of the kept users exactly once.")
    per_user = out.groupby("userId").agg(n=("is_history", "size"), h=("is_history", "sum"))
    want = np.floor(per_user["n"].to_numpy() * history_fraction).astype(int)
    if not np.array_equal(per_user["h"].to_numpy(), want):
        user = per_user.index[np.argmax(per_user["h"].to_numpy() != want)]
        raise CheckFailed(f"user {user} has {int(per_user.loc[user, 'h'])} history ratings out of "
                          f"{int(per_user.loc[user, 'n'])}; it should be floor(n × {history_fraction}) "
                          f"(round down, lesson 3's history_size).")
    last_history = out[out["is_history"]].groupby("userId")["timestamp"].max()
    first_label = out[~out["is_history"]].groupby("userId")["timestamp"].min()
    both = last_history.index.intersection(first_label.index)
    late = last_history[both] > first_label[both]
    if bool(late.any()):
        user = late.index[np.argmax(late.to_numpy())]
        raise CheckFailed(f"user {user} has a history rating made after one of their labels: the history should be "
                          f"the *earlier* ratings and the labels the later ones (sort by timestamp, ascending).")


@check("11.1", points=3, title="each user's earlier ratings are the history, the later ones the labels")
def fixture_split(learner, ref, fx):
    ratings, cfg = fx.s.top_ratings, fx.cfg.data
    out = _split(learner, ratings, cfg.history_fraction, cfg.min_ratings_per_user, "the fixture ratings")
    _diagnose_split(out, ratings, cfg.history_fraction, cfg.min_ratings_per_user)
    want = ref.split_by_time(ratings, cfg.history_fraction, cfg.min_ratings_per_user)
    key = ["userId", "movieId"]
    merged = want[key + ["is_history"]].merge(out[key + ["is_history"]], on=key, suffixes=("", "_got"))
    wrong = merged["is_history"] != merged["is_history_got"]
    if bool(wrong.any()):
        raise CheckFailed(f"{int(wrong.sum())} ratings are on the wrong side of the split (first: user "
                          f"{int(merged[wrong]['userId'].iloc[0])}, movie {int(merged[wrong]['movieId'].iloc[0])}). "
                          f"Equal timestamps should be ordered by movieId: a tie-break that does not depend on the "
                          f"input's row order.")
    return f"{int(out['is_history'].sum()):,} history and {int((~out['is_history']).sum()):,} label ratings"


@check("11.1", points=2, title="equal timestamps: the movieId breaks the tie, whatever the row order")
def ties(learner, ref, fx):
    # One user, 10 ratings all at the same second except the first, given in reversed movie order.
    ratings = pd.DataFrame({"userId": [7] * 10, "movieId": list(range(110, 100, -1)),
                            "rating": [4.0] * 10, "timestamp": [500] + [900] * 9})
    out = _split(learner, ratings, 0.8, 5, "ten ratings of one user, nine at the same second")
    history = sorted(out[out["is_history"]]["movieId"].tolist())
    want = sorted(ref.split_by_time(ratings, 0.8, 5).query("is_history")["movieId"].tolist())
    expect(history == want, f"with nine equal timestamps, your history is movies {history}; it should be {want}: "
                            f"ties are broken by movieId (the smaller id counts as earlier), not by the order of "
                            f"the rows you were given.")
    shuffled = ratings.sample(frac=1.0, random_state=3)
    again = _split(learner, shuffled, 0.8, 5, "the same ratings shuffled")
    expect(sorted(again[again["is_history"]]["movieId"].tolist()) == want,
           "shuffling the input's rows changes your split: break timestamp ties by movieId.")
    return "ties broken by movieId"


def _future(learner, split, ratings, what: str) -> float:
    got = learner.future_history_share(split.copy(), ratings.copy())
    expect(isinstance(got, float), f"future_history_share should return a float, not {type(got).__name__}.")
    expect(0.0 <= got <= 1.0, f"on {what}, future_history_share returned {got:.4f}: a share lies in [0, 1].")
    return got


@check("11.2", points=3, title="the share of history rated after the moment of prediction")
def future_share(learner, ref, fx):
    ratings, cfg = fx.s.top_ratings, fx.cfg.data
    temporal = ref.split_by_time(ratings, cfg.history_fraction, cfg.min_ratings_per_user)
    got = _future(learner, temporal[["userId", "movieId", "rating", "is_history"]], ratings, "the time-ordered split")
    expect(got == 0.0, f"on a time-ordered split no history rating comes after a label, but your share is {got:.4f}.")
    got = _future(learner, fx.s.split, ratings, "lesson 3's random split")
    want = ref.future_history_share(fx.s.split, ratings)
    if far(got, want, 1e-12):
        raise CheckFailed(f"on lesson 3's random split your share is {got:.4f}, which is not the share of history "
                          f"rows rated after their user's earliest label (the moment of prediction is the time of "
                          f"the user's *earliest* label; divide by the number of history rows).")
    return "exact"


@check("11.2", points=2, title="strictly later: a history rating at the same second is not from the future")
def future_share_ties(learner, ref, fx):
    ratings = pd.DataFrame({"userId": [1] * 6, "movieId": [1, 2, 3, 4, 5, 6], "rating": [3.0] * 6,
                            "timestamp": [10, 20, 30, 30, 40, 50]})
    split = ratings[["userId", "movieId", "rating"]].assign(is_history=[True, True, False, True, True, False])
    got = _future(learner, split, ratings, "one user whose label shares its second with a history rating")
    want = ref.future_history_share(split, ratings)
    expect(near(got, want, 1e-12), f"your share is {got:.4f} for a user whose earliest label (t=30) shares its second "
                                    f"with a history rating: only history rated *strictly* after the moment of "
                                    f"prediction is from the future (here 1 of 4 history rows).")
    return "exact"


@check("11.3", points=3, title="training ratings made after the labels they help predict")
def later_share(learner, ref, fx):
    rng = np.random.default_rng(113)
    training = rng.integers(0, 1000, 5000)
    labels = np.concatenate([rng.integers(0, 1000, 300), training[:20]])   # some labels tie with training times
    got = learner.later_training_share(training.copy(), labels.copy())
    expect(isinstance(got, float), f"later_training_share should return a float, not {type(got).__name__}.")
    expect(math.isfinite(got), f"later_training_share returned {got}: a share is a finite number in [0, 1].")
    want = ref.later_training_share(training, labels)
    if far(got, want, 1e-12):
        hint = (" Count only training ratings *strictly* later than the label (np.searchsorted with side='right')."
                if near(got, want, 0.01) else "")
        raise CheckFailed(f"your share is {got:.4f}: it should be, for each label, the share of all training "
                          f"ratings made strictly later, averaged over labels.{hint}")
    edge = learner.later_training_share(np.array([5, 6, 7]), np.array([7]))
    expect(edge == 0.0, "a label at the time of the last training rating has no training rating strictly after it: "
                        f"the share should be 0.0, not {edge}.")
    return "exact"
