"""Checks for lesson 12: folds, implicit contexts, catalogue logits, the softmax loss, a
hand-written Adam step, the retrieval training loop and the sampled softmax."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from checks.compare import all_near, compare_number, far, near
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
    """The learner's and the reference's contexts of 40 fixture users, in no particular order
    (row u is for user_ids[u], whatever their order), and one without history, last."""
    s = fx.s
    some = np.random.default_rng(122).permutation(s.user_means.index.to_numpy()[:40])
    users = np.append(some, s.user_means.index.max() + 1000)
    got = learner.implicit_contexts(s.split.copy(), users.copy(), dict(s.movie_index), s.movie_genres.clone())
    expect_type(got, torch.Tensor, "implicit_contexts' result")
    want = ref.implicit_contexts(s.split, users, s.movie_index, s.movie_genres)
    expect(tuple(got.shape) == tuple(want.shape),
           f"the contexts should have shape {tuple(want.shape)} (one row per user; one column per catalogue movie, "
           f"then one per genre), not {tuple(got.shape)}.")
    expect(bool(torch.isfinite(got).all()),
           "the contexts hold NaN or inf: the last user has no history movies (h = 0), so clamp the count at 1 "
           "before dividing by it or by its square root.")
    order = np.argsort(users, kind="stable")
    if not all_near(got, want, 1e-5) and all_near(got, want[order], 1e-5):
        raise CheckFailed("your rows are in the order of the sorted user ids, but the user ids given are not sorted: "
                          "row u is for user_ids[u], in the order given (pd.Index(user_ids).get_indexer).")
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


@check("12.3", points=1, title="with movie_rows, the logits of those movies only, in that order")
def logits_of_rows(learner, ref, fx):
    params = _retrieval_params(fx, seed=3)
    batch = fx.retrieval.contexts[:9]
    movies = fx.data.movie_genres.shape[0]
    # Out of catalogue order, one movie twice: the candidates of a sampled softmax (task 12.7).
    rows = torch.tensor([17, 3, movies - 1, 3, 0, 99, 250, 41])
    got = learner.catalogue_logits(params.clone(), batch.clone(), fx.data.movie_genres.clone(), 0.25, rows.clone())
    expect_type(got, torch.Tensor, "catalogue_logits' result")
    want = ref.catalogue_logits(params, batch, fx.data.movie_genres, 0.25, rows)
    expect(tuple(got.shape) != (len(batch), movies),
           f"with movie_rows of {len(rows)} movies your logits still cover the whole catalogue ({movies} columns): "
           f"return [B, len(movie_rows)], column j for movie movie_rows[j].")
    expect(tuple(got.shape) == tuple(want.shape),
           f"with movie_rows of {len(rows)} movies (one of them twice) the logits should have shape "
           f"{tuple(want.shape)}, one column per entry of movie_rows, not {tuple(got.shape)}.")
    if not all_near(got, want, 1e-5):
        full = ref.catalogue_logits(params, batch, fx.data.movie_genres, 0.25).detach()
        if all_near(got, full[:, torch.sort(rows).values], 1e-5):
            raise CheckFailed("your columns follow the catalogue order of movie_rows: keep the order given, column j "
                              "for movie_rows[j] (the sampled softmax finds row b's own movie in column b).")
    return compare_tensors(got.detach(), want.detach(), "the logits of movie_rows", atol=1e-5)


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
        if far(got, want, 1e-5):
            if near(got, float(want) * 32, 1e-3):
                raise CheckFailed("your loss is the sum over the batch: take the mean, so the step size does not "
                                  "depend on the batch size.")
            if alpha and near(got, ref.softmax_loss(logits, targets, prior, -alpha), 1e-5):
                raise CheckFailed("your logit adjustment has the wrong sign: add alpha * log_popularity to the logits.")
            if alpha and near(got, ref.softmax_loss(logits, targets, prior, 0.0), 1e-5):
                raise CheckFailed("your loss ignores alpha: add alpha * log_popularity to every row of the logits.")
            raise CheckFailed(f"with alpha={alpha} your loss is {float(got):.6g}, not the mean of logsumexp(z) - "
                              f"z[target] (off by {abs(float(got) - float(want)):.3g}).")
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

#: Three rates in 12 steps: a loop that ignores the schedule (or reads only its first rate)
#: leaves the reference's path at step 5.
SCHEDULE = ((0, 0.02), (4, 0.004), (8, 0.03))
TRAIN_SEED = 126
RUN_BATCH = 16


def _run_config(fx, steps: int, **changes):
    weight_decay = changes.pop("weight_decay", 0.0)
    train = replace(fx.cfg.retrieval.train, steps=steps, batch_size=RUN_BATCH, weight_decay=weight_decay)
    if "lr_schedule" in changes:
        train = replace(train, lr_schedule=changes.pop("lr_schedule"))
    return replace(fx.cfg.retrieval, train=train, **changes)


def _start_params(fx) -> Params:
    params = _retrieval_params(fx, seed=8)
    return Params(*(p.detach().mul(0.2).requires_grad_(True) for p in params.as_list()))


def _short_run(module, fx, steps: int = 12, **changes):
    r = _run_config(fx, steps, **changes)
    params = _start_params(fx)
    ex = fx.retrieval.examples
    examples = Examples(ex.user_row.clone(), ex.movie_row.clone(), ex.target.clone())
    losses = module.train_retrieval(params, fx.retrieval.contexts.clone(), examples, fx.data.movie_genres.clone(),
                                    fx.retrieval.log_popularity.clone(), r, torch.Generator().manual_seed(TRAIN_SEED))
    return params, losses


def _expect_losses(got) -> None:
    expect_type(got, list, "train_retrieval's result")
    expect(all(isinstance(v, float) for v in got), "the losses should be Python floats (float(loss.detach())).")


@check("12.6", points=3, title="a short seeded training run with a three-rate schedule follows the reference step by step",
       timeout=30)
def short_run(learner, ref, fx):
    run = dict(weight_decay=1e-3, logit_adjustment=0.5, lr_schedule=SCHEDULE)
    got_params, got = _short_run(learner, fx, **run)
    _expect_losses(got)
    expect(len(got) == 12, f"train_retrieval should return one loss per step (12), not {len(got)}.")
    want_params, want = _short_run(ref, fx, **run)
    if far(got[0], want[0], 1e-4):
        plain_params, plain = _short_run(ref, fx, **dict(run, weight_decay=0.0))
        if near(got[0], plain[0], 1e-4):
            raise CheckFailed("your first loss lacks the weight decay: add cfg.train.weight_decay times the sum of every "
                              "parameter squared to the loss.")
        raise CheckFailed(f"your first loss is {got[0]:.4f}, not the softmax loss of the first minibatch (drawn with "
                          f"sample_minibatch and the generator, logits at cfg.temperature, alpha = "
                          f"cfg.logit_adjustment).")
    for step, (a, b) in enumerate(zip(got, want)):
        if far(a, b, 1e-3 * max(1.0, abs(b))):
            changes = [first for first, _ in SCHEDULE if first > 0]
            hint = (f" The schedule {SCHEDULE} changes the rate after step {step - 1}: take the learning rate of "
                    f"every step from learning_rate(step, cfg.train.lr_schedule).") if step - 1 in changes else ""
            raise CheckFailed(f"your losses follow the expected ones until step {step}, then differ: keep one "
                              f"AdamState for the whole run (its moments and step count carry over), and take the "
                              f"learning rate from learning_rate(step, cfg.train.lr_schedule).{hint}")
    for name, a, b in zip(Params.NAMES, got_params.as_list(), want_params.as_list()):
        compare_tensors(a.detach(), b.detach(), f"{name} after 12 steps", atol=1e-4, rtol=1e-3)
    return "12 steps match"


def _replayed_batches(fx, steps: int) -> list[torch.Tensor]:
    """The example rows of every step, drawn here as train_retrieval draws them (lesson 6's
    sample_minibatch with the run's generator; no negatives in this run)."""
    from solutions.lesson06_training import sample_minibatch

    generator = torch.Generator().manual_seed(TRAIN_SEED)
    return [sample_minibatch(len(fx.retrieval.examples), RUN_BATCH, generator) for _ in range(steps)]


@torch.no_grad()
def _loss_at(ref, fx, params: Params, rows: torch.Tensor) -> float:
    """The reference's loss of one minibatch at ``params`` (the fixture's run: alpha 0, no decay)."""
    ex, r = fx.retrieval.examples, fx.cfg.retrieval
    logits = ref.catalogue_logits(params, fx.retrieval.contexts[ex.user_row[rows]], fx.data.movie_genres,
                                  r.temperature)
    return float(ref.softmax_loss(logits, ex.movie_row[rows], fx.retrieval.log_popularity, r.logit_adjustment))


@check("12.6", points=2, title="training lowers the loss on the fixture, as recomputed from the returned parameters",
       timeout=60)
def learns(learner, ref, fx):
    steps = 120
    got_params, losses = _short_run(learner, fx, steps=steps)
    _expect_losses(losses)
    expect(len(losses) == steps, f"train_retrieval should return one loss per step ({steps}), not {len(losses)}.")
    # The verdict rests on losses recomputed here, from the parameters the run started from and
    # those it returns, on the minibatches it drew: not on the numbers it reports.
    start = _start_params(fx)
    batches = _replayed_batches(fx, steps)
    first_step = _loss_at(ref, fx, start, batches[0])
    expect(near(losses[0], first_step, 1e-4, 1e-4),
           f"your first loss is {losses[0]:.4f}, but the loss recomputed from the starting parameters on the first "
           f"minibatch is {first_step:.4f}: return the loss each step computed, float(loss.detach()).")
    before = float(np.mean([_loss_at(ref, fx, start, rows) for rows in batches[:10]]))
    after = float(np.mean([_loss_at(ref, fx, got_params, rows) for rows in batches[:10]]))
    expect(after < before - 0.05,
           f"recomputed from the parameters your run returns, the loss of the first 10 minibatches went from "
           f"{before:.3f} to {after:.3f}: it should go down. Is the Adam step moving against the gradient, at the "
           f"scheduled learning rate?")
    reported = float(np.mean(losses[-10:]))
    final = float(np.mean([_loss_at(ref, fx, got_params, rows) for rows in batches[-10:]]))
    # The last steps' losses were computed a few small steps before the returned parameters: close, not equal.
    expect(near(reported, final, 0.5),
           f"the losses you report for the last 10 steps average {reported:.3f}, but recomputed from the parameters "
           f"you return, those minibatches' loss is {final:.3f}: report every step's own loss.")
    return f"loss {before:.3f} -> {after:.3f} (recomputed)"


@check("12.6", points=2, title="with num_negatives, the negatives are drawn as the docstring says", timeout=30)
def sampled_run(learner, ref, fx):
    run = dict(num_negatives=24, lr_schedule=SCHEDULE)
    got_params, got = _short_run(learner, fx, **run)
    _expect_losses(got)
    expect(len(got) == 12, f"train_retrieval should return one loss per step (12), not {len(got)}.")
    want_params, want = _short_run(ref, fx, **run)
    for step, (a, b) in enumerate(zip(got, want)):
        if far(a, b, 1e-3 * max(1.0, abs(b))):
            raise CheckFailed(f"with cfg.num_negatives = 24 your loss of step {step} differs from the expected one: "
                              f"right after the minibatch, draw the negatives with torch.multinomial(log_popularity."
                              f"exp(), cfg.num_negatives, replacement=True, generator=generator), score the candidates "
                              f"torch.cat([targets, negatives]) with catalogue_logits(..., movie_rows=candidates) and "
                              f"take sampled_softmax_loss.")
    for name, a, b in zip(Params.NAMES, got_params.as_list(), want_params.as_list()):
        compare_tensors(a.detach(), b.detach(), f"{name} after 12 sampled steps", atol=1e-4, rtol=1e-3)
    return "12 sampled steps match"


# ---------------------------------------------------------------- 12.7 sampled_softmax_loss

BATCH, NEGATIVES = 12, 10


def _sampled_inputs(ref, fx):
    """Logits of a fixture minibatch against its candidates: the batch's own movies (two users
    share one), then NEGATIVES drawn by popularity, one of them twice and one of them row 0's
    own movie (accidental hits, both kinds)."""
    generator = torch.Generator().manual_seed(127)
    ex, prior = fx.retrieval.examples, fx.retrieval.log_popularity
    rows = torch.randint(0, len(ex), (BATCH,), generator=generator)
    targets = ex.movie_row[rows].clone()
    targets[5] = targets[2]
    negatives = torch.multinomial(prior.exp(), NEGATIVES, replacement=True, generator=generator)
    negatives[3] = negatives[7]
    negatives[0] = targets[0]
    candidates = torch.cat([targets, negatives])
    with torch.no_grad():
        logits = ref.catalogue_logits(_start_params(fx), fx.retrieval.contexts[ex.user_row[rows]],
                                      fx.data.movie_genres, fx.cfg.retrieval.temperature, candidates)
    return logits.detach(), targets, candidates, prior


def _sampled_variant(logits, targets, candidates, prior, num_negatives, alpha, correct=True, mask=True,
                     keep_own=True, scale=True, negatives_only=False) -> float:
    """The loss with one step done otherwise (the checks' diagnosis of a wrong answer)."""
    log_q = prior[candidates].to(torch.float64)
    correction = log_q + (torch.log(torch.tensor(float(num_negatives), dtype=torch.float64)) if scale else 0.0)
    if negatives_only:
        correction[:len(targets)] = 0.0
    z = logits.to(torch.float64) - (correction if correct else 0.0) + alpha * log_q
    batch = torch.arange(len(targets))
    hit = candidates[None, :] == targets[:, None]
    if keep_own:
        hit[batch, batch] = False
    if mask:
        z = z.masked_fill(hit, float("-inf"))
    return float((torch.logsumexp(z, dim=1) - z[batch, batch]).mean())


@check("12.7", points=3, title="a sampled softmax: logQ correction, accidental hits masked, own column kept")
def sampled_loss(learner, ref, fx):
    logits, targets, candidates, prior = _sampled_inputs(ref, fx)
    details = []
    for alpha in (0.0, 0.5):
        got = learner.sampled_softmax_loss(logits.clone(), targets.clone(), candidates.clone(), prior.clone(),
                                           NEGATIVES, alpha)
        expect_type(got, torch.Tensor, "sampled_softmax_loss' result")
        expect(got.dim() == 0, f"sampled_softmax_loss should return one number (a 0-d tensor), not shape "
                               f"{tuple(got.shape)}.")
        want = float(ref.sampled_softmax_loss(logits, targets, candidates, prior, NEGATIVES, alpha))
        if far(got, want, 1e-5, 1e-5):
            args = (logits, targets, candidates, prior, NEGATIVES, alpha)
            if math.isinf(float(got)) and math.isinf(_sampled_variant(*args, keep_own=False)):
                raise CheckFailed("your loss is infinite: row b's own column b holds its target too, and it was "
                                  "masked with the accidental hits. Mask the other columns that hold row b's movie, "
                                  "never column b itself.")
            if near(got, _sampled_variant(*args, mask=False), 1e-5, 1e-5):
                raise CheckFailed("your loss leaves accidental hits in: a column other than b that holds row b's own "
                                  "movie (another user's target, or a drawn negative) is no rival of it, so it gets "
                                  "-inf in row b.")
            if near(got, _sampled_variant(*args, correct=False), 1e-5, 1e-5):
                raise CheckFailed("your loss has no logQ correction: subtract log(num_negatives * q[c]) = "
                                  "log(num_negatives) + log_popularity[c] from every candidate's logits, so popular "
                                  "movies drawn again and again do not look like strong rivals.")
            if near(got, _sampled_variant(*args, negatives_only=True), 1e-5, 1e-5):
                raise CheckFailed("your logQ correction covers the drawn negatives only: the batch's own movies are "
                                  "candidates too, corrected the same way (log_popularity[candidate_rows] for every "
                                  "column).")
            if alpha and near(got, _sampled_variant(*args[:-1], 0.0), 1e-5, 1e-5):
                raise CheckFailed("your loss ignores alpha: add alpha * log_popularity[candidate_rows] to every row, as "
                                  "softmax_loss does.")
        details.append(compare_number(got, want, f"the sampled softmax loss with alpha={alpha}", 1e-5, 1e-5))
    return ", ".join(sorted(set(details)))
