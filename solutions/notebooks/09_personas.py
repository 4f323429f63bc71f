# %% [markdown]
# # Lesson 9, worked through: recommendations for new users
#
# The reference solution of `lessons/lesson09_personas.py` on `ml-latest-small`. Read
# `lessons/lesson09_personas.md` first.
#
# The payoff of a user tower that reads features instead of an id: a person the model has
# never seen names a few genres and favourite movies, gets a context vector like any
# training user, and so an embedding and a score for every movie, with no retraining.

# %%
# Setup: the course's thread policy (one torch thread, so sums run in the same order on
# any machine and the printed values below are reproducible), 4-decimal printing, the
# tuned settings (never hard-coded here) and the data folder. The course is installed as
# a package by `make venv`.
import matplotlib.pyplot as plt
import torch

from course.notebook import setup

CFG, DATA = setup("ml-latest-small")

# %% [markdown]
# Inputs from lessons 1 to 8 with the reference code: a trained model and the catalogue's
# combined embeddings.

# %%
from solutions.lesson07_embeddings import movie_embeddings
from solutions.pipeline import prepare, read_movielens, train_model

ratings, movies = read_movielens(DATA)
data = prepare(ratings, movies, CFG.data)
params, history = train_model(data, CFG)
combined = movie_embeddings(params, data.movie_genres).combined
print(f"trained: best step {history.best_step:,}; catalogue {tuple(combined.shape)}")

# %% [markdown]
# ## Task 9.1: `resolve_title`
#
# Titles must be spelt as in `movies.csv`. A typo gets the closest titles as suggestions.

# %%
from solutions.lesson09_personas import (format_recommendations, persona_context, recommend, resolve_title,
                                         score_catalogue)

print(resolve_title("Matrix, The (1999)", data.maps.id_by_title))
try:
    resolve_title("The Matrix (1999)", data.maps.id_by_title)
except KeyError as error:
    print(error)

# %% [markdown]
# ## Tasks 9.2 to 9.5: one persona, step by step
#
# The first of the seed post's example users, from `course/personas.py`.

# %%
from course.personas import PERSONAS

persona = PERSONAS[0]
favourite_ids = [resolve_title(t, data.maps.id_by_title) for t in persona.favourite_titles]
context = persona_context(list(persona.liked_genres), list(persona.disliked_genres), favourite_ids,
                          data.context_index, strength=CFG.data.persona_strength)
slot_names = {slot: g for g, slot in data.context_index.genre_slot.items()}
slot_names |= {slot: data.maps.title_by_id[m] for m, slot in data.context_index.movie_slot.items()}
print(persona)
print(f"persona_strength = {CFG.data.persona_strength}")
print(f"context vector: {context.shape[0]} slots, {int((context != 0).sum())} set:")
for slot in torch.nonzero(context).flatten().tolist():
    print(f"    slot {slot:3}  {context[slot]:+.2f}  {slot_names[slot]}")
without_slot = [t for t, m in zip(persona.favourite_titles, favourite_ids) if m not in data.context_index.movie_slot]
print("favourites without a context slot (skipped):", without_slot)

# %%
scores = score_catalogue(params, context, combined)
exclude = [data.movie_index[m] for m in favourite_ids if m in data.movie_index]
top = recommend(scores, exclude, n=10)
print(f"scores: {tuple(scores.shape)}, best {scores.max():.4f}, worst {scores.min():.4f}")
print("a favourite among the recommendations:", any(row in exclude for row in top))

# %% [markdown]
# What the model recommends, with the predicted debiased rating (how many stars above the
# user's own average) and the movie's average rating in the data, for comparison.

# %%
titles = [data.maps.title_by_id[data.top_movies[row]] for row in top]
averages = [data.maps.avg_rating_by_id[data.top_movies[row]] for row in top]
figure, axes = plt.subplots(figsize=(8, 4.2))
axes.barh(range(len(top)), [float(scores[row]) for row in top])
axes.set_yticks(range(len(top)), [f"{t}  ({a:.1f}★)" for t, a in zip(titles, averages)], fontsize=8)
axes.invert_yaxis()
axes.set_xlabel("predicted rating relative to the user's average")
axes.set_title(f"Top 10 for the {persona.name}")
figure.tight_layout()
plt.show()

# %%
print(format_recommendations(persona.name, list(persona.liked_genres), list(persona.disliked_genres),
                             list(persona.favourite_titles), titles))

# %% [markdown]
# ## All five personas
#
# Every persona of the seed post, with the same trained model: nothing is retrained for them.
# How much to trust these lists? Notebook 06 compares the model's validation error with
# always predicting the user's own average; read the recommendations with that number in mind.

# %%
for persona in PERSONAS[1:]:
    favourite_ids = [resolve_title(t, data.maps.id_by_title) for t in persona.favourite_titles]
    context = persona_context(list(persona.liked_genres), list(persona.disliked_genres), favourite_ids,
                              data.context_index, strength=CFG.data.persona_strength)
    exclude = [data.movie_index[m] for m in favourite_ids if m in data.movie_index]
    top = recommend(score_catalogue(params, context, combined), exclude, n=10)
    print(format_recommendations(persona.name, list(persona.liked_genres), list(persona.disliked_genres),
                                 list(persona.favourite_titles),
                                 [data.maps.title_by_id[data.top_movies[row]] for row in top]))
    print()
