# %% [markdown]
# # Lesson 7, worked through: precomputing movie embeddings
#
# The reference solution of `lessons/lesson07_embeddings.py` on `ml-latest-small`. Read
# `lessons/lesson07_embeddings.md` first.
#
# The item towers never look at the user, so once the model is trained every movie's
# embedding can be computed once, for the whole catalogue, and reused for every user.

# %%
# Setup: the course's thread policy (one torch thread, so sums run in the same order on
# any machine and the printed values below are reproducible), 4-decimal printing, the
# tuned settings (never hard-coded here) and the data folder. The course is installed as
# a package by `make venv`.
import matplotlib.pyplot as plt
import numpy as np
import torch

from course.notebook import setup

CFG, DATA = setup("ml-latest-small")

# %% [markdown]
# Inputs from lessons 1 to 6 with the reference code: the prepared data and a trained model
# (the same run as notebook 06, with `CFG.train`).

# %%
from solutions.lesson05_weights import item_tower
from solutions.pipeline import prepare, read_movielens, train_model

ratings, movies = read_movielens(DATA)
data = prepare(ratings, movies, CFG.data)
params, history = train_model(data, CFG)
print(f"trained: best step {history.best_step:,}, validation MSE {min(history.val_loss):.4f}")

# %% [markdown]
# ## Task 7.1: `movie_embeddings`
#
# One batched pass: the id embedding of every row of the table, the feature embedding of
# every movie's genres, and the two side by side.

# %%
from solutions.lesson07_embeddings import movie_embeddings

embeddings = movie_embeddings(params, data.movie_genres)
for name in ("id", "feature", "combined"):
    tensor = getattr(embeddings, name)
    print(f"{name:8} {tuple(tensor.shape)}  requires_grad={tensor.requires_grad}")

# %% [markdown]
# It is exactly what the item tower of lesson 5 computes, one movie at a time:

# %%
with torch.no_grad():
    all_rows = torch.arange(len(data.top_movies))
    one_by_one = item_tower(params, data.movie_genres, all_rows)
print("same as item_tower:", torch.allclose(one_by_one, embeddings.combined, atol=1e-6))

# %% [markdown]
# The feature half depends on the genres only, so movies with the same genres share it; the
# id half is learned per movie and tells them apart.

# %%
# Rows count as equal when they agree to 5 decimals (identical inputs can differ in the last bit).
distinct = lambda t: len(torch.unique(torch.round(t, decimals=5), dim=0))  # noqa: E731
print(f"distinct genre combinations: {distinct(data.movie_genres):,}")
print(f"distinct feature embeddings: {distinct(embeddings.feature):,}")
print(f"distinct combined embeddings: {distinct(embeddings.combined):,} (one per movie)")

# %% [markdown]
# ## A map of the catalogue
#
# The combined embeddings have F + E dimensions; their two principal directions (an SVD of
# the centred matrix) give a flat map. Each point is a movie, coloured by one of its genres.
# Movies the model treats alike sit close together.

# %%
centred = embeddings.combined - embeddings.combined.mean(dim=0)
_, singular, directions = torch.linalg.svd(centred, full_matrices=False)
# An SVD may return a direction or its opposite: fix the sign so the map is the same everywhere.
directions = directions[:2] * torch.sign(directions[:2].sum(dim=1, keepdim=True))
coordinates = (centred @ directions.T).numpy()
share = (singular[:2] ** 2).sum() / (singular ** 2).sum()
print(f"variance shown by the two directions: {share:.1%}")

# %%
shown = ["Children", "Horror", "Sci-Fi", "Romance", "Documentary"]
first_genre = []
for movie_id in data.top_movies:
    genres = data.maps.genres_by_id[movie_id]
    first_genre.append(next((g for g in shown if g in genres), "other"))
first_genre = np.array(first_genre)

figure, axes = plt.subplots(figsize=(8, 6.5))
axes.scatter(*coordinates[first_genre == "other"].T, s=6, color="lightgrey", label="other")
for genre in shown:
    axes.scatter(*coordinates[first_genre == genre].T, s=8, label=genre)
for title in ["Toy Story (1995)", "Exorcist, The (1973)", "Matrix, The (1999)", "Notebook, The (2004)",
              "Forrest Gump (1994)", "Shining, The (1980)", "Finding Nemo (2003)"]:
    if data.maps.id_by_title[title] not in data.movie_index:
        continue  # not among the top movies with this configuration
    row = data.movie_index[data.maps.id_by_title[title]]
    axes.annotate(title, coordinates[row], fontsize=8, xytext=(4, 4), textcoords="offset points")
axes.set_xlabel("first principal direction")
axes.set_ylabel("second principal direction")
axes.set_title("The catalogue, by combined embedding")
axes.legend(markerscale=2, fontsize=8)
figure.tight_layout()
plt.show()
