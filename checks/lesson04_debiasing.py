"""Checks for lesson 4: debiasing, the feature matrices and the examples."""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from checks.framework import CheckFailed, check, compare_tensors, expect, expect_type
from course.containers import ContextIndex

# A hand-made split: user 1 rated Action 5.0, Action|Comedy 3.0, Drama 1.0 in their history
# (mean 3.0) and Horror 5.0 as a label; user 2 has history 4.0 and 2.0 and one label.
TINY_MOVIES = [10, 20, 30, 40]
TINY_GENRES = {10: ("Action",), 20: ("Action", "Comedy"), 30: ("Drama",), 40: ("Horror",)}
TINY_GENRE_INDEX = {"Action": 0, "Comedy": 1, "Drama": 2, "Horror": 3}
TINY_MOVIE_INDEX = {10: 0, 20: 1, 30: 2, 40: 3}
TINY_SPLIT = pd.DataFrame({
    "userId":     [1, 1, 1, 1, 2, 2, 2],
    "movieId":    [10, 20, 30, 40, 10, 30, 40],
    "rating":     [5.0, 3.0, 1.0, 5.0, 4.0, 2.0, 0.5],
    "is_history": [True, True, True, False, True, True, False],
})


def _tiny_means():
    return pd.Series([3.0, 3.0], index=pd.Index([1, 2], name="userId"), dtype="float64")


def _tiny_genres():
    matrix = torch.zeros((4, 4))
    for row, movie in enumerate(TINY_MOVIES):
        for genre in TINY_GENRES[movie]:
            matrix[row, TINY_GENRE_INDEX[genre]] = 1.0
    return matrix


@check("4.1", points=2, title="user means match, from the watch history only")
def user_means(learner, ref, fx):
    out = learner.user_mean_ratings(fx.s.split.copy())
    expect_type(out, pd.Series, "user_mean_ratings' result")
    expected = fx.s.user_means
    expect(len(out) == len(expected), f"you have means for {len(out)} users; the split has {len(expected)} users with a history.")
    expect(list(out.index) == list(expected.index), "the index should be the userIds in ascending order.")
    changed = fx.s.split.copy()
    changed.loc[~changed.is_history, "rating"] = 5.0
    again = learner.user_mean_ratings(changed)
    expect(np.allclose(np.asarray(again, dtype=float), np.asarray(out, dtype=float)),
           "your user means change when only the *label* ratings change: the mean must come from the watch "
           "history only, or the labels leak into the inputs.")
    diff = float(np.max(np.abs(np.asarray(out, dtype=float) - expected.to_numpy())))
    expect(diff < 1e-9, f"some user means are off, by up to {diff:.3g} stars.")
    return "exact" if diff == 0 else f"max abs diff {diff:.1e}"


@check("4.2", points=1, title="multi-hot genres of the catalogue")
def genre_matrix(learner, ref, fx):
    out = learner.movie_genre_matrix(list(fx.s.top_movies), dict(fx.s.maps.genres_by_id), dict(fx.s.genre_index))
    return compare_tensors(out, fx.s.movie_genres, "the movie genre matrix", atol=0)


@check("4.3", points=2, title="genre affinity on a hand-made user")
def affinity_tiny(learner, ref, fx):
    out = learner.user_genre_affinity(TINY_SPLIT.copy(), _tiny_means(), dict(TINY_MOVIE_INDEX), _tiny_genres())
    expect_type(out, torch.Tensor, "user_genre_affinity's result")
    expect(tuple(out.shape) == (2, 4), f"for 2 users and 4 genres the result should have shape (2, 4), not {tuple(out.shape)}.")
    row = [round(float(v), 4) for v in out[0]]
    expect(abs(row[3]) < 1e-6, f"user 1 rated a Horror movie only as a *label*, so their Horror affinity should be 0.0, "
                               f"not {row[3]}: labels must not reach the features.")
    expect(abs(row[0] - 1.0) < 1e-5, f"user 1 (history mean 3.0) rated Action movies 5.0 and 3.0, so their Action "
                                     f"affinity should be +1.0 (average 4.0 minus their mean), not {row[0]}: the "
                                     f"affinity is relative to the user's mean.")
    expect(abs(row[2] + 2.0) < 1e-5, f"user 1's Drama affinity should be -2.0 (one Drama rating 1.0, mean 3.0), not {row[2]}.")
    expect(abs(row[1]) < 1e-5, f"user 1's Comedy affinity should be 0.0 (one Comedy rating 3.0 = their mean), not {row[1]}.")


@check("4.3", points=2, title="genre affinity of every fixture user")
def affinity_fixture(learner, ref, fx):
    out = learner.user_genre_affinity(fx.s.split.copy(), fx.s.user_means.copy(), dict(fx.s.movie_index),
                                      fx.s.movie_genres.clone())
    return compare_tensors(out, fx.s.genre_affinity, "the genre affinity matrix", atol=1e-5)


@check("4.4", points=2, title="debiased history ratings in the movie slots")
def context_tiny(learner, ref, fx):
    index = ContextIndex({10: 0, 40: 1}, {"Action": 2, "Comedy": 3, "Drama": 4, "Horror": 5}, 6)
    affinity = torch.arange(8, dtype=torch.float32).reshape(2, 4) / 10
    out = learner.build_user_contexts(TINY_SPLIT.copy(), _tiny_means(), index, affinity)
    expect_type(out, torch.Tensor, "build_user_contexts' result")
    expect(tuple(out.shape) == (2, 6), f"for 2 users and 6 context slots the result should have shape (2, 6), not {tuple(out.shape)}.")
    expect(abs(float(out[0, 1])) < 1e-6, "user 1's label movie (40) has a non-zero value in the context: labels must "
                                         "never appear in the user context.")
    expect(abs(float(out[0, 0]) - 2.0) < 1e-5, f"user 1 (mean 3.0) rated context movie 10 at 5.0, so its slot should hold "
                                               f"+2.0 (the debiased rating), not {float(out[0, 0])}.")
    expect(torch.allclose(out[:, 2:], affinity), "the genre slots (after the movie slots) should hold the genre affinities.")


@check("4.4", points=2, title="user context matrix of the fixture")
def context_fixture(learner, ref, fx):
    out = learner.build_user_contexts(fx.s.split.copy(), fx.s.user_means.copy(), fx.s.context_index,
                                      fx.s.genre_affinity.clone())
    return compare_tensors(out, fx.s.user_context, "the user context matrix", atol=1e-5)


@check("4.5", points=1, title="users with min_labels <= labels < max_labels")
def selected_users(learner, ref, fx):
    split = pd.DataFrame({"userId": [1] * 2 + [2] * 3 + [3] * 4, "movieId": list(range(9)),
                          "rating": [3.0] * 9, "is_history": [False] * 9})
    out = np.asarray(learner.select_users(split, 2, 4))
    expect(list(out) == [1, 2], f"with labels per user 1:2, 2:3, 3:4 and bounds 2 <= n < 4, users [1, 2] "
                                f"should be kept, not {list(out)}: the lower bound is inclusive, the upper exclusive.")
    cfg = fx.cfg.data
    out = np.asarray(learner.select_users(fx.s.split.copy(), cfg.min_labels, cfg.max_labels))
    expect(np.array_equal(out, fx.s.users), f"you kept {len(out)} users; {len(fx.s.users)} have a number of labels "
                                            f"in [{cfg.min_labels}, {cfg.max_labels}).")


@check("4.6", points=2, title="a seeded user-level split")
def user_split(learner, ref, fx):
    users = np.arange(100, 200)
    train, val = learner.split_users(users, 0.8, 5)
    train, val = np.asarray(train), np.asarray(val)
    expect(len(np.intersect1d(train, val)) == 0, "a user is in both the training and the validation split: the "
                                                 "validation loss would then measure memory, not generalisation.")
    expect(sorted(np.concatenate([train, val]).tolist()) == users.tolist(), "every user should be in exactly one split.")
    expect(len(train) == 80, f"with 100 users and train_fraction 0.8 the training split should have 80 users, not {len(train)}.")
    for count in (12, 7):  # 9.6 and 5.6 training users: rounding would give one more
        few_train, few_val = learner.split_users(np.arange(count), 0.8, 5)
        want = int(np.floor(count * 0.8))
        expect(len(np.asarray(few_train)) == want,
               f"with {count} users and train_fraction 0.8 the training split should have {want} users "
               f"(0.8 x {count} = {0.8 * count:g}, rounded down), not {len(np.asarray(few_train))}.")
    expect(list(train) == sorted(train) and list(val) == sorted(val), "both splits should be sorted ascending.")
    expect(not np.array_equal(train, users[:80]), "the training users are just the first 80% of the ids: shuffle them first.")
    again, _ = learner.split_users(users, 0.8, 5)
    expect(np.array_equal(np.asarray(again), train), "the same seed gave two different splits: use a generator seeded with `seed`.")
    other, _ = learner.split_users(users, 0.8, 6)
    expect(not np.array_equal(np.asarray(other), train), "seeds 5 and 6 gave the same split: the seed is not used.")


@check("4.7", points=3, title="examples: label rows, debiased targets")
def examples(learner, ref, fx):
    out = learner.build_examples(fx.s.split.copy(), fx.s.train_users.copy(), fx.s.user_means.copy(), dict(fx.s.movie_index))
    expected = fx.s.train
    for name in ("user_row", "movie_row", "target"):
        expect(hasattr(out, name), f"build_examples should return Examples(user_row, movie_row, target); {name} is missing.")
    num_labels = int((~fx.s.split.is_history & fx.s.split.userId.isin(fx.s.train_users)).sum())
    expect(len(out.target) == len(expected.target),
           f"you built {len(out.target)} examples; the training users have {num_labels} labels, one example each "
           f"(history rows are inputs, not examples).")
    compare_tensors(out.user_row, expected.user_row, "user_row", atol=0)
    compare_tensors(out.movie_row, expected.movie_row, "movie_row", atol=0)
    raw = torch.as_tensor(fx.s.user_means.to_numpy()[expected.user_row.numpy()], dtype=torch.float32) + expected.target
    if torch.allclose(out.target.to(torch.float32), raw, atol=1e-5):
        raise CheckFailed("your targets are the raw label ratings: the target is the rating minus the user's "
                          "history mean (debiased), like the inputs.")
    return compare_tensors(out.target, expected.target, "the targets", atol=1e-5)
