"""Wrong implementations of lesson 11."""
import numpy as np

from checks.mutants import mutant


def _split(rows, history_fraction, ascending=True):
    position = rows.groupby("userId").cumcount().to_numpy()
    num = rows.groupby("userId")["movieId"].transform("size").to_numpy()
    rows = rows.copy()
    cut = np.floor(num * history_fraction).astype("int64")
    rows["is_history"] = position < cut if ascending else position >= num - cut
    return rows[["userId", "movieId", "rating", "is_history", "timestamp"]]


@mutant("the labels are the earliest ratings, the history the latest", symptom="earlier")
def split_by_time(ratings, history_fraction, min_ratings_per_user):
    rows = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    rows = rows[rows.groupby("userId")["movieId"].transform("size") > min_ratings_per_user].reset_index(drop=True)
    return _split(rows, history_fraction, ascending=False)


@mutant("no tie-break: equal timestamps keep the input's row order", symptom="tie")
def split_by_time(ratings, history_fraction, min_ratings_per_user):  # noqa: F811
    rows = ratings.sort_values(["userId", "timestamp"], kind="stable")
    rows = rows[rows.groupby("userId")["movieId"].transform("size") > min_ratings_per_user].reset_index(drop=True)
    return _split(rows, history_fraction)


@mutant("rounds the history size up", symptom="round down")
def split_by_time(ratings, history_fraction, min_ratings_per_user):  # noqa: F811
    rows = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    rows = rows[rows.groupby("userId")["movieId"].transform("size") > min_ratings_per_user].reset_index(drop=True)
    rows = rows.copy()
    position = rows.groupby("userId").cumcount().to_numpy()
    num = rows.groupby("userId")["movieId"].transform("size").to_numpy()
    rows["is_history"] = position < np.ceil(num * history_fraction)
    return rows[["userId", "movieId", "rating", "is_history", "timestamp"]]


@mutant("keeps users with too few ratings", symptom="left out")
def split_by_time(ratings, history_fraction, min_ratings_per_user):  # noqa: F811
    rows = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable").reset_index(drop=True)
    return _split(rows, history_fraction)


@mutant("drops the timestamp column", symptom="timestamp")
def split_by_time(ratings, history_fraction, min_ratings_per_user):  # noqa: F811
    rows = ratings.sort_values(["userId", "timestamp", "movieId"], kind="stable")
    rows = rows[rows.groupby("userId")["movieId"].transform("size") > min_ratings_per_user].reset_index(drop=True)
    return _split(rows, history_fraction).drop(columns="timestamp")


@mutant("counts history at the same second as the moment of prediction as future", symptom="strictly")
def future_history_share(split, ratings):
    times = split[["userId", "movieId", "is_history"]].merge(ratings[["userId", "movieId", "timestamp"]],
                                                             on=["userId", "movieId"], how="left")
    moment = times[~times["is_history"]].groupby("userId")["timestamp"].min()
    history = times[times["is_history"]]
    later = history["timestamp"] >= history["userId"].map(moment)
    return float(later.sum()) / max(len(history), 1)


@mutant("takes the latest label as the moment of prediction", symptom="earliest")
def future_history_share(split, ratings):  # noqa: F811
    times = split[["userId", "movieId", "is_history"]].merge(ratings[["userId", "movieId", "timestamp"]],
                                                             on=["userId", "movieId"], how="left")
    moment = times[~times["is_history"]].groupby("userId")["timestamp"].max()
    history = times[times["is_history"]]
    later = history["timestamp"] > history["userId"].map(moment)
    return float(later.sum()) / max(len(history), 1)


@mutant("counts training ratings at the label's second as later", symptom="strictly")
def later_training_share(training_times, label_times):
    ordered = np.sort(np.asarray(training_times))
    later = len(ordered) - np.searchsorted(ordered, np.asarray(label_times), side="left")
    return float(np.mean(later / len(ordered)))


@mutant("NaN for more than one label (a 0/0 in its average), right for one", symptom="finite")
def later_training_share(training_times, label_times):  # noqa: F811
    # Before the checks compared through checks/compare.py, this scored full marks: NaN passed
    # `abs(got - want) > tol`, and the one-label edge case is right.
    training = np.sort(np.asarray(training_times))
    later = len(training) - np.searchsorted(training, np.asarray(label_times), side="right")
    return float(later[0] / len(training)) if len(label_times) == 1 else float("nan")
