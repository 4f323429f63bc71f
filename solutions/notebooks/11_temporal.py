# %% [markdown]
# # Lesson 11, worked through: a time-ordered split
#
# The reference solution of `lessons/lesson11_temporal.py` on `ml-latest-small`. Read
# `lessons/lesson11_temporal.md` first.
#
# Lesson 3 hid a random fifth of each user's ratings; here the labels are each user's latest
# fifth. We measure how much of the future each split lets in, then run lesson 10's
# evaluation on both splits, each with models trained on its own training users.

# %%
# Setup: the course's thread policy (one torch thread, so sums run in the same order on
# any machine and the printed values below are reproducible), 4-decimal printing, the
# tuned settings (never hard-coded here) and the data folder. The course is installed as
# a package by `make venv`.
import pandas as pd

from course.notebook import setup

CFG, DATA = setup("ml-latest-small")

# %% [markdown]
# ## Task 11.1: `split_by_time`
#
# The ratings of the catalogue movies (lesson 1 keeps the timestamp column), split per user.

# %%
from solutions.lesson11_temporal import future_history_share, later_training_share, split_by_time
from solutions.pipeline import prepare_stages, read_movielens

ratings, movies = read_movielens(DATA)
stages = {kind: prepare_stages(ratings, movies, CFG.data, split_kind=kind) for kind in ("random", "temporal")}
top_ratings = stages["random"].top_ratings
print("columns kept by lesson 1:", list(top_ratings.columns))
temporal = split_by_time(top_ratings, CFG.data.history_fraction, CFG.data.min_ratings_per_user)
print(f"{len(temporal):,} ratings: {int(temporal['is_history'].sum()):,} history, "
      f"{int((~temporal['is_history']).sum()):,} labels")
user = int(temporal["userId"].iloc[0])
when = pd.to_datetime(temporal[temporal["userId"] == user]["timestamp"], unit="s")
print(f"user {user}: history {when[temporal['is_history']].min():%Y-%m-%d} .. "
      f"{when[temporal['is_history']].max():%Y-%m-%d}, labels {when[~temporal['is_history']].min():%Y-%m-%d} .. "
      f"{when[~temporal['is_history']].max():%Y-%m-%d}")
same_second = temporal.duplicated(["userId", "timestamp"], keep=False).mean()
print(f"ratings that share their second with another rating of the same user: {same_second:.1%}")

# %% [markdown]
# ## Task 11.2: how much of the future each split lets into the history

# %%
for kind, s in stages.items():
    print(f"{kind:>8} split: {future_history_share(s.split, top_ratings):.1%} of the history rows were rated "
          f"after the user's earliest label")

# %% [markdown]
# ## Task 11.3: what the per-user time split still lets in
#
# For each validation label, the share of the training users' ratings made later.

# %%
for kind, s in stages.items():
    with_times = s.split.merge(top_ratings[["userId", "movieId", "timestamp"]], on=["userId", "movieId"],
                               suffixes=("_split", ""))
    training = with_times[with_times["userId"].isin(s.train_users)]["timestamp"].to_numpy()
    labels = with_times[with_times["userId"].isin(s.val_users) & ~with_times["is_history"]]["timestamp"].to_numpy()
    print(f"{kind:>8} split: on average {later_training_share(training, labels):.1%} of the training ratings "
          f"were made after the label being predicted")

# %% [markdown]
# ## Both splits side by side
#
# Lesson 10's baselines, each split with its own training users' counts and its own EASE.
# The MSE and retrieval models are trained on both splits by `make demo` (and lesson 12's
# notebook); here the baselines alone show how much harder the time-ordered question is.

# %%
from solutions import evaluation as ev

rows = {}
for kind, s in stages.items():
    task = ev.ranking_task(s, s.train_users, s.val_users, CFG.ranking)
    for name, scores in ev.baseline_scores(task, CFG.ranking).items():
        summary, _ = ev.evaluate_scores(scores, task, CFG.ranking)
        rows[(name, kind)] = summary
    print(f"{kind} split: {len(task.eval_users)} held-out users with a liked label")
table = pd.DataFrame(rows).T.unstack()
table[["ndcg@10", "recall@10", "mrr"]].round(3)
