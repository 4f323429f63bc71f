"""A deterministic synthetic MovieLens: same files, same quirks, known ground truth.

    python -m datasets.synthetic --size fixture --seed 0 --out DIR

Every check of the course runs on the ``fixture`` preset; ``small`` has the shape of
ml-latest-small and ``ml-32m`` the size of ML-32M (for benchmarks). The tables look like
what ``pandas.read_csv`` gives for the real ``ratings.csv`` and ``movies.csv``:

- ``ratings``: ``userId`` int64 (1..num_users), ``movieId`` float64, ``rating`` float64 on
  the half-star grid 0.5..5.0, ``timestamp`` int64 unix seconds; sorted by user then movie,
  like MovieLens. ``movieId`` is float because of the dirt the cleaning lesson teaches:
  exactly one row has a NaN ``rating`` and exactly one a NaN ``movieId``, at seeded places.
  No (user, movie) pair appears twice, and every movie rated is in ``movies``.
- ``movies``: ``movieId`` int64 (ascending, with gaps), unique ``title`` "Name (Year)"
  (articles moved to the end as in "Harbor, The (1987)"; some titles contain a comma), and
  ``genres`` pipe-joined in alphabetical order from the MovieLens vocabulary, 1-4 per
  movie, or "(no genres listed)".

How it is made (``truth`` holds every planted quantity):

- popularity: a log-normal rank profile (a few blockbusters, a long tail of movies with a
  handful of ratings), with a flatter head so that on ML-sized data the top movie is rated
  by about half of the users; movies out for longer tend to get the high ranks;
- activity: log-normal ratings per user with a share of users with 1-5 ratings; each user
  draws that many distinct movies (below), over a personal period (a start date and a
  span, one sitting for some users); no movie is rated before its release year;
- what a user watches: in the ``fixture`` (``taste_choice_share`` and
  ``cluster_choice_share`` 0), every draw follows the popularity chart alone. In ``small``
  and ``ml-32m`` users choose by taste, so that ranking a user's movies means more than
  repeating the chart. Each draw goes, with the spec's shares (20 %, 50 % and the
  remaining 30 % there):
    * to one of the user's liked genres (in turn), then a movie of that genre by popularity;
    * to one of the user's taste clusters (in turn), then a movie of that cluster by
      popularity. Clusters are the co-watching structure: about ``movies_per_cluster``
      movies each, every movie in one, found through its first genre (a cluster has a
      signature genre). A user joins 1 to ``max_clusters_per_user`` clusters, most of them
      through a liked genre, and heavy raters one more per ``draws_per_cluster`` of their
      cluster draws, so people who share a cluster watch the same movies, beyond genre;
    * to the chart (every movie by popularity).
  ``truth.choice_probability`` gives, for any users, the chance of each movie on one draw:
  ranked by it (times the chance of liking the movie), held-out users' liked movies come
  out far above the chart (tests/test_synthetic.py measures it under the course's ranking
  protocol);
- rating = global mean + user bias + movie quality + the mean of the user's genre tastes
  over the movie's genres + skewed noise (a longer low tail), rounded to whole stars before
  MovieLens
  introduced half stars (2003-02-12) and for the users who never use them, else to half
  stars, and clipped to 0.5..5.0. Each user likes a few genres and dislikes a few. Users
  who choose by taste watch more of what they like, so those presets have a lower global
  mean for the same average rating.

Only ``numpy.random.Generator(PCG64)`` streams derived from the seed are used, so a size
and seed always give the same tables and byte-identical CSV files.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: The MovieLens genre vocabulary (alphabetical, as MovieLens joins them).
GENRES: tuple[str, ...] = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)
NO_GENRES = "(no genres listed)"
# How many ml-latest-small movies carry each genre: the relative weights of the draw.
_GENRE_WEIGHTS = np.array([
    1828, 1263, 611, 664, 3756, 1199, 440, 4361, 779, 87, 978, 158, 334, 573, 1596, 980, 1894,
    382, 167], dtype=np.float64)
# Probability that a movie has 1, 2, 3 or 4 genres.
_NUM_GENRES_P = np.array([0.30, 0.34, 0.24, 0.12])

#: MovieLens has allowed half stars since this moment; earlier ratings are whole stars.
HALF_STARS_SINCE = 1045008000  # 2003-02-12 00:00:00 UTC

RATINGS_COLUMNS = ("userId", "movieId", "rating", "timestamp")


@dataclass(frozen=True)
class SyntheticSpec:
    """Size and shape of a synthetic dataset. Only the first three fields are required.

    ``num_ratings`` counts every row of ``ratings.csv``, the two dirty rows included.
    """
    num_users: int
    num_movies: int
    num_ratings: int
    # Users with 1-5 ratings (the "skip users with <= 5 ratings" rule must matter).
    low_activity_share: float = 0.05
    # Spread of log(ratings per user) for the other users.
    activity_sigma: float = 1.25
    # Nobody rates more than this share of the catalogue.
    max_user_share: float = 0.4
    # Spread of log(popularity) over movie ranks; above head_z standard deviations the
    # profile rises with slope popularity_sigma * head_slope (a flatter head).
    popularity_sigma: float = 1.6
    head_z: float = 2.0
    head_slope: float = 0.5
    # Share of movies given at least one rating whatever their popularity (MovieLens lists
    # few movies nobody rated; the rest may still be drawn by popularity).
    rated_movie_share: float = 1.0
    # Share of movies with "(no genres listed)" (at least one movie always has none).
    no_genres_share: float = 0.004
    # Planted rating model.
    global_mean: float = 3.35
    user_bias_sd: float = 0.5
    quality_sd: float = 0.5
    # Correlation of a movie's quality with its log-popularity.
    quality_popularity_corr: float = 0.35
    taste_strength: float = 1.4
    noise_sd: float = 0.7
    # Skew-normal shape of the noise: negative gives the long low tail of real ratings,
    # so 4.0 stays the most common rating while the mean is about 3.5.
    noise_skew: float = -3.0
    # Share of users who use half stars once MovieLens offers them.
    half_star_user_share: float = 0.7
    # First and last possible timestamp (unix seconds).
    first_timestamp: int = 828124615   # 1996-03-29, ml-latest-small's first rating
    last_timestamp: int = 1537799250   # 2018-09-24, ml-latest-small's last rating
    # Range of release years.
    first_year: int = 1902
    last_year: int = 2018
    # What users choose to watch (the module docstring). Both shares 0: every draw follows
    # the popularity chart alone (the fixture, whose files never change). Otherwise a draw
    # comes from one of the user's liked genres with probability taste_choice_share, from
    # one of the user's taste clusters with probability cluster_choice_share, else from the
    # chart; within a genre or a cluster a movie is drawn by popularity.
    taste_choice_share: float = 0.0
    cluster_choice_share: float = 0.0
    movies_per_cluster: int = 200
    max_clusters_per_user: int = 4
    # Heavy raters join more clusters: at least one per this many of their cluster draws.
    draws_per_cluster: int = 10
    # Share of a user's clusters found through one of their liked genres (the rest through
    # any genre, weighted like the catalogue's genres).
    cluster_taste_share: float = 0.8

    def __post_init__(self) -> None:
        if min(self.num_users, self.num_movies) < 2:
            raise ValueError("a synthetic dataset needs at least 2 users and 2 movies")
        if not 0.0 < self.max_user_share <= 0.7:
            raise ValueError("max_user_share must be in (0, 0.7]")
        cap = _max_per_user(self)
        if not 6 * self.num_users <= self.num_ratings <= cap * self.num_users:
            raise ValueError(
                f"num_ratings={self.num_ratings} must lie in [{6 * self.num_users}, "
                f"{cap * self.num_users}] for {self.num_users} users and {self.num_movies} "
                f"movies (max_user_share={self.max_user_share})")
        shares = (self.taste_choice_share, self.cluster_choice_share)
        if min(shares) < 0.0 or sum(shares) > 1.0:
            raise ValueError("taste_choice_share and cluster_choice_share must be >= 0 and sum "
                             "to at most 1")
        if min(self.movies_per_cluster, self.max_clusters_per_user, self.draws_per_cluster) < 1:
            raise ValueError("movies_per_cluster, max_clusters_per_user and draws_per_cluster "
                             "must be at least 1")
        if not 0.0 <= self.cluster_taste_share <= 1.0:
            raise ValueError("cluster_taste_share must be in [0, 1]")
        if self.first_timestamp >= self.last_timestamp or self.first_year > self.last_year:
            raise ValueError("empty timestamp or year range")
        last = np.datetime64(self.last_timestamp - 30 * 86400, "s").astype("datetime64[Y]")
        if self.last_year > last.astype(np.int64) + 1970:
            raise ValueError("last_year must not be after the year of last_timestamp "
                             "(no movie is rated before its release)")


def _max_per_user(spec: SyntheticSpec) -> int:
    return max(6, int(spec.max_user_share * spec.num_movies))


#: Named presets. "fixture" is what every lesson check runs on.
SIZES: dict[str, SyntheticSpec] = {
    # Denser than MovieLens (17% of all pairs are rated), so it takes a steep popularity
    # profile for the top 10% of movies to hold over 40% of the ratings.
    "fixture": SyntheticSpec(num_users=300, num_movies=400, num_ratings=20_000,
                             activity_sigma=1.0, max_user_share=0.6, popularity_sigma=3.0,
                             head_slope=0.7, no_genres_share=0.005),
    # ml-latest-small: 610 users, 9,742 movies (18 never rated), 100,836 ratings.
    "small": SyntheticSpec(num_users=610, num_movies=9_742, num_ratings=100_836,
                           max_user_share=0.3, popularity_sigma=2.2, head_slope=0.5,
                           rated_movie_share=0.998, global_mean=3.12,
                           taste_choice_share=0.2, cluster_choice_share=0.5),
    # ML-32M: 200,948 users, 87,585 movies (84,432 rated), 32,000,204 ratings, from
    # 1995-01-09 to 2023-10-13.
    "ml-32m": SyntheticSpec(num_users=200_948, num_movies=87_585, num_ratings=32_000_204,
                            max_user_share=0.35, popularity_sigma=2.8, head_slope=0.75,
                            rated_movie_share=0.964, no_genres_share=0.02, global_mean=2.95,
                            first_timestamp=789652009, last_timestamp=1697164147,
                            first_year=1874, last_year=2023, taste_choice_share=0.2,
                            cluster_choice_share=0.5),
}


@dataclass(frozen=True, eq=False)
class SyntheticTruth:
    """The planted parameters. Rows follow ``user_ids`` and ``movie_ids`` (both ascending),
    columns of the genre matrices follow ``genres`` ("(no genres listed)" has no column)."""
    genres: tuple[str, ...]
    user_ids: np.ndarray        # int64 [U] = 1..U
    taste: np.ndarray           # float64 [U, G]: rating shift for a movie of only that genre
    liked: np.ndarray           # bool [U, G]: the planted favourite genres
    disliked: np.ndarray        # bool [U, G]: the planted disliked genres
    user_bias: np.ndarray       # float64 [U]
    uses_half_stars: np.ndarray  # bool [U]
    movie_ids: np.ndarray       # int64 [M]
    movie_genres: np.ndarray    # float32 [M, G] multi-hot (all zeros: no genres listed)
    movie_quality: np.ndarray   # float64 [M]
    popularity: np.ndarray      # float64 [M], sums to 1: the chance of each draw from the chart
    year: np.ndarray            # int64 [M]
    global_mean: float
    noise_sd: float
    # How users chose what they watch (shares 0: the chart alone, and no clusters).
    taste_choice_share: float = 0.0
    cluster_choice_share: float = 0.0
    num_clusters: int = 0
    movie_cluster: np.ndarray | None = None   # int64 [M]: each movie's taste cluster
    # User row r's clusters: user_cluster_ids[user_cluster_start[r]:user_cluster_start[r + 1]].
    user_cluster_start: np.ndarray | None = None  # int64 [U + 1]
    user_cluster_ids: np.ndarray | None = None    # int64

    def genre_effect(self, user_rows: np.ndarray, movie_rows: np.ndarray) -> np.ndarray:
        """Mean taste of each user over the genres of the paired movie (0 without genres)."""
        g = self.movie_genres[movie_rows].astype(np.float64)
        n = g.sum(axis=1)
        total = (self.taste[user_rows] * g).sum(axis=1)
        return np.divide(total, n, out=np.zeros_like(total), where=n > 0)

    def choice_probability(self, user_ids) -> np.ndarray:
        """float64 [len(user_ids), M]: the chance that one draw of each user picks each movie
        (columns follow ``movie_ids``). The generator draws until a user has their number of
        distinct movies, and never a movie released after the user's period: the ranking of
        a row, not its exact values, is what the planted structure says. Dense: at ML-32M
        size, a few hundred users at a time."""
        rows = np.searchsorted(self.user_ids, np.asarray(user_ids, dtype=np.int64))
        n, g = len(rows), len(self.genres)
        hot = self.movie_genres.astype(bool)
        if self.num_clusters:
            cluster_size = np.bincount(self.movie_cluster, minlength=self.num_clusters)
            start, ids = self.user_cluster_start, self.user_cluster_ids
        else:
            cluster_size = ids = np.zeros(0, dtype=np.int64)
            start = np.zeros(len(self.user_ids) + 1, dtype=np.int64)
        cells = _choice_cells(self.liked[rows], start[rows], start[rows + 1] - start[rows], ids,
                              hot.sum(axis=0), cluster_size, self.taste_choice_share,
                              self.cluster_choice_share)
        # How often each user's draw goes to each group (0: the chart, then genres, clusters).
        groups = np.zeros((n, 1 + g + len(cluster_size)))
        np.add.at(groups, (np.arange(n)[:, None], cells), 1.0 / cells.shape[1])
        prob = groups[:, :1] * self.popularity[None, :]
        # Within a group, a movie's chance is its share of the group's popularity.
        in_genre = hot * self.popularity[:, None]                        # [M, G]
        mass = in_genre.sum(axis=0)
        has = mass > 0
        prob += (groups[:, 1:1 + g][:, has] / mass[has]) @ in_genre[:, has].T
        if self.num_clusters:
            mass = np.bincount(self.movie_cluster, self.popularity, minlength=self.num_clusters)
            prob += (groups[:, 1 + g:][:, self.movie_cluster]
                     * (self.popularity / mass[self.movie_cluster])[None, :])
        return prob

    def expected_rating(self, user_ids, movie_ids) -> np.ndarray:
        """The noise-free, unrounded rating of each (userId, movieId) pair."""
        user_rows = np.searchsorted(self.user_ids, np.asarray(user_ids, dtype=np.int64))
        movie_rows = np.searchsorted(self.movie_ids, np.asarray(movie_ids, dtype=np.int64))
        return (self.global_mean + self.user_bias[user_rows] + self.movie_quality[movie_rows]
                + self.genre_effect(user_rows, movie_rows))


@dataclass(frozen=True, eq=False)
class SyntheticMovieLens:
    ratings: pd.DataFrame
    movies: pd.DataFrame
    truth: SyntheticTruth
    spec: SyntheticSpec = field(repr=False)
    seed: int = 0


# ---------------------------------------------------------------------------------------
# Entry points


def resolve(size: str | SyntheticSpec) -> SyntheticSpec:
    if isinstance(size, SyntheticSpec):
        return size
    try:
        return SIZES[size]
    except KeyError:
        raise KeyError(f"no synthetic size named {size!r}; known: {', '.join(SIZES)}") from None


def generate(size: str | SyntheticSpec = "fixture", seed: int = 0) -> SyntheticMovieLens:
    """Build the ratings and movies tables (as ``pandas.read_csv`` would read them)."""
    spec = resolve(size)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, not {seed!r}")
    streams = [np.random.Generator(np.random.PCG64(s))
               for s in np.random.SeedSequence(int(seed)).spawn(8)]
    # One stream per part (and a spare), so a change in one part never shifts the others.
    (rng_movies, rng_titles, rng_users, rng_pairs, rng_times, rng_noise, rng_dirt,
     rng_choice) = streams

    movies_part = _make_movies(spec, rng_movies)
    titles = _make_titles(spec, rng_titles, movies_part["year"], movies_part["primary_genre"])
    users = _make_users(spec, rng_users, movies_part["release"])
    choice = _make_choice(spec, rng_choice, users, movies_part) if _by_taste(spec) else None
    seeds = _seed_pairs(spec, users, movies_part["release"], rng_pairs)
    keys = _sample_pairs(users, movies_part, rng_pairs, seeds, choice)
    ratings = _make_ratings(spec, keys, users, movies_part, rng_times, rng_noise, rng_dirt)

    genres_col = _genre_strings(movies_part["genre_matrix"])
    movies = pd.DataFrame({
        "movieId": movies_part["movie_ids"],
        "title": pd.array(titles, dtype="str"),
        "genres": pd.array(genres_col, dtype="str"),
    })
    truth = SyntheticTruth(
        genres=GENRES, user_ids=np.arange(1, spec.num_users + 1, dtype=np.int64),
        taste=users["taste"], liked=users["liked"], disliked=users["disliked"],
        user_bias=users["bias"], uses_half_stars=users["half"],
        movie_ids=movies_part["movie_ids"], movie_genres=movies_part["genre_matrix"],
        movie_quality=movies_part["quality"], popularity=movies_part["popularity"],
        year=movies_part["year"], global_mean=spec.global_mean, noise_sd=spec.noise_sd,
        **(dict(taste_choice_share=spec.taste_choice_share,
                cluster_choice_share=spec.cluster_choice_share,
                num_clusters=choice["num_clusters"], movie_cluster=choice["movie_cluster"],
                user_cluster_start=choice["cluster_start"],
                user_cluster_ids=choice["cluster_ids"])
           if choice else {}),
    )
    return SyntheticMovieLens(ratings=ratings, movies=movies, truth=truth, spec=spec, seed=int(seed))


def write(out_dir: str | Path, size: str | SyntheticSpec = "fixture", seed: int = 0) -> Path:
    """Write ``ratings.csv`` and ``movies.csv`` (MovieLens layout) into ``out_dir``."""
    return write_data(generate(size, seed), out_dir)


def write_data(data: SyntheticMovieLens, out_dir: str | Path) -> Path:
    """Write already generated tables as MovieLens CSV files; returns the folder."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data.movies.to_csv(out / "movies.csv", index=False, lineterminator="\n")
    ratings = data.ratings
    chunk = 2_000_000
    with open(out / "ratings.csv", "w", newline="", encoding="utf-8") as f:
        f.write(",".join(RATINGS_COLUMNS) + "\n")
        for start in range(0, len(ratings), chunk):
            part = ratings.iloc[start:start + chunk]
            # Whole-number ids as MovieLens writes them ("12", not "12.0"); NaN as "".
            part = part.astype({"movieId": "Int64"})
            part.to_csv(f, index=False, header=False, lineterminator="\n")
    return out


# ---------------------------------------------------------------------------------------
# Movies


def _inv_norm(p: np.ndarray) -> np.ndarray:
    inv_cdf = statistics.NormalDist().inv_cdf
    return np.array([inv_cdf(float(x)) for x in p], dtype=np.float64)


def _popularity_profile(spec: SyntheticSpec) -> np.ndarray:
    """Weights by popularity rank (rank 0 first), a log-normal profile with a flatter head."""
    m = spec.num_movies
    z = _inv_norm((m - np.arange(m) - 0.5) / m)   # descending normal quantiles
    head = z > spec.head_z
    z[head] = spec.head_z + (z[head] - spec.head_z) * spec.head_slope
    log_w = spec.popularity_sigma * z
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def _make_movies(spec: SyntheticSpec, rng: np.random.Generator) -> dict:
    m, g = spec.num_movies, len(GENRES)
    # Ids ascending with gaps: mostly +1, sometimes a jump.
    steps = 1 + (rng.random(m) < 0.3) * rng.geometric(0.15, size=m)
    movie_ids = np.cumsum(steps).astype(np.int64)

    # Genres: 1-4 distinct genres by weighted sampling without replacement (Gumbel top-k).
    num = rng.choice(4, size=m, p=_NUM_GENRES_P) + 1
    keys = np.log(_GENRE_WEIGHTS) + rng.gumbel(size=(m, g))
    order = np.argsort(-keys, axis=1, kind="stable")
    chosen = np.arange(4)[None, :] < num[:, None]          # [m, 4]
    genre_matrix = np.zeros((m, g), dtype=np.float32)
    rows = np.repeat(np.arange(m), 4)[chosen.ravel()]
    genre_matrix[rows, order[:, :4][chosen]] = 1.0
    primary = order[:, 0].copy()
    # A few movies without genres (always at least one).
    n_none = max(1, round(spec.no_genres_share * m))
    none = rng.choice(m, size=n_none, replace=False)
    genre_matrix[none] = 0.0
    primary[none] = -1

    # Release years, more recent ones more common.
    span = spec.last_year - spec.first_year
    back = np.minimum(rng.gamma(2.0, 11.0, size=m), span).astype(np.int64)
    year = spec.last_year - back
    # Release moment: a day of that year, and never after the last rating can be made.
    jan1 = (year - 1970).astype("datetime64[Y]").astype("datetime64[s]").astype(np.int64)
    release = jan1 + (rng.random(m) * 365 * 86400).astype(np.int64)
    release = np.minimum(release, spec.last_timestamp - 30 * 86400)

    # Popularity: the profile's ranks dealt out at random, favouring the movies that have
    # been out during more of the rating period (weighted shuffle: keys log(U) / weight).
    period = spec.last_timestamp - spec.first_timestamp
    out_for = (spec.last_timestamp - np.maximum(release, spec.first_timestamp)) / period
    weight = np.clip(out_for, 0.02, 1.0)
    rank_order = np.argsort(np.log(rng.random(m)) / weight, kind="stable")[::-1]
    popularity = np.empty(m)
    popularity[rank_order] = _popularity_profile(spec)

    # Quality, mildly correlated with popularity (the popular movies are the better ones).
    log_pop = np.log(popularity)
    z_pop = (log_pop - log_pop.mean()) / log_pop.std()
    rho = spec.quality_popularity_corr
    quality = spec.quality_sd * (rho * z_pop + np.sqrt(1 - rho * rho) * rng.standard_normal(m))

    # Movie genre lists for fast per-rating lookups: up to 4 genre columns, -1 padded.
    slots = np.full((m, 4), -1, dtype=np.int64)
    rr, cc = np.nonzero(genre_matrix)
    pos = np.arange(len(rr)) - np.searchsorted(rr, rr)      # rank within the row
    slots[rr, pos] = cc
    return dict(movie_ids=movie_ids, genre_matrix=genre_matrix, primary_genre=primary,
                popularity=popularity, quality=quality, year=year, release=release,
                slots=slots,
                num_genres=genre_matrix.sum(axis=1).astype(np.float64))


def _genre_strings(genre_matrix: np.ndarray) -> list[str]:
    out = []
    for row in genre_matrix:
        names = [GENRES[j] for j in np.flatnonzero(row)]
        out.append("|".join(names) if names else NO_GENRES)
    return out


# ---------------------------------------------------------------------------------------
# Titles

_ADJECTIVES = (
    "Midnight", "Silent", "Crimson", "Golden", "Broken", "Hidden", "Last", "Lost", "Wild",
    "Electric", "Frozen", "Burning", "Secret", "Distant", "Hollow", "Iron", "Velvet", "Savage",
    "Gentle", "Lonely", "Final", "Endless", "Bright", "Dark", "Silver", "Scarlet", "Forgotten",
    "Restless", "Sweet", "Bitter", "Quiet", "Falling", "Rising", "Northern", "Southern",
    "Little", "Long", "Perfect", "Dangerous", "Beautiful", "Strange", "Invisible", "Eternal",
    "Shattered", "Stolen", "Sacred", "Wicked", "Lucky", "Fearless", "Reckless", "Tender",
    "Hungry", "Blue", "Red", "Black", "White", "Green", "Empty", "Open", "Cold", "Hot",
    "Faded", "Second", "First", "Seventh", "Crooked", "Brave", "Lazy", "Paper", "Glass",
)
_NOUNS = (
    "Harbor", "River", "Mountain", "City", "Garden", "Road", "Summer", "Winter", "Heart",
    "Dream", "Shadow", "Storm", "Horizon", "Island", "Kingdom", "Empire", "Promise", "Mirror",
    "Bridge", "Station", "Highway", "Desert", "Ocean", "Forest", "Valley", "Tower", "Castle",
    "Frontier", "Journey", "Crossing", "Passage", "Legacy", "Season", "Morning", "Evening",
    "Letter", "Song", "Dance", "Game", "Hunter", "Stranger", "Witness", "Soldier", "Queen",
    "King", "Prince", "Thief", "Ghost", "Angel", "Saint", "Widow", "Captain", "Doctor",
    "Teacher", "Sister", "Brother", "Daughter", "Family", "Wedding", "Party", "Hotel", "Diner",
    "Train", "Express", "Circus", "Carnival", "Factory", "Affair", "Escape", "Return",
    "Harvest", "Tide", "Echo", "Flame", "Thunder", "Moon", "Sky", "Rain", "Snow", "Fire",
    "Stone", "Silk", "Paradise", "House", "Window", "Door", "Key", "Map", "Clock", "Lantern",
    "Orchard", "Lighthouse", "Avenue", "Boulevard", "Alley", "Rooftop", "Balcony", "Compass",
)
# A flavour of the movie's first genre, used for about half of the nouns.
_GENRE_NOUNS = {
    "Action": ("Vengeance", "Strike", "Fury", "Showdown", "Impact", "Velocity", "Payback"),
    "Adventure": ("Expedition", "Treasure", "Voyage", "Quest", "Odyssey", "Jungle", "Summit"),
    "Animation": ("Dragon", "Robot", "Balloon", "Penguin", "Kite", "Firefly", "Teapot"),
    "Children": ("Puppy", "Treehouse", "Dinosaur", "Unicorn", "Pony", "Sandcastle", "Snowman"),
    "Comedy": ("Vacation", "Roommates", "Bachelor", "Shenanigans", "Reunion", "Mix-Up", "Blind Date"),
    "Crime": ("Heist", "Alibi", "Racket", "Hitman", "Getaway", "Syndicate", "Informant"),
    "Documentary": ("Portrait", "Chronicle", "Voices", "Archive", "Testimony", "Field Notes"),
    "Drama": ("Reckoning", "Homecoming", "Inheritance", "Confession", "Farewell", "Silence"),
    "Fantasy": ("Sorcerer", "Wizard", "Realm", "Amulet", "Enchantress", "Labyrinth", "Griffin"),
    "Film-Noir": ("Dame", "Double Cross", "Fog", "Dead End", "Nightclub", "Blackmail"),
    "Horror": ("Curse", "Nightmare", "Haunting", "Crypt", "Possession", "Graveyard", "Scarecrow"),
    "IMAX": ("Reef", "Glacier", "Volcano", "Space Station", "Coral Sea", "Aurora"),
    "Musical": ("Melody", "Serenade", "Rhapsody", "Broadway", "Chorus", "Ballroom", "Jukebox"),
    "Mystery": ("Riddle", "Clue", "Enigma", "Cipher", "Disappearance", "Locked Room"),
    "Romance": ("Love", "Kiss", "Valentine", "Sweetheart", "Honeymoon", "Rendezvous", "Proposal"),
    "Sci-Fi": ("Galaxy", "Android", "Orbit", "Nebula", "Clone", "Signal", "Starship", "Colony"),
    "Thriller": ("Hostage", "Pursuit", "Countdown", "Stalker", "Blackout", "Trap", "Deadline"),
    "War": ("Battalion", "Siege", "Trenches", "Platoon", "Armistice", "Regiment", "Convoy"),
    "Western": ("Canyon", "Gunslinger", "Mesa", "Outlaw", "Rodeo", "Sheriff", "Stagecoach"),
}
_NAMES = (
    "Maggie", "Jack", "Rosa", "Eddie", "Lola", "Frank", "Nina", "Sam", "Ruby", "Leo", "Vera",
    "Hank", "Iris", "Otto", "Greta", "Felix", "June", "Max", "Stella", "Walter", "Ada", "Billy",
    "Clara", "Danny", "Edith", "Gus", "Hazel", "Ivan", "Josie", "Kurt", "Lena", "Marty",
)
_PLACES = (
    "Paris", "Tokyo", "Brooklyn", "Berlin", "Montana", "Rio", "Casablanca", "Vegas", "Rome",
    "Alaska", "Texas", "Vienna", "Havana", "Cairo", "Dublin", "Memphis", "Lisbon", "Bombay",
    "Chicago", "Marseille", "Shanghai", "Nairobi", "Oslo", "Tangier",
)
_GREETINGS = ("Goodbye", "Hello", "Farewell", "Remember Me", "Wait for Me", "Run")
_SEQUELS = ("2", "3", "II", "III", "Part II", "Returns")
# Pattern ids. ARTICLE and COMMA titles get fixed shares so every size has some of each.
_ARTICLE, _COMMA, _ADJ_NOUN, _NOUN, _OF_THE, _POSSESSIVE, _IN_PLACE, _SUBTITLE, _SEQUEL, \
    _AND_NAMES = range(10)
_OTHER_PATTERNS = np.array([_ADJ_NOUN, _NOUN, _OF_THE, _POSSESSIVE, _IN_PLACE, _SUBTITLE,
                            _SEQUEL, _AND_NAMES])
_OTHER_P = np.array([0.36, 0.10, 0.12, 0.10, 0.10, 0.08, 0.07, 0.07])
_ARTICLE_SHARE = 0.10
_COMMA_SHARE = 0.04


def _make_titles(spec: SyntheticSpec, rng: np.random.Generator, year: np.ndarray,
                 primary: np.ndarray) -> list[str]:
    m = spec.num_movies
    n_article = max(1, round(_ARTICLE_SHARE * m))
    n_comma = max(1, round(_COMMA_SHARE * m))
    pattern = _OTHER_PATTERNS[rng.choice(len(_OTHER_PATTERNS), size=m, p=_OTHER_P)]
    order = rng.permutation(m)
    pattern[order[:n_article]] = _ARTICLE
    pattern[order[n_article:n_article + n_comma]] = _COMMA

    seen: set[str] = set()   # membership only, never iterated
    titles = []
    for i in range(m):
        genre = GENRES[primary[i]] if primary[i] >= 0 else None
        for attempt in range(20):
            name = _title_name(int(pattern[i]), genre, rng)
            title = f"{name} ({int(year[i])})"
            if title not in seen:
                break
        else:  # practically unreachable; keep titles unique whatever happens
            k = 2
            while f"{name} {k} ({int(year[i])})" in seen:
                k += 1
            title = f"{name} {k} ({int(year[i])})"
        seen.add(title)
        titles.append(title)
    return titles


def _title_name(pattern: int, genre: str | None, rng: np.random.Generator) -> str:
    u = rng.random(8)

    def pick(words, x):
        return words[int(x * len(words))]

    def noun(x, y):
        if genre is not None and y < 0.5:
            return pick(_GENRE_NOUNS[genre], x)
        return pick(_NOUNS, x)

    adj, n1, n2 = pick(_ADJECTIVES, u[0]), noun(u[1], u[2]), noun(u[3], u[4])
    if pattern == _ARTICLE:   # "The Silent Harbor" -> "Silent Harbor, The", as MovieLens
        if u[5] < 0.8:
            return f"{adj} {n1}, The" if u[6] < 0.6 else f"{n1}, The"
        body = f"{adj} {n1}" if u[6] < 0.5 else f"{n1} in {pick(_PLACES, u[7])}"
        return f"{body}, {'An' if body[0] in 'AEIOU' else 'A'}"
    if pattern == _COMMA:
        if u[5] < 0.5:
            return f"{pick(_GREETINGS, u[6])}, {pick(_NAMES, u[7])}"
        if n1 == n2:
            n2 = pick(_NOUNS, u[6])
        return f"{n1}, {n2} and {pick(_NAMES, u[7])}" if n1 != n2 else f"{adj}, {n1}"
    if pattern == _ADJ_NOUN:
        return f"{adj} {n1}"
    if pattern == _NOUN:
        return n1
    if pattern == _OF_THE:
        return f"{n1} of the {n2}" if n1 != n2 else f"{n1} of the {adj} {n2}"
    if pattern == _POSSESSIVE:
        return f"{pick(_NAMES, u[5])}'s {n1}"
    if pattern == _IN_PLACE:
        return f"{adj} {n1} in {pick(_PLACES, u[5])}" if u[6] < 0.3 else f"{n1} in {pick(_PLACES, u[5])}"
    if pattern == _SUBTITLE:
        return f"{n1}: {adj} {n2}"
    if pattern == _SEQUEL:
        return f"{adj} {n1} {pick(_SEQUELS, u[5])}"
    # _AND_NAMES
    a, b = pick(_NAMES, u[5]), pick(_NAMES, u[6])
    return f"{a} and {b}" if a != b else f"{a} and the {n1}"


# ---------------------------------------------------------------------------------------
# Users


def _allocate(weights: np.ndarray, total: int, lo: int, hi: int,
              rng: np.random.Generator) -> np.ndarray:
    """Integers in [lo, hi], roughly proportional to ``weights``, summing to ``total``."""
    n = len(weights)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if not lo * n <= total <= hi * n:
        raise ValueError("cannot allocate ratings to users within the bounds")

    def alloc(scale):
        # Saturates smoothly towards hi instead of piling users up at the cap.
        v = weights * scale
        return np.clip(np.floor(v / (1.0 + v / hi)), lo, hi).astype(np.int64)

    if total == hi * n:
        return np.full(n, hi, dtype=np.int64)
    low, high = 0.0, 1.0
    while alloc(high).sum() < total:
        high *= 2.0
    for _ in range(100):
        mid = (low + high) / 2
        if alloc(mid).sum() <= total:
            low = mid
        else:
            high = mid
    counts = alloc(low)
    # Hand out the remainder one by one, by weight, to users below the cap.
    remainder = total - int(counts.sum())
    while remainder > 0:
        room = np.flatnonzero(counts < hi)
        take = min(remainder, len(room))
        p = weights[room] / weights[room].sum()
        extra = rng.choice(room, size=take, replace=False, p=p)
        counts[extra] += 1
        remainder -= take
    return counts


def _make_users(spec: SyntheticSpec, rng: np.random.Generator, release: np.ndarray) -> dict:
    u, g = spec.num_users, len(GENRES)
    cap = _max_per_user(spec)
    counts = np.zeros(u, dtype=np.int64)
    n_low = int(round(spec.low_activity_share * u))
    low = rng.permutation(u)[:n_low]
    counts[low] = rng.integers(1, 6, size=n_low)
    rest = np.ones(u, dtype=bool)
    rest[low] = False
    weights = np.exp(spec.activity_sigma * rng.standard_normal(u))
    counts[rest] = _allocate(weights[rest], spec.num_ratings - int(counts.sum()), 6, cap, rng)

    # Tastes: a few liked and a few disliked genres (popular genres more often), small
    # leanings on the others.
    keys = np.log(_GENRE_WEIGHTS) + rng.gumbel(size=(u, g))
    order = np.argsort(-keys, axis=1, kind="stable")
    n_like = rng.integers(1, 4, size=u)
    n_dislike = rng.integers(1, 4, size=u)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(g)[None, :].repeat(u, axis=0), axis=1)
    liked = rank < n_like[:, None]
    disliked = (rank >= n_like[:, None]) & (rank < (n_like + n_dislike)[:, None])
    strength = np.abs(rng.normal(0.9, 0.25, size=(u, g)))
    taste = rng.normal(0.0, 0.15, size=(u, g))
    taste = np.where(liked, strength, np.where(disliked, -strength, taste)) * spec.taste_strength

    bias = rng.normal(0.0, spec.user_bias_sd, size=u)
    half = rng.random(u) < spec.half_star_user_share

    # When each user rates: a start date, then a span (one sitting for some users).
    one_sitting = rng.random(u) < 0.3
    span = np.where(one_sitting, rng.lognormal(np.log(3600.0), 1.0, size=u),
                    rng.lognormal(np.log(90 * 86400.0), 1.8, size=u))
    period = spec.last_timestamp - spec.first_timestamp
    span = np.minimum(span, 0.8 * period).astype(np.int64)
    start = spec.first_timestamp + (rng.random(u) * (period - span)).astype(np.int64)
    end = start + span
    # A user can only rate movies released by the end of their period. Whoever wants more
    # than 70% of those keeps rating until the last day instead.
    released = np.sort(release)
    crowded = counts > 0.7 * np.searchsorted(released, end, side="right")
    end[crowded] = spec.last_timestamp
    return dict(counts=counts, taste=taste, liked=liked, disliked=disliked, bias=bias,
                half=half, start=start, end=end)


# ---------------------------------------------------------------------------------------
# Pairs and ratings


def _unique_sorted(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique without its hash-table path, faster here)."""
    values = np.sort(values, kind="stable")   # timsort: the keys come in runs by user
    keep = np.empty(values.size, dtype=bool)
    keep[:1] = True
    np.not_equal(values[1:], values[:-1], out=keep[1:])
    return values[keep]


def _in_sorted(values: np.ndarray, sorted_array: np.ndarray) -> np.ndarray:
    if sorted_array.size == 0:
        return np.zeros(values.shape, dtype=bool)
    idx = np.searchsorted(sorted_array, values)
    idx[idx == sorted_array.size] = 0
    return sorted_array[idx] == values


def _seed_pairs(spec: SyntheticSpec, users: dict, release: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """One rating for each of ``rated_movie_share`` of the movies, by a user drawn in
    proportion to their number of ratings among those active after the release (sorted
    keys, never over a user's count; a movie nobody could rate is left out)."""
    m, counts, end = spec.num_movies, users["counts"], users["end"]
    k = int(round(spec.rated_movie_share * m))
    movies = rng.permutation(m)[:k]
    # Users by end of period: the ones able to rate a movie are a suffix of that order.
    by_end = np.argsort(end, kind="stable")
    cum = np.cumsum(counts[by_end])
    first_able = np.searchsorted(end[by_end], release[movies], side="left")
    lo = np.where(first_able > 0, cum[np.maximum(first_able - 1, 0)], 0)
    able = first_able < len(by_end)
    movies, lo = movies[able], lo[able]
    pick = lo + rng.random(movies.size) * (cum[-1] - lo)
    chosen = by_end[np.minimum(np.searchsorted(cum, pick, side="right"), len(by_end) - 1)]
    keys = np.sort(chosen * m + movies)
    chosen = keys // m
    first = np.searchsorted(chosen, chosen)            # rank of each seed within its user
    return keys[np.arange(keys.size) - first < counts[chosen]]


def _alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table for drawing index i with probability p[i] in O(1)."""
    n = len(p)
    q = (p * (n / p.sum())).tolist()
    prob = np.ones(n)
    alias = np.arange(n, dtype=np.int64)
    small = [i for i in range(n) if q[i] < 1.0]
    large = [i for i in range(n) if q[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large[-1]
        prob[s], alias[s] = q[s], g
        q[g] -= 1.0 - q[s]
        if q[g] < 1.0:
            small.append(large.pop())
    return prob, alias


def _draw(table: tuple[np.ndarray, np.ndarray], size: int, rng: np.random.Generator) -> np.ndarray:
    prob, alias = table
    x = rng.random(size) * len(prob)
    idx = np.minimum(x.astype(np.int64), len(prob) - 1)
    return np.where(x - idx < prob[idx], idx, alias[idx])


def _by_taste(spec: SyntheticSpec) -> bool:
    """Whether users choose their movies by taste (else by popularity alone)."""
    return spec.taste_choice_share > 0.0 or spec.cluster_choice_share > 0.0


#: A user's draw is one of this many equally likely cells, each naming a group of movies
#: (the shares are rounded to multiples of 1/120). The presets' 24 genre cells and 60
#: cluster cells split evenly between any 1-3 liked genres and 1-6 clusters.
_CHOICE_CELLS = 120


def _choice_cells(liked: np.ndarray, cluster_first: np.ndarray, cluster_count: np.ndarray,
                  cluster_ids: np.ndarray, genre_size: np.ndarray, cluster_size: np.ndarray,
                  share_genre: float, share_cluster: float, block: int = 8192) -> np.ndarray:
    """[U, _CHOICE_CELLS] integers: the group each cell of each user's draw goes to.

    Group 0 is the chart (the whole catalogue), 1 + g the genre g, 1 + G + c the cluster c.
    The first cells go to the chart, the next ``share_genre`` of them to the user's liked
    genres in turn, the last ``share_cluster`` to the user's clusters in turn (user i's are
    ``cluster_ids[cluster_first[i]:cluster_first[i] + cluster_count[i]]``; a user has at
    most as many as there are cluster cells). A genre or cluster without movies gives its
    cells to the chart. Built in blocks of users: small temporaries.
    """
    u, g = liked.shape
    n_genre = int(round(share_genre * _CHOICE_CELLS))
    n_cluster = int(round(share_cluster * _CHOICE_CELLS))
    n_chart = _CHOICE_CELLS - n_genre - n_cluster
    num_groups = 1 + g + len(cluster_size)
    cells = np.zeros((u, _CHOICE_CELLS), dtype=np.int16 if num_groups < 1 << 15 else np.int32)
    # Group of each genre and cluster (0, the chart, where it has no movies).
    genre_group = np.where(genre_size > 0, 1 + np.arange(g), 0)
    cluster_group = np.where(cluster_size > 0, 1 + g + np.arange(len(cluster_size)), 0)
    # turn[n, j] = j % n: which of n liked genres or clusters cell j goes to.
    width = max(n_genre, n_cluster, 1)
    turn = np.arange(width)[None, :] % np.maximum(np.arange(width + 1), 1)[:, None]
    for lo in range(0, u, block):
        hi = min(lo + block, u)
        if n_genre:
            part = liked[lo:hi]
            liked_genres = np.argsort(~part, axis=1, kind="stable")      # liked ones first
            num_liked = np.clip(part.sum(axis=1), 1, width)
            genre = np.take_along_axis(liked_genres, turn[num_liked, :n_genre], axis=1)
            cells[lo:hi, n_chart:n_chart + n_genre] = genre_group[genre]
        if n_cluster and cluster_ids.size:
            num = np.clip(cluster_count[lo:hi], 1, width)
            cluster = cluster_ids[cluster_first[lo:hi, None] + turn[num, :n_cluster]]
            cells[lo:hi, _CHOICE_CELLS - n_cluster:] = cluster_group[cluster]
    return cells


def _pick_in_genre(genre: np.ndarray, r: np.ndarray, sorted_ids: np.ndarray,
                   starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """For each ``genre`` (-1: none) one of its ids (``sorted_ids[starts[g]:starts[g] +
    counts[g]]``) chosen by ``r`` in [0, 1); any id where the genre has none."""
    g = np.maximum(genre, 0)
    n = counts[g]
    inside = starts[g] + np.minimum((r * n).astype(np.int64), np.maximum(n - 1, 0))
    anywhere = np.minimum((r * sorted_ids.size).astype(np.int64), sorted_ids.size - 1)
    return sorted_ids[np.where((genre >= 0) & (n > 0), inside, anywhere)]


def _make_choice(spec: SyntheticSpec, rng: np.random.Generator, users: dict, movies: dict) -> dict:
    """The planted structure of what users watch: taste clusters, each user's clusters, and
    the tables a draw reads.

    Every movie belongs to one cluster, found through its first genre; every user joins a
    few clusters, most of them through one of their liked genres.
    """
    m, u, g = spec.num_movies, spec.num_users, len(GENRES)
    genre_p = _GENRE_WEIGHTS / _GENRE_WEIGHTS.sum()
    k = max(1, int(round(m / spec.movies_per_cluster)))
    # Each cluster has a signature genre: every genre one cluster first (where k allows).
    signature = np.empty(k, dtype=np.int64)
    first = min(k, g)
    signature[:first] = rng.permutation(g)[:first]
    signature[first:] = rng.choice(g, size=k - first, p=genre_p)
    by_signature = np.argsort(signature, kind="stable")
    count = np.bincount(signature, minlength=g)
    start = np.cumsum(count) - count
    movie_cluster = _pick_in_genre(movies["primary_genre"], rng.random(m), by_signature, start,
                                   count)

    # Each user's clusters: 1..max_clusters_per_user, and at least one per draws_per_cluster
    # of their cluster draws (no more than their cluster cells); each found through one of
    # their liked genres (cluster_taste_share of them) or any genre.
    liked = users["liked"]
    liked_genres = np.argsort(~liked, axis=1, kind="stable")   # the 1 to 3 liked ones first
    num_liked = liked.sum(axis=1)
    cluster_cells = max(1, int(round(spec.cluster_choice_share * _CHOICE_CELLS)))
    wanted = np.ceil(spec.cluster_choice_share * users["counts"] / spec.draws_per_cluster)
    num_clusters = np.minimum(np.maximum(rng.integers(1, spec.max_clusters_per_user + 1, size=u),
                                         wanted.astype(np.int64)), cluster_cells)
    owner = np.repeat(np.arange(u), num_clusters)
    slot = np.minimum((rng.random(owner.size) * num_liked[owner]).astype(np.int64),
                      num_liked[owner] - 1)
    through = np.where(rng.random(owner.size) < spec.cluster_taste_share, liked_genres[owner, slot],
                       rng.choice(g, size=owner.size, p=genre_p))
    cluster_ids = _pick_in_genre(through, rng.random(owner.size), by_signature, start, count)
    cluster_start = np.concatenate([[0], np.cumsum(num_clusters)])

    genre_matrix, popularity = movies["genre_matrix"], movies["popularity"]
    members = [np.arange(m)] + [np.flatnonzero(genre_matrix[:, j]) for j in range(g)]
    order = np.argsort(movie_cluster, kind="stable")
    bounds = np.searchsorted(movie_cluster[order], np.arange(k + 1))
    members += [order[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
    tables = _grouped_tables(members, popularity)
    cells = _choice_cells(liked, cluster_start[:-1], num_clusters, cluster_ids,
                          tables["sizes"][1:1 + g], tables["sizes"][1 + g:],
                          spec.taste_choice_share, spec.cluster_choice_share)
    return dict(num_clusters=k, movie_cluster=movie_cluster, cluster_start=cluster_start,
                cluster_ids=cluster_ids, cells=cells, tables=tables)


def _grouped_tables(members: list[np.ndarray], popularity: np.ndarray) -> dict:
    """One alias table per group of movies (by popularity within the group), in flat arrays:
    group i is ``offset[i]:offset[i] + sizes[i]``. A draw lands on ``movie[pos]`` if its
    uniform is below ``prob[pos]``, else on ``alias_movie[pos]``."""
    sizes = np.array([len(x) for x in members], dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(sizes)])
    movie = np.concatenate(members).astype(np.int64)
    prob = np.ones(movie.size)
    alias_movie = movie.copy()
    for i, rows in enumerate(members):
        lo, hi = offset[i], offset[i + 1]
        if hi > lo and popularity[rows].sum() > 0:
            prob[lo:hi], alias = _alias_table(popularity[rows])
            alias_movie[lo:hi] = rows[alias]
    return dict(offset=offset[:-1], sizes=sizes, prob=prob, movie=movie, alias_movie=alias_movie)


def _draw_by_taste(choice: dict, users: np.ndarray, rng: np.random.Generator,
                   block: int = 1 << 16) -> np.ndarray:
    """One movie row for each entry of ``users``: a cell of the user's draw (one of their
    liked genres, clusters, or the chart), then a movie of that group by popularity. One
    uniform does both: its integer part times the cells picks the cell, the rest the movie.
    Blocks of draws keep every temporary array in the processor's cache."""
    cells, tables = choice["cells"].ravel(), choice["tables"]
    width = choice["cells"].shape[1]
    sizes, offset, prob = tables["sizes"], tables["offset"], tables["prob"]
    movie, alias_movie = tables["movie"], tables["alias_movie"]
    out = np.empty(users.size, dtype=np.int64)
    for lo in range(0, users.size, block):
        x = rng.random(min(block, users.size - lo))
        x *= width
        cell = x.astype(np.int64)
        np.minimum(cell, width - 1, out=cell)
        x -= cell
        cell += users[lo:lo + block] * width
        group = cells[cell]
        size = sizes[group]
        x *= size
        idx = x.astype(np.int64)
        size -= 1
        np.minimum(idx, size, out=idx)
        x -= idx
        idx += offset[group]
        out[lo:lo + block] = np.where(x < prob[idx], movie[idx], alias_movie[idx])
    return out


def _sample_pairs(users_: dict, movies_: dict, rng: np.random.Generator, seeds: np.ndarray,
                  choice: dict | None = None, popular_rounds: int = 12,
                  chunk: int = 8_000_000) -> np.ndarray:
    """Sorted int64 keys user_row * M + movie_row: ``counts[u]`` distinct movies per user,
    each released before the end of the user's period.

    Movies are drawn by popularity (or, with ``choice``, by taste: :func:`_draw_by_taste`),
    with replacement; duplicates and movies released too late are dropped and each user
    draws again what is missing. A heavy rater who has already taken most of the popular
    (or their own) movies would need many rounds, so after ``popular_rounds`` the rest is
    drawn by the square root of popularity, and after twice that many uniformly among the
    movies the user can rate.
    """
    counts, end = users_["counts"], users_["end"]
    popularity, release = movies_["popularity"], movies_["release"]
    u, m = len(counts), len(popularity)
    by_release = np.argsort(release, kind="stable")
    num_able = np.searchsorted(release[by_release], end, side="right")
    popular = _alias_table(popularity)
    # Square-root popularity: what a heavy rater still finds after the popular movies.
    flatter = _alias_table(np.sqrt(popularity))
    runs = [seeds]                 # sorted, pairwise disjoint
    have = np.bincount(seeds // m, minlength=u)
    user_rows = np.arange(u, dtype=np.int64)
    for round_ in range(2 * popular_rounds + 200):
        deficit = counts - have
        if not deficit.any():
            return np.sort(np.concatenate(runs), kind="stable")   # merges the sorted runs
        parts = []
        # Chunk by users so the first (big) round never holds more than ~chunk draws.
        bounds = np.searchsorted(np.cumsum(deficit), np.arange(chunk, deficit.sum(), chunk))
        for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, u]):
            users = np.repeat(user_rows[lo:hi], deficit[lo:hi])
            if round_ < popular_rounds and choice is not None:
                movies = _draw_by_taste(choice, users, rng)
            elif round_ < 2 * popular_rounds:
                movies = _draw(popular if round_ < popular_rounds else flatter, users.size, rng)
            else:
                able = num_able[users]
                pick = (rng.random(users.size) * able).astype(np.int64)
                movies = by_release[np.minimum(pick, able - 1)]
            ok = release[movies] <= end[users]
            parts.append(_unique_sorted(users[ok] * m + movies[ok]))
        new = np.concatenate(parts)           # user ranges ascend: still sorted
        fresh = np.ones(new.size, dtype=bool)
        for run in runs:
            fresh &= ~_in_sorted(new, run)
        new = new[fresh]
        have += np.bincount(new // m, minlength=u)
        runs.append(new)
        # Merge runs of similar size (timsort merges two sorted runs in one pass): few runs
        # to search, however many rounds.
        while len(runs) > 1 and runs[-2].size <= 2 * runs[-1].size:
            runs[-2:] = [np.sort(np.concatenate(runs[-2:]), kind="stable")]
    raise RuntimeError("could not draw enough distinct movies per user")


def _skew_noise(shape: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """Skew-normal draws with mean 0 and standard deviation 1."""
    delta = shape / np.sqrt(1.0 + shape * shape)
    z = rng.standard_normal((2, n))
    x = delta * np.abs(z[0]) + np.sqrt(1.0 - delta * delta) * z[1]
    mean = delta * np.sqrt(2.0 / np.pi)
    return (x - mean) / np.sqrt(1.0 - mean * mean)


def _make_ratings(spec: SyntheticSpec, keys: np.ndarray, users: dict, movies: dict,
                  rng_times: np.random.Generator, rng_noise: np.random.Generator,
                  rng_dirt: np.random.Generator, step: int = 1 << 20) -> pd.DataFrame:
    m, g = spec.num_movies, len(GENRES)
    n = keys.size
    counts = users["counts"]
    # The keys are sorted by user, and user u has exactly counts[u] of them.
    user_id = np.repeat(np.arange(1, len(counts) + 1, dtype=np.int64), counts)
    movie_id = np.empty(n, dtype=np.float64)
    rating = np.empty(n, dtype=np.float64)
    timestamp = np.empty(n, dtype=np.int64)
    taste_flat = users["taste"].ravel()
    slots, num_genres = movies["slots"], movies["num_genres"]
    # In steps of rows: small temporaries (each random stream is drawn in the same order
    # as in one piece).
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        ur = user_id[lo:hi] - 1
        mr = keys[lo:hi] - ur * m
        # Within the user's period, after the release; early in that window more often.
        first = np.maximum(users["start"][ur], movies["release"][mr])
        wait = (users["end"][ur] - first) * rng_times.random(hi - lo) ** 3
        timestamp[lo:hi] = first + wait.astype(np.int64)
        del first
        effect = np.zeros(ur.size)
        for k in range(4):
            genre = slots[mr, k]
            has = genre >= 0
            effect += np.where(has, taste_flat[ur * g + np.maximum(genre, 0)], 0.0)
        ng = num_genres[mr]
        effect = np.divide(effect, ng, out=effect, where=ng > 0)
        raw = (spec.global_mean + users["bias"][ur] + movies["quality"][mr] + effect
               + spec.noise_sd * _skew_noise(spec.noise_skew, ur.size, rng_noise))
        half = users["half"][ur] & (timestamp[lo:hi] >= HALF_STARS_SINCE)
        rating[lo:hi] = np.where(half, np.clip(np.round(raw * 2) / 2, 0.5, 5.0),
                                 np.clip(np.round(raw), 1.0, 5.0))
        movie_id[lo:hi] = movies["movie_ids"][mr]

    # The dirt: one NaN rating and one NaN movieId, on rows of users with other ratings.
    dirty: list[int] = []
    while len(dirty) < 2:
        row = int(rng_dirt.integers(0, n))
        if counts[user_id[row] - 1] >= 3 and row not in dirty:
            dirty.append(row)
    rating[dirty[0]] = np.nan
    movie_id[dirty[1]] = np.nan
    return pd.DataFrame({"userId": user_id, "movieId": movie_id, "rating": rating,
                         "timestamp": timestamp}, copy=False)


# ---------------------------------------------------------------------------------------
# Command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m datasets.synthetic",
        description="Write a deterministic synthetic MovieLens (ratings.csv, movies.csv).")
    parser.add_argument("--size", default="fixture", choices=list(SIZES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="folder to write the CSV files into")
    args = parser.parse_args(argv)
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    data = generate(args.size, args.seed)
    out = write_data(data, args.out)
    print(f"{out}: {len(data.ratings):,} ratings, {data.ratings['userId'].nunique():,} users, "
          f"{len(data.movies):,} movies (size={args.size}, seed={args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
