# %% [markdown]
# # Lesson 5, worked through: raw-tensor weights and the forward pass
#
# The reference solution of `lessons/lesson05_weights.py` on `ml-latest-small`. Read
# `lessons/lesson05_weights.md` first.
#
# The model is seven plain tensors and three `tanh` layers: no `nn.Module`, nothing hidden.

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
# Lessons 1 to 4 with the reference code, in one call: `solutions.pipeline.prepare`.

# %%
from solutions.pipeline import prepare, read_movielens

ratings, movies = read_movielens(DATA)
data = prepare(ratings, movies, CFG.data)
print(f"{len(data.top_movies):,} movies, {len(data.genre_index)} genres, {len(data.user_ids)} users, "
      f"context size {data.context_index.size}")
print(f"training examples: {len(data.train):,}, validation examples: {len(data.val):,}")

# %% [markdown]
# ## Task 5.1: `init_parameters`
#
# Drawn from a seeded `torch.Generator` in a fixed order and scaled down by `weight_scale`.
# The sizes come from the data and from `CFG.model`.

# %%
from solutions.lesson05_weights import init_parameters, item_tower, predict, user_tower

print(CFG.model)
params = init_parameters(data.context_index.size, len(data.genre_index), len(data.top_movies), CFG.model,
                         torch.Generator().manual_seed(CFG.model.init_seed))
pd.DataFrame([{"tensor": name, "shape": tuple(p.shape), "values": p.numel(), "mean": p.detach().mean().item(),
               "std": p.detach().std().item(), "requires_grad": p.requires_grad, "leaf": p.is_leaf}
              for name, p in zip(params.NAMES, params.as_list())]).set_index("tensor")

# %%
print(f"parameters in all: {sum(p.numel() for p in params.as_list()):,}")
again = init_parameters(data.context_index.size, len(data.genre_index), len(data.top_movies), CFG.model,
                        torch.Generator().manual_seed(CFG.model.init_seed))
print("same seed, same tensors:", all(torch.equal(a, b) for a, b in zip(params.as_list(), again.as_list())))

# %% [markdown]
# ## Tasks 5.2 to 5.4: the towers and the prediction
#
# The user tower maps a context row to an embedding of size F + E; the item towers map a
# movie's genres to F numbers and its id-table row to E numbers, side by side. The
# prediction is the dot product of the two.

# %%
rows = torch.arange(5)
users = data.train.user_row[rows]
movie_rows = data.train.movie_row[rows]
user_embedding = user_tower(params, data.user_context[users])
item_embedding = item_tower(params, data.movie_genres[movie_rows], movie_rows)
print("user embeddings:", tuple(user_embedding.shape), " item embeddings:", tuple(item_embedding.shape))

with torch.no_grad():
    predictions = predict(params, data.user_context[users], data.movie_genres[movie_rows], movie_rows)
pd.DataFrame({"user": data.user_ids[users.numpy()],
              "movie": [data.maps.title_by_id[data.top_movies[int(r)]] for r in movie_rows],
              "prediction": predictions.numpy(), "target": data.train.target[rows].numpy()})

# %% [markdown]
# Before training, the predictions are small random numbers around 0. Compare the untrained
# model with the simplest guess there is, the user's own average (a debiased rating of 0):
# that is the bar training (lesson 6) has to clear.

# %%
with torch.no_grad():
    val_predictions = predict(params, data.user_context[data.val.user_row], data.movie_genres[data.val.movie_row],
                              data.val.movie_row)
print(f"untrained model, validation MSE: {float(((val_predictions - data.val.target) ** 2).mean()):.4f}")
print(f"always predict 0, validation MSE: {float((data.val.target ** 2).mean()):.4f}")
print(f"largest |prediction|: {float(val_predictions.abs().max()):.4f}")
