# %% [markdown]
# # Lesson 1, worked through: cleaning the ratings
#
# This notebook runs the reference solution of `lessons/lesson01_cleaning.py` on the real
# `ml-latest-small` data set and shows what every step produces. Read
# `lessons/lesson01_cleaning.md` first; come back here to compare your results with ours.
#
# Everything the model will ever know comes out of one ratings table, so this lesson makes
# it trustworthy (no missing values, integer ids) and decides which movies the model learns
# about at all.

# %%
# Setup: the course's thread policy (one torch thread, so sums run in the same order on
# any machine and the printed values below are reproducible), 4-decimal printing, the
# tuned settings (never hard-coded here) and the data folder. The course is installed as
# a package by `make venv`.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from course.notebook import setup

CFG, DATA = setup("ml-latest-small")

# %% [markdown]
# ## The raw tables
#
# `read_movielens` is the pipeline's reader: two CSV files, read as pandas reads them.

# %%
from solutions.pipeline import read_movielens

ratings, movies = read_movielens(DATA)
print(f"ratings: {len(ratings):,} rows, {ratings['userId'].nunique()} users, "
      f"{ratings['movieId'].nunique():,} rated movies")
print(f"movies:  {len(movies):,} rows")
ratings.head()

# %%
movies.head()

# %% [markdown]
# Ratings go from 0.5 to 5 stars in half-star steps, and people are generous: whole stars
# are far more common than half stars, and 4 is the most frequent rating. The second panel
# is the reason for the cut we make below. A few movies have hundreds of ratings, most have
# a handful (the long tail; note the logarithmic scale), and a movie rated twice gives the
# model almost nothing to learn from.

# %%
popularity = ratings["movieId"].value_counts().to_numpy()  # ratings per movie, largest first

figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))
stars = ratings["rating"].value_counts().sort_index()
left.bar(stars.index, stars.to_numpy(), width=0.4)
left.set_xticks(stars.index)
left.set_xlabel("rating (stars)")
left.set_ylabel("number of ratings")
left.set_title("How people rate")
right.plot(np.arange(1, len(popularity) + 1), popularity)
right.axhline(CFG.data.min_ratings_per_movie, color="grey", linestyle=":",
              label=f"min_ratings_per_movie = {CFG.data.min_ratings_per_movie}")
right.set_yscale("log")
right.set_xlabel("movies, most-rated first")
right.set_ylabel("ratings of the movie")
right.set_title("The long tail of popularity")
right.legend()
figure.tight_layout()
plt.show()

# %% [markdown]
# ## Task 1.1: `clean_ratings`
#
# This small data set happens to have no missing value (the large `ml-32m` has one), so on
# the real data cleaning only confirms the types. A four-row toy table shows what it does
# when a NaN is there: pandas stores `movieId` as float because of it, and cleaning drops
# the row and makes the ids integers again.

# %%
from solutions.lesson01_cleaning import (build_movie_maps, clean_ratings, count_ratings_per_movie,
                                         keep_top_movie_ratings, select_top_movies)

toy = pd.DataFrame({"userId": [1, 1, 2, 2], "movieId": [10, np.nan, 10, 30],
                    "rating": [4.0, 3.5, 5.0, 2.0], "timestamp": [1, 2, 3, 4]})
print("before:", dict(toy.dtypes.astype(str)))
toy_clean = clean_ratings(toy)
print("after: ", dict(toy_clean.dtypes.astype(str)))
toy_clean

# %%
clean = clean_ratings(ratings)
print(f"missing values in the raw table: {int(ratings.isna().sum().sum())}")
print(f"rows kept: {len(clean):,} of {len(ratings):,}")
print("id dtypes:", clean["userId"].dtype, clean["movieId"].dtype)

# %% [markdown]
# ## Task 1.2: `count_ratings_per_movie`
#
# Most-rated first; ties are broken by the smaller `movieId`, so the order never depends on
# how the rows were arranged. This order becomes the row order of the embedding table in
# lesson 2.

# %%
rating_counts = count_ratings_per_movie(clean)
top10 = rating_counts.head(10).to_frame()
top10.insert(0, "title", [movies.set_index("movieId").loc[m, "title"] for m in top10.index])
top10

# %%
# Ties are common in the tail: many movies share a count, and the smaller id comes first.
rating_counts[rating_counts == CFG.data.min_ratings_per_movie + 1].head(6)

# %% [markdown]
# ## Tasks 1.3 and 1.4: the top movies and their ratings
#
# We keep movies with strictly more than `min_ratings_per_movie` ratings (the value comes from
# `course/config.py`). Few movies survive, but they hold most of the ratings.

# %%
top_movies = select_top_movies(rating_counts, CFG.data.min_ratings_per_movie)
top_ratings = keep_top_movie_ratings(clean, top_movies)
print(f"min_ratings_per_movie = {CFG.data.min_ratings_per_movie}")
print(f"top movies: {len(top_movies):,} of {len(rating_counts):,} rated movies "
      f"({len(top_movies) / len(rating_counts):.1%})")
print(f"their ratings: {len(top_ratings):,} of {len(clean):,} ({len(top_ratings) / len(clean):.1%})")
print(f"users left: {top_ratings['userId'].nunique()} of {clean['userId'].nunique()}")
print("first five top movies:", top_movies[:5], "- plain Python ints:", type(top_movies[0]).__name__)

# %% [markdown]
# ## Task 1.5: `build_movie_maps`
#
# Five lookups. Titles cover the whole catalogue; genres, averages and counts only the top
# movies. Genres are stored as a sorted tuple.

# %%
maps = build_movie_maps(movies, top_ratings, top_movies)
for name in ("title_by_id", "id_by_title", "genres_by_id", "avg_rating_by_id", "num_ratings_by_id"):
    print(f"{name:18} {len(getattr(maps, name)):>6,} entries")

pd.DataFrame([{"movieId": m, "title": maps.title_by_id[m], "genres": ", ".join(maps.genres_by_id[m]),
               "average": maps.avg_rating_by_id[m], "ratings": maps.num_ratings_by_id[m]}
              for m in top_movies[:8]]).set_index("movieId")

# %% [markdown]
# Five titles in `ml-latest-small` belong to two movies each. A reverse map built by
# overwriting keeps whichever came last; ours states a rule instead: the smaller id wins.

# %%
shared = movies.groupby("title")["movieId"].apply(sorted)
shared = shared[shared.map(len) > 1]
pd.DataFrame({"movie ids": shared, "id_by_title picks": [maps.id_by_title[t] for t in shared.index]})

# %% [markdown]
# Lesson 2 numbers these movies and genres: it turns `top_movies` and `maps.genres_by_id` into
# the vocabularies that say which row or column of a tensor stands for which movie or genre.
