# %% [markdown]
# # Lesson 10, worked through: ranking evaluation
#
# The reference solution of `lessons/lesson10_ranking.py` on `ml-latest-small`. Read
# `lessons/lesson10_ranking.md` first.
#
# Every predictor is judged the same way: for each validation user (never trained on), rank
# the catalogue from their watch history alone, leave out what they already watched, keep
# the top 10, and count their held-out labels rated 4 or more that made it there.

# %%
# Setup: the course's thread policy (one torch thread, so sums run in the same order on
# any machine and the printed values below are reproducible), 4-decimal printing, the
# tuned settings (never hard-coded here) and the data folder. The course is installed as
# a package by `make venv`.
import matplotlib.pyplot as plt
import pandas as pd
import torch

from course.notebook import setup

CFG, DATA = setup("ml-latest-small")

# %% [markdown]
# Inputs from lessons 1 to 9 with the reference code: the random split of lesson 3, the
# trained MSE model, and the protocol (who trains, who is ranked, what is relevant).

# %%
from solutions import evaluation as ev
from solutions.pipeline import read_movielens, prepare_stages, to_prepared, train_model

ratings, movies = read_movielens(DATA)
stages = prepare_stages(ratings, movies, CFG.data)
params, history = train_model(to_prepared(stages), CFG)
task = ev.ranking_task(stages, stages.train_users, stages.val_users, CFG.ranking)
print(f"catalogue: {task.num_movies:,} movies; training users: {len(task.train_users)}")
print(f"held-out users with a label rated >= {CFG.ranking.relevant_rating}: {len(task.eval_users)} "
      f"(of {len(stages.val_users)} validation users)")
print(f"relevant labels per user: median {task.relevant_rows().sum(dim=1).median():.0f}, "
      f"history movies per user: median {task.seen_rows().sum(dim=1).median():.0f}")

# %% [markdown]
# ## Task 10.1: `rank_unseen`
#
# A tiny example first: four movies, one user who has seen movie 1, ties between movies 0 and 3.

# %%
from solutions.lesson10_ranking import rank_unseen

scores = torch.tensor([[0.5, 0.9, 0.1, 0.5]])
seen = torch.tensor([[False, True, False, False]])
print(rank_unseen(scores, seen, k=3))

# %% [markdown]
# ## Task 10.2: `ranking_metrics`
#
# One user with relevant movies 2 and 5, ranked `[5, 0, 1, 2, 3, 4]`: a hit first, the
# second one fourth.

# %%
from solutions.lesson10_ranking import ranking_metrics

relevant = torch.zeros((1, 6), dtype=torch.bool)
relevant[0, [2, 5]] = True
ranked = torch.tensor([[5, 0, 1, 2, 3, 4]])
for k in (1, 3, 6):
    values = ranking_metrics(ranked, relevant, k)
    print(f"k={k}: " + ", ".join(f"{name} {float(v[0]):.4f}" for name, v in values.items()))

# %% [markdown]
# ## Tasks 10.3 to 10.6: the predictors, under the same protocol
#
# The MSE model of lessons 1-9 scores every movie with its predicted debiased rating. The
# baselines learn from the training users' ratings only. EASE's `[M, M]` matrices fit easily
# for this catalogue (`RankingConfig.ease_max_movies` guards larger ones).

# %%
scores = {"mse-two-tower": ev.mse_model_scores(params, stages, task), **ev.baseline_scores(task, CFG.ranking)}
metrics, per_user = {}, {}
for name, value in scores.items():
    metrics[name], per_user[name] = ev.evaluate_scores(value, task, CFG.ranking)
table = pd.DataFrame(metrics).T
table["x most-popular"] = table["ndcg@10"] / table.loc["most-popular", "ndcg@10"]
table.round(3)


# %% [markdown]
# What the charts and the MSE model put first, for everyone (the MSE model's list is for the
# first held-out user; the charts are the same for all).

# %%
def top_titles(user_scores, user=0, n=5):
    rows = rank_unseen(user_scores[user:user + 1], task.seen_rows(user, user + 1), n)[0]
    return [stages.maps.title_by_id[stages.top_movies[int(r)]] for r in rows]


for name in ("most-popular", "bayesian-average", "mse-two-tower"):
    print(f"{name}:")
    for title in top_titles(scores[name]):
        print(f"    {title}")

# %% [markdown]
# ## Task 10.7: is a difference real?
#
# The paired bootstrap interval of the per-user NDCG@10 difference, for two comparisons.

# %%
for a, b in (("ease", "most-popular"), ("mse-two-tower", "most-popular"), ("bayesian-average", "most-popular")):
    mean, low, high = ev.bootstrap_difference(per_user[a], per_user[b], CFG.ranking)
    print(f"{a} - {b}: {mean:+.4f}, {CFG.ranking.bootstrap_confidence:.0%} interval [{low:+.4f}, {high:+.4f}]")

# %%
figure, axes = plt.subplots(figsize=(7, 3.5))
order = table.sort_values("ndcg@10").index
axes.barh(range(len(order)), table.loc[order, "ndcg@10"])
axes.set_yticks(range(len(order)), order)
axes.set_xlabel("NDCG@10 on the held-out users (higher is better)")
axes.set_title("Ranking quality, random split")
figure.tight_layout()
plt.show()
