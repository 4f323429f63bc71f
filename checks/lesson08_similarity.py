"""Checks for lesson 8: all-pairs distances and the most similar movies."""
from __future__ import annotations

import torch
from hypothesis import given
from hypothesis import strategies as st

from checks.framework import CheckFailed, check, compare_tensors, expect, expect_type
from checks.properties import PROPERTY

LOOP_ROWS = 300          # rows given to pairwise_distances when counting its tensor operations
LOOP_BUDGET = 300        # a vectorised version needs a dozen or two; a loop over rows needs thousands
LARGE_ROWS = 1500        # a loop that escapes the count (numpy, plain floats) runs out of time here


def _truth(x: torch.Tensor) -> torch.Tensor:
    """Euclidean distances of every pair of rows, straight from the definition, in float64."""
    x = x.detach().to(torch.float64)
    return ((x[:, None, :] - x[None, :, :]) ** 2).sum(dim=-1).sqrt()


def _distances(learner, x: torch.Tensor, what: str) -> torch.Tensor:
    out = learner.pairwise_distances(x.clone())
    expect_type(out, torch.Tensor, "pairwise_distances' result")
    n = x.shape[0]
    expect(tuple(out.shape) == (n, n), f"for {what} ({n} rows of size {x.shape[1]}) the distance matrix should "
                                       f"have shape {(n, n)}, one entry per pair of rows, not {tuple(out.shape)}.")
    return out.detach()


def _diagnose_distances(out: torch.Tensor, x: torch.Tensor, atol: float) -> None:
    """Name the usual mistakes of the matrix form before a plain 'differs' message."""
    truth = _truth(x)
    got = out.to(torch.float64)
    if torch.isnan(got).any():
        raise CheckFailed(f"your distance matrix contains {int(torch.isnan(got).sum())} NaN value(s). Rounding can "
                          f"make |a|² + |b|² - 2 a·b slightly negative when two rows are (nearly) equal, and the "
                          f"square root of a negative number is NaN: clamp at 0 before the square root.")
    off = ~torch.eye(len(x), dtype=torch.bool)
    if off.any() and not torch.allclose(got, truth, atol=atol):
        if torch.allclose(got, truth ** 2, atol=atol * 10, rtol=1e-4):
            raise CheckFailed("your distances are the *squared* Euclidean distances: take the square root of "
                              "|a|² + |b|² - 2 a·b.")
        summed = _truth(torch.cat([x, -x]))[: len(x), len(x):]   # |a + b| for every pair
        if torch.allclose(got[off], summed[off], atol=atol * 10, rtol=1e-4):
            raise CheckFailed("your distances are |a + b|, not |a - b|: in |a - b|² = |a|² + |b|² - 2 a·b the "
                              "cross term 2 a·b is subtracted, not added.")
        if torch.allclose(got[off], truth[off], atol=atol) and not bool((got.diagonal() == 0).all()):
            raise CheckFailed(f"your distances are right except on the diagonal, which should be exactly 0 (every "
                              f"row is at distance 0 from itself); rounding leaves values up to "
                              f"{float(got.diagonal().abs().max()):.2g} there, so set the diagonal to 0.")


@check("8.1", points=3, title="distances between the movie embeddings match the definition")
def fixture_distances(learner, ref, fx):
    x = fx.embeddings.combined
    out = _distances(learner, x, "the combined movie embeddings")
    _diagnose_distances(out, x, atol=1e-4)
    return compare_tensors(out, _truth(x).to(x.dtype), "the distance matrix", atol=1e-4, rtol=0)


@check("8.1", points=2, title="distances of random small matrices match the definition")
def random_distances(learner, ref, fx):
    @PROPERTY
    @given(st.integers(1, 12), st.integers(1, 6), st.data())
    def prop(n, d, data):
        values = data.draw(st.lists(st.floats(-10, 10, allow_nan=False, allow_subnormal=False),
                                    min_size=n * d, max_size=n * d))
        x = torch.tensor(values, dtype=torch.float64).reshape(n, d)
        out = _distances(learner, x, "a random float64 matrix")
        _diagnose_distances(out, x, atol=1e-4)
        truth = _truth(x)
        diff = (out.to(torch.float64) - truth).abs()
        if float(diff.max()) > 1e-4:
            i, j = (int(v) for v in torch.nonzero(diff > 1e-4)[0])
            raise CheckFailed(f"on a random float64 matrix of {n} rows of size {d}, the distance between rows {i} "
                              f"and {j} is off by {float(diff[i, j]):.3g}. The result should be the Euclidean "
                              f"distance of every pair of rows.")
    prop()
    return "30 random matrices"


@check("8.1", points=2, title="symmetric, 0 on the diagonal, no NaN when rows repeat")
def duplicate_rows(learner, ref, fx):
    generator = torch.Generator().manual_seed(8)
    base = torch.rand((100, 12), generator=generator) * 2 - 1
    x = torch.cat([base, base])   # row i and row i + 100 are the same movie embedding
    out = _distances(learner, x, "a matrix whose rows each appear twice")
    got = out.to(torch.float64)
    nan = int(torch.isnan(got).sum())
    expect(nan == 0, f"with every row appearing twice, your distance matrix contains {nan} NaN value(s). For two "
                     f"equal rows, rounding can make |a|² + |b|² - 2 a·b slightly negative, and its square root "
                     f"is NaN: clamp the squared distances at 0 before the square root.")
    expect(bool((got >= 0).all()), "your distance matrix has negative entries: a distance is never negative.")
    diagonal = got.diagonal()
    expect(bool((diagonal == 0).all()), f"the diagonal should be exactly 0 (every row is at distance 0 from itself), "
                                        f"but {int((diagonal != 0).sum())} entries are not (largest "
                                        f"{float(diagonal.abs().max()):.2g}): rounding leaves tiny values there, "
                                        f"so set the diagonal to 0.")
    asym = float((got - got.T).abs().max())
    expect(asym <= 1e-5, f"your distance matrix is not symmetric (d[i, j] and d[j, i] differ by up to {asym:.3g}): "
                         f"the distance from a to b is the distance from b to a.")
    truth = _truth(x)
    far = float((got - truth).abs().max())
    expect(far < 1e-2, f"with every row appearing twice, some distances are off by {far:.3g}.")
    return "200 rows, 100 pairs of equal rows"


@check("8.1", points=2, title="no Python loop over the movies", timeout=10)
def no_loop(learner, ref, fx):
    generator = torch.Generator().manual_seed(81)
    x = torch.rand((LOOP_ROWS, 12), generator=generator) * 2 - 1
    # Counted where the learner's code runs (a torch function mode around the call).
    counted = learner.procedure("count_tensor_operations", "pairwise_distances", LOOP_BUDGET, x.clone())
    out = counted["out"]
    if counted["too_many"]:
        raise CheckFailed(f"for {LOOP_ROWS} movies your pairwise_distances ran more than {LOOP_BUDGET} tensor "
                          f"operations: it loops over the movies in Python, like the post's nested loop. Use the "
                          f"matrix form |a|² + |b|² - 2 a·b: a handful of operations for any number of movies.")
    expect(not counted["used_cdist"], "your pairwise_distances calls torch.cdist (or a pairwise-distance helper): this "
                                   "task is to build the distances yourself from |a|² + |b|² - 2 a·b.")
    expect_type(out, torch.Tensor, "pairwise_distances' result")
    big = torch.rand((LARGE_ROWS, 12), generator=generator) * 2 - 1
    out = _distances(learner, big, "a large matrix")
    expect(not bool(torch.isnan(out).any()), "on a large random matrix your distances contain NaN.")
    return f"{counted['calls']} tensor operations for {LOOP_ROWS} movies"


# ---------------------------------------------------------------- 8.2 most_similar

# Points on a small integer grid (exact arithmetic, so equal distances are exactly equal),
# with repeated rows: 4 repeats 1, 5 repeats 0, 9 repeats 3.
TIES = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 0, 0],
                     [-1, 0, 0], [0, -1, 0], [2, 0, 0], [0, 0, 1], [1, 1, 0], [0, 2, 1]], dtype=torch.float32)


SEE_8_1 = " (most_similar uses your pairwise_distances: if task 8.1 fails, fix it first.)"


def _neighbours(learner, x: torch.Tensor, k: int, what: str) -> torch.Tensor:
    out = learner.most_similar(x.clone(), k)
    expect_type(out, torch.Tensor, "most_similar's result")
    n = x.shape[0]
    expect(tuple(out.shape) == (n, k), f"for {what} ({n} rows) and k={k}, most_similar should return shape {(n, k)}, "
                                       f"the k neighbours of every row, not {tuple(out.shape)}.")
    expect(out.dtype == torch.int64, f"most_similar returns dtype {out.dtype}; row numbers should be int64.")
    expect(bool(((out >= 0) & (out < n)).all()), f"most_similar returns numbers outside 0..{n - 1}: they should be rows.")
    own = (out == torch.arange(n)[:, None]).any(dim=1)
    if bool(own.any()):
        row = int(torch.nonzero(own)[0])
        raise CheckFailed(f"row {row} is listed as its own neighbour (in {int(own.sum())} of {n} rows): a movie is "
                          f"always at distance 0 from itself, so exclude it (put +inf on the diagonal).")
    return out


def _expect_nearest_first(out: torch.Tensor, truth: torch.Tensor) -> None:
    gaps = truth.gather(1, out).diff(dim=1)
    if bool((gaps < -1e-6).any()):
        row = int(torch.nonzero((gaps < -1e-6).any(dim=1))[0])
        which = "farthest first" if bool((gaps <= 1e-6).all()) else "out of order"
        raise CheckFailed(f"your neighbours are {which} (e.g. row {row}): they should be sorted nearest first, "
                          f"by increasing distance.{SEE_8_1}")


@check("8.2", points=3, title="the k nearest movies of every movie, nearest first")
def fixture_neighbours(learner, ref, fx):
    x, k = fx.embeddings.combined, 5
    out = _neighbours(learner, x, k, "the combined movie embeddings")
    truth = _truth(x)
    _expect_nearest_first(out, truth)
    expected = ref.most_similar(x.clone(), k)
    # Compare distances, not rows, so that two neighbours within rounding of each other may swap.
    got_d, exp_d = truth.gather(1, out), truth.gather(1, expected)
    wrong = (got_d - exp_d).abs() > 1e-5
    if bool(wrong.any()):
        row = int(torch.nonzero(wrong.any(dim=1))[0])
        raise CheckFailed(f"for {int(wrong.any(dim=1).sum())} of {len(x)} movies (first: row {row}) your {k} "
                          f"neighbours are not the {k} nearest other movies.{SEE_8_1}")
    same = int((out == expected).all(dim=1).sum())
    return "exact" if same == len(x) else f"{same} of {len(x)} rows identical, the rest within rounding"


@check("8.2", points=2, title="a movie is never its own neighbour; equal distances go to the lower row")
def ties(learner, ref, fx):
    k = 4
    out = _neighbours(learner, TIES, k, "a small grid of points with repeated rows")
    truth = _truth(TIES)
    _expect_nearest_first(out, truth)
    masked = truth.clone()
    masked.fill_diagonal_(float("inf"))
    expected = torch.sort(masked, dim=1, stable=True).indices[:, :k]
    for row in range(len(TIES)):
        if torch.equal(out[row], expected[row]):
            continue
        got, want = out[row].tolist(), expected[row].tolist()
        if sorted(masked[row, out[row]].tolist()) == sorted(masked[row, expected[row]].tolist()):
            raise CheckFailed(f"in a small grid of points with equal distances, row {row}'s neighbours are {got}; "
                              f"they should be {want}: equal distances go to the lower row (a stable sort "
                              f"keeps them in row order).")
        raise CheckFailed(f"in a small grid of points, row {row}'s {k} nearest other rows should be {want}, not {got}.")
    return "exact"


# ---------------------------------------------------------------- 8.3 similar_titles

def _queries(fx) -> list[str]:
    maps, top = fx.data.maps, fx.data.top_movies
    picks = [top[0], top[len(top) // 2], top[-1]]
    return [maps.title_by_id[m] for m in picks if maps.id_by_title.get(maps.title_by_id[m]) == m]


def _similar(learner, fx, title: str, k: int):
    maps = fx.data.maps
    out = learner.similar_titles(title, k, fx.embeddings.combined.clone(), list(fx.data.top_movies),
                                 dict(maps.id_by_title), dict(maps.title_by_id))
    expect_type(out, list, f"similar_titles({title!r}, {k}, ...)")
    return out


@check("8.3", points=2, title="the nearest titles of a few catalogue movies")
def nearest_titles(learner, ref, fx):
    k = 5
    maps, top = fx.data.maps, list(fx.data.top_movies)
    x = fx.embeddings.combined
    row_of = {m: r for r, m in enumerate(top)}
    queries = _queries(fx)
    for title in queries:
        out = _similar(learner, fx, title, k)
        expect(len(out) == k, f"similar_titles({title!r}, k={k}) returned {len(out)} titles; it should return {k}.")
        expect(all(isinstance(t, str) for t in out), "similar_titles should return titles (str), not ids or rows.")
        expect(title not in out, f"the titles similar to {title!r} include the movie itself: leave it out, it is "
                                 f"always at distance 0.")
        expected = ref.similar_titles(title, k, x.clone(), top, dict(maps.id_by_title), dict(maps.title_by_id))
        if out != expected:
            row = row_of[maps.id_by_title[title]]
            dist = _truth(x)[row]
            ids = [maps.id_by_title.get(t) for t in out]
            if None in ids or any(i not in row_of for i in ids):
                raise CheckFailed(f"similar_titles({title!r}) returned a title that is not a catalogue movie.")
            got_d = [float(dist[row_of[i]]) for i in ids]
            exp_d = [float(dist[row_of[maps.id_by_title[t]]]) for t in expected]
            if any(abs(a - b) > 1e-5 for a, b in zip(got_d, exp_d)):
                if got_d == sorted(got_d, reverse=True) and got_d != sorted(got_d):
                    raise CheckFailed(f"the titles similar to {title!r} come farthest first: sort them nearest first.")
                raise CheckFailed(f"the {k} titles similar to {title!r} are not the {k} nearest other movies, "
                                  f"nearest first.")
    return f"{len(queries)} titles"


@check("8.3", points=1, title="KeyError for a title outside the catalogue")
def unknown_title(learner, ref, fx):
    _similar(learner, fx, _queries(fx)[0], 3)
    maps, top = fx.data.maps, set(fx.data.top_movies)
    outside = [t for t, m in maps.id_by_title.items() if m not in top]
    for title in ["No Such Movie (1900)", *outside[:1]]:
        where = "in no table" if title == "No Such Movie (1900)" else "in movies.csv but not among the top movies"
        try:
            got = learner.similar_titles(title, 3, fx.embeddings.combined.clone(), list(fx.data.top_movies),
                                         dict(maps.id_by_title), dict(maps.title_by_id))
        except KeyError:
            continue
        except Exception as e:  # noqa: BLE001 - any other error is the wrong kind
            raise CheckFailed(f"similar_titles({title!r}) (a title {where}) raised {type(e).__name__}; it should "
                              f"raise KeyError, the error for a missing key.") from None
        raise CheckFailed(f"similar_titles({title!r}) (a title {where}) returned {got!r}; it should raise "
                          f"KeyError, so a typo is never answered with some other movie's neighbours.")
    return "KeyError raised"


# ---------------------------------------------------------------- 8.4 most_similar_blocked

SEE_8_2 = " (the blocked version must give most_similar's neighbours: fix tasks 8.1 and 8.2 first if they fail.)"


def _blocked(learner, x: torch.Tensor, k: int, block_rows: int, what: str) -> torch.Tensor:
    out = learner.most_similar_blocked(x.clone(), k, block_rows)
    expect_type(out, torch.Tensor, "most_similar_blocked's result")
    n = x.shape[0]
    expect(tuple(out.shape) == (n, k), f"for {what} ({n} rows), k={k} and blocks of {block_rows} rows, "
                                       f"most_similar_blocked should return shape {(n, k)}, the k neighbours of "
                                       f"every row, not {tuple(out.shape)}: is the last, shorter block left out?")
    expect(out.dtype == torch.int64, f"most_similar_blocked returns dtype {out.dtype}; row numbers should be int64.")
    expect(bool(((out >= 0) & (out < n)).all()), f"most_similar_blocked returns numbers outside 0..{n - 1}: they "
                                                 f"should be rows of the whole matrix, not of the block.")
    own = (out == torch.arange(n)[:, None]).any(dim=1)
    if bool(own.any()):
        row = int(torch.nonzero(own)[0])
        raise CheckFailed(f"with blocks of {block_rows} rows, row {row} is listed as its own neighbour (in "
                          f"{int(own.sum())} of {n} rows): in a block starting at row s, row s + i of the whole "
                          f"matrix is row i of the block, so +inf goes at [i, s + i], not on the block's diagonal.")
    return out


@check("8.4", points=3, title="blocked and all-pairs neighbours agree, for every block size")
def blocked_agrees(learner, ref, fx):
    x, k = fx.embeddings.combined, 5
    n = len(x)
    truth = _truth(x)
    expected = ref.most_similar(x.clone(), k)
    identical = 0
    sizes = (1, 7, n // 3 + 1, n, 4 * n)
    for block_rows in sizes:
        out = _blocked(learner, x, k, block_rows, "the combined movie embeddings")
        _expect_nearest_first(out, truth)
        # Distances, not rows: two neighbours within rounding of each other may swap.
        wrong = (truth.gather(1, out) - truth.gather(1, expected)).abs() > 1e-5
        if bool(wrong.any()):
            row = int(torch.nonzero(wrong.any(dim=1))[0])
            raise CheckFailed(f"with blocks of {block_rows} rows, for {int(wrong.any(dim=1).sum())} of {n} movies "
                              f"(first: row {row}) your {k} neighbours are not the {k} nearest other movies that "
                              f"the all-pairs version finds.{SEE_8_2}")
        identical += int((out == expected).all(dim=1).sum())
    return f"{len(sizes)} block sizes, {identical} of {len(sizes) * n} rows identical, the rest within rounding"


@check("8.4", points=2, title="equal distances go to the lower row, across block boundaries")
def blocked_ties(learner, ref, fx):
    k = 4
    masked = _truth(TIES)
    masked.fill_diagonal_(float("inf"))
    expected = torch.sort(masked, dim=1, stable=True).indices[:, :k]
    for block_rows in (1, 5, len(TIES)):
        out = _blocked(learner, TIES, k, block_rows, "a small grid of points with repeated rows")
        for row in range(len(TIES)):
            if torch.equal(out[row], expected[row]):
                continue
            got, want = out[row].tolist(), expected[row].tolist()
            if sorted(masked[row, out[row]].tolist()) == sorted(masked[row, expected[row]].tolist()):
                raise CheckFailed(f"with blocks of {block_rows} rows, in a small grid of points with equal "
                                  f"distances, row {row}'s neighbours are {got}; they should be {want}: equal "
                                  f"distances go to the lower row, as in most_similar (torch.topk alone does not "
                                  f"promise that).")
            raise CheckFailed(f"with blocks of {block_rows} rows, in a small grid of points, row {row}'s {k} "
                              f"nearest other rows should be {want}, not {got}.")
    return "exact"


def _largest_tensor_mode():
    from torch.overrides import TorchFunctionMode

    class Largest(TorchFunctionMode):
        numel = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for item in (out if isinstance(out, (tuple, list)) else (out,)):
                if isinstance(item, torch.Tensor):
                    self.numel = max(self.numel, item.numel())
            return out

    return Largest()


@check("8.4", points=2, title="memory: one block at a time, never the whole matrix")
def blocked_memory(learner, ref, fx):
    n, d, k, block_rows = 600, 8, 3, 50
    x = torch.rand((n, d), generator=torch.Generator().manual_seed(84)) * 2 - 1
    largest = _largest_tensor_mode()
    with largest:
        out = learner.most_similar_blocked(x.clone(), k, block_rows)
    expect_type(out, torch.Tensor, "most_similar_blocked's result")
    allowed = 2 * block_rows * n
    expect(largest.numel <= allowed, f"for {n} rows in blocks of {block_rows}, your most_similar_blocked made a "
                                     f"tensor of {largest.numel:,} numbers; one block of distances is "
                                     f"{block_rows * n:,}. Compute only the block's rows against every row "
                                     f"(block @ embeddings.T), not the whole {n} x {n} matrix.")
    _blocked(learner, x, k, block_rows, "random rows")
    return f"largest tensor {largest.numel:,} numbers (one block: {block_rows * n:,})"
