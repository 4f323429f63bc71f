# %% [markdown]
# # Lesson 6, worked through: the manual training loop
#
# The reference solution of `lessons/lesson06_training.py` on `ml-latest-small`. Read
# `lessons/lesson06_training.md` first.
#
# No optimiser object: sample a minibatch, compute the loss, clear the gradients,
# back-propagate, step downhill; every `eval_every` steps measure the loss on the whole
# training and validation sets.

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
# Inputs from lessons 1 to 5 with the reference code: the prepared data and fresh parameters.

# %%
from solutions.lesson05_weights import init_parameters
from solutions.pipeline import prepare, read_movielens

ratings, movies = read_movielens(DATA)
data = prepare(ratings, movies, CFG.data)
params = init_parameters(data.context_index.size, len(data.genre_index), len(data.top_movies), CFG.model,
                         torch.Generator().manual_seed(CFG.model.init_seed))
print(f"training examples: {len(data.train):,}, validation examples: {len(data.val):,}")
print(CFG.train)

# %% [markdown]
# ## Task 6.1: `learning_rate`
#
# The schedule is a list of (first step, rate) pairs; the rate in force is the last one
# that has started.

# %%
from solutions.lesson06_training import (batch_loss, evaluate, learning_rate, plot_loss_curve,
                                         sample_minibatch, sgd_step, train)

starts = [first for first, _ in CFG.train.lr_schedule]
probe = sorted({0, *starts, *(s - 1 for s in starts if s > 0), CFG.train.steps - 1})
pd.DataFrame({"step": probe, "learning rate": [learning_rate(s, CFG.train.lr_schedule) for s in probe]}).set_index("step").T

# %% [markdown]
# ## Tasks 6.2 to 6.5: one step by hand
#
# A minibatch of example rows, its loss, one SGD step, and the minibatch loss again: it went
# down. `evaluate` gives the loss on a whole set, without weight decay.

# %%
generator = torch.Generator().manual_seed(CFG.train.seed)
rows = sample_minibatch(len(data.train), CFG.train.batch_size, generator)
print("first rows of a minibatch:", rows[:8].tolist())

probe_params = params.clone()
before = batch_loss(probe_params, data, data.train, rows, CFG.train.weight_decay)
sgd_step(probe_params, before, learning_rate(0, CFG.train.lr_schedule))
after = batch_loss(probe_params, data, data.train, rows, CFG.train.weight_decay)
print(f"minibatch loss before the step: {before.item():.4f}, after: {after.item():.4f}")
print(f"whole validation set before any training: {evaluate(params, data, data.val):.4f}")

# %% [markdown]
# ## Task 6.6: `train`
#
# The whole loop, with early stopping: after `patience` evaluations without a better
# validation loss it stops and puts back the best parameters it saw.

# %%
history = train(params, data, CFG.train, torch.Generator().manual_seed(CFG.train.seed))
best = history.steps.index(history.best_step)
print(f"evaluations: {len(history.steps)}, last step: {history.steps[-1]:,}, "
      f"stopped early: {history.stopped_early}")
print(f"best step: {history.best_step:,}, training MSE there: {history.train_loss[best]:.4f}, "
      f"validation MSE there: {history.val_loss[best]:.4f}")
print(f"parameters kept, validation MSE now: {evaluate(params, data, data.val):.4f}")

# %%
pd.DataFrame({"step": history.steps, "training MSE": history.train_loss,
              "validation MSE": history.val_loss}).set_index("step")

# %% [markdown]
# ## Task 6.7: `plot_loss_curve`
#
# The training loss drops fast, then slowly, with bumps where a step at a high learning rate
# overshoots. The validation loss is the one that matters: once it stops improving, the gap
# between the two curves is the model memorising its training users instead of learning
# about people in general. The dotted line marks the parameters we keep.

# %%
import tempfile
from pathlib import Path

from IPython.display import Image, display

with tempfile.TemporaryDirectory() as folder:
    png = plot_loss_curve(history, Path(folder) / "loss.png")
    display(Image(data=png.read_bytes()))

# %% [markdown]
# Is that good? The simplest guess, "the user will rate this movie at their own average",
# is a predicted debiased rating of 0.

# %%
baseline = float((data.val.target ** 2).mean())
model = evaluate(params, data, data.val)
print(f"validation MSE, always the user's average: {baseline:.4f}")
print(f"validation MSE, the two-tower model:       {model:.4f} "
      f"({abs(1 - model / baseline):.1%} {'lower' if model < baseline else 'higher'})")
