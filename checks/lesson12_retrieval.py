"""Checks for lesson 12: folds, implicit contexts, catalogue logits, the softmax loss, a
hand-written Adam step and the retrieval training loop."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from checks.framework import CheckFailed, check, compare_tensors, expect, expect_type
from course.containers import Examples, Params

SPLIT_COLUMNS = ["userId", "movieId", "rating", "is_history"]


# ---------------------------------------------------------------- 12.1 fold_splits

def _folds(learner, rows: pd.DataFrame, num_folds: int, seed: int) -> list[pd.DataFrame]:
    given = rows.copy()
    out = learner.fold_splits(given, num_folds, seed)
    expect_type(out, list, "fold_splits' result")
    expect(len(out) == num_folds, f"fold_splits(..., num_folds={num_folds}) returned {len(out)} splits; it should "
                                  f"return one per fold.")
    expect(given.equals(rows), "fold_splits changed the frame it was given: work on a copy.")
    for number, split in enumerate(out):
        expect_type(split, pd.DataFrame, f"split {number}")
        missing = [c for c in SPLIT_COLUMNS if c not in split.columns]
        expect(not missing, f"split {number} lacks the column(s) {missing} of lesson 3's split format.")
        expect(len(split) == len(rows), f"split {number} has {len(split)} rows; every split holds every one of the "
                                        f"{len(rows)} ratings, as history or as label.")
    return out


def _label_counts(out: list[pd.DataFrame]) -> pd.DataFrame:
    labels = pd.concat([split[~split["is_history"]][["userId", "movieId"]].assign(fold=f)
                        for f, split in enumerate(out)])
    return labels


@check("12.1", points=3, title="every training rating is a label exactly once, dealt evenly per user")
def fixture_folds(learner, ref, fx):
    rows, k = fx.retrieval.training_rows[["userId", "movieId", "rating"]], 3
    out = _folds(learner, rows, k, 0)
    labels = _label_counts(out)
    times = labels.groupby(["userId", "movieId"]).size()
    expect(len(times) == len(rows) and bool((times == 1).all()),
           f"{int((times != 1).sum()) + len(rows) - len(times)} ratings are a label in no split or in several: each "
           f"rating should be a label exactly once (is_history is False exactly for the ratings of fold f).")
    per_user = labels.groupby(["userId", "fold"]).size().unstack(fill_value=0)
    spread = (per_user.max(axis=1) - per_user.min(axis=1))
    expect(bool((spread <= 1).all()), f"user {int(spread.idxmax())}'s labels are spread unevenly over the folds "
                                      f"({per_user.loc[spread.idxmax()].tolist()}): deal each user's ratings like "
                                      f"cards, position i going to fold i % num_folds, so every fold gets its share.")
    want = ref.fold_splits(rows, k, 0)
    for f in range(k):
        got_labels = set(map(tuple, out[f][~out[f]["is_history"]][["userId", "movieId"]].to_numpy().tolist()))
        want_labels = set(map(tuple, want[f][~want[f]["is_history"]][["userId", "movieId"]].to_numpy().tolist()))
        if got_labels != want_labels:
            raise CheckFailed(f"fold {f} holds other labels than expected for seed 0. Sort by (userId, movieId) "
                              f"first so the row order given does not matter, draw one key per rating with "
                              f"np.random.default_rng(seed).random, and deal by position in key order.")
    shuffled = _folds(learner, rows.sample(frac=1.0, random_state=12), k, 0)
    for f in range(k):
        a = set(map(tuple, shuffled[f][~shuffled[f]["is_history"]][["userId", "movieId"]].to_numpy().tolist()))
        b = set(map(tuple, out[f][~out[f]["is_history"]][["userId", "movieId"]].to_numpy().tolist()))
        expect(a == b, "shuffling the input's rows changes your folds: sort by (userId, movieId) before drawing the "
                       "keys, so the row order does not matter.")
    return f"{k} folds, {len(rows):,} ratings"


# ---------------------------------------------------------------- 12.2 implicit_contexts

def _contexts(learner, ref, fx):
    """The learner's and the reference's contexts of 40 fixture users and one without history."""
    s = fx.s
    users = np.append(s.user_means.index.to_numpy()[:40], s.user_means.index.max() + 1000)
    got = learner.implicit_contexts(s.split.copy(), users.copy(), dict(s.movie_index), s.movie_genres.clone())
    expect_type(got, torch.Tensor, "implicit_contexts' result")
    want = ref.implicit_contexts(s.split, users, s.movie_index, s.movie_genres)
    expect(tuple(got.shape) == tuple(want.shape),
           f"the contexts should have shape {tuple(want.shape)} (one row per user; one column per catalogue movie, "
           f"then one per genre), not {tuple(got.shape)}.")
    expect(bool(torch.isfinite(got).all()),
           "the contexts hold NaN or inf: the last user has no history movies (h = 0), so clamp the count at 1 "
           "before dividing by it or by its square root.")
    return users, got, want


@check("12.2", points=3, title="retrieval contexts: 1/sqrt(h) for each watched movie, never a label")
def contexts(learner, ref, fx):
    s = fx.s
    users, got, want = _contexts(learner, ref, fx)
    movies = len(s.movie_index)
    block, want_block = got[:, :movies].to(torch.float64), want[:, :movies].to(torch.float64)
    history = s.split[s.split["is_history"] & s.split["userId"].isin(users)]
    labels = s.split[~s.split["is_history"] & s.split["userId"].isin(users)]
    label_rows = torch.tensor(pd.Index(users).get_indexer(labels["userId"]))
    label_cols = torch.tensor(labels["movieId"].map(s.movie_index).to_numpy())
    expect(bool((block[label_rows, label_cols] == 0).all()),
           "a label movie has a nonzero entry in the context: only the watch history (is_history) may appear, the "
           "labels are what the model must find.")
    if not torch.allclose(block, want_block, atol=1e-6):
        nonzero_got, nonzero_want = block != 0, want_block != 0
        if torch.equal(nonzero_got, nonzero_want):
            if torch.allclose(block, (want_block > 0).to(torch.float64)):
                raise CheckFailed("your movie block holds 1.0 per watched movie: divide each row by the square root "
                                  "of its number of history movies (1/sqrt(h)), so long histories do not dominate.")
            raise CheckFailed("the watched movies are in the right places, but their values are not 1/sqrt(h) "
                              "(h: the user's number of history movies): the context says which movies, not how "
                              "they were rated.")
        raise CheckFailed(f"the movie block marks other movies than the users' history ({len(history)} history "
                          f"ratings): column movie_index[movieId], row of the user in user_ids.")
    return compare_tensors(got[:, :movies], want[:, :movies], "the movie block", atol=1e-6)


@check("12.2", points=2, title="retrieval contexts: each genre's share of the history, minus the catalogue's")
def genre_shares(learner, ref, fx):
    s = fx.s
    users, got, want = _contexts(learner, ref, fx)
    movies = len(s.movie_index)
    genres, want_genres = got[:, movies:].to(torch.float64), want[:, movies:].to(torch.float64)
    expect(bool((genres[-1] == 0).all()),
           "the last user has no history movies, yet their genre block is not all 0.0: with nothing watched there "
           "is no share to compare with the catalogue's, so leave the row at 0.0.")
    if not torch.allclose(genres, want_genres, atol=1e-5):
        catalogue = s.movie_genres.to(torch.float64).mean(dim=0)
        known = want_genres[:-1]
        if torch.allclose(genres[:-1], known + catalogue, atol=1e-5):
            raise CheckFailed("your genre block is the share of each genre in the history, but the catalogue's "
                              "share is not subtracted (the column means of movie_genres): a genre block should say "
                              "which genres someone watches more, or less, than the catalogue holds.")
        watched = (want[:-1, :movies] > 0).to(torch.float64)
        count = watched.sum(dim=1, keepdim=True).clamp(min=1.0)
        if torch.allclose(genres[:-1], (known + catalogue) * count - catalogue, atol=1e-4):
            raise CheckFailed("your genre block counts the history movies of each genre: divide by the number of "
                              "history movies h, so it is a share (between 0 and 1) before the catalogue's share is "
                              "subtracted.")
        if torch.allclose(genres[:-1], (known + catalogue) * count.sqrt() - catalogue, atol=1e-4):
            raise CheckFailed("your genre block comes from the movie block (1/sqrt(h) per movie): the share of a "
                              "genre divides the count of its history movies by h, not by sqrt(h).")
    return compare_tensors(got[:, movies:], want[:, movies:], "the genre block", atol=1e-5)


# ---------------------------------------------------------------- 12.3 catalogue_logits

@check("12.3", points=2, title="every movie's logit for a batch of users, divided by the temperature")
def logits(learner, ref, fx):
    params = _retrieval_params(fx, seed=3)
    batch = fx.retrieval.contexts[:17]
    got = learner.catalogue_logits(params.clone(), batch.clone(), fx.data.movie_genres.clone(), 0.25)
    expect_type(got, torch.Tensor, "catalogue_logits' result")
    want = ref.catalogue_logits(params, batch, fx.data.movie_genres, 0.25)
    if got.shape == want.shape and not torch.allclose(got, want, atol=1e-5):
        if torch.allclose(got, want * 0.25 * 0.25, atol=1e-5):
            raise CheckFailed("your logits are multiplied by the temperature: divide by it (a small temperature "
                              "makes the softmax sharper).")
        if torch.allclose(got, want * 0.25, atol=1e-5):
            raise CheckFailed("your logits ignore the temperature: divide the dot products by it.")
    return compare_tensors(got.detach(), want.detach(), "the catalogue logits", atol=1e-5)


def _retrieval_params(fx, seed: int) -> Params:
    from course.containers import Params as P
    from solutions.lesson05_weights import init_parameters

    index = fx.retrieval.context_index
    cfg = replace(fx.cfg.model, init_seed=seed)
    params = init_parameters(index.size, len(fx.data.genre_index), len(fx.data.top_movies), cfg,
                             torch.Generator().manual_seed(seed))
    # Larger than the init's 0.1 scale, so every mistake shows in the logits.
    return P(*(p.detach().mul(5.0).requires_grad_(True) for p in params.as_list()))


# ---------------------------------------------------------------- 12.4 softmax_loss

@check("12.4", points=3, title="softmax cross-entropy over the catalogue, with logit adjustment")
def loss(learner, ref, fx):
    generator = torch.Generator().manual_seed(124)
    logits = torch.randn((32, 50), generator=generator) * 3
    targets = torch.randint(0, 50, (32,), generator=generator)
    prior = torch.log(torch.rand(50, generator=generator) + 0.01)
    for alpha in (0.0, 0.7):
        got = learner.softmax_loss(logits.clone(), targets.clone(), prior.clone(), alpha)
        expect_type(got, torch.Tensor, "softmax_loss' result")
        expect(got.dim() == 0, f"softmax_loss should return one number (a 0-d tensor), not shape {tuple(got.shape)}.")
        want = ref.softmax_loss(logits, targets, prior, alpha)
        if abs(float(got) - float(want)) > 1e-5:
            if abs(float(got) - float(want) * 32) < 1e-3:
                raise CheckFailed("your loss is the sum over the batch: take the mean, so the step size does not "
                                  "depend on the batch size.")
            if alpha and abs(float(got) - float(ref.softmax_loss(logits, targets, prior, -alpha))) < 1e-5:
                raise CheckFailed("your logit adjustment has the wrong sign: add alpha * log_popularity to the logits.")
            if alpha and abs(float(got) - float(ref.softmax_loss(logits, targets, prior, 0.0))) < 1e-5:
                raise CheckFailed("your loss ignores alpha: add alpha * log_popularity to every row of the logits.")
            raise CheckFailed(f"with alpha={alpha} your loss differs from the mean of logsumexp(z) - z[target] "
                              f"(off by {abs(float(got) - float(want)):.3g}).")
    big = torch.zeros((2, 4))
    big[0, 1], big[1, 2] = 200.0, 150.0
    got = learner.softmax_loss(big, torch.tensor([1, 0]), torch.zeros(4), 0.0)
    expect(bool(torch.isfinite(got)), "with logits of 200 your loss is not finite: exp(200) overflows float32, so "
                                      "use torch.logsumexp instead of log(sum(exp(...))).")
    return "exact"


@check("12.4", points=1, title="the loss sends gradients to the logits")
def loss_gradient(learner, ref, fx):
    logits = torch.zeros((3, 5), requires_grad=True)
    # The call and its backward pass run together, next to the learner's code (checks/procedures.py).
    out = learner.procedure("call_and_backward", "softmax_loss", logits, torch.tensor([0, 1, 2]), torch.zeros(5), 0.0)
    expect_type(out, torch.Tensor, "softmax_loss' result")
    expect(out.requires_grad, "your loss does not depend on the logits through autograd (a .detach(), .item() or "
                              "numpy on the way): nothing could be learnt from it.")
    expect(logits.grad is not None and abs(float(logits.grad.sum())) < 1e-6,
           "the gradient of a softmax cross-entropy over each row sums to 0 (softmax minus one-hot).")
    return "gradients flow"


# ---------------------------------------------------------------- 12.5 adam_step

BETAS, EPS = (0.9, 0.999), 1e-8


def _adam_run(module, params: Params, steps: int, lr: float) -> tuple[Params, object]:
    """``steps`` Adam steps on Σ (1 + i)·(p - t)², each given to ``adam_step`` as a loss
    whose gradient is the one of that function at the current parameters (so the learner's
    step runs on data alone: checks/procedures.py)."""
    from checks.procedures import PROCEDURES
    from solutions.lesson12_retrieval import new_adam_state

    state = new_adam_state(params)
    generator = torch.Generator().manual_seed(125)
    target = [torch.randn(p.shape, generator=generator) for p in params.as_list()]
    for _ in range(steps):
        with torch.no_grad():
            gradients = [2 * (p - t) * (1 + i) for i, (p, t) in enumerate(zip(params.as_list(), target))]
        if hasattr(module, "procedure"):   # the learner's module (or a mutant)
            module.procedure("adam_step_with_gradient", params, gradients, state, lr, BETAS, EPS)
        else:                              # the reference, here
            PROCEDURES["adam_step_with_gradient"](module, params, gradients, state, lr, BETAS, EPS)
    return params, state


@check("12.5", points=3, title="three hand-written Adam steps match the definition")
def adam(learner, ref, fx):
    from checks.fixtures import new_parameters

    start = new_parameters(seed=5)
    got, state = _adam_run(learner, start.clone(), 3, 0.01)
    expect(state.step == 3, f"after three adam_step calls state.step should be 3, not {state.step}.")
    want, _ = _adam_run(ref, start.clone(), 3, 0.01)
    one_got, _ = _adam_run(learner, start.clone(), 1, 0.01)
    # The first bias-corrected step moves every parameter by about lr (m̂/sqrt(v̂) = ±1).
    moved = (one_got.user_b.detach() - start.user_b.detach()).abs()
    if not torch.allclose(moved, torch.full_like(moved, 0.01), rtol=1e-3):
        raise CheckFailed(f"after the first step each entry should move by about lr = 0.01 (the bias-corrected "
                          f"m̂ / sqrt(v̂) is ±1 at t = 1), but the user bias moved by {float(moved.mean()):.3g} on "
                          f"average: divide m by (1 - b1^t) and v by (1 - b2^t), with t counted from 1 (bias "
                          f"correction).")
    for name, a, b in zip(Params.NAMES, got.as_list(), want.as_list()):
        compare_tensors(a.detach(), b.detach(), f"{name} after three Adam steps", atol=1e-6, rtol=1e-5)
    return "exact to 1e-6"


@check("12.5", points=1, title="Adam clears old gradients before backward")
def adam_clears_gradients(learner, ref, fx):
    from checks.fixtures import new_parameters
    from solutions.lesson12_retrieval import new_adam_state

    params = new_parameters(seed=6)
    for p in params.as_list():
        p.grad = torch.full_like(p, 100.0)   # stale gradients of an earlier step
    state = new_adam_state(params)
    before = params.user_b.detach().clone()
    fresh_gradients = [2 * p.detach() for p in params.as_list()]   # of Σ p², the loss of this step
    learner.procedure("adam_step_with_gradient", params, fresh_gradients, state, 0.01, BETAS, EPS)
    fresh = 2 * before
    expect(torch.allclose(state.first[Params.NAMES.index("user_b")], 0.1 * fresh, atol=1e-6),
           "the first moment after one step is not 0.1 × the fresh gradient: set every p.grad to None before "
           "backward, or old gradients add up with the new ones.")
    return "stale gradients cleared"


# ---------------------------------------------------------------- 12.6 train_retrieval

def _short_run(module, fx, steps: int = 12, **changes):
    weight_decay = changes.pop("weight_decay", 0.0)
    r = replace(fx.cfg.retrieval, train=replace(fx.cfg.retrieval.train, steps=steps, batch_size=16,
                                                weight_decay=weight_decay), **changes)
    params = _retrieval_params(fx, seed=8)
    params = Params(*(p.detach().mul(0.2).requires_grad_(True) for p in params.as_list()))
    ex = fx.retrieval.examples
    examples = Examples(ex.user_row.clone(), ex.movie_row.clone(), ex.target.clone())
    losses = module.train_retrieval(params, fx.retrieval.contexts.clone(), examples, fx.data.movie_genres.clone(),
                                    fx.retrieval.log_popularity.clone(), r, torch.Generator().manual_seed(126))
    return params, losses


@check("12.6", points=3, title="a short seeded training run follows the reference step by step", timeout=30)
def short_run(learner, ref, fx):
    got_params, got = _short_run(learner, fx, weight_decay=1e-3, logit_adjustment=0.5)
    expect_type(got, list, "train_retrieval's result")
    expect(len(got) == 12, f"train_retrieval should return one loss per step (12), not {len(got)}.")
    expect(all(isinstance(v, float) for v in got), "the losses should be Python floats (float(loss.detach())).")
    want_params, want = _short_run(ref, fx, weight_decay=1e-3, logit_adjustment=0.5)
    if abs(got[0] - want[0]) > 1e-4:
        plain_params, plain = _short_run(ref, fx, weight_decay=0.0, logit_adjustment=0.5)
        if abs(got[0] - plain[0]) < 1e-4:
            raise CheckFailed("your first loss lacks the weight decay: add cfg.train.weight_decay times the sum of every "
                              "parameter squared to the loss.")
        raise CheckFailed(f"your first loss is {got[0]:.4f}, not the softmax loss of the first minibatch (drawn with "
                          f"sample_minibatch and the generator, logits at cfg.temperature, alpha = "
                          f"cfg.logit_adjustment).")
    for step, (a, b) in enumerate(zip(got, want)):
        if abs(a - b) > 1e-3 * max(1.0, abs(b)):
            raise CheckFailed(f"your losses follow the expected ones until step {step}, then differ: keep one "
                              f"AdamState for the whole run (its moments and step count carry over), and take the "
                              f"learning rate from learning_rate(step, cfg.train.lr_schedule).")
    for name, a, b in zip(Params.NAMES, got_params.as_list(), want_params.as_list()):
        compare_tensors(a.detach(), b.detach(), f"{name} after 12 steps", atol=1e-4, rtol=1e-3)
    return "12 steps match"


@check("12.6", points=2, title="training lowers the loss on the fixture", timeout=60)
def learns(learner, ref, fx):
    _, losses = _short_run(learner, fx, steps=120)
    expect_type(losses, list, "train_retrieval's result")
    expect(len(losses) == 120, f"train_retrieval should return one loss per step (120), not {len(losses)}.")
    first, last = float(np.mean(losses[:10])), float(np.mean(losses[-10:]))
    expect(last < first - 0.05, f"after 120 steps the loss went from {first:.3f} to {last:.3f}: it should go down. "
                                f"Is the Adam step moving against the gradient, at the scheduled learning rate?")
    return f"loss {first:.3f} -> {last:.3f}"
