"""Tests of datasets.synthetic: the deterministic MovieLens look-alike every check runs on."""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from datasets import synthetic
from datasets.synthetic import GENRES, NO_GENRES, SIZES, SyntheticSpec, generate, write

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fixture():
    return generate("fixture", seed=0)


@pytest.fixture(scope="module")
def small():
    return generate("small", seed=0)


def _clean(ratings: pd.DataFrame) -> pd.DataFrame:
    return ratings.dropna().astype({"movieId": "int64"}).reset_index(drop=True)


# ------------------------------------------------------------------------------ sizes, API

@pytest.mark.parametrize("size", ["fixture", "small"])
def test_presets_have_their_sizes(size, request):
    data = request.getfixturevalue(size)
    spec = SIZES[size]
    assert len(data.ratings) == spec.num_ratings
    assert len(data.movies) == spec.num_movies
    assert data.ratings["userId"].nunique() == spec.num_users
    assert data.spec is spec and data.seed == 0


def test_named_presets():
    assert {"fixture", "small", "ml-32m"} <= set(SIZES)
    fx, sm, big = SIZES["fixture"], SIZES["small"], SIZES["ml-32m"]
    assert (sm.num_users, sm.num_movies, sm.num_ratings) == (610, 9_742, 100_836)
    assert (big.num_users, big.num_movies, big.num_ratings) == (200_948, 87_585, 32_000_204)
    assert 250 <= fx.num_users <= 350 and 350 <= fx.num_movies <= 450
    assert 20_000 <= fx.num_ratings <= 30_000


def test_bad_arguments_are_refused():
    with pytest.raises(KeyError, match="fixture"):
        generate("no-such-size")
    with pytest.raises(ValueError):
        generate("fixture", seed=-1)
    with pytest.raises(ValueError, match="num_ratings"):
        SyntheticSpec(num_users=10, num_movies=10, num_ratings=5)      # < 6 per user
    with pytest.raises(ValueError, match="num_ratings"):
        SyntheticSpec(num_users=10, num_movies=10, num_ratings=1_000)  # > movies per user
    with pytest.raises(ValueError, match="last_year"):
        SyntheticSpec(num_users=10, num_movies=100, num_ratings=100, last_year=2030)


def test_fixture_is_small():
    # Every check runs on it: it stays small (its generation time is `make bench`'s business).
    data = generate("fixture", seed=3)
    assert len(data.ratings) <= 20_000 and len(data.movies) <= 1_000


# ------------------------------------------------------------------------------ determinism

def test_same_seed_same_tables(fixture):
    again = generate("fixture", seed=0)
    pd.testing.assert_frame_equal(fixture.ratings, again.ratings)
    pd.testing.assert_frame_equal(fixture.movies, again.movies)
    np.testing.assert_array_equal(fixture.truth.taste, again.truth.taste)


def test_different_seed_different_tables(fixture):
    other = generate("fixture", seed=1)
    assert not fixture.ratings.equals(other.ratings)
    assert not fixture.movies["title"].equals(other.movies["title"])
    assert not np.array_equal(fixture.truth.taste, other.truth.taste)


def test_same_seed_byte_identical_csv(tmp_path):
    a = write(tmp_path / "a", "fixture", seed=5)
    b = write(tmp_path / "b", "fixture", seed=5)
    for name in ("ratings.csv", "movies.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


# ------------------------------------------------------------------------------ file format

def test_columns_and_dtypes(fixture):
    r, m = fixture.ratings, fixture.movies
    assert list(r.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert [str(t) for t in r.dtypes] == ["int64", "float64", "float64", "int64"]
    assert list(m.columns) == ["movieId", "title", "genres"]
    assert str(m["movieId"].dtype) == "int64"
    # What pandas.read_csv gives a text column.
    expected = pd.read_csv(__import__("io").StringIO("a\nx\n"))["a"].dtype
    assert m["title"].dtype == expected and m["genres"].dtype == expected
    assert isinstance(r.index, pd.RangeIndex) and isinstance(m.index, pd.RangeIndex)


@pytest.mark.parametrize("size", ["fixture", "small"])
def test_read_csv_round_trip(size, tmp_path, request):
    data = request.getfixturevalue(size)
    out = synthetic.write_data(data, tmp_path)
    pd.testing.assert_frame_equal(pd.read_csv(out / "ratings.csv"), data.ratings)
    pd.testing.assert_frame_equal(pd.read_csv(out / "movies.csv"), data.movies)


def test_csv_layout_is_movielens(tmp_path, fixture):
    out = write(tmp_path, "fixture", seed=0)
    ratings_lines = (out / "ratings.csv").read_text().splitlines()
    movies_lines = (out / "movies.csv").read_text().splitlines()
    assert ratings_lines[0] == "userId,movieId,rating,timestamp"
    assert movies_lines[0] == "movieId,title,genres"
    # Ids written as integers, ratings as MovieLens writes them, NaN as an empty field.
    assert all(re.fullmatch(r"\d+,(\d+)?,(\d\.\d)?,\d+", line) for line in ratings_lines[1:])
    assert sum(",," in line for line in ratings_lines) == 2
    # Titles with a comma are quoted, the others are not.
    comma = [line for line in movies_lines[1:] if line.count(",") > 2]
    assert comma and all(re.fullmatch(r'\d+,"[^"]+",[^,"]+', line) for line in comma)
    assert '"' not in "".join(line for line in movies_lines[1:] if line.count(",") == 2)


# SHA-256 of the fixture's files as `write` gives them, taken before users could choose by
# taste: every check of the course runs on these files, so they never change (seed 0 is the
# checks' FIXTURE_SEED).
FIXTURE_SHA256 = {
    0: {"ratings.csv": "9e3fa365178995197ae554c58aaced96cd1f464fde7f26ada3095aaec32fab7f",
        "movies.csv": "016b53012353b1f355d788ab8eec2b00d1c4da60cac9a137e5a4be67f4a731e1"},
    1: {"ratings.csv": "acc3da74342d7eeff37ff5233f16510dc9d1ab200e542087ab1fbba8b1526293",
        "movies.csv": "8dbec668311704de135031d8146f020eb985c49fb0e3b846f88fe5ee30986e95"},
    2: {"ratings.csv": "100f5b9c67d92e1c0301babffe1be2f60d2ff3d4f6cb678df2ad8833a999558c",
        "movies.csv": "f5674d5f60b7d9f2433d69ebc4b403da7a1c9d0911418e99c7fb2c90e79f8ddf"},
}


@pytest.mark.parametrize("seed", sorted(FIXTURE_SHA256))
def test_fixture_files_are_byte_identical_to_before(tmp_path, seed):
    out = write(tmp_path, "fixture", seed=seed)
    got = {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in FIXTURE_SHA256[seed]}
    assert got == FIXTURE_SHA256[seed]


def test_command_line_writes_the_same_files(tmp_path):
    out = tmp_path / "cli"
    done = subprocess.run(
        [sys.executable, "-m", "datasets.synthetic", "--size", "fixture", "--seed", "2",
         "--out", str(out)], cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    ref = write(tmp_path / "ref", "fixture", seed=2)
    for name in ("ratings.csv", "movies.csv"):
        assert (out / name).read_bytes() == (ref / name).read_bytes()


# ------------------------------------------------------------------------------ dirt, integrity

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exactly_one_nan_rating_and_one_nan_movie_id(seed):
    r = generate("fixture", seed=seed).ratings
    nan_rating = np.flatnonzero(r["rating"].isna().to_numpy())
    nan_movie = np.flatnonzero(r["movieId"].isna().to_numpy())
    assert len(nan_rating) == 1 and len(nan_movie) == 1
    assert nan_rating[0] != nan_movie[0]
    assert r["userId"].notna().all() and r["timestamp"].notna().all()
    # Seeded positions, not appended at the end.
    assert max(nan_rating[0], nan_movie[0]) < len(r) - 2
    # The dirty rows' users still have clean ratings.
    clean_users = set(_clean(r)["userId"])
    assert {int(r["userId"].iloc[nan_rating[0]]), int(r["userId"].iloc[nan_movie[0]])} <= clean_users


def test_dirt_positions_depend_on_the_seed():
    where = {tuple(np.flatnonzero(generate("fixture", seed=s).ratings.isna().any(axis=1)))
             for s in range(3)}
    assert len(where) == 3


@pytest.mark.parametrize("size", ["fixture", "small"])
def test_no_duplicate_pairs_and_referential_integrity(size, request):
    data = request.getfixturevalue(size)
    r = data.ratings
    rated = r.dropna(subset=["movieId"])
    assert not rated.duplicated(["userId", "movieId"]).any()
    assert set(rated["movieId"].astype("int64")) <= set(data.movies["movieId"])
    # Sorted by user then movie, like MovieLens.
    assert (r["userId"].diff().fillna(0) >= 0).all()
    assert sorted(r["userId"].unique()) == list(range(1, SIZES[size].num_users + 1))


def test_movie_ids_ascending_with_gaps(fixture):
    ids = fixture.movies["movieId"].to_numpy()
    steps = np.diff(ids)
    assert ids[0] >= 1 and (steps > 0).all() and (steps > 1).any() and (steps == 1).any()
    np.testing.assert_array_equal(fixture.truth.movie_ids, ids)


# ------------------------------------------------------------------------------ long tails

def test_long_tails_fixture(fixture):
    r = _clean(fixture.ratings)
    per_movie = r["movieId"].value_counts().reindex(fixture.movies["movieId"], fill_value=0)
    per_movie = per_movie.sort_values(ascending=False)
    top = per_movie.iloc[: len(per_movie) // 10].sum()
    assert top / len(r) > 0.40
    assert (per_movie < 5).sum() >= 10           # below the fixture's min_ratings_per_movie
    assert per_movie.iloc[0] > 10 * per_movie.median()
    per_user = fixture.ratings.groupby("userId").size()
    assert per_user.min() >= 1
    assert (per_user <= 5).sum() >= 5              # the "skip users with <= 5 ratings" rule matters
    assert per_user.max() >= 3 * per_user.median()  # a few heavy raters
    assert (per_user > 5).mean() > 0.9


def test_long_tails_small(small):
    r = _clean(small.ratings)
    per_movie = r["movieId"].value_counts().sort_values(ascending=False)
    assert per_movie.iloc[: len(small.movies) // 10].sum() / len(r) > 0.5
    assert (per_movie < 5).mean() > 0.4
    assert per_movie.iloc[0] < 0.8 * SIZES["small"].num_users


# ------------------------------------------------------------------------------ ratings, time

@pytest.mark.parametrize("size", ["fixture", "small"])
def test_ratings_on_the_half_star_grid(size, request):
    rating = request.getfixturevalue(size).ratings["rating"].dropna()
    assert set(rating.unique()) <= {x / 2 for x in range(1, 11)}
    assert 3.2 <= rating.mean() <= 3.8
    counts = rating.value_counts()
    assert counts.idxmax() == 4.0
    assert counts[4.0] > counts[3.5] and counts[3.0] > counts[2.5]   # whole stars favoured


def test_timestamps(small):
    r, spec = small.ratings, SIZES["small"]
    ts = r["timestamp"]
    assert ts.between(spec.first_timestamp, spec.last_timestamp).all()
    # Before half stars existed every rating is a whole star.
    early = r.loc[ts < synthetic.HALF_STARS_SINCE, "rating"].dropna()
    assert len(early) > 100 and (early % 1 == 0).all()
    # Each user rates over their own period, so start dates differ between users.
    first = r.groupby("userId")["timestamp"].min()
    assert first.nunique() > 0.9 * len(first)


def test_no_movie_is_rated_before_its_release(small):
    r = small.ratings.dropna(subset=["movieId"])
    first = pd.to_datetime(r.groupby("movieId")["timestamp"].min(), unit="s").dt.year
    year = small.movies.set_index("movieId")["title"].str.extract(r"\((\d{4})\)$")[0].astype(int)
    assert (year.reindex(first.index.astype("int64")).to_numpy() <= first.to_numpy()).all()
    np.testing.assert_array_equal(year.to_numpy(), small.truth.year)


# ------------------------------------------------------------------------------ movies

def test_genres(small):
    m = small.movies
    lists = m["genres"].str.split("|")
    vocab = set(GENRES) | {NO_GENRES}
    assert all(set(g) <= vocab for g in lists)
    assert lists.map(len).between(1, 4).all()
    assert all(g == sorted(g) for g in lists)
    assert all(len(g) == 1 for g in lists if NO_GENRES in g)
    freq = lists.explode().value_counts()
    assert set(freq.index[:2]) == {"Drama", "Comedy"}
    assert freq["Film-Noir"] < freq["Drama"] / 10
    assert 0 < freq[NO_GENRES] < 0.02 * len(m)
    assert set(freq.index) == vocab
    # The truth's multi-hot matrix agrees with the strings.
    hot = small.truth.movie_genres
    assert hot.shape == (len(m), len(GENRES))
    assert [tuple(GENRES[j] for j in np.flatnonzero(row)) or (NO_GENRES,) for row in hot[:50]] \
        == [tuple(g) for g in lists[:50]]


@pytest.mark.parametrize("size", ["fixture", "small"])
def test_titles(size, request):
    titles = request.getfixturevalue(size).movies["title"]
    assert titles.is_unique
    assert titles.str.fullmatch(r"[A-Z][A-Za-z' :,\-]*[A-Za-z0-9] \((18|19|20)\d\d\)").all()
    assert titles.str.contains(",").sum() >= 5
    assert titles.str.contains(r", (?:The|An?) \(\d{4}\)$").sum() >= 5
    assert not titles.str.contains(r"^The ").any()      # articles go to the end


def test_every_preset_has_dirt_and_odd_titles_even_tiny():
    data = generate(SyntheticSpec(num_users=20, num_movies=30, num_ratings=200), seed=0)
    assert data.ratings["rating"].isna().sum() == 1
    assert data.ratings["movieId"].isna().sum() == 1
    assert data.movies["title"].str.contains(",").any()
    assert (data.movies["genres"] == NO_GENRES).sum() >= 1
    assert len(data.ratings) == 200


# ------------------------------------------------------------------------------ planted tastes

def _user_genre_affinity(ratings: pd.DataFrame, data) -> tuple[np.ndarray, np.ndarray]:
    """Per user and genre: mean rating of the user's movies of that genre minus the
    user's mean, and how many ratings it is based on (like lesson 4)."""
    truth = data.truth
    users = ratings["userId"].to_numpy() - 1
    movies = np.searchsorted(truth.movie_ids, ratings["movieId"].to_numpy())
    rating = ratings["rating"].to_numpy()
    hot = truth.movie_genres[movies].astype(np.float64)
    shape = (len(truth.user_ids), len(GENRES))
    total, count = np.zeros(shape), np.zeros(shape)
    np.add.at(total, users, hot * rating[:, None])
    np.add.at(count, users, hot)
    user_mean = np.bincount(users, rating, shape[0]) / np.maximum(np.bincount(users, minlength=shape[0]), 1)
    affinity = np.where(count > 0, total / np.maximum(count, 1) - user_mean[:, None], 0.0)
    return affinity, count


def test_planted_tastes_show_in_the_ratings(fixture):
    affinity, count = _user_genre_affinity(_clean(fixture.ratings), fixture)
    enough = count >= 5
    corr = np.corrcoef(affinity[enough], fixture.truth.taste[enough])[0, 1]
    assert corr > 0.4
    # Liked genres are rated above the user's mean, disliked ones below.
    assert affinity[enough & fixture.truth.liked].mean() > 0.15
    assert affinity[enough & fixture.truth.disliked].mean() < -0.15


def test_truth_explains_the_ratings(fixture):
    r = _clean(fixture.ratings)
    expected = fixture.truth.expected_rating(r["userId"], r["movieId"])
    assert np.corrcoef(expected, r["rating"])[0, 1] > 0.6
    t = fixture.truth
    assert t.taste.shape == (SIZES["fixture"].num_users, len(GENRES)) and t.genres == GENRES
    assert (t.liked.sum(axis=1) >= 1).all() and (t.disliked.sum(axis=1) >= 1).all()
    assert not (t.liked & t.disliked).any()
    assert np.isclose(t.popularity.sum(), 1.0)


def test_taste_aware_predictor_beats_movie_means(fixture):
    r = _clean(fixture.ratings)
    rng = np.random.default_rng(0)
    test_rows = rng.random(len(r)) < 0.2
    train, test = r[~test_rows], r[test_rows]
    movie_mean = train.groupby("movieId")["rating"].mean()
    base = test["movieId"].map(movie_mean).fillna(train["rating"].mean()).to_numpy()

    # Taste-aware: the movie mean, plus the user's offset from the movie means, plus the
    # user's genre affinity (measured on residuals) averaged over the movie's genres.
    resid = train.assign(rating=train["rating"] - train["movieId"].map(movie_mean))
    affinity, count = _user_genre_affinity(resid, fixture)
    offset = resid.groupby("userId")["rating"].mean()
    users = test["userId"].to_numpy() - 1
    hot = fixture.truth.movie_genres[np.searchsorted(fixture.truth.movie_ids, test["movieId"])]
    shrink = count / (count + 3.0)
    genre_part = (hot * (affinity * shrink)[users]).sum(1) / np.maximum(hot.sum(1), 1)
    biased = base + test["userId"].map(offset).fillna(0).to_numpy()
    aware = biased + genre_part

    def rmse(pred):
        return float(np.sqrt(np.mean((pred - test["rating"].to_numpy()) ** 2)))

    assert rmse(aware) < rmse(base) - 0.1
    # The genre tastes add something of their own, beyond each user's overall leniency.
    assert rmse(aware) < rmse(biased) - 0.03


# ------------------------------------------------------------------------------ what users watch

def test_fixture_users_watch_by_popularity_alone(fixture):
    spec, truth = SIZES["fixture"], fixture.truth
    assert spec.taste_choice_share == spec.cluster_choice_share == 0.0
    assert truth.num_clusters == 0 and truth.movie_cluster is None
    prob = truth.choice_probability(truth.user_ids[:5])
    np.testing.assert_allclose(prob, np.broadcast_to(truth.popularity, prob.shape))


@pytest.mark.parametrize("size", ["small", "ml-32m"])
def test_large_presets_choose_by_taste(size):
    spec = SIZES[size]
    assert spec.taste_choice_share > 0 and spec.cluster_choice_share > 0
    assert spec.taste_choice_share + spec.cluster_choice_share < 1   # the chart keeps a share


def test_choice_truth_is_consistent(small):
    truth, spec = small.truth, SIZES["small"]
    assert truth.num_clusters == round(spec.num_movies / spec.movies_per_cluster)
    assert truth.movie_cluster.shape == (spec.num_movies,)
    assert 0 <= truth.movie_cluster.min() and truth.movie_cluster.max() < truth.num_clusters
    start, ids = truth.user_cluster_start, truth.user_cluster_ids
    per_user = np.diff(start)
    assert start[0] == 0 and start[-1] == ids.size and per_user.min() >= 1
    assert 0 <= ids.min() and ids.max() < truth.num_clusters
    # Heavy raters join more clusters than light ones.
    counts = small.ratings.groupby("userId").size().to_numpy()
    heavy, light = counts >= np.quantile(counts, 0.9), counts <= np.median(counts)
    assert per_user[heavy].mean() > 3 * per_user[light].mean()
    prob = truth.choice_probability(truth.user_ids)
    assert prob.shape == (spec.num_users, spec.num_movies) and (prob >= 0).all()
    np.testing.assert_allclose(prob.sum(axis=1), 1.0)


def _rows(data):
    r = _clean(data.ratings)
    users = r["userId"].to_numpy() - 1
    movies = np.searchsorted(data.truth.movie_ids, r["movieId"].to_numpy())
    return users, movies


def test_users_watch_their_liked_genres(small):
    # The share of a user's movies with a liked (disliked) genre, against the chart's share.
    truth = small.truth
    users, movies = _rows(small)
    hot = truth.movie_genres.astype(np.float64)

    def shares(genres):
        watched = (hot[movies] * genres[users]).sum(axis=1) > 0
        by_chart = truth.popularity @ ((hot @ genres.T.astype(np.float64)) > 0)   # [U]
        return watched.mean(), by_chart[users].mean()

    watched, by_chart = shares(truth.liked)
    assert watched > by_chart + 0.15, (watched, by_chart)
    # Disliked genres are not sought, so they make up less than on the chart.
    watched, by_chart = shares(truth.disliked)
    assert watched < by_chart, (watched, by_chart)


def test_users_who_share_a_cluster_watch_the_same_movies(small):
    truth = small.truth
    users, movies = _rows(small)
    start, ids = truth.user_cluster_start, truth.user_cluster_ids
    member = np.zeros((len(truth.user_ids), truth.num_clusters), dtype=bool)
    member[np.repeat(np.arange(len(truth.user_ids)), np.diff(start)), ids] = True
    # Share of ratings that fall in one of the user's clusters, against the chart's share.
    in_own = member[users, truth.movie_cluster[movies]].mean()
    mass = np.bincount(truth.movie_cluster, truth.popularity, minlength=truth.num_clusters)
    expected = (member.astype(np.float64) @ mass)[users].mean()
    assert in_own > 2 * expected, (in_own, expected)   # measured: 0.49 against 0.21


def test_bad_choice_settings_are_refused():
    base = dict(num_users=10, num_movies=100, num_ratings=100)
    with pytest.raises(ValueError, match="share"):
        SyntheticSpec(**base, taste_choice_share=0.6, cluster_choice_share=0.5)
    with pytest.raises(ValueError, match="share"):
        SyntheticSpec(**base, taste_choice_share=-0.1)
    with pytest.raises(ValueError, match="movies_per_cluster"):
        SyntheticSpec(**base, cluster_choice_share=0.5, movies_per_cluster=0)
    with pytest.raises(ValueError, match="cluster_taste_share"):
        SyntheticSpec(**base, cluster_choice_share=0.5, cluster_taste_share=1.5)


def test_small_is_deterministic(small):
    again = generate("small", seed=0)
    pd.testing.assert_frame_equal(small.ratings, again.ratings)
    np.testing.assert_array_equal(small.truth.user_cluster_ids, again.truth.user_cluster_ids)
    assert not small.ratings.equals(generate("small", seed=1).ratings)


@pytest.mark.parametrize("shares", [(1.0, 0.0), (0.0, 1.0), (0.3, 0.3)])
def test_tiny_specs_choosing_by_taste_keep_their_shape(shares):
    # Few movies: some genres and clusters have none (their draws go to the chart).
    spec = SyntheticSpec(num_users=40, num_movies=30, num_ratings=400, taste_choice_share=shares[0],
                         cluster_choice_share=shares[1], movies_per_cluster=3)
    data = generate(spec, seed=0)
    r = data.ratings
    assert len(r) == 400 and r["userId"].nunique() == 40
    assert r["rating"].isna().sum() == 1 and r["movieId"].isna().sum() == 1
    assert not r.dropna(subset=["movieId"]).duplicated(["userId", "movieId"]).any()
    np.testing.assert_allclose(data.truth.choice_probability(data.truth.user_ids).sum(axis=1), 1.0)


# ------------------------------------------------------------------------------ scale

@pytest.mark.parametrize("by_taste", [False, True])
def test_million_ratings_scale(by_taste):
    spec = SyntheticSpec(num_users=8_000, num_movies=20_000, num_ratings=1_000_000,
                         taste_choice_share=0.2 * by_taste, cluster_choice_share=0.5 * by_taste)
    data = generate(spec, seed=0)
    r = data.ratings
    assert len(r) == 1_000_000 and r["userId"].nunique() == 8_000
    rated = r.dropna(subset=["movieId"])
    key = rated["userId"].to_numpy() * 1_000_000 + rated["movieId"].to_numpy().astype(np.int64)
    assert np.unique(key).size == len(rated)
    assert r["rating"].isna().sum() == 1 and r["movieId"].isna().sum() == 1
