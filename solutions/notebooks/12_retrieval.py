# %% [markdown]
# # Lesson 12, worked through: from ratings to retrieval
#
# The reference solution of `lessons/lesson12_retrieval.py` on `ml-latest-small`. Read
# `lessons/lesson12_retrieval.md` first.
#
# The towers of lesson 5, trained with a softmax over the whole catalogue and a hand-written
# Adam, in the loop of lesson 6. The hyper-parameters in `course/config.py` were chosen on a
# tuning part of the training users; this notebook shows that measurement, then trains on
# all training users and scores the validation users once.

# %%
# Setup: the course's thread policy (one torch thread, so sums run in the same order on
# any machine and the printed values below are reproducible), 4-decimal printing, the
# tuned settings (never hard-coded here) and the data folder. The course is installed as
# a package by `make venv`.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from course.notebook import setup

CFG, DATA = setup("ml-latest-small")

# %% [markdown]
# Inputs: lessons 1-4 on the random split, and lesson 10's protocol twice: the tuning
# protocol (a fifth of the training users held out from the other four fifths) and the real
# one (all training users, scored on the validation users).

# %%
from dataclasses import replace

from solutions import evaluation as ev
from solutions.lesson04_debiasing import split_users
from solutions.pipeline import prepare_stages, read_movielens

ratings, movies = read_movielens(DATA)
stages = prepare_stages(ratings, movies, CFG.data)
fit_users, tune_users = split_users(stages.train_users, CFG.data.train_user_fraction, seed=1)
tuning = ev.ranking_task(stages, fit_users, tune_users, CFG.ranking)
task = ev.ranking_task(stages, stages.train_users, stages.val_users, CFG.ranking)
print(f"tuning: {len(fit_users)} users to fit, {len(tuning.eval_users)} to rank; "
      f"validation: {len(task.train_users)} training users, {len(task.eval_users)} to rank")
R = CFG.retrieval
print(R)

# %% [markdown]
# ## Tasks 12.1 and 12.2: folds and implicit contexts
#
# Every training rating is a label once; each fold's context holds only the other folds. The
# genre block says how much of each genre a user watches, compared with the catalogue. The
# contexts come twice per fold: the users' own, and the new-user contexts (genres only, from
# the movies the user went on to watch) that a share `new_user_share` of the examples sees.

# %%
from solutions.lesson12_retrieval import fold_splits, implicit_contexts

folds = fold_splits(stages.split[stages.split["userId"].isin(fit_users)], R.num_folds, R.fold_seed)
labels_per_fold = [int((~split["is_history"]).sum()) for split in folds]
print(f"{R.num_folds} folds, labels per fold: {labels_per_fold}")
contexts, examples = ev.retrieval_examples(stages, fit_users, R.num_folds, R.fold_seed, R.new_user_share)
print(f"contexts {tuple(contexts.shape)} (users x folds x 2, movies + genres); {len(examples):,} examples")
num_movies = len(stages.movie_index)
row = contexts[0][:num_movies]  # contexts[rows] gives dense rows
print(f"first context: {int((row > 0).sum())} watched movies at {float(row.max()):.4f} = 1/sqrt(h), "
      f"length {float(row.norm()):.4f}")
first = implicit_contexts(folds[0], fit_users[:1], stages.movie_index, stages.movie_genres)[0, num_movies:]
pd.Series(first.numpy(), index=list(stages.genre_index), name="share - catalogue's").sort_values().iloc[[0, 1, 2, -3, -2, -1]].to_frame()

# %% [markdown]
# ## Tasks 12.3 to 12.6: training, and the knobs measured on tuning users
#
# `alpha` adds `alpha * log(popularity)` to the logits during training only (logit
# adjustment); `popularity_weight` adds the same prior back when ranking; `new_user_share` is
# the share of the examples that see a new user's context. Popularity is each movie's share
# of the training users' ratings of 4.0 or more (`evaluation.log_popularity`). Three trainings
# on the fit users (the chosen setting, then alpha 1, then no new users), each ranked with
# several prior weights, on the tuning users. On the time-ordered split the same measurement
# (not run here, the same code on `prepare_stages(..., split_kind="temporal")`) chose
# `temporal_popularity_weight`.

# %%
trials = {"chosen": R, "alpha 1": replace(R, logit_adjustment=1.0), "no new users": replace(R, new_user_share=0.0)}
measured, models = {}, {}
for name, settings in trials.items():
    models[name] = ev.train_retrieval_model(stages, tuning, replace(CFG, retrieval=settings))
    for weight in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0):
        scores = ev.retrieval_scores(models[name], stages, tuning, R.temperature, weight)
        measured[(name, f"weight {weight:g}")] = ev.evaluate_scores(scores, tuning, CFG.ranking)[0]["ndcg@10"]
popular = ev.evaluate_scores(ev.baseline_scores(tuning, CFG.ranking)["most-popular"], tuning, CFG.ranking)[0]["ndcg@10"]
print(f"tuning users, most-popular NDCG@10: {popular:.4f}; softmax two-tower:")
pd.Series(measured).unstack().round(4)

# %% [markdown]
# The prior itself, measured the same way: the chosen model ranked with the share of all
# ratings (the most-popular chart's counts) instead of the share of liked ones.

# %%
from solutions.lesson10_ranking import most_popular_scores

counts = most_popular_scores(tuning.train_interactions) + 1.0
every_rating = ev.RetrievalModel(models["chosen"].params, [], models["chosen"].context_index,
                                 torch.log(counts / counts.sum()).to(torch.float32))
by_prior = {}
for name, model in (("liked ratings", models["chosen"]), ("all ratings", every_rating)):
    for weight in (0.5, 1.0, 1.5, 2.0):
        scores = ev.retrieval_scores(model, stages, tuning, R.temperature, weight)
        by_prior[(name, f"weight {weight:g}")] = ev.evaluate_scores(scores, tuning, CFG.ranking)[0]["ndcg@10"]
pd.Series(by_prior).unstack().round(4)

# %% [markdown]
# The chosen setting (`course/config.py`), trained on all training users and scored once on
# the validation users, next to lesson 10's baselines.

# %%
model = ev.train_retrieval_model(stages, task, CFG)
scores = {"softmax-two-tower": ev.retrieval_scores(model, stages, task, R.temperature, R.popularity_weight_for("random")),
          "softmax-two-tower, no prior": ev.retrieval_scores(model, stages, task, R.temperature, 0.0),
          **ev.baseline_scores(task, CFG.ranking)}
metrics, per_user = {}, {}
for name, value in scores.items():
    metrics[name], per_user[name] = ev.evaluate_scores(value, task, CFG.ranking)
table = pd.DataFrame(metrics).T
table["x most-popular"] = table["ndcg@10"] / table.loc["most-popular", "ndcg@10"]
mean, low, high = ev.bootstrap_difference(per_user["softmax-two-tower"], per_user["most-popular"], CFG.ranking)
print(f"softmax two-tower - most-popular, NDCG@10: {mean:+.4f}, "
      f"{CFG.ranking.bootstrap_confidence:.0%} interval [{low:+.4f}, {high:+.4f}]")
table.round(3)

# %%
losses = np.array(model.losses)
window = 50
smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
figure, axes = plt.subplots(figsize=(7, 3.5))
axes.plot(losses, alpha=0.3, label="each step")
axes.plot(np.arange(window - 1, len(losses)), smooth, label=f"mean of {window} steps")
axes.set_xlabel("step")
axes.set_ylabel("softmax loss (minibatch)")
axes.set_title("Training the retrieval model")
axes.legend()
figure.tight_layout()
plt.show()

# %% [markdown]
# ## The personas, from the retrieval model
#
# Lesson 9's `persona_context` with the retrieval context's slots (every catalogue movie,
# then the genres), scored by the retrieval towers alone (no popularity prior: a persona is
# not a held-out user, and the towers' own taste is what we want to see). Under each list,
# how many of its movies have a genre the persona loves, and how many a genre it hates and
# none it loves (tests/test_demo.py asks at least 5 and at most 1 of `make demo`'s lists).

# %%
from course.personas import PERSONAS
from solutions.lesson05_weights import item_tower
from solutions.lesson09_personas import format_recommendations, persona_context, recommend, score_catalogue

with torch.no_grad():
    combined = item_tower(model.params, stages.movie_genres, torch.arange(len(stages.movie_index)))
for persona in PERSONAS:
    favourite_ids = [stages.maps.id_by_title[t] for t in persona.favourite_titles]
    context = persona_context(list(persona.liked_genres), list(persona.disliked_genres), favourite_ids,
                              model.context_index, strength=R.persona_strength)
    exclude = [stages.movie_index[m] for m in favourite_ids if m in stages.movie_index]
    top = recommend(score_catalogue(model.params, context, combined), exclude, n=10)
    print(format_recommendations(persona.name, list(persona.liked_genres), list(persona.disliked_genres),
                                 list(persona.favourite_titles),
                                 [stages.maps.title_by_id[stages.top_movies[row]] for row in top]))
    genres = [set(stages.maps.genres_by_id[stages.top_movies[row]]) for row in top]
    loved = sum(bool(g & set(persona.liked_genres)) for g in genres)
    hated = sum(bool(g & set(persona.disliked_genres)) and not g & set(persona.liked_genres) for g in genres)
    print(f"({loved} of 10 with a loved genre, {hated} with a hated genre and none loved)")
    print()
