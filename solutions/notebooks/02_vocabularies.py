# %% [markdown]
# # Lesson 2, worked through: vocabularies
#
# The reference solution of `lessons/lesson02_vocabularies.py` on `ml-latest-small`. Read
# `lessons/lesson02_vocabularies.md` first.
#
# A tensor only has positions. A vocabulary decides, once, which position stands for which
# movie or genre; every later tensor (the embedding table, the genre matrix, the user
# context) is laid out by these three maps.

# %%
# Setup: the course's thread policy (one torch thread, so sums run in the same order on
# any machine and the printed values below are reproducible), 4-decimal printing, the
# tuned settings (never hard-coded here) and the data folder. The course is installed as
# a package by `make venv`.
import pandas as pd

from course.notebook import setup

CFG, DATA = setup("ml-latest-small")

# %% [markdown]
# Lesson 1, with the reference code, gives this lesson its inputs: the top movies
# (most-rated first) and their genres.

# %%
from solutions.lesson01_cleaning import (build_movie_maps, clean_ratings, count_ratings_per_movie,
                                         keep_top_movie_ratings, select_top_movies)
from solutions.pipeline import read_movielens

ratings, movies = read_movielens(DATA)
clean = clean_ratings(ratings)
top_movies = select_top_movies(count_ratings_per_movie(clean), CFG.data.min_ratings_per_movie)
maps = build_movie_maps(movies, keep_top_movie_ratings(clean, top_movies), top_movies)
print(f"{len(top_movies):,} top movies; the first: {maps.title_by_id[top_movies[0]]}")

# %% [markdown]
# ## Task 2.1: `build_movie_index`
#
# A movie's row in the id embedding table is its position in `top_movies`: row 0 is the
# most-rated movie.

# %%
from solutions.lesson02_vocabularies import build_genre_index, build_movie_index, build_user_context_index

movie_index = build_movie_index(top_movies)
print(f"{len(movie_index):,} rows, 0 to {max(movie_index.values()):,}")
pd.DataFrame([{"row": movie_index[m], "movieId": m, "title": maps.title_by_id[m]}
              for m in top_movies[:3] + top_movies[-3:]]).set_index("row")

# %% [markdown]
# ## Task 2.2: `build_genre_index`
#
# Every genre of the top movies gets a column, in alphabetical order.

# %%
genre_index = build_genre_index(maps.genres_by_id)
movies_per_genre = pd.Series([g for genres in maps.genres_by_id.values() for g in genres]).value_counts()
pd.DataFrame({"column": genre_index, "top movies in it": movies_per_genre.reindex(list(genre_index))})

# %% [markdown]
# Why sort? Python salts the hash of every string with a random value chosen when the
# interpreter starts, so the same `set` of genres is listed in a different order by each
# process. Here three fresh interpreters (with three fixed salts, so that this output is the
# same every time) list the same five genres:

# %%
import os
import subprocess
import sys

code = "print(list({'Action', 'Comedy', 'Drama', 'Horror', 'Sci-Fi'}))"
for salt in ("1", "2", "3"):
    listed = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": salt},
                            capture_output=True, text=True, check=True).stdout.strip()
    print(f"PYTHONHASHSEED={salt}: {listed}")

# %% [markdown]
# A vocabulary built in that order would give a saved model's genre weights to the wrong
# genres the next time it is loaded. `sorted` gives one order, everywhere.
#
# ## Task 2.3: `build_user_context_index`
#
# The user context vector has one slot per context movie (the `num_context_movies`
# most-rated) and then one slot per genre, right after them.

# %%
context_index = build_user_context_index(top_movies, genre_index, CFG.data.num_context_movies)
first_genre_slot = min(context_index.genre_slot.values())
print(f"num_context_movies = {CFG.data.num_context_movies}")
print(f"movie slots: 0..{len(context_index.movie_slot) - 1}, genre slots: "
      f"{first_genre_slot}..{context_index.size - 1}, size: {context_index.size}")

layout = [(slot, "movie", maps.title_by_id[m]) for m, slot in context_index.movie_slot.items()]
layout += [(slot, "genre", g) for g, slot in context_index.genre_slot.items()]
layout = pd.DataFrame(sorted(layout), columns=["slot", "kind", "what"]).set_index("slot")
pd.concat([layout.head(3), layout.loc[first_genre_slot - 2:first_genre_slot + 2], layout.tail(2)])

# %% [markdown]
# A movie outside the context movies still has a row in the embedding table (it can be
# recommended), but no slot in the user context: watching it tells the user tower nothing
# directly, only through the genre slots.

# %%
in_context = sum(m in context_index.movie_slot for m in top_movies)
print(f"top movies with a context slot: {in_context:,} of {len(top_movies):,}")
