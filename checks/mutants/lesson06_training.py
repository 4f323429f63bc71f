"""Wrong implementations of lesson 6."""
import torch

from checks.mutants import mutant
from course.config import EVAL_CHUNK
from course.containers import TrainHistory
from solutions import lesson06_training as _ref


def _train_variant(params, data, cfg, generator, *, examples="train", restore=True, final_record=True):
    """The reference loop with one thing done wrong, chosen by the keywords."""
    steps, train_loss, val_loss = [], [], []
    best_loss, best_step, best_params = float("inf"), 0, params.clone()
    since_best, stopped_early = 0, False

    def record(step):
        nonlocal best_loss, best_step, best_params, since_best
        steps.append(step)
        train_loss.append(_ref.evaluate(params, data, data.train))
        val_loss.append(_ref.evaluate(params, data, data.val))
        if val_loss[-1] < best_loss:
            best_loss, best_step, best_params, since_best = val_loss[-1], step, params.clone(), 0
        else:
            since_best += 1
        return cfg.patience is not None and since_best >= cfg.patience

    source = getattr(data, examples)
    for step in range(cfg.steps):
        if step % cfg.eval_every == 0 and record(step):
            stopped_early = True
            break
        rows = _ref.sample_minibatch(len(source), cfg.batch_size, generator)
        loss = _ref.batch_loss(params, data, source, rows, cfg.weight_decay)
        _ref.sgd_step(params, loss, _ref.learning_rate(step, cfg.lr_schedule))
    else:
        if final_record:
            record(cfg.steps)
    if restore:
        with torch.no_grad():
            for p, best in zip(params.as_list(), best_params.as_list()):
                p.copy_(best)
    return TrainHistory(steps, train_loss, val_loss, best_step, stopped_early)


# ---------------------------------------------------------------- 6.1

@mutant("changes rate one step late (> instead of >=)", symptom="inclusive")
def learning_rate(step, schedule):
    rate = schedule[0][1]
    for first_step, value in schedule:
        if step > first_step:
            rate = value
    return rate


# ---------------------------------------------------------------- 6.2

@mutant("never draws the last row (high = num_examples - 1)", symptom="exclusive")
def sample_minibatch(num_examples, batch_size, generator):
    return torch.randint(0, max(num_examples - 1, 1), (batch_size,), generator=generator)


@mutant("draws from the global random state, not the generator", symptom="generator")
def sample_minibatch(num_examples, batch_size, generator):  # noqa: F811
    return torch.randint(0, num_examples, (batch_size,))


# ---------------------------------------------------------------- 6.3

def _squared_errors(params, data, examples, rows):
    users, movies = examples.user_row[rows], examples.movie_row[rows]
    predictions = _ref.predict(params, data.user_context[users], data.movie_genres[movies], movies)
    return (predictions - examples.target[rows]) ** 2


def _penalty(params):
    return sum((p ** 2).sum() for p in params.as_list())


@mutant("sums the squared errors instead of averaging them", symptom="mean")
def batch_loss(params, data, examples, rows, weight_decay=0.0):
    loss = _squared_errors(params, data, examples, rows).sum()
    return loss + weight_decay * _penalty(params) if weight_decay else loss


@mutant("forgets the weight decay term", symptom="weight decay")
def batch_loss(params, data, examples, rows, weight_decay=0.0):  # noqa: F811
    return _squared_errors(params, data, examples, rows).mean()


@mutant("subtracts the weight decay term", symptom="weight decay")
def batch_loss(params, data, examples, rows, weight_decay=0.0):  # noqa: F811
    return _squared_errors(params, data, examples, rows).mean() - weight_decay * _penalty(params)


@mutant("zeroes the parameters before measuring (the loss of an empty model)", symptom="changed the parameters")
def batch_loss(params, data, examples, rows, weight_decay=0.0):  # noqa: F811
    # Before the checks computed the expected loss before the call, the reference, run after
    # this on the same (now zero) parameters, agreed with it.
    with torch.no_grad():
        for p in params.as_list():
            p.zero_()
    loss = _squared_errors(params, data, examples, rows).mean()
    return loss + weight_decay * _penalty(params) if weight_decay else loss


@mutant("takes the examples from data.train whatever it is given", symptom="examples")
def batch_loss(params, data, examples, rows, weight_decay=0.0):  # noqa: F811
    loss = _squared_errors(params, data, data.train, rows).mean()
    return loss + weight_decay * _penalty(params) if weight_decay else loss


# ---------------------------------------------------------------- 6.4

@mutant("forgets to clear the old gradients", symptom="cleared")
def sgd_step(params, loss, lr):
    loss.backward()
    with torch.no_grad():
        for p in params.as_list():
            p -= lr * p.grad


@mutant("adds the gradient (+= instead of -=)", symptom="along the gradient")
def sgd_step(params, loss, lr):  # noqa: F811
    for p in params.as_list():
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params.as_list():
            p += lr * p.grad


@mutant("rebinds a local name instead of updating in place", symptom="did not change")
def sgd_step(params, loss, lr):  # noqa: F811
    for p in params.as_list():
        p.grad = None
    loss.backward()
    with torch.no_grad():
        for p in params.as_list():
            p = p - lr * p.grad  # noqa: F841


# ---------------------------------------------------------------- 6.5

@mutant("evaluates on a random minibatch instead of the whole set", symptom="whole set")
def evaluate(params, data, examples):
    with torch.no_grad():
        rows = torch.randint(0, len(examples), (256,))
        return float(_ref.batch_loss(params, data, examples, rows))


@mutant("averages the chunk losses without weighting them by size", symptom="weighting")
def evaluate(params, data, examples):  # noqa: F811
    with torch.no_grad():
        chunks = torch.arange(len(examples)).split(EVAL_CHUNK)
        return sum(float(_ref.batch_loss(params, data, examples, rows)) for rows in chunks) / len(chunks)


# ---------------------------------------------------------------- 6.6

@mutant("samples the minibatches from the validation set", symptom="validation")
def train(params, data, cfg, generator):
    return _train_variant(params, data, cfg, generator, examples="val")


@mutant("does not put back the best parameters", symptom="best")
def train(params, data, cfg, generator):  # noqa: F811
    return _train_variant(params, data, cfg, generator, restore=False)


@mutant("skips the evaluation after the last step", symptom="after the last step")
def train(params, data, cfg, generator):  # noqa: F811
    return _train_variant(params, data, cfg, generator, final_record=False)


# ---------------------------------------------------------------- 6.7

@mutant("assumes the folder exists", symptom="folder")
def plot_loss_curve(history, path):
    from matplotlib.figure import Figure
    from pathlib import Path

    figure = Figure(figsize=(7, 4))
    axes = figure.subplots()
    axes.plot(history.steps, history.train_loss, label="training set")
    axes.plot(history.steps, history.val_loss, label="validation set")
    axes.legend()
    try:
        figure.savefig(path)
    except FileNotFoundError:
        pass  # a learner's file would raise; here we let the check see the missing file
    return Path(path)
