"""Checks for lesson 6: the hand-written training loop."""
from __future__ import annotations

import math
from dataclasses import replace
from numbers import Real

import matplotlib.figure  # noqa: F401  (imported once here, not in every forked check: saves ~0.6 s a run)
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from checks.compare import far, near
from checks.framework import CheckFailed, check, compare_tensors, expect, expect_type
from checks.properties import PROPERTY
from course.containers import Examples, Params, TrainHistory

SCHEDULE = ((0, 0.1), (10, 0.01), (30, 0.001))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- helpers

def _copy_examples(examples: Examples, target: torch.Tensor | None = None) -> Examples:
    return Examples(examples.user_row.clone(), examples.movie_row.clone(),
                    examples.target.clone() if target is None else target)


def _data(fx, **changes):
    """A private copy of the fixture's PreparedData (the learner may change what we hand over)."""
    data = fx.data
    fields = dict(user_context=data.user_context.clone(), movie_genres=data.movie_genres.clone(),
                  train=_copy_examples(data.train), val=_copy_examples(data.val))
    fields.update(changes)
    return replace(data, **fields)


def _params(seed: int) -> Params:
    from checks.fixtures import new_parameters
    return new_parameters(seed)


def _expect_untouched(given: Params, original: Params, function: str) -> None:
    """The learner's copy of the parameters is still the check's (the expected value was
    computed before the call, from the check's own copy)."""
    for name, a, b in zip(Params.NAMES, given.as_list(), original.as_list()):
        expect(tuple(a.shape) == tuple(b.shape) and torch.equal(a.detach(), b.detach()),
               f"{function} changed the parameters it was given (params.{name}): a loss only reads them.")


def _rows(n: int, size: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:size]


def _full_mse(params: Params, data, examples: Examples) -> float:
    """The mean squared error over every example, computed here in float64."""
    from solutions.lesson05_weights import predict
    with torch.no_grad():
        pred = predict(params, data.user_context[examples.user_row], data.movie_genres[examples.movie_row],
                       examples.movie_row)
        return float(((pred.double() - examples.target.double()) ** 2).mean())


def _sum_of_squares(params: Params) -> float:
    return float(sum(float((p.detach().double() ** 2).sum()) for p in params.as_list()))


def _expect_scalar_loss(loss, what: str) -> None:
    expect_type(loss, torch.Tensor, what)
    expect(loss.dim() == 0, f"{what} has shape {tuple(loss.shape)}; it should be a single number (a 0-dim tensor, "
                            f"as .mean() returns).")
    expect(loss.requires_grad, f"{what} does not require gradients, so loss.backward() cannot train anything: do "
                               f"not use .item(), .detach(), torch.no_grad() or torch.tensor(...) on the way.")


def _train_cfg(fx, **changes):
    return replace(fx.cfg.train, **changes)


def _train(module, fx, cfg, data=None, init_seed: int = 5, train_seed: int = 0):
    params = _params(init_seed)
    history = module.train(params, _data(fx) if data is None else data, cfg, torch.Generator().manual_seed(train_seed))
    return params, history


def _expect_history(history) -> None:
    expect_type(history, TrainHistory, "train's result")
    for name in ("steps", "train_loss", "val_loss"):
        expect_type(getattr(history, name), list, f"history.{name}")


def _first_gap(got: list, expected: list, tol: float) -> int | None:
    for i, (a, b) in enumerate(zip(got, expected)):
        if not (isinstance(a, Real) and near(a, b, tol)):
            return i
    return None


# ---------------------------------------------------------------- 6.1 learning_rate

@check("6.1", points=2, title="the rate at and around every boundary")
def lr_boundaries(learner, ref, fx):
    cases = [(0, 0.1), (1, 0.1), (9, 0.1), (10, 0.01), (11, 0.01), (29, 0.01), (30, 0.001), (31, 0.001),
             (50_000, 0.001)]
    for step, expected in cases:
        got = learner.learning_rate(step, SCHEDULE)
        expect(isinstance(got, Real), f"learning_rate should return a float, not {type(got).__name__}.")
        if abs(float(got) - expected) < 1e-12:
            continue
        starts = next((pair for pair in SCHEDULE if pair[0] == step), None)
        if starts is not None:
            raise CheckFailed(f"with schedule {SCHEDULE}, at step {step}, where the pair {starts} starts, the rate "
                              f"should be {expected}, not {got}: a pair applies from its first step on "
                              f"(first_step <= step, inclusive).")
        raise CheckFailed(f"with schedule {SCHEDULE} the rate at step {step} should be {expected}, not {got}: it is "
                          f"the rate of the last pair whose first step is at or before {step}.")
    return f"{len(cases)} steps"


@check("6.1", points=1, title="random schedules and steps")
def lr_property(learner, ref, fx):
    @settings(PROPERTY, report_multiple_bugs=False)
    @given(st.lists(st.integers(1, 500), max_size=5, unique=True),
           st.lists(st.sampled_from([0.5, 0.1, 0.05, 0.01, 0.003]), min_size=6, max_size=6),
           st.integers(0, 600))
    def prop(starts, rates, step):
        schedule = tuple(zip([0, *sorted(starts)], rates))
        expected = ref.learning_rate(step, schedule)
        got = learner.learning_rate(step, schedule)
        if not (isinstance(got, Real) and abs(float(got) - expected) < 1e-12):
            raise CheckFailed(f"with schedule {schedule} the rate at step {step} should be {expected}, not {got}: "
                              f"the rate of the last pair whose first step is at or before the step "
                              f"(inclusive).")
    prop()


# ---------------------------------------------------------------- 6.2 sample_minibatch

@check("6.2", points=1, title="int64 rows, the right number, every row possible")
def minibatch_range(learner, ref, fx):
    out = learner.sample_minibatch(7, 700, torch.Generator().manual_seed(3))
    expect_type(out, torch.Tensor, "sample_minibatch's result")
    expect(tuple(out.shape) == (700,), f"sample_minibatch(7, 700, ...) should return 700 rows, shape (700,), "
                                       f"not {tuple(out.shape)}.")
    expect(out.dtype == torch.int64, f"the rows have dtype {out.dtype}; they index tensors, so they should be int64.")
    lo, hi = int(out.min()), int(out.max())
    expect(lo >= 0 and hi < 7, f"with 7 examples every row should be in 0..6; yours range over {lo}..{hi}.")
    missing = sorted(set(range(7)) - set(out.tolist()))
    if missing == [6]:
        raise CheckFailed("in 700 draws from 7 examples, row 6 (the last example) never came up: torch.randint's "
                          "upper bound is exclusive, so pass num_examples itself, not num_examples - 1.")
    expect(not missing, f"in 700 draws from 7 examples the rows {missing} never came up: every row should be "
                        f"equally likely.")
    one = learner.sample_minibatch(1, 5, torch.Generator().manual_seed(3))
    expect(tuple(one.shape) == (5,) and bool((one == 0).all()),
           "with a single example, every one of the 5 rows should be 0 (draws are with replacement).")
    return "range and dtype"


@check("6.2", points=2, title="drawn from the generator you are given")
def minibatch_seeded(learner, ref, fx):
    n, size = len(fx.data.train), fx.cfg.train.batch_size
    a = learner.sample_minibatch(n, size, torch.Generator().manual_seed(11))
    b = learner.sample_minibatch(n, size, torch.Generator().manual_seed(11))
    expect_type(a, torch.Tensor, "sample_minibatch's result")
    expect(torch.equal(a, b), "two generators seeded alike gave different rows: pass generator=generator to the "
                              "random call, so a run can be reproduced.")
    generator = torch.Generator().manual_seed(11)
    first = learner.sample_minibatch(n, size, generator)
    second = learner.sample_minibatch(n, size, generator)
    expect(not torch.equal(first, second), "two draws from the same generator gave the same rows: draw from the "
                                           "generator you are given (it moves on after every draw), never from "
                                           "a new one seeded inside your function.")
    expected = ref.sample_minibatch(n, size, torch.Generator().manual_seed(11))
    expect(tuple(a.shape) == tuple(expected.shape), f"for batch_size={size} the rows should have shape "
                                                    f"{tuple(expected.shape)}, not {tuple(a.shape)}.")
    expect(torch.equal(a, expected), f"with the same seed, your {size} rows differ from one uniform draw with "
                                     f"replacement of integers in [0, {n}) from the generator (torch.randint): "
                                     f"the training run could not be reproduced.")
    return "exact"


# ---------------------------------------------------------------- 6.3 batch_loss

@check("6.3", points=2, title="mean squared error of a minibatch")
def loss_plain(learner, ref, fx):
    params = _params(4)
    data = _data(fx)
    for which in ("train", "val"):
        examples = getattr(data, which)
        rows = _rows(len(examples), 40, seed=6)
        expected = ref.batch_loss(params, data, examples, rows)   # before the call, from the check's own copy
        given = params.clone()
        got = learner.batch_loss(given, data, examples, rows.clone())
        _expect_scalar_loss(got, "batch_loss' result")
        _expect_untouched(given, params, "batch_loss")
        value, want = float(got.detach()), float(expected.detach())
        if abs(value - want) <= 1e-6 + 1e-5 * abs(want):
            continue
        if abs(value - want * len(rows)) <= 1e-4 * abs(want * len(rows)):
            raise CheckFailed(f"your loss for {len(rows)} examples is about {len(rows)} times too big: it looks like "
                              f"the sum of the squared errors. The loss is their mean, so it does not grow with the "
                              f"batch size and the learning rate keeps its meaning.")
        if abs(value - math.sqrt(want)) <= 1e-5:
            raise CheckFailed("your loss looks like the square root of the mean squared error (RMSE): return the "
                              "mean of the squared errors itself.")
        if which == "val":
            other = float(ref.batch_loss(params, data, data.train, rows % len(data.train)))
            if abs(value - other) <= 1e-6 + 1e-5 * abs(other):
                raise CheckFailed("given the validation examples, your loss used the training examples: take "
                                  "user_row, movie_row and target from the `examples` argument.")
        raise CheckFailed(f"for {len(rows)} {which} examples your loss is off by {abs(value - want):.3g} "
                          f"(relative {abs(value - want) / abs(want):.2%}): it should be the mean of "
                          f"(prediction - target)^2 over the rows, with weight_decay 0 adding nothing.")
    return "train and validation examples"


@check("6.3", points=2, title="weight decay adds weight_decay x the sum of squares")
def loss_weight_decay(learner, ref, fx):
    params = _params(4)
    data = _data(fx)
    rows = _rows(len(data.train), 40, seed=7)
    decay = 0.05
    plain = float(ref.batch_loss(params, data, data.train, rows).detach())   # before the call
    penalty = decay * _sum_of_squares(params)
    given = params.clone()
    got = learner.batch_loss(given, data, data.train, rows.clone(), weight_decay=decay)
    _expect_scalar_loss(got, "batch_loss' result")
    _expect_untouched(given, params, "batch_loss")
    value = float(got.detach())
    tol = 1e-6 + 1e-5 * abs(plain + penalty)
    if abs(value - plain) <= tol:
        raise CheckFailed(f"with weight_decay={decay} your loss equals the plain mean squared error: the weight "
                          f"decay penalty, weight_decay times the sum of every parameter squared, was not added.")
    if abs(value - (plain - penalty)) <= tol:
        raise CheckFailed(f"with weight_decay={decay} your loss is smaller than the mean squared error: the weight "
                          f"decay penalty should be added, not subtracted (it pulls the weights towards 0).")
    if far(value, plain + penalty, tol):
        raise CheckFailed(f"with weight_decay={decay} your loss is off by {abs(value - plain - penalty):.3g}: it "
                          f"should be the mean squared error plus the weight decay penalty, weight_decay times the "
                          f"sum of the squares of all seven parameters (every entry, biases and table included).")
    return compare_tensors(got.detach(), ref.batch_loss(params, data, data.train, rows, decay).detach(),
                           "the loss with weight decay", atol=1e-6)


@check("6.3", points=1, title="its gradient matches finite differences")
def loss_gradient(learner, ref, fx):
    base = _params(9)
    params = Params(*(p.detach().double().requires_grad_(True) for p in base.as_list()))
    data = _data(fx)
    train = Examples(data.train.user_row, data.train.movie_row, data.train.target.double())
    data = replace(data, user_context=data.user_context.double(), movie_genres=data.movie_genres.double(),
                   train=train)
    rows = _rows(len(train), 32, seed=8)
    decay = 0.01
    # batch_loss(...).backward() where the learner's code runs: the gradients come back in params.
    loss = learner.procedure("call_and_backward", "batch_loss", params, data, train, rows, weight_decay=decay)
    _expect_scalar_loss(loss, "batch_loss' result (on float64 parameters)")
    # Where to look: the reference's largest gradient entry of each parameter.
    probe = Params(*(p.detach().clone().requires_grad_(True) for p in params.as_list()))
    ref.batch_loss(probe, data, train, rows, weight_decay=decay).backward()
    eps = 1e-4
    for name in Params.NAMES:
        p = getattr(params, name)
        expect(p.grad is not None, f"after backward() on your loss, params.{name} has no gradient: every "
                                   f"parameter should take part (through predict and the weight decay term).")
        flat = int(getattr(probe, name).grad.abs().argmax())
        with torch.no_grad():
            view = p.view(-1)
            old = float(view[flat])
            view[flat] = old + eps
            up = float(learner.batch_loss(params, data, train, rows, weight_decay=decay))
            view[flat] = old - eps
            down = float(learner.batch_loss(params, data, train, rows, weight_decay=decay))
            view[flat] = old
        numeric = (up - down) / (2 * eps)
        analytic = float(p.grad.view(-1)[flat])
        if far(analytic, numeric, 1e-5, 1e-3):
            raise CheckFailed(f"the gradient autograd gives for one entry of params.{name} ({analytic:.4g}) differs "
                              f"from the slope of your loss measured by finite differences ({numeric:.4g}): part of "
                              f"the loss is cut from the graph (.detach(), .item(), .data or a new tensor built from "
                              f"numbers).")
    return "7 parameters"


# ---------------------------------------------------------------- 6.4 sgd_step

@check("6.4", points=2, title="moves every parameter against its gradient, in place")
def sgd_direction(learner, ref, fx):
    params = _params(3)
    data = _data(fx)
    rows = _rows(len(data.train), 64, seed=1)
    lr = 0.05
    shadow = params.clone()
    ref.batch_loss(shadow, data, data.train, rows).backward()
    before = [p.detach().clone() for p in params.as_list()]
    tensors = params.as_list()
    # The learner's sgd_step on a loss whose gradient is the reference loss's (Σ g·p has gradient g).
    with torch.no_grad():
        loss = float(ref.batch_loss(params, data, data.train, rows))
    learner.procedure("sgd_step_with_gradient", params, [p.grad for p in shadow.as_list()], lr)
    for name, tensor, old, guide in zip(Params.NAMES, tensors, before, shadow.as_list()):
        now = getattr(params, name)
        expect(now is tensor, f"sgd_step replaced params.{name} with a new tensor: update the existing one in place "
                              f"(p -= lr * p.grad inside torch.no_grad()), so that everything holding it sees "
                              f"the step.")
        expect(now.requires_grad and now.is_leaf, f"after sgd_step, params.{name} is no longer a leaf tensor that "
                                                  f"requires gradients: do the update inside torch.no_grad().")
        change = now.detach() - old
        step = lr * guide.grad
        if bool((change == 0).all()):
            raise CheckFailed(f"sgd_step did not change params.{name}: `p = p - lr * p.grad` only makes a new "
                              f"tensor with a local name; subtract in place (p -= ...).")
        if torch.allclose(change, step, atol=1e-7, rtol=1e-4):
            raise CheckFailed(f"sgd_step moved params.{name} along the gradient instead of against it (+= instead "
                              f"of -=?): that climbs the loss. Gradient descent subtracts lr times the gradient.")
        compare_tensors(change, -step, f"the change of params.{name} in one step", atol=1e-7, rtol=1e-4)
    with torch.no_grad():
        after = float(ref.batch_loss(params, data, data.train, rows))
    expect(after < float(loss), "after one small step the minibatch loss did not go down.")
    return "7 parameters"


@check("6.4", points=2, title="clears old gradients (two steps in a row)")
def sgd_clears(learner, ref, fx):
    data = _data(fx)
    lr = 0.05
    batches = [_rows(len(data.train), 64, seed=s) for s in (2, 3)]
    mine, clean, stale = _params(3), _params(3), _params(3)
    for rows in batches:
        probe = mine.clone()
        ref.batch_loss(probe, data, data.train, rows).backward()
        learner.procedure("sgd_step_with_gradient", mine, [p.grad for p in probe.as_list()], lr)
        ref.sgd_step(clean, ref.batch_loss(clean, data, data.train, rows), lr)
        ref.batch_loss(stale, data, data.train, rows).backward()   # gradients left to accumulate
        with torch.no_grad():
            for p in stale.as_list():
                p -= lr * p.grad
    for name in Params.NAMES:
        got, want, acc = (getattr(p, name).detach() for p in (mine, clean, stale))
        if torch.allclose(got, want, atol=1e-7, rtol=1e-5):
            continue
        if torch.allclose(got, acc, atol=1e-7, rtol=1e-5):
            raise CheckFailed("the old gradients were not cleared: backward() adds to whatever .grad already holds, "
                              "so your second step used the sum of both minibatches' gradients. Set every p.grad to "
                              "None (or zero it) before loss.backward().")
        compare_tensors(got, want, f"params.{name} after two steps", atol=1e-7, rtol=1e-5)
    return "exact"


# ---------------------------------------------------------------- 6.5 evaluate

def _expect_loss_value(got, expected: float, n: int, what: str) -> float:
    if isinstance(got, torch.Tensor) and got.numel() == 1:
        raise CheckFailed("evaluate returned a tensor; return a Python float (float(loss) or loss.item()).")
    expect(isinstance(got, Real), f"evaluate should return a float, not {type(got).__name__}.")
    gap = abs(float(got) - expected)
    if gap > 1e-6 + 1e-5 * abs(expected):
        raise CheckFailed(f"on the {n} {what} examples your evaluate differs from the mean squared error over the "
                          f"whole set by {gap:.3g} (relative {gap / abs(expected):.2%}): average over every example "
                          f"(weighting each chunk by its size if you go in chunks), with no weight decay.")
    return gap


@check("6.5", points=2, title="the mean squared error of the whole set")
def evaluate_full(learner, ref, fx):
    params = _params(6)
    data = _data(fx)
    for which in ("train", "val"):
        examples = getattr(data, which)
        expected = _full_mse(params, data, examples)
        got = learner.evaluate(params, data, examples)
        again = learner.evaluate(params, data, examples)
        if isinstance(got, Real) and isinstance(again, Real) and float(got) != float(again):
            raise CheckFailed("evaluate gave two different values for the same parameters: it must use the whole "
                              "set, every example once, not a random minibatch.")
        _expect_loss_value(got, expected, len(examples), which)
    for name in Params.NAMES:
        expect(getattr(params, name).grad is None, f"after evaluate, params.{name} has a gradient: evaluating must "
                                                   f"only measure (no backward(), no update).")
    expect(all(torch.equal(a.detach(), b.detach()) for a, b in zip(params.as_list(), _params(6).as_list())),
           "evaluate changed the parameters: it must only measure.")
    return "train and validation"


@check("6.5", points=1, title="a set bigger than one chunk")
def evaluate_big(learner, ref, fx):
    params = _params(6)
    data = _data(fx)
    n = 70_001
    picks = torch.randint(0, len(data.train), (n,), generator=torch.Generator().manual_seed(4))
    examples = Examples(data.train.user_row[picks], data.train.movie_row[picks],
                        data.train.target[picks] + torch.linspace(-1.0, 1.0, n))
    expected = _full_mse(params, data, examples)
    got = learner.evaluate(params, data, examples)
    _expect_loss_value(got, expected, n, "made-up")
    return f"{n} examples"


# ---------------------------------------------------------------- 6.6 train

def _compare_runs(got, expected, got_params: Params, expected_params: Params, cfg) -> None:
    _expect_history(got)
    want = expected.steps
    expect(list(got.steps) == want,
           f"with steps={cfg.steps} and eval_every={cfg.eval_every} the evaluations should happen at steps {want} "
           f"(step 0, every eval_every steps, and once after the last step); yours happened at {list(got.steps)}.")
    for name, label in (("train_loss", "training"), ("val_loss", "validation")):
        values = list(getattr(got, name))
        expect(len(values) == len(want), f"history.{name} has {len(values)} entries; one per evaluation makes "
                                         f"{len(want)}.")
        i = _first_gap(values, getattr(expected, name), 1e-5)
        if i is None:
            continue
        if i == 0:
            raise CheckFailed(f"at step 0, before any update, your {label} loss differs from the expected one: "
                              f"record evaluate(params, data, data.{'train' if label == 'training' else 'val'}) "
                              f"before the first step.")
        raise CheckFailed(f"your {label} loss matches at step 0 but is off by "
                          f"{abs(float(values[i]) - getattr(expected, name)[i]):.3g} at step {want[i]}: each step "
                          f"should sample sample_minibatch(len(data.train), cfg.batch_size, generator), take "
                          f"batch_loss with cfg.weight_decay and an sgd_step at learning_rate(step, "
                          f"cfg.lr_schedule), in that order, one minibatch per step.")
    expect(got.best_step == expected.best_step, f"history.best_step is {got.best_step}; it should be the step of "
                                                f"the lowest validation loss in your history.")
    expect(bool(got.stopped_early) == bool(expected.stopped_early),
           f"history.stopped_early is {got.stopped_early}; it should be {expected.stopped_early}.")
    for name in Params.NAMES:
        compare_tensors(getattr(got_params, name).detach(), getattr(expected_params, name).detach(),
                        f"params.{name} after training", atol=1e-5)


@check("6.6", points=3, title="a short seeded run reproduces the loss curve", timeout=30)
def train_reproduces(learner, ref, fx):
    runs = [
        _train_cfg(fx, steps=60, eval_every=20, lr_schedule=((0, 0.1), (30, 0.02)), patience=None),
        _train_cfg(fx, steps=50, eval_every=20, weight_decay=1e-3, patience=None),
    ]
    for cfg in runs:
        params, history = _train(learner, fx, cfg)
        ref_params, ref_history = _train(ref, fx, cfg)
        _compare_runs(history, ref_history, params, ref_params, cfg)
    return "2 runs"


@check("6.6", points=2, title="never trains on the validation set", timeout=30)
def train_not_on_val(learner, ref, fx):
    # The same seeded run twice, the second with every validation target moved by +100: what happens to the
    # validation set may change the validation losses, never the updates, so the training losses must not move.
    cfg = _train_cfg(fx, steps=40, eval_every=20, patience=None)
    _, clean = _train(learner, fx, cfg)
    _expect_history(clean)
    shifted = _data(fx, val=_copy_examples(fx.data.val, fx.data.val.target + 100.0))
    _, history = _train(learner, fx, cfg, data=shifted)
    _expect_history(history)
    expect(list(history.steps) == list(clean.steps), "the same seeded run evaluated at different steps when only "
                                                     "the validation targets changed.")
    i = _first_gap(list(history.train_loss), list(clean.train_loss), 1e-6)
    if i is not None:
        raise CheckFailed(f"we moved every validation target by +100 and reran the same seeded training: your "
                          f"training loss changed (first at step {history.steps[i]}), so the validation set reached "
                          f"the updates. Sample minibatches from data.train only; the validation set is for "
                          f"measuring.")
    return "validation set untouched"


@check("6.6", points=2, title="early stopping puts back the best parameters", timeout=30)
def train_early_stopping(learner, ref, fx):
    # A learning rate that jumps up at step 40 makes the validation loss climb: a clear best step.
    cfg = _train_cfg(fx, steps=300, eval_every=20, lr_schedule=((0, 0.1), (40, 2.0)), patience=2)
    ref_params, expected = _train(ref, fx, cfg)
    if not expected.stopped_early or expected.best_step == expected.steps[-1]:
        raise RuntimeError("check set-up: the reference run should stop early, before its best step is the last")
    params, history = _train(learner, fx, cfg)
    _expect_history(history)
    expect(bool(history.stopped_early), f"with patience={cfg.patience} and a validation loss that stops improving, "
                                        f"training should stop early (history.stopped_early True).")
    expect(list(history.steps) == expected.steps,
           f"with patience={cfg.patience}, training should stop at the evaluation that makes {cfg.patience} "
           f"evaluations in a row without a new best validation loss; you evaluated at steps {list(history.steps)}.")
    expect(history.best_step == expected.best_step, f"history.best_step is {history.best_step}; it should be the "
                                                    f"step of the lowest validation loss in your history.")
    final = _full_mse(params, _data(fx), fx.data.val)
    best = min(float(v) for v in history.val_loss)
    if far(best, final, 1e-5):
        raise CheckFailed(f"the validation loss of the parameters train returns differs by {abs(final - best):.3g} "
                          f"from the best one in your history (step {history.best_step}): keep a snapshot (params.clone()) "
                          f"whenever validation improves, and copy the best parameters back into params before "
                          f"returning.")
    for name in Params.NAMES:
        compare_tensors(getattr(params, name).detach(), getattr(ref_params, name).detach(),
                        f"params.{name} after early stopping", atol=1e-5)
    return f"stopped at step {history.steps[-1]}, best {history.best_step}"


# ---------------------------------------------------------------- 6.7 plot_loss_curve

@check("6.7", points=1, title="writes a PNG where it is asked to", timeout=30)
def plot_png(learner, ref, fx):
    history = TrainHistory([0, 10, 20, 30], [1.0, 0.8, 0.7, 0.65], [1.1, 0.9, 0.85, 0.9], 20, False)
    places = ["figures/loss.png", "loss_curve.png"]
    written = learner.procedure("plot_into_folder", history, places, [False, True])
    for place, got in zip(places, written):
        name = place.split("/")[-1]
        expect(got["returned"] is not None, "plot_loss_curve should return the path it wrote.")
        expect(got["returned"] == place, f"plot_loss_curve returned a different path; it should return the path it "
                                         f"was given ({name} in our folder).")
        expect(got["exists"], f"plot_loss_curve did not write {name}"
                              + (" (the folder did not exist: create it with mkdir(parents=True, "
                                 "exist_ok=True))." if "/" in place else "."))
        expect(got["size"] > 0, f"{name} is empty.")
        expect(bytes(got["head"]).startswith(PNG_SIGNATURE), f"{name} is not a PNG file (it does not start with "
                                                             f"the PNG signature): save with savefig(path) and a "
                                                             f".png name.")
    return "PNG written"
