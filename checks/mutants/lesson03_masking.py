"""Wrong implementations of lesson 3."""
import numpy as np
import pandas as pd

from checks.mutants import mutant


@mutant("rounds to the nearest integer instead of down", symptom="rounded down")
def history_size(num_ratings, history_fraction):
    return np.round(np.asarray(num_ratings) * history_fraction).astype("int64")


@mutant("shuffles with an unseeded generator", symptom="same seed")
def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
    return _split(ratings, history_fraction, min_ratings_per_user, np.random.default_rng())


@mutant("does not shuffle: the lowest movie ids become the history", symptom="not shuffled")
def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):  # noqa: F811
    return _split(ratings, history_fraction, min_ratings_per_user, None)


@mutant("keeps users with exactly min_ratings_per_user ratings (>= instead of >)", symptom="skipped")
def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):  # noqa: F811
    return _split(ratings, history_fraction, min_ratings_per_user - 1, np.random.default_rng(seed))


@mutant("shuffles without sorting first, so the split depends on the input order", symptom="order")
def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):  # noqa: F811
    return _split(ratings, history_fraction, min_ratings_per_user, np.random.default_rng(seed), sort=False)


@mutant("makes the labels all of the user's ratings (history and labels overlap)", symptom="also appears")
def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):  # noqa: F811
    split = _split(ratings, history_fraction, min_ratings_per_user, np.random.default_rng(seed))
    labels = split.copy()
    labels["is_history"] = False
    return pd.concat([split[split.is_history], labels], ignore_index=True)


def _split(ratings, fraction, min_ratings, rng, sort=True):
    rows = ratings[["userId", "movieId", "rating"]]
    if sort:
        rows = rows.sort_values(["userId", "movieId"], kind="stable")
    per_user = rows.groupby("userId")["movieId"].transform("size")
    rows = rows[per_user > min_ratings].reset_index(drop=True)
    if rng is not None:
        order = np.lexsort((rng.random(len(rows)), rows["userId"].to_numpy()))
    else:
        order = np.lexsort((rows["movieId"].to_numpy(), rows["userId"].to_numpy()))
    rows = rows.iloc[order].reset_index(drop=True)
    position = rows.groupby("userId").cumcount().to_numpy()
    n = rows.groupby("userId")["movieId"].transform("size").to_numpy()
    rows["is_history"] = position < np.floor(n * fraction).astype("int64")
    return rows


@mutant("swaps history and labels within the shuffled order (history = the last part)", symptom="swapped")
def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):  # noqa: F811
    rows = ratings[["userId", "movieId", "rating"]].sort_values(["userId", "movieId"], kind="stable")
    per_user = rows.groupby("userId")["movieId"].transform("size")
    rows = rows[per_user > min_ratings_per_user].reset_index(drop=True)
    order = np.lexsort((np.random.default_rng(seed).random(len(rows)), rows["userId"].to_numpy()))
    rows = rows.iloc[order].reset_index(drop=True)
    position = rows.groupby("userId").cumcount().to_numpy()
    n = rows.groupby("userId")["movieId"].transform("size").to_numpy()
    rows["is_history"] = position >= n - np.floor(n * history_fraction).astype("int64")
    return rows
