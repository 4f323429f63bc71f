"""Lesson 12's training folds, fast: every fold's contexts and examples from one pass.

``solutions.evaluation.retrieval_examples`` follows the lesson: lesson 12's ``fold_splits``
copies the training ratings once per fold, and each fold then goes through lesson 4's
``user_mean_ratings`` and ``build_examples`` and lesson 12's ``implicit_contexts`` (twice
with new-user contexts), each filtering, mapping and sorting tens of millions of rows
again. At ML-32M size that is 80 CPU seconds of a split (here: 20 s). Yet every fold holds
the same ratings: only which of them are labels changes. Here the ratings are sorted once (user,
then movie row), dealt into folds once (the fold of each rating, as ``fold_splits`` deals
it), and each fold's numbers are the user's totals minus that fold's part: its history
count, its rating sum (the mean of lesson 4) and its genre counts (the genre block of
lesson 12). Those are sums of whole numbers and halves (ratings are multiples of 0.5, genres
0 or 1), exact in float32 and float64 whatever order they are added in, so every mean, share
and ``1 / sqrt(h)`` is computed from the same numbers by the same operations as the lessons
compute it: the contexts and the examples are the reference's bit for bit
(tests/test_fast_paths.py).

It stands in for the lesson functions that make the folds (``STANDS_FOR``), so it runs only
where they are all the reference's. A user who rated the same movie twice (the reference's
cleaning never leaves one; a learner's might) sends the whole split to the textbook.
"""
from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import torch

from course.containers import ContextRows, Examples
from solutions.lesson03_masking import _stable_order

#: The textbook functions whose numbers this module gives (lesson -> names).
STANDS_FOR = {4: ("user_mean_ratings", "build_examples"), 12: ("fold_splits", "implicit_contexts")}


def fold_of_each_rating(user: np.ndarray, num_folds: int, seed: int) -> np.ndarray:
    """Lesson 12's ``fold_splits`` deal, for ratings already in (user, movie) order: the
    fold of each rating (int8). The i-th rating of a user in the order of its random key
    goes to fold ``i % num_folds``; ``np.lexsort((key, user))`` orders by key within each
    user, as the lesson does (here lesson 3's one-key sort, the same order nearly four times
    faster), and a user's i-th place there is ``i`` minus where the user's ratings start."""
    key = np.random.default_rng(seed).random(len(user))
    order = _stable_order(user, key)
    del key
    first = np.flatnonzero(np.r_[True, user[1:] != user[:-1]])          # where each user starts
    place = np.arange(len(user), dtype=np.int64) - np.repeat(first, np.diff(np.r_[first, len(user)]))
    dealt = np.empty(len(user), dtype=np.int8)
    dealt[order] = (place % num_folds).astype(np.int8)
    return dealt


def _genre_counts(group: torch.Tensor, movie: torch.Tensor, genres: torch.Tensor, num_groups: int) -> torch.Tensor:
    """float32 ``[num_groups, G]``: how many of each group's movies are in each genre. The
    pairs, ``group`` in increasing order, are the rows of a sparse 0/1 ``[num_groups, M]``
    matrix; its product with the movies' multi-hot genres counts them (whole numbers, exact
    in any order; ten times faster than adding up each pair's genre row)."""
    starts = torch.zeros(num_groups + 1, dtype=torch.int64)
    starts[1:] = torch.cumsum(torch.bincount(group, minlength=num_groups), 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR support is in beta state"
        watched = torch.sparse_csr_tensor(starts, movie, torch.ones(len(movie), dtype=torch.float32),
                                          size=(num_groups, genres.shape[0]))
    return watched @ genres


def retrieval_examples(s: SimpleNamespace, train_users: np.ndarray, num_folds: int, seed: int,
                       new_user_share: float = 0.0) -> tuple[ContextRows, Examples]:
    """``solutions.evaluation.retrieval_examples`` with the reference's lessons 4 and 12:
    the same contexts (as ``ContextRows``) and the same examples, in the same order."""
    split = s.split
    chosen = split["userId"].isin(train_users).to_numpy()
    user = split["userId"].to_numpy()[chosen].astype(np.int64)
    movie_id = split["movieId"].to_numpy()[chosen].astype(np.int64)
    rating = split["rating"].to_numpy()[chosen].astype(np.float32)   # the folds' ratings are float32
    del chosen
    pair = (user << 32) | movie_id
    if len(pair) > 1 and not np.all(pair[1:] > pair[:-1]):
        order = np.argsort(pair, kind="stable")
        user, movie_id, rating, pair = user[order], movie_id[order], rating[order], pair[order]
        del order
    if len(pair) > 1 and np.any(pair[1:] == pair[:-1]):    # a movie rated twice: the textbook's way
        from solutions import evaluation

        from fast.retrieval_contexts import implicit_context_rows
        return evaluation.retrieval_examples(s, train_users, num_folds, seed, new_user_share,
                                             context_rows=implicit_context_rows)
    del pair
    dealt = fold_of_each_rating(user, num_folds, seed)

    # From here on, (user, movie row) order: the order of a context's columns and of the examples.
    lookup = np.full(int(max(s.movie_index)) + 1, -1, dtype=np.int64)
    lookup[np.fromiter(s.movie_index.keys(), dtype=np.int64)] = np.fromiter(s.movie_index.values(), dtype=np.int64)
    movie_row = lookup[movie_id]
    del movie_id, lookup
    users, group = np.unique(user, return_inverse=True)
    del user
    num_movies, num_users = len(s.movie_index), len(users)
    order = np.argsort(group.astype(np.int64) * num_movies + movie_row, kind="stable")
    group, movie_row, rating, dealt = group[order], movie_row[order], rating[order], dealt[order]
    del order

    genres = s.movie_genres.to(torch.float32)
    genre_mean = genres.mean(dim=0)
    group_t, movie_t = torch.from_numpy(group.astype(np.int64)), torch.from_numpy(movie_row)
    total_count = np.bincount(group, minlength=num_users)
    total_sum = np.bincount(group, weights=rating, minlength=num_users)   # whole and half stars: exact
    total_genres = _genre_counts(group_t, movie_t, genres, num_users)

    draw = torch.Generator().manual_seed(seed)
    pieces, user_row, movie_rows, target = [], [], [], []
    offset = 0
    for fold in range(num_folds):
        is_label = dealt == fold
        label_group = group[is_label]
        label_count = np.bincount(label_group, minlength=num_users)
        label_sum = np.bincount(label_group, weights=rating[is_label], minlength=num_users)
        label_genres = _genre_counts(torch.from_numpy(label_group.astype(np.int64)), movie_t[torch.from_numpy(is_label)],
                                     genres, num_users)
        history_count = total_count - label_count
        present = history_count > 0                         # lesson 4's users: a history rating at least
        row_of_group = np.cumsum(present) - 1               # a user's row among them
        count = torch.from_numpy(history_count[present]).to(torch.float32)
        # user_mean_ratings: pandas averages float32 ratings in float64 (their sum is exact there)
        mean = (total_sum - label_sum)[present] / history_count[present]

        history = ~is_label & present[group]
        pieces.append(_context_rows(row_of_group[group[history]], movie_t[torch.from_numpy(history)], count,
                                    (total_genres - label_genres)[torch.from_numpy(present)], genre_mean, num_movies))
        labels = is_label & present[group]
        rows = row_of_group[group[labels]]
        examples = Examples(torch.from_numpy(rows.astype(np.int64)), movie_t[torch.from_numpy(labels)],
                            torch.tensor(rating[labels] - mean[rows], dtype=torch.float32))
        rows_of_users = examples.user_row + offset
        offset += len(count)
        if new_user_share > 0:
            new_count = torch.from_numpy(label_count[present]).to(torch.float32)
            pieces.append(_context_rows(None, None, new_count, label_genres[torch.from_numpy(present)], genre_mean,
                                        num_movies))
            new_user = torch.rand(len(examples.user_row), generator=draw) < new_user_share
            rows_of_users = torch.where(new_user, rows_of_users + len(count), rows_of_users)
            offset += len(count)
        user_row.append(rows_of_users)
        movie_rows.append(examples.movie_row)
        target.append(examples.target)
    return _joined(pieces), Examples(torch.cat(user_row), torch.cat(movie_rows), torch.cat(target))


def _joined(pieces: list[ContextRows]) -> ContextRows:
    """``ContextRows.concat(pieces)``, letting go of each piece once it is copied: at ML-32M
    size the pieces hold 1.5 GB, and a copy of all of them beside them set the demo's peak."""
    total = sum(len(piece.columns) for piece in pieces)
    columns = torch.empty(total, dtype=pieces[0].columns.dtype)
    values = torch.empty(total, dtype=pieces[0].values.dtype)
    starts, offset, width = [torch.zeros(1, dtype=torch.int64)], 0, pieces[0].width
    for place in range(len(pieces)):
        piece, pieces[place] = pieces[place], None
        size = len(piece.columns)
        columns[offset:offset + size], values[offset:offset + size] = piece.columns, piece.values
        starts.append(piece.row_starts[1:] + offset)
        offset += size
    return ContextRows(torch.cat(starts), columns, values, width)


def _context_rows(row: np.ndarray | None, movie: torch.Tensor | None, count: torch.Tensor, genre_sums: torch.Tensor,
                  genre_mean: torch.Tensor, num_movies: int) -> ContextRows:
    """Lesson 12's ``implicit_contexts`` rows from a fold's sums: ``1 / sqrt(h)`` at each
    history movie (``row`` and ``movie`` in (row, movie) order; None: a new user's context,
    no movies), then the nonzero genre shares minus the catalogue's. ``count`` is each row's
    number of history movies, ``genre_sums`` its genre counts, as float32 (whole numbers)."""
    share = torch.where(count[:, None] > 0, genre_sums / count.clamp(min=1.0)[:, None] - genre_mean, 0.0)
    genre_row, genre = share.nonzero(as_tuple=True)
    genre_per_row = torch.bincount(genre_row, minlength=len(count))
    row_t = None if row is None else torch.from_numpy(row.astype(np.int64))
    movie_per_row = (torch.zeros(len(count), dtype=torch.int64) if row is None
                     else torch.bincount(row_t, minlength=len(count)))
    starts = torch.zeros(len(count) + 1, dtype=torch.int64)
    starts[1:] = torch.cumsum(movie_per_row + genre_per_row, 0)
    columns = torch.empty(int(starts[-1]), dtype=torch.int64)
    values = torch.empty(int(starts[-1]), dtype=torch.float32)
    # A row holds its movies, then its genres. The movies before a row's genre entries are
    # all the rows' movies up to and including its own; the genres before a row's movie
    # entries, all the earlier rows' genres. Add each entry's place among its kind (``nonzero``
    # gives the genres row by row, in order; ``row`` is in (row, movie) order).
    at = torch.cumsum(movie_per_row, 0)[genre_row] + torch.arange(len(genre_row))
    columns[at] = num_movies + genre
    values[at] = share[genre_row, genre]
    if row_t is not None:
        genres_before = torch.cumsum(genre_per_row, 0) - genre_per_row
        at = genres_before[row_t] + torch.arange(len(row_t))
        columns[at] = movie
        values[at] = (1.0 / count.sqrt())[row_t]
    return ContextRows(starts, columns, values, num_movies + genre_mean.shape[0])
