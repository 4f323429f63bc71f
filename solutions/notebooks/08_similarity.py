# %% [markdown]
# # Lesson 8, worked through: similar movies
#
# The reference solution of `lessons/lesson08_similarity.py` on `ml-latest-small`. Read
# `lessons/lesson08_similarity.md` first.
#
# Two movies are similar when their embeddings are close. All the distances of the
# catalogue come from a handful of matrix operations instead of two nested loops.

# %%
# Setup: the course's thread policy (one torch thread, so sums run in the same order on
# any machine and the printed values below are reproducible), 4-decimal printing, the
# tuned settings (never hard-coded here) and the data folder. The course is installed as
# a package by `make venv`.
import pandas as pd
import torch

from course.notebook import setup

CFG, DATA = setup("ml-latest-small")

# %% [markdown]
# Inputs from lessons 1 to 7 with the reference code: a trained model and the catalogue's
# combined embeddings.

# %%
from solutions.lesson07_embeddings import movie_embeddings
from solutions.pipeline import prepare, read_movielens, train_model

ratings, movies = read_movielens(DATA)
data = prepare(ratings, movies, CFG.data)
params, history = train_model(data, CFG)
embeddings = movie_embeddings(params, data.movie_genres).combined
print(f"trained: best step {history.best_step:,}; embeddings {tuple(embeddings.shape)}")

# %% [markdown]
# ## Task 8.1: `pairwise_distances`
#
# $\lVert a-b\rVert^2 = \lVert a\rVert^2 + \lVert b\rVert^2 - 2\,a\cdot b$, and all the
# $a\cdot b$ at once are one matrix product.

# %%
from solutions.lesson08_similarity import most_similar, pairwise_distances, pairwise_distances_loop, similar_titles

distances = pairwise_distances(embeddings)
print("shape:", tuple(distances.shape))
# Symmetric up to rounding: a.b and b.a may be summed in different orders inside the matrix
# product, and the square root magnifies a rounding error near 0 (so we print no minimum either:
# the smallest distances are the least precise digits of the whole matrix).
print("symmetric:", torch.allclose(distances, distances.T, atol=1e-4),
      " zero diagonal:", bool((distances.diagonal() == 0).all()))
print(f"distances between different movies: median {distances.median():.4f}, max {distances.max():.4f}")

# %% [markdown]
# The same numbers as the two nested loops, and much faster. The loop runs on the first 150
# movies only; the matrix version on the whole catalogue. (Times differ from machine to
# machine: they are printed in brackets, and `make nbval` ignores bracketed durations.)

# %%
import time

few = embeddings[:150]
started = time.perf_counter()
slow = pairwise_distances_loop(few)
loop_s = time.perf_counter() - started
started = time.perf_counter()
fast = pairwise_distances(embeddings)
matrix_s = time.perf_counter() - started
print(f"largest difference on the first 150 movies: below 1e-5: {bool((slow - fast[:150, :150]).abs().max() < 1e-5)}")
print(f"loop, {len(few)} movies ({len(few) ** 2:,} pairs): [{loop_s:.3f} s]")
print(f"matrix, {len(embeddings):,} movies ({len(embeddings) ** 2:,} pairs): [{matrix_s:.3f} s]")

# %% [markdown]
# ## Task 8.2: `most_similar`
#
# The k nearest other movies of every movie, in one sort.

# %%
neighbours = most_similar(embeddings, 5)
print("shape:", tuple(neighbours.shape), " a movie is never its own neighbour:",
      bool((neighbours != torch.arange(len(neighbours))[:, None]).all()))
title = lambda row: data.maps.title_by_id[data.top_movies[int(row)]]  # noqa: E731
pd.DataFrame([[title(row)] + [title(n) for n in neighbours[row][:3]] for row in range(5)],
             columns=["movie", "nearest", "second", "third"])

# %% [markdown]
# ## Task 8.3: `similar_titles`
#
# The seed post's query movies, and their five nearest neighbours.

# %%
from course.personas import SIMILAR_QUERIES

for query in SIMILAR_QUERIES:
    if data.maps.id_by_title[query] not in data.movie_index:
        print(f"{query}: not among the top movies with this configuration")
        continue
    print(f"{query}:")
    for neighbour in similar_titles(query, 5, embeddings, data.top_movies, data.maps.id_by_title,
                                    data.maps.title_by_id):
        print(f"    {neighbour}")
