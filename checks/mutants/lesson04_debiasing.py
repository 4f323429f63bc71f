"""Wrong implementations of lesson 4."""
import numpy as np
import pandas as pd

from checks.mutants import mutant


@mutant("takes the user mean over labels too", symptom="history only")
def user_mean_ratings(split):
    return split.groupby("userId")["rating"].mean().sort_index()


@mutant("forgets to subtract the user's mean from the genre averages", symptom="relative to the user's mean")
def user_genre_affinity(split, user_means, movie_index, movie_genres):
    from solutions.lesson04_debiasing import user_genre_affinity as reference
    zero_means = pd.Series(0.0, index=user_means.index)
    affinity = reference(split, zero_means, movie_index, movie_genres)
    return affinity


@mutant("counts the label ratings in the genre affinity", symptom="label")
def user_genre_affinity(split, user_means, movie_index, movie_genres):  # noqa: F811
    from solutions.lesson04_debiasing import user_genre_affinity as reference
    everything = split.assign(is_history=True)
    return reference(everything, user_means, movie_index, movie_genres)


@mutant("puts the raw rating, not the debiased one, in the movie slots", symptom="debiased")
def build_user_contexts(split, user_means, context_index, genre_affinity):
    from solutions.lesson04_debiasing import build_user_contexts as reference
    return reference(split, pd.Series(0.0, index=user_means.index), context_index, genre_affinity)


@mutant("keeps users with exactly max_labels labels (<= instead of <)", symptom="exclusive")
def select_users(split, min_labels, max_labels):
    counts = split[~split["is_history"]].groupby("userId").size()
    return np.sort(counts[(counts >= min_labels) & (counts <= max_labels)].index.to_numpy())


@mutant("splits users without shuffling", symptom="shuffle")
def split_users(user_ids, train_fraction, seed):
    ids = np.sort(np.asarray(user_ids))
    n = int(np.floor(len(ids) * train_fraction))
    return ids[:n], ids[n:]


@mutant("splits users with an unseeded generator", symptom="same seed")
def split_users(user_ids, train_fraction, seed):  # noqa: F811
    shuffled = np.random.default_rng().permutation(np.asarray(user_ids))
    n = int(np.floor(len(shuffled) * train_fraction))
    return np.sort(shuffled[:n]), np.sort(shuffled[n:])


@mutant("uses the raw label rating as the target", symptom="debiased")
def build_examples(split, users, user_means, movie_index):
    from solutions.lesson04_debiasing import build_examples as reference
    return reference(split, users, pd.Series(0.0, index=user_means.index), movie_index)


@mutant("makes examples of history rows too", symptom="history rows")
def build_examples(split, users, user_means, movie_index):  # noqa: F811
    from solutions.lesson04_debiasing import build_examples as reference
    return reference(split.assign(is_history=False), users, user_means, movie_index)


@mutant("rounds the number of training users to the nearest integer instead of down", symptom="rounded down")
def split_users(user_ids, train_fraction, seed):  # noqa: F811
    shuffled = np.random.default_rng(seed).permutation(np.asarray(user_ids))
    n = int(round(len(shuffled) * train_fraction))
    return np.sort(shuffled[:n]), np.sort(shuffled[n:])
