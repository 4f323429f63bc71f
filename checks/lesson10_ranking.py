"""Checks for lesson 10: top-K without seen movies, ranking metrics, coverage, baselines,
EASE and the paired bootstrap."""
from __future__ import annotations

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from checks.compare import all_near, far, far_entries, near
from checks.framework import CheckFailed, check, compare_tensors, expect, expect_type
from checks.properties import PROPERTY

K = 10
METRIC_KEYS = ("hr", "recall", "ndcg", "mrr")


# ---------------------------------------------------------------- 10.1 rank_unseen

def _ranked(learner, scores: torch.Tensor, seen: torch.Tensor, k: int, what: str) -> torch.Tensor:
    given_scores, given_seen = scores.clone(), seen.clone()
    out = learner.rank_unseen(given_scores, given_seen, k)
    expect_type(out, torch.Tensor, "rank_unseen's result")
    expect(torch.equal(given_scores, scores) and torch.equal(given_seen, seen),
           "rank_unseen changed the scores or the seen mask it was given: mask a copy instead.")
    users, movies = scores.shape
    expect(tuple(out.shape) == (users, k), f"for {what} ({users} users, {movies} movies) and k={k}, rank_unseen "
                                           f"should return shape {(users, k)}, not {tuple(out.shape)}.")
    expect(out.dtype == torch.int64, f"rank_unseen returns dtype {out.dtype}; movie rows should be int64.")
    expect(bool(((out >= 0) & (out < movies)).all()), f"rank_unseen returns numbers outside 0..{movies - 1}: "
                                                       f"they should be movie rows.")
    return out


def _diagnose_ranking(out: torch.Tensor, scores: torch.Tensor, seen: torch.Tensor) -> None:
    unseen_left = (~seen).sum(dim=1)
    in_top = seen.gather(1, out)
    enough = unseen_left >= out.shape[1]
    if bool((in_top & enough[:, None]).any()):
        user = int(torch.nonzero((in_top & enough[:, None]).any(dim=1))[0])
        raise CheckFailed(f"user {user}'s top {out.shape[1]} holds a movie from their watch history (a seen movie), "
                          f"although they have {int(unseen_left[user])} unseen movies: give seen movies a score of "
                          f"-inf before sorting.")
    chosen = scores.to(torch.float64).gather(1, out)
    steps = chosen.diff(dim=1)
    fine = ~in_top[:, 1:]
    if bool(((steps > 0) & fine).any()):
        raise CheckFailed("your top-k lists are not best first: each user's movies should come by decreasing score.")


@check("10.1", points=3, title="each user's top k on the fixture, best first, seen movies left out")
def fixture_top_k(learner, ref, fx):
    seen = fx.ranking.dense.seen
    scores = fx.ranking.scores["noisy"]
    out = _ranked(learner, scores, seen, K, "the fixture's held-out users")
    _diagnose_ranking(out, scores, seen)
    expected = ref.rank_unseen(scores.clone(), seen.clone(), K)
    wrong = (out != expected).any(dim=1)
    expect(not bool(wrong.any()), f"for {int(wrong.sum())} of {len(out)} users the top {K} is not the {K} best-scored "
                                  f"unseen movies (first: user {int(torch.nonzero(wrong)[0]) if wrong.any() else 0}).")
    return "exact"


@check("10.1", points=2, title="equal scores go to the lower row; seen movies rank last")
def ties_and_exhausted(learner, ref, fx):
    # Integer scores with many ties, and one user who has seen all but 2 movies.
    generator = torch.Generator().manual_seed(101)
    scores = torch.randint(0, 3, (6, 12), generator=generator).to(torch.float32)
    seen = torch.rand((6, 12), generator=generator) < 0.3
    seen[5] = True
    seen[5, [3, 7]] = False
    out = _ranked(learner, scores, seen, 5, "small integer scores with ties")
    _diagnose_ranking(out, scores, seen)
    expected = ref.rank_unseen(scores.clone(), seen.clone(), 5)
    expect(set(out[5, :2].tolist()) == {3, 7}, "a user with only 2 unseen movies should get those 2 first, then "
                                               "seen movies: seen movies rank last, they are not dropped.")
    for user in range(len(out)):
        if not torch.equal(out[user], expected[user]):
            raise CheckFailed(f"with equal scores, user {user}'s top 5 is {out[user].tolist()}; it should be "
                              f"{expected[user].tolist()}: equal scores go to the lower row (a stable sort keeps "
                              f"them in row order; torch.topk does not promise any order).")
    return "exact"


# ---------------------------------------------------------------- 10.2 ranking_metrics

def _metrics(learner, ranked: torch.Tensor, relevant: torch.Tensor, k: int) -> dict:
    out = learner.ranking_metrics(ranked.clone(), relevant.clone(), k)
    expect_type(out, dict, "ranking_metrics' result")
    missing = [key for key in METRIC_KEYS if key not in out]
    expect(not missing, f"ranking_metrics' result lacks the key(s) {missing}; it should have {list(METRIC_KEYS)}.")
    for key in METRIC_KEYS:
        expect_type(out[key], torch.Tensor, f"ranking_metrics()[{key!r}]")
        expect(tuple(out[key].shape) == (ranked.shape[0],),
               f"ranking_metrics()[{key!r}] has shape {tuple(out[key].shape)}; it should hold one value per user, "
               f"shape {(ranked.shape[0],)}.")
    return out


def _perfect(relevant: torch.Tensor) -> torch.Tensor:
    """Each user's relevant movies first (lower rows first), then the others."""
    return torch.sort(relevant.to(torch.int64), dim=1, descending=True, stable=True).indices


def _diagnose_metrics(learner, fx_ranked, relevant, k) -> None:
    perfect = _perfect(relevant)
    out = _metrics(learner, perfect, relevant, k)
    ndcg = out["ndcg"].to(torch.float64)
    if not all_near(ndcg, torch.ones_like(ndcg), 1e-8, 1e-5):
        user = int(torch.nonzero(far_entries(ndcg, torch.ones_like(ndcg), 1e-8, 1e-5))[0])
        raise CheckFailed(f"a perfect ranking (every relevant movie first) should score NDCG 1.0 for every user, but "
                          f"user {user}, with {int(relevant[user].sum())} relevant movie(s), gets "
                          f"{float(ndcg[user]):.4f}: the ideal DCG counts min(k, number relevant) hits, not k.")
    recall = out["recall"].to(torch.float64)
    truth = relevant.sum(dim=1).clamp(max=k).to(torch.float64) / relevant.sum(dim=1)
    if not all_near(recall, truth, 1e-8, 1e-5):
        raise CheckFailed(f"for a perfect ranking, recall@{k} should be min(k, number relevant) / number relevant: "
                          f"recall divides the hits by the user's number of relevant movies (not by k).")


@check("10.2", points=3, title="HR, recall, NDCG and reciprocal rank match the definitions on the fixture")
def fixture_metrics(learner, ref, fx):
    task = fx.ranking.dense
    ranked = ref.rank_unseen(fx.ranking.scores["mse-two-tower"], task.seen, task.seen.shape[1])
    out = _metrics(learner, ranked, task.relevant, K)
    _diagnose_metrics(learner, ranked, task.relevant, K)
    expected = ref.ranking_metrics(ranked.clone(), task.relevant.clone(), K)
    details = []
    for key in METRIC_KEYS:
        got = out[key].to(torch.float64)
        if key == "mrr" and not all_near(got, expected[key], 1e-9, 1e-9):
            is_hit = task.relevant.gather(1, ranked)
            late = ~is_hit[:, :K].any(dim=1) & is_hit.any(dim=1)
            if bool(late.any()) and bool((got[late] == 0).all()):
                raise CheckFailed("users whose first relevant movie is below the top k get a reciprocal rank of 0: "
                                  "the reciprocal rank looks at the whole ranking it is given, not only the top k.")
        details.append(compare_tensors(got, expected[key], f"ranking_metrics()[{key!r}]", atol=1e-9, rtol=1e-9,
                                       check_dtype=False))
    return ", ".join(sorted(set(details)))


def _expect_zero_when_nothing_relevant(learner, worst: torch.Tensor, relevant: torch.Tensor, k: int) -> None:
    """Every metric is 0 for users whose ranking holds none of their relevant movies."""
    out = _metrics(learner, worst, relevant, k)
    for key in METRIC_KEYS:
        value = out[key].to(torch.float64)
        expect(bool((value == 0).all()),
               f"when nothing relevant is ranked (each user's {worst.shape[1]} ranked movies are all irrelevant to "
               f"them) every metric should be 0, but {key} is {float(value.abs().max()):.4g} for some user: count "
               f"the hits, do not assume them.")


@check("10.2", points=3, title="properties: NDCG in [0, 1], recall non-decreasing in k, a perfect ranking scores 1, "
                               "nothing relevant ranked scores 0",
       timeout=30)
def metric_properties(learner, ref, fx):
    # One plain call first: a stub's NotImplementedError then reports at once instead of being shrunk.
    _metrics(learner, torch.tensor([[1, 0]]), torch.tensor([[True, False]]), 1)
    _expect_zero_when_nothing_relevant(learner, torch.tensor([[1, 2], [0, 2]]),
                                       torch.tensor([[True, False, False], [False, True, False]]), 2)

    @PROPERTY
    @given(st.integers(1, 5), st.integers(2, 15), st.integers(1, 6), st.data())
    def prop(users, movies, k, data):
        k = min(k, movies)
        flags = data.draw(st.lists(st.booleans(), min_size=users * movies, max_size=users * movies))
        relevant = torch.tensor(flags, dtype=torch.bool).reshape(users, movies)
        relevant[:, data.draw(st.integers(0, movies - 1))] = True   # at least one relevant movie each
        keys = data.draw(st.lists(st.floats(0, 1, allow_nan=False), min_size=users * movies,
                                  max_size=users * movies))
        ranked = torch.argsort(torch.tensor(keys).reshape(users, movies), dim=1, stable=True)
        out = _metrics(learner, ranked, relevant, k)
        ndcg = out["ndcg"].to(torch.float64)
        expect(bool(((ndcg >= -1e-12) & (ndcg <= 1 + 1e-12)).all()),
               f"NDCG@{k} should lie in [0, 1], but it is {float(ndcg.min()):.4f}..{float(ndcg.max()):.4f} on a "
               f"random ranking of {movies} movies.")
        if k < movies:
            bigger = _metrics(learner, ranked, relevant, k + 1)
            expect(bool((bigger["recall"].to(torch.float64) >= out["recall"].to(torch.float64) - 1e-12).all()),
                   f"recall@{k + 1} is below recall@{k} for some user: recall never goes down when the list "
                   f"gets longer (divide by the number relevant, not by k).")
        perfect = _metrics(learner, _perfect(relevant), relevant, k)
        expect(bool(torch.allclose(perfect["ndcg"].to(torch.float64), torch.ones(users, dtype=torch.float64))),
               f"a perfect ranking should score NDCG@{k} = 1 for every user: the ideal DCG counts "
               f"min(k, number relevant) hits.")
        expect(bool((perfect["hr"].to(torch.float64) == 1).all()) and
               bool((perfect["mrr"].to(torch.float64) == 1).all()),
               "a perfect ranking has a hit at position 1: its hit rate and reciprocal rank should be 1.")
        # The worst case: each user's ranking holds only movies that are not relevant to them.
        depth = int((~relevant).sum(dim=1).min())
        if depth >= k:
            worst = torch.sort(relevant.to(torch.int64), dim=1, stable=True).indices[:, :depth]
            _expect_zero_when_nothing_relevant(learner, worst, relevant, k)
        want = ref.ranking_metrics(ranked.clone(), relevant.clone(), k)
        for key in METRIC_KEYS:
            got = out[key].to(torch.float64)
            if not all_near(got, want[key], 1e-9, 1e-9):
                user = int(torch.nonzero(far_entries(got, want[key], 1e-9, 1e-9))[0])
                raise CheckFailed(f"on a random ranking of {movies} movies with k={k}, user {user}'s {key} is "
                                  f"{float(got[user]):.4g}, not what the definition gives for their "
                                  f"{int(relevant[user].sum())} relevant movie(s).")
    prop()
    return "30 random rankings, and rankings without a relevant movie"


# ---------------------------------------------------------------- 10.3 catalogue_coverage

@check("10.3", points=2, title="catalogue coverage of the top k")
def coverage(learner, ref, fx):
    task = fx.ranking.dense
    movies = task.seen.shape[1]
    for name in ("noisy", "most-popular"):
        ranked = ref.rank_unseen(fx.ranking.scores[name], task.seen, movies)
        got = learner.catalogue_coverage(ranked.clone(), movies, K)
        expect(isinstance(got, float), f"catalogue_coverage should return a float, not {type(got).__name__}.")
        expect(math.isfinite(got), f"catalogue_coverage returned {got}: a share of the catalogue is a finite number "
                                   f"between 0 and 1.")
        want = ref.catalogue_coverage(ranked, movies, K)
        if far(got, want, 1e-12):
            users_share = float(torch.unique(ranked[:, :K]).numel()) / ranked.shape[0]
            if near(got, users_share, 1e-12):
                raise CheckFailed("your coverage divides by the number of users: it is the share of the *catalogue* "
                                  "(num_movies) that appears in at least one top k.")
            raise CheckFailed(f"for the {name} predictor your coverage is {got:.4f}: it should be the share of the "
                              f"catalogue's {movies} movies that appear in at least one user's top {K} (the first "
                              f"k columns only).")
    return "exact"


# ---------------------------------------------------------------- 10.4 / 10.5 charts

def _interaction_cases(fx) -> list[tuple[torch.Tensor, str]]:
    """The training users' interactions as tasks 10.4 and 10.6 take them, sparse CSR: the
    task's own 1.0 per rating; ratings 1..5 as stored values; and ratings with a few explicit
    zeros stored (a stored 0 is no rating: sparse matrices may keep them after an update)."""
    from solutions.evaluation import sparse_csr

    x = fx.ranking.task.train_interactions
    starts, columns = x.crow_indices(), x.col_indices()
    rows = torch.repeat_interleave(torch.arange(x.shape[0]), starts.diff())
    ratings = (1 + (rows + columns) % 5).to(torch.float64)
    zeroed = ratings.clone()
    zeroed[::7] = 0.0
    return [(x, "a 0/1 matrix"), (sparse_csr(starts, columns, ratings, tuple(x.shape)), "a matrix of ratings 1..5"),
            (sparse_csr(starts, columns, zeroed, tuple(x.shape)), "ratings with explicit zeros stored")]


def _give(matrix: torch.Tensor) -> torch.Tensor:
    """A copy of a sparse CSR matrix for the learner (the fixture's stays as it is)."""
    return matrix.clone()


@check("10.4", points=1, title="popularity: the number of training users who rated each movie")
def popularity(learner, ref, fx):
    for matrix, what in _interaction_cases(fx):
        got = learner.most_popular_scores(_give(matrix))
        expect_type(got, torch.Tensor, "most_popular_scores' result")
        want = ref.most_popular_scores(matrix)
        if got.shape == want.shape and not all_near(got, want, 0.0):
            movies = matrix.col_indices()
            summed = torch.zeros(matrix.shape[1], dtype=torch.float64).index_add_(0, movies, matrix.values())
            stored = torch.bincount(movies, minlength=matrix.shape[1]).to(torch.float64)
            if all_near(got, summed, 1e-9):
                raise CheckFailed("on a matrix of ratings your popularity adds the values up: it should count the "
                                  "training users who rated each movie (nonzero entries), whatever the rating.")
            if all_near(got, stored, 0.0):
                raise CheckFailed("your popularity counts every stored entry, a stored 0 too: a sparse matrix may "
                                  "keep explicit zeros, and a 0 is no rating. Count only the stored values that are "
                                  "nonzero.")
        compare_tensors(got, want, f"the popularity of every movie ({what})", atol=0, rtol=0)
    return "exact"


@check("10.5", points=2, title="Bayesian average shrinks towards the global mean")
def bayesian_average(learner, ref, fx):
    task = fx.ranking.task
    rating_sum, rating_count = task.train_rating_sum, task.train_rating_count
    got = learner.bayesian_average_scores(rating_sum.clone(), rating_count.clone(), 10.0)
    expect_type(got, torch.Tensor, "bayesian_average_scores' result")
    want = ref.bayesian_average_scores(rating_sum, rating_count, 10.0)
    if got.shape == want.shape and not all_near(got, want, 1e-8, 1e-5):
        seen = rating_count > 0
        mean_of_means = (rating_sum[seen] / rating_count[seen]).mean()
        alt = (rating_sum + 10.0 * mean_of_means) / (rating_count + 10.0)
        if all_near(got, alt, 1e-8, 1e-5):
            raise CheckFailed("your prior is the mean of the movies' mean ratings: the global mean C is the sum of "
                              "all ratings over the number of all ratings, so a movie with 300 ratings weighs more "
                              "than one with 3.")
        small = learner.bayesian_average_scores(torch.tensor([8.0, 0.0]), torch.tensor([2.0, 0.0]), 2.0)
        expect(near(small[1], 4.0, 1e-9), "a movie without a rating should get exactly the global mean "
                                                  "(here 4.0): (0 + m·C) / (0 + m) = C.")
    return compare_tensors(got, want, "the Bayesian-average scores", atol=1e-9, rtol=1e-9, check_dtype=False)


# ---------------------------------------------------------------- 10.6 EASE

def _ease_of(x: torch.Tensor, l2: float) -> torch.Tensor:
    """EASE's closed form on a dense X as given (the checks' diagnosis of a wrong X)."""
    precision = torch.linalg.inv(x.T @ x + l2 * torch.eye(x.shape[1], dtype=torch.float64))
    weights = -precision / precision.diagonal()[None, :]
    return weights.fill_diagonal_(0.0)


@check("10.6", points=3, title="EASE weights in closed form")
def ease(learner, ref, fx):
    details = []
    for x, what in _interaction_cases(fx):
        got = learner.ease_weights(_give(x), 50.0)
        expect_type(got, torch.Tensor, "ease_weights' result")
        m = x.shape[1]
        expect(tuple(got.shape) == (m, m), f"ease_weights should return [M, M] = {(m, m)}, not {tuple(got.shape)}.")
        diagonal = got.diagonal().abs().max()
        expect(float(diagonal) == 0.0, f"the diagonal of B should be exactly 0 (largest |B[i, i]| is "
                                       f"{float(diagonal):.3g}): otherwise each movie mostly recommends itself, a "
                                       f"movie the user has already seen.")
        want = ref.ease_weights(x, 50.0)
        if not all_near(got, want, 1e-8, 1e-5):
            if all_near(got, want.T, 1e-8, 1e-5):
                raise CheckFailed("your B is transposed: B[i, j] = -P[i, j] / P[j, j] divides each *column* j by "
                                  "P[j, j] (P.diagonal()[None, :]).")
            if all_near(got, _ease_of(x.to_dense().to(torch.float64), 50.0), 1e-8, 1e-5):
                raise CheckFailed(f"on {what} your B comes from the stored values themselves: X is 0/1, 1.0 wherever "
                                  f"a stored value is nonzero, whatever the rating (and 0 for a stored 0).")
        details.append(compare_tensors(got, want, f"the EASE weights ({what})", atol=1e-8, rtol=1e-5,
                                       check_dtype=False))
    return ", ".join(sorted(set(details)))


@check("10.6", points=1, title="EASE rebuilds a planted co-watching pattern")
def ease_pattern(learner, ref, fx):
    # Movies 0 and 1 are always watched together, 2 and 3 too; 4 by everyone.
    x = torch.tensor([[1, 1, 0, 0, 1], [1, 1, 0, 0, 1], [0, 0, 1, 1, 1], [0, 0, 1, 1, 1], [1, 1, 0, 0, 1]],
                     dtype=torch.float64)
    b = learner.ease_weights(x.to_sparse_csr(), 1.0)
    expect_type(b, torch.Tensor, "ease_weights' result")
    expect(float(b[0, 1]) > float(b[0, 2]) and float(b[2, 3]) > float(b[2, 0]),
           "with movies 0 and 1 always watched together, B[0, 1] should be larger than B[0, 2]: watching 0 should "
           "recommend 1.")
    return "co-watched movies recommend each other"


# ---------------------------------------------------------------- 10.7 paired bootstrap

@check("10.7", points=3, title="paired bootstrap interval, seeded")
def bootstrap(learner, ref, fx):
    generator = torch.Generator().manual_seed(107)
    a = torch.rand(80, generator=generator, dtype=torch.float64)
    b = (a - 0.05 + 0.1 * torch.rand(80, generator=generator, dtype=torch.float64)).clamp(0, 1)
    got = learner.paired_bootstrap(a.clone(), b.clone(), 400, 0.9, torch.Generator().manual_seed(7))
    expect(isinstance(got, tuple) and len(got) == 3, "paired_bootstrap should return a tuple (mean difference, "
                                                     "low, high).")
    expect(all(isinstance(v, float) for v in got), "paired_bootstrap's three values should be Python floats.")
    mean, low, high = got
    expect(near(mean, float((a - b).mean()), 1e-12), "the first value should be the observed mean of a - b "
                                                      "over all users, before any resampling.")
    expect(low <= mean <= high, f"the interval [{low:.4f}, {high:.4f}] does not contain the observed difference "
                                f"{mean:.4f}: low is the lower quantile, high the upper one.")
    want = ref.paired_bootstrap(a, b, 400, 0.9, torch.Generator().manual_seed(7))
    if far(low, want[1], 1e-9) or far(high, want[2], 1e-9):
        raise CheckFailed(f"your interval differs from the expected one for the same generator (width {high - low:.4f}). "
                          f"It should resample the per-user differences a - b (paired: one draw of "
                          f"[num_samples, U] user indices used for both predictors), average each resample, and take "
                          f"the (1 - confidence)/2 and (1 + confidence)/2 quantiles of those means.")
    if not math.isfinite(low + high):
        raise CheckFailed("the interval has a non-finite end.")
    return "exact"
