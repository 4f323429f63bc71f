"""The reference training loop's given fast paths compute what the lesson's tasks define.

``minibatch_step`` (gradients written out by hand) must move every parameter as
``sgd_step(batch_loss(...))`` does with autograd, and ``evaluate_sets`` (bookkeeping once
per run, towers once for both sets) must give ``evaluate``'s losses. Both up to float
rounding, on the checks' fixture, with and without weight decay, and on minibatches that
repeat a movie (the embedding table's rows then collect several contributions).
"""
from __future__ import annotations

import pytest
import torch

from checks import fixtures
from course.config import CONFIGS
from course.containers import Examples
from solutions import lesson06_training as l6
from solutions.pipeline import new_parameters

FIXTURE = CONFIGS["fixture"]


@pytest.fixture(scope="module")
def data():
    return fixtures.prepared()


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_minibatch_step_moves_parameters_as_autograd_does(data, weight_decay):
    by_hand = new_parameters(data, FIXTURE.model)
    autograd = by_hand.clone()
    generator = torch.Generator().manual_seed(0)
    repeats = 0
    for step in range(40):
        rows = l6.sample_minibatch(len(data.train), 32, generator)
        if step % 10 == 0:  # the same example twice: the same movie's row gets two gradients
            rows[1] = rows[0]
        repeats += int(len(torch.unique(data.train.movie_row[rows])) < len(rows))
        lr = 0.1 if step < 20 else 0.01
        l6.minibatch_step(by_hand, data, rows, lr, weight_decay)
        l6.sgd_step(autograd, l6.batch_loss(autograd, data, data.train, rows, weight_decay), lr)
        for name, mine, theirs in zip(by_hand.NAMES, by_hand.as_list(), autograd.as_list()):
            difference = float((mine.detach() - theirs.detach()).abs().max())
            assert difference < 1e-5, f"step {step}: {name} differs from autograd's step by {difference:.3g}"
    assert repeats >= 4  # the minibatches did repeat movies


def test_minibatch_step_changes_only_the_minibatch_rows_of_the_table(data):
    params = new_parameters(data, FIXTURE.model)
    before = params.item_embedding_table.detach().clone()
    rows = torch.arange(5)
    l6.minibatch_step(params, data, rows, 0.1)
    moved = (params.item_embedding_table.detach() != before).any(dim=1).nonzero().squeeze(1)
    assert set(moved.tolist()) <= set(data.train.movie_row[rows].tolist())
    assert len(moved) > 0


def test_evaluate_sets_gives_evaluate_losses(data):
    params = new_parameters(data, FIXTURE.model)
    # A set in no particular user order and an empty one, besides the real two.
    shuffled = torch.randperm(len(data.val), generator=torch.Generator().manual_seed(1))
    mixed = Examples(data.val.user_row[shuffled], data.val.movie_row[shuffled], data.val.target[shuffled])
    empty = Examples(data.val.user_row[:0], data.val.movie_row[:0], data.val.target[:0])
    sets = [data.train, data.val, mixed, empty]
    plan = l6.plan_evaluation(data, sets)
    for _ in range(2):  # the plan serves every evaluation of a run
        got = l6.evaluate_sets(params, data, plan)
        want = [l6.evaluate(params, data, s) for s in sets]
        assert got == pytest.approx(want, rel=1e-6, abs=1e-9)
        l6.minibatch_step(params, data, torch.arange(16), 0.5)


def test_evaluate_sets_with_few_users(data):
    """Only a few users have examples: the plan gathers just their context rows."""
    params = new_parameters(data, FIXTURE.model)
    few = data.val.user_row < int(data.val.user_row.min()) + 3
    subset = Examples(data.val.user_row[few], data.val.movie_row[few], data.val.target[few])
    plan = l6.plan_evaluation(data, [subset])
    assert len(plan.user_context) == len(torch.unique(subset.user_row))
    assert l6.evaluate_sets(params, data, plan) == pytest.approx([l6.evaluate(params, data, subset)], rel=1e-6)


@pytest.mark.parametrize("hand", [True, False])
@pytest.mark.parametrize("workers", ["1", "3"])
def test_evaluate_sets_in_parts_is_the_same_on_any_number_of_threads(data, monkeypatch, workers, hand):
    """Parts of 7 users (many parts on the fixture) on 1 or 3 threads: the same losses to the
    last bit; and evaluate's up to float rounding, with the written-out user tower (sparse
    movie slots) and with lesson 5's user_tower (HAND_GRADIENTS off)."""
    monkeypatch.setattr(l6, "HAND_GRADIENTS", hand)
    params = new_parameters(data, FIXTURE.model)
    l6.minibatch_step(params, data, torch.arange(64), 0.5)  # not the initial parameters only
    whole = l6.evaluate_sets(params, data, l6.plan_evaluation(data, [data.train, data.val]))
    monkeypatch.setattr(l6, "EVAL_PART_USERS", 7)
    plan = l6.plan_evaluation(data, [data.train, data.val])
    assert len(plan.parts) > 10 and plan.parts[0] == (0, 7) and plan.parts[-1][1] == len(plan.user_context)
    monkeypatch.setenv("COURSE_EVAL_WORKERS", "1")
    one_thread = l6.evaluate_sets(params, data, plan)
    monkeypatch.setenv("COURSE_EVAL_WORKERS", workers)
    assert l6.evaluate_sets(params, data, plan) == one_thread
    want = [l6.evaluate(params, data, data.train), l6.evaluate(params, data, data.val)]
    assert one_thread == pytest.approx(whole, rel=1e-6)
    assert one_thread == pytest.approx(want, rel=1e-6)


def test_evaluate_sets_falls_back_to_one_thread_when_no_thread_can_start(data, monkeypatch):
    monkeypatch.setattr(l6, "EVAL_PART_USERS", 7)
    params = new_parameters(data, FIXTURE.model)
    plan = l6.plan_evaluation(data, [data.train, data.val])
    monkeypatch.setenv("COURSE_EVAL_WORKERS", "1")
    one_thread = l6.evaluate_sets(params, data, plan)

    def no_threads(workers):
        raise RuntimeError("can't start new thread")
    monkeypatch.setattr(l6, "ThreadPoolExecutor", no_threads)
    monkeypatch.setenv("COURSE_EVAL_WORKERS", "2")
    assert l6.evaluate_sets(params, data, plan) == one_thread


def test_minibatch_step_trains_other_code_with_autograd(data, monkeypatch):
    """With HAND_GRADIENTS off (make demo with a learner's own lesson 5 or 6), the predict in
    place is what trains: here one that doubles the reference's prediction."""
    from solutions import lesson05_weights as l5

    def doubled(params, user_context, movie_genres, movie_rows):
        return 2 * l5.predict(params, user_context, movie_genres, movie_rows)
    monkeypatch.setattr(l6, "predict", doubled)
    monkeypatch.setattr(l6, "HAND_GRADIENTS", False)
    by_step = new_parameters(data, FIXTURE.model)
    autograd = by_step.clone()
    rows = torch.arange(32)
    l6.minibatch_step(by_step, data, rows, 0.1)
    l6.sgd_step(autograd, l6.batch_loss(autograd, data, data.train, rows), 0.1)
    for mine, theirs in zip(by_step.as_list(), autograd.as_list()):
        assert torch.equal(mine.detach(), theirs.detach())


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


def test_evaluate_sets_without_the_cpu_plan(data):
    """Off a CPU the plan has no parts' sparse pieces or patterns and evaluate_sets looks rows up
    (_row_dot_products); that branch, run here on the CPU, gives evaluate's losses too."""
    params = new_parameters(data, FIXTURE.model)
    l6.minibatch_step(params, data, torch.arange(64), 0.5)
    empty = Examples(data.val.user_row[:0], data.val.movie_row[:0], data.val.target[:0])
    plan = l6.plan_evaluation(data, [data.train, data.val, empty])
    plan = plan._replace(parts=[(0, len(plan.user_context))], context_pieces=None, patterns=None)
    want = [l6.evaluate(params, data, data.train), l6.evaluate(params, data, data.val), 0.0]
    assert l6.evaluate_sets(params, data, plan) == pytest.approx(want, rel=1e-6)
