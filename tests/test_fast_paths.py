"""Every fast path (fast/) proven equal to the textbook lesson functions it stands in for.

On the checks' synthetic fixture, with the same seeds, in float64 (so that float rounding
cannot hide a wrong formula) and to a relative tolerance of 1e-6:

- fast.mse_training.minibatch_gradients: the loss and the seven gradients of lesson 6's
  ``batch_loss`` + ``loss.backward()`` (with and without weight decay, on minibatches that
  repeat a movie, whose id embedding row then collects several contributions);
- fast.mse_evaluation.evaluate_sets: lesson 6's ``evaluate`` on every set;
- fast.mse_training.train: lesson 6's ``train`` after 300 steps: the same history (steps,
  both losses, best step, early stop) and the same parameters;
- fast.ranking.rank_unseen and fast.ranking_metrics.ranking_metrics: lesson 10's, exactly
  (the same rankings, ties included, and the same float64 metrics), from the dense matrices
  and from the sparse rows the streamed evaluation hands them;
- fast.ease.ease_weights: lesson 10's ``ease_weights``, its Gram matrix bit for bit, its weights to rounding;
- fast.retrieval_training.train_retrieval: lesson 12's loop, its losses and parameters (float64);
- fast.time_split.split_by_time: lesson 11's split, exactly (tests/test_time_split.py).

Each fast module names what it stands in for (``STANDS_FOR``); the names must exist in the
lessons, so a renamed lesson function cannot leave a fast path standing in for nothing.
"""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from checks import fixtures
from course import index
from course.config import CONFIGS
from course.containers import Examples, Params, PreparedData
from fast import (ease, mse_evaluation, mse_training, ranking, ranking_metrics, retrieval_contexts,
                  retrieval_folds, retrieval_scoring, retrieval_training, time_split)
from solutions import lesson06_training as l6
from solutions.pipeline import new_parameters

FIXTURE = CONFIGS["fixture"]
RTOL = 1e-6
FAST_MODULES = (mse_training, mse_evaluation, ranking, ranking_metrics, retrieval_contexts, retrieval_scoring,
                retrieval_folds, retrieval_training, ease, time_split)


def as_float64(data: PreparedData) -> PreparedData:
    def examples(ex: Examples) -> Examples:
        return Examples(ex.user_row, ex.movie_row, ex.target.double())
    return replace(data, user_context=data.user_context.double(), movie_genres=data.movie_genres.double(),
                   train=examples(data.train), val=examples(data.val))


def float64_parameters(data: PreparedData, seed: int = 42) -> Params:
    params = new_parameters(data, replace(FIXTURE.model, init_seed=seed))
    return Params(*(p.detach().double().requires_grad_(True) for p in params.as_list()))


def assert_close(got: torch.Tensor, want: torch.Tensor, what: str) -> None:
    scale = float(want.abs().max()) if want.numel() else 0.0
    difference = float((got - want).abs().max()) if want.numel() else 0.0
    assert difference <= RTOL * max(scale, 1e-12), f"{what}: max difference {difference:.3g} (largest value {scale:.3g})"


@pytest.fixture(scope="module")
def data() -> PreparedData:
    return as_float64(fixtures.prepared())


@pytest.mark.parametrize("module", FAST_MODULES, ids=lambda m: m.__name__)
def test_each_fast_module_names_lesson_functions_it_stands_in_for(module):
    for number, names in module.STANDS_FOR.items():
        functions = {task.function for task in index.lesson(number).tasks}
        assert set(names) <= functions, f"{module.__name__}: not task functions of lesson {number}: " \
                                        f"{sorted(set(names) - functions)}"


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_minibatch_gradients_are_autograds(data, weight_decay):
    generator = torch.Generator().manual_seed(0)
    repeats = 0
    params = float64_parameters(data)
    for step in range(20):
        rows = l6.sample_minibatch(len(data.train), 32, generator)
        if step % 5 == 0:  # the same example twice: the same movie's row gets two gradients
            rows[1] = rows[0]
        repeats += int(len(torch.unique(data.train.movie_row[rows])) < len(rows))
        loss = l6.batch_loss(params, data, data.train, rows, weight_decay)
        for p in params.as_list():
            p.grad = None
        loss.backward()
        grads = mse_training.minibatch_gradients(params, data, rows)
        penalty = weight_decay * sum(float((p.detach() ** 2).sum()) for p in params.as_list())
        assert float(grads.mse) + penalty == pytest.approx(float(loss.detach()), rel=RTOL), f"step {step}: the loss"
        for name, by_hand, p in zip(Params.NAMES, grads.dense(params, weight_decay), params.as_list()):
            assert_close(by_hand, p.grad, f"step {step}: the gradient of {name}")
        mse_training.minibatch_step(params, data, rows, 0.1, weight_decay)  # move on, not only step 0
    assert repeats >= 3


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_minibatch_step_is_sgd_step_of_batch_loss(data, weight_decay):
    by_hand, textbook = float64_parameters(data), float64_parameters(data)
    generator = torch.Generator().manual_seed(1)
    for step in range(40):
        rows = l6.sample_minibatch(len(data.train), 32, generator)
        lr = 0.1 if step < 20 else 0.01
        mse_training.minibatch_step(by_hand, data, rows, lr, weight_decay)
        l6.sgd_step(textbook, l6.batch_loss(textbook, data, data.train, rows, weight_decay), lr)
    for name, a, b in zip(Params.NAMES, by_hand.as_list(), textbook.as_list()):
        assert_close(a.detach(), b.detach(), f"{name} after 40 steps")


def test_minibatch_step_moves_only_the_minibatchs_rows_of_the_table(data):
    params = float64_parameters(data)
    before = params.item_embedding_table.detach().clone()
    rows = torch.arange(5)
    mse_training.minibatch_step(params, data, rows, 0.1)
    moved = (params.item_embedding_table.detach() != before).any(dim=1).nonzero().squeeze(1)
    assert 0 < len(moved) and set(moved.tolist()) <= set(data.train.movie_row[rows].tolist())


def example_sets(data: PreparedData) -> list[Examples]:
    """The real two sets, one in no particular user order, one of a few users, an empty one."""
    shuffled = torch.randperm(len(data.val), generator=torch.Generator().manual_seed(3))
    few = data.val.user_row < int(data.val.user_row.min()) + 3
    return [data.train, data.val,
            Examples(data.val.user_row[shuffled], data.val.movie_row[shuffled], data.val.target[shuffled]),
            Examples(data.val.user_row[few], data.val.movie_row[few], data.val.target[few]),
            Examples(data.val.user_row[:0], data.val.movie_row[:0], data.val.target[:0])]


@pytest.mark.parametrize("part_users", [None, 7])
def test_evaluate_sets_is_evaluate(data, monkeypatch, part_users):
    if part_users:  # many parts: the sums over parts, in part order
        monkeypatch.setattr(mse_evaluation, "EVAL_PART_USERS", part_users)
    params = float64_parameters(data)
    mse_training.minibatch_step(params, data, torch.arange(64), 0.5)  # not the initial parameters only
    sets = example_sets(data)
    plan = mse_evaluation.plan_evaluation(data, sets)
    if part_users:
        assert len(plan.parts) > 3
    got = mse_evaluation.evaluate_sets(params, data, plan)
    want = [l6.evaluate(params, data, examples) for examples in sets]
    assert got == pytest.approx(want, rel=RTOL)


def test_evaluate_sets_without_the_cpu_plan_is_evaluate(data):
    """Off a CPU the plan has no sparse pieces and evaluate_sets looks rows up; that branch,
    run here on the CPU, gives evaluate's losses too."""
    params = float64_parameters(data)
    sets = example_sets(data)
    plan = mse_evaluation.plan_evaluation(data, sets)
    plan = plan._replace(parts=[(0, len(plan.user_context))], context_pieces=None, patterns=None)
    want = [l6.evaluate(params, data, examples) for examples in sets]
    assert mse_evaluation.evaluate_sets(params, data, plan) == pytest.approx(want, rel=RTOL)


@pytest.mark.parametrize("workers", ["1", "3"])
def test_evaluate_sets_gives_the_same_losses_on_any_number_of_threads(data, monkeypatch, workers):
    monkeypatch.setattr(mse_evaluation, "EVAL_PART_USERS", 7)
    params = float64_parameters(data)
    plan = mse_evaluation.plan_evaluation(data, [data.train, data.val])
    monkeypatch.setenv("COURSE_EVAL_WORKERS", "1")
    one_thread = mse_evaluation.evaluate_sets(params, data, plan)
    monkeypatch.setenv("COURSE_EVAL_WORKERS", workers)
    assert mse_evaluation.evaluate_sets(params, data, plan) == one_thread


def test_evaluate_sets_falls_back_to_one_thread_when_no_thread_can_start(data, monkeypatch):
    monkeypatch.setattr(mse_evaluation, "EVAL_PART_USERS", 7)
    params = float64_parameters(data)
    plan = mse_evaluation.plan_evaluation(data, [data.train, data.val])
    monkeypatch.setenv("COURSE_EVAL_WORKERS", "1")
    one_thread = mse_evaluation.evaluate_sets(params, data, plan)

    class NoThreads:
        def __init__(self, workers):
            raise RuntimeError("can't start new thread")
    monkeypatch.setattr(mse_evaluation, "ThreadPoolExecutor", NoThreads)
    monkeypatch.setenv("COURSE_EVAL_WORKERS", "2")
    assert mse_evaluation.evaluate_sets(params, data, plan) == one_thread


@pytest.mark.parametrize("changes", [{}, {"weight_decay": 0.003, "patience": 2, "eval_every": 25,
                                          "lr_schedule": ((0, 0.2),)}],
                         ids=["fixture settings", "weight decay and early stopping"])
def test_fast_train_is_lesson_6_train_after_300_steps(data, changes):
    cfg = replace(FIXTURE.train, steps=300, **changes)
    fast, textbook = float64_parameters(data), float64_parameters(data)
    fast_history = mse_training.train(fast, data, cfg, torch.Generator().manual_seed(cfg.seed))
    textbook_history = l6.train(textbook, data, cfg, torch.Generator().manual_seed(cfg.seed))
    assert fast_history.steps == textbook_history.steps
    assert fast_history.best_step == textbook_history.best_step
    assert fast_history.stopped_early == textbook_history.stopped_early
    assert fast_history.train_loss == pytest.approx(textbook_history.train_loss, rel=RTOL)
    assert fast_history.val_loss == pytest.approx(textbook_history.val_loss, rel=RTOL)
    for name, a, b in zip(Params.NAMES, fast.as_list(), textbook.as_list()):
        assert_close(a.detach(), b.detach(), f"{name} after training")
    if changes:
        assert textbook_history.stopped_early, "with patience 2 this run stops early (at step 225 when written)"


@pytest.mark.parametrize("load, want", [(0.2, 2), (1.0, 2), (1.4, 2), (2.0, 1), (15.0, 1)])
def test_evaluation_threads_are_the_cores_the_rest_of_the_machine_leaves_idle(monkeypatch, load, want):
    """On 2 cores, one torch thread per operation: two evaluation threads while this run's own
    training is the only load, one when other work keeps a core busy."""
    from course import threads

    monkeypatch.delenv("COURSE_EVAL_WORKERS", raising=False)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    assert threads.evaluation_workers() == want
    monkeypatch.setenv("COURSE_EVAL_WORKERS", "3")
    assert threads.evaluation_workers() == 3


def test_evaluation_threads_without_a_load_average(monkeypatch):
    from course import threads

    def no_load_average():
        raise OSError("no load average")
    monkeypatch.delenv("COURSE_EVAL_WORKERS", raising=False)
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(threads.os, "getloadavg", no_load_average)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    assert threads.evaluation_workers() == 2


def as_sparse_rows(dense: torch.Tensor) -> torch.Tensor:
    """A bool matrix as the streamed evaluation hands it over: sparse CSR, 1.0 where True."""
    return dense.to(torch.float64).to_sparse_csr()


def tied_scores(seed: int, users: int = 40, movies: int = 57) -> tuple[torch.Tensor, torch.Tensor]:
    """Random scores drawn from a few values (so ties everywhere), random seen movies, a row
    with nothing unseen and one with fewer unseen movies than most k."""
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 4 + seed, (users, movies), generator=generator).to(torch.float64)
    seen = torch.rand((users, movies), generator=generator) < 0.3
    seen[0] = True            # nothing unseen
    seen[1, 3:] = True        # fewer unseen movies than k
    return scores, seen


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("layout", ["dense", "sparse rows"])
def test_fast_rank_unseen_is_lesson_10s(seed, layout):
    """Scores full of ties, rows with fewer unseen movies than k and a k larger than the
    catalogue; from sparse rows the scores are given back as they came."""
    from solutions import lesson10_ranking as l10

    scores, seen = tied_scores(seed)
    movies = scores.shape[1]
    given = as_sparse_rows(seen) if layout == "sparse rows" else seen
    before = scores.clone()
    for k in (1, 10, movies - 1, movies, movies + 5):
        assert torch.equal(ranking.rank_unseen(scores, given, k), l10.rank_unseen(scores, seen, min(k, movies))), k
        assert torch.equal(scores, before), k


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_fast_rank_unseen_without_ties_and_with_nan_is_lesson_10s(dtype):
    """Distinct scores (every row takes the selection's way), a few NaN scores (which the
    textbook's sort puts first), integer scores and scores that are a view of a larger
    matrix (which the fast path must not change)."""
    from solutions import lesson10_ranking as l10

    generator = torch.Generator().manual_seed(3)
    whole = (torch.rand((30, 200), generator=generator, dtype=torch.float64) * 1000)
    whole = whole.to(dtype) if dtype != torch.int64 else whole.round().to(torch.int64)
    if dtype.is_floating_point:
        whole[2, 5] = whole[7, 190] = float("nan")
    seen = torch.rand((30, 200), generator=generator) < 0.2
    for scores in (whole, whole[:, :150], whole.T.contiguous().T):
        before = scores.clone()
        part = seen[:, :scores.shape[1]]
        for k in (1, 10, 100):
            want = l10.rank_unseen(scores, part, k)
            assert torch.equal(ranking.rank_unseen(scores, part, k), want), (k, scores.shape)
            assert torch.equal(ranking.rank_unseen(scores, as_sparse_rows(part), k), want), (k, scores.shape)
            torch.testing.assert_close(scores, before, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("layout", ["dense", "sparse rows"])
def test_fast_ranking_metrics_are_lesson_10s(seed, layout):
    """The same float64 numbers, every metric and every user: rankings deeper than k, users
    with fewer relevant movies than k and with more, users whose ranking holds no hit."""
    from solutions import lesson10_ranking as l10

    generator = torch.Generator().manual_seed(seed)
    users, movies, depth = 50, 80, 30
    relevant = torch.rand((users, movies), generator=generator) < 0.05 * (1 + seed)
    relevant[torch.arange(users), torch.randint(0, movies, (users,), generator=generator)] = True   # one at least
    relevant[0, :40] = True
    ranked = torch.argsort(torch.rand((users, movies), generator=generator), dim=1)[:, :depth]
    given = as_sparse_rows(relevant) if layout == "sparse rows" else relevant
    for k in (1, 10, depth):
        want = l10.ranking_metrics(ranked, relevant, k)
        got = ranking_metrics.ranking_metrics(ranked, given, k)
        assert got.keys() == want.keys()
        for name, values in want.items():
            assert got[name].dtype == torch.float64 and torch.equal(got[name], values), (k, name)


@pytest.mark.parametrize("num_negatives", [None, 40], ids=["whole catalogue", "sampled softmax"])
def test_lesson_12_fed_sparse_contexts_trains_as_fed_dense(num_negatives):
    """fast/retrieval_contexts.py: lesson 12's own loop with sparse minibatch contexts gives the
    losses and parameters of the same loop with dense ones, after 300 steps, in float64."""
    from course.containers import ContextRows
    from fast import retrieval_contexts
    from solutions import lesson12_retrieval as l12

    fx = fixtures.retrieval()
    cfg = CONFIGS["fixture"].retrieval
    cfg = replace(cfg, num_negatives=num_negatives, train=replace(cfg.train, steps=300, weight_decay=1e-3))
    dense = ContextRows.from_dense([fx.contexts.double()])
    genres, prior = fixtures.prepared().movie_genres.double(), fx.log_popularity.double()
    runs = []
    for contexts in (dense, retrieval_contexts.SparseContexts(dense)):
        params = Params(*(p.clone().requires_grad_(True) for p in l12_parameters(fx, genres)))
        losses = l12.train_retrieval(params, contexts, fx.examples, genres, prior, cfg, torch.Generator().manual_seed(3))
        runs.append((losses, params))
    (dense_losses, dense_params), (sparse_losses, sparse_params) = runs
    assert sparse_losses == pytest.approx(dense_losses, rel=RTOL)
    for name, a, b in zip(Params.NAMES, sparse_params.as_list(), dense_params.as_list()):
        assert_close(a.detach(), b.detach(), f"{name} after 300 steps")


@pytest.mark.parametrize("num_negatives", [None, 40], ids=["whole catalogue", "sampled softmax"])
def test_fast_retrieval_loop_is_lesson_12s(num_negatives):
    """fast/retrieval_training.py: its user tower (a sparse product with a scatter for backward),
    its loss (the per-candidate terms added by the product) and PyTorch's fused Adam give lesson
    12's ``train_retrieval`` losses and parameters after 300 steps, in float64, with weight decay."""
    from course.containers import ContextRows
    from fast import retrieval_contexts, retrieval_training
    from solutions import lesson12_retrieval as l12

    fx = fixtures.retrieval()
    cfg = CONFIGS["fixture"].retrieval
    cfg = replace(cfg, num_negatives=num_negatives, train=replace(cfg.train, steps=300, weight_decay=1e-3))
    contexts = retrieval_contexts.SparseContexts(ContextRows.from_dense([fx.contexts.double()]))
    genres, prior = fixtures.prepared().movie_genres.double(), fx.log_popularity.double()
    runs = []
    for loop in (l12.train_retrieval, retrieval_training.train_retrieval):
        params = Params(*(p.clone().requires_grad_(True) for p in l12_parameters(fx, genres)))
        losses = loop(params, contexts, fx.examples, genres, prior, cfg, torch.Generator().manual_seed(3))
        runs.append((losses, params))
    (want_losses, want_params), (got_losses, got_params) = runs
    assert got_losses == pytest.approx(want_losses, rel=RTOL)
    for name, a, b in zip(Params.NAMES, got_params.as_list(), want_params.as_list()):
        assert_close(a.detach(), b.detach(), f"{name} after 300 steps")


def test_fast_user_tower_gradient_is_lesson_5s():
    """fast.retrieval_training.SparseProduct: the user tower's output and the gradient of every
    parameter are lesson 5's ``user_tower`` on the dense contexts', in float32 as trained (the
    same products summed in another order: equal to rounding)."""
    from course.containers import ContextRows
    from fast import retrieval_contexts, retrieval_training
    from solutions import lesson05_weights as l5

    fx = fixtures.retrieval()
    rows = ContextRows.from_dense([fx.contexts.float()])
    picked = torch.tensor([0, 3, 3, 1, len(rows) - 1])   # a row twice: its gradients add up
    grads = []
    for tower in ("lesson 5", "fast"):
        params = Params(*(p.float().clone().requires_grad_(True) for p in l12_parameters(fx, fixtures.prepared().movie_genres)))
        if tower == "fast":
            users = retrieval_training.user_tower(params, retrieval_contexts.SparseContexts(rows), picked)
        else:
            users = l5.user_tower(params, rows[picked])
        (users * torch.linspace(-1.0, 1.0, users.numel()).reshape(users.shape)).sum().backward()
        grads.append((users.detach(), params.user_W.grad, params.user_b.grad))
    for name, got, want in zip(("user embeddings", "user_W's gradient", "user_b's gradient"), *grads[::-1]):
        assert_close(got, want, name)


def l12_parameters(fx, genres: torch.Tensor) -> list[torch.Tensor]:
    """Lesson 5's parameters for the retrieval context of the fixture, in float64."""
    from solutions import lesson05_weights as l5

    params = l5.init_parameters(fx.context_index.size, genres.shape[1], genres.shape[0], CONFIGS["fixture"].retrieval.model,
                                torch.Generator().manual_seed(4))
    return [p.detach().double() for p in params.as_list()]


@pytest.mark.parametrize("genres_only", [False, True])
def test_fast_implicit_context_rows_are_lesson_12s(genres_only):
    """fast.retrieval_contexts.implicit_context_rows: the rows of lesson 12's implicit_contexts,
    made sparse without a dense block (users without history, and the new-user contexts)."""
    from course.containers import ContextRows
    from solutions import lesson12_retrieval as l12

    s = fixtures.stages()
    split = l12.fold_splits(s.split[s.split["userId"].isin(s.train_users)], 3, 0)[1]
    users = np.concatenate([s.train_users[::2], [10 ** 9]])   # and one user with no history at all
    dense = l12.implicit_contexts(split, users, s.movie_index, s.movie_genres)
    if genres_only:
        dense[:, :len(s.movie_index)] = 0.0
    want = ContextRows.from_dense([dense])
    got = retrieval_contexts.implicit_context_rows(split, users, s.movie_index, s.movie_genres, genres_only)
    assert torch.equal(got.row_starts, want.row_starts) and torch.equal(got.columns, want.columns)
    assert_close(got.values.double(), want.values.double(), "the context values")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_fast_catalogue_logits_are_lesson_12s(dtype):
    """fast.retrieval_scoring.CatalogueLogits: lesson 12's ``catalogue_logits`` exactly, block
    after block (a smaller block after a larger one reuses its memory), from dense contexts
    and from sparse rows; and the retrieval scorer built on it gives the textbook's scores."""
    from course.containers import ContextRows
    from fast import retrieval_contexts, retrieval_scoring
    from solutions import evaluation as ev
    from solutions import lesson12_retrieval as l12

    fx = fixtures.retrieval()
    genres = fixtures.prepared().movie_genres.to(dtype)
    params = Params(*(p.to(dtype) for p in l12_parameters(fx, genres)))
    contexts = fx.contexts.to(dtype)
    logits = retrieval_scoring.CatalogueLogits(params, genres, 0.05)
    sparse = retrieval_contexts.SparseContexts(ContextRows.from_dense([contexts]))
    for first, last in ((0, 9), (9, 13), (13, 14)):
        # Each against the textbook fed the same contexts (a sparse product adds in another order).
        for block in (contexts[first:last], sparse[torch.arange(first, last)]):
            want = l12.catalogue_logits(params, block, genres, 0.05)
            assert torch.equal(logits(block), want), (first, last, block.layout)

    s = fixtures.stages()
    task = ev.ranking_task(s, s.train_users, s.val_users, CONFIGS["fixture"].ranking)
    # The scorer makes lesson 12's float32 contexts: the model in float32, as it is trained.
    model = ev.RetrievalModel(Params(*(p.float() for p in l12_parameters(fx, s.movie_genres.double()))), [],
                              fx.context_index, ev.log_popularity(task))
    textbook = ev.retrieval_scorer(model, s, task, 0.05, 1.5)
    fast = ev.retrieval_scorer(model, s, task, 0.05, 1.5,
                               logits=retrieval_scoring.CatalogueLogits(model.params, s.movie_genres, 0.05))
    for first in range(0, task.num_users, 5):
        last = min(first + 5, task.num_users)
        assert torch.equal(fast(first, last), textbook(first, last)), first


@pytest.mark.parametrize("dense_share", [0.0, 0.5, 1.0], ids=["all sparse", "mixed", "all dense"])
def test_fast_ease_weights_are_lesson_10s(monkeypatch, dense_share):
    """Ratings 1..5 and explicit zeros stored (a zero is not a rating), users with no rating,
    a catalogue width that is not a multiple of 8, dense blocks smaller than the class; the
    users split between the sparse and the dense product by moving the cost threshold."""
    from solutions import lesson10_ranking as l10

    generator = torch.Generator().manual_seed(3)
    users, movies = 90, 37
    ratings = torch.randint(0, 6, (users, movies), generator=generator) * (torch.rand((users, movies),
                                                                                       generator=generator) < 0.3)
    ratings[5] = 0
    stored = ratings.to(torch.float64).to_sparse_csr()
    some_zeroed = stored.values() * (torch.arange(len(stored.values())) % 3 != 0)   # stored, yet no rating
    stored_zeros = torch.sparse_csr_tensor(stored.crow_indices(), stored.col_indices(), some_zeroed, stored.shape)
    heavy_from = float(torch.quantile((ratings > 0).sum(dim=1).double(), 1.0 - dense_share)) if dense_share else 1e9
    monkeypatch.setattr(ease, "DENSE_PRODUCT_COST", heavy_from ** 2 * ease.SPARSE_PAIR_COST / (2.0 * movies ** 2) * 0.999)
    monkeypatch.setattr(ease, "DENSE_BLOCK_USERS", 16)
    for interactions in (stored, (stored.to_dense() + 0).to_sparse_csr(), stored_zeros):
        want_counts = (interactions.to_dense() != 0).to(torch.float64)
        assert torch.equal(ease.cooccurrence_counts(interactions).to(torch.float64), want_counts.T @ want_counts)
        assert_close(ease.ease_weights(interactions, 3.0), l10.ease_weights(interactions, 3.0), "EASE weights")


@pytest.mark.parametrize("num_folds, seed, new_user_share", [(3, 0, 0.0), (3, 5, 0.3), (5, 1, 0.3), (2, 7, 0.5)])
def test_fast_retrieval_folds_are_lesson_12s(num_folds, seed, new_user_share):
    """fast.retrieval_folds.retrieval_examples: every fold's contexts and examples, as the
    reference's lessons 4 and 12 make them fold by fold, bit for bit (the same float32
    contexts, the same examples in the same order, the same new-user draws)."""
    from solutions import evaluation as ev

    s = fixtures.stages()
    want_contexts, want = ev.retrieval_examples(s, s.train_users, num_folds, seed, new_user_share)
    got_contexts, got = retrieval_folds.retrieval_examples(s, s.train_users, num_folds, seed, new_user_share)
    for name in ("row_starts", "columns", "values"):
        assert torch.equal(getattr(got_contexts, name), getattr(want_contexts, name)), name
    assert got_contexts.width == want_contexts.width
    for name in ("user_row", "movie_row", "target"):
        assert torch.equal(getattr(got, name), getattr(want, name)), name


def test_fast_retrieval_folds_of_unsorted_ratings_with_a_movie_rated_twice_are_lesson_12s():
    """Ratings in any order are sorted as lesson 12's fold_splits sorts them; a user who rated
    a movie twice (a learner's cleaning may leave one) is made the textbook's way."""
    from solutions import evaluation as ev

    s = fixtures.stages()
    shuffled = s.split.sample(frac=1.0, random_state=3)
    twice = pd.concat([shuffled, shuffled.iloc[:1]])
    for split in (shuffled, twice):
        stages = SimpleNamespace(**{**vars(s), "split": split})
        want_contexts, want = ev.retrieval_examples(stages, s.train_users, 3, 0, 0.3)
        got_contexts, got = retrieval_folds.retrieval_examples(stages, s.train_users, 3, 0, 0.3)
        for name in ("row_starts", "columns", "values"):
            assert torch.equal(getattr(got_contexts, name), getattr(want_contexts, name)), name
        for name in ("user_row", "movie_row", "target"):
            assert torch.equal(getattr(got, name), getattr(want, name)), name
