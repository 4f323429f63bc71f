"""Wrong implementations of lesson 12."""
import numpy as np
import torch

from checks.mutants import mutant


@mutant("draws each rating's fold at random instead of dealing (uneven folds)", symptom="unevenly")
def fold_splits(ratings, num_folds, seed):
    rows = ratings[["userId", "movieId", "rating"]].sort_values(["userId", "movieId"], kind="stable")
    rows = rows.reset_index(drop=True)
    fold = np.random.default_rng(seed).integers(0, num_folds, len(rows))
    return [rows.assign(is_history=fold != f) for f in range(num_folds)]


@mutant("forgets to sort first: the folds depend on the input's row order", symptom="row order")
def fold_splits(ratings, num_folds, seed):  # noqa: F811
    rows = ratings[["userId", "movieId", "rating"]].reset_index(drop=True)
    key = np.random.default_rng(seed).random(len(rows))
    order = np.lexsort((key, rows["userId"].to_numpy()))
    dealt = np.empty(len(rows), dtype=np.int64)
    dealt[order] = rows.iloc[order].groupby("userId").cumcount().to_numpy() % num_folds
    return [rows.assign(is_history=dealt != f) for f in range(num_folds)]


@mutant("every split marks the same fold as labels", symptom="exactly once")
def fold_splits(ratings, num_folds, seed):  # noqa: F811
    rows = ratings[["userId", "movieId", "rating"]].sort_values(["userId", "movieId"], kind="stable")
    rows = rows.reset_index(drop=True)
    key = np.random.default_rng(seed).random(len(rows))
    order = np.lexsort((key, rows["userId"].to_numpy()))
    dealt = np.empty(len(rows), dtype=np.int64)
    dealt[order] = rows.iloc[order].groupby("userId").cumcount().to_numpy() % num_folds
    return [rows.assign(is_history=dealt != 0) for _ in range(num_folds)]


def _watched(split, user_ids, movie_index, history_only=True):
    rows = split[(split["is_history"] if history_only else True) & split["userId"].isin(user_ids)]
    row = pd_index(user_ids).get_indexer(rows["userId"])
    column = rows["movieId"].map(movie_index).to_numpy()
    watched = torch.zeros((len(user_ids), len(movie_index)), dtype=torch.float32)
    watched[torch.tensor(row, dtype=torch.int64), torch.tensor(column, dtype=torch.int64)] = 1.0
    return watched


def _genre_block(watched, movie_genres):
    count = watched.sum(dim=1, keepdim=True)
    share = watched @ movie_genres / count.clamp(min=1.0)
    return torch.where(count > 0, share - movie_genres.mean(dim=0), 0.0)


@mutant("context holds 1.0 per watched movie (no 1/sqrt(h))", symptom="square root")
def implicit_contexts(split, user_ids, movie_index, movie_genres):
    watched = _watched(split, user_ids, movie_index)
    return torch.cat([watched, _genre_block(watched, movie_genres)], dim=1)


@mutant("context puts the labels in too", symptom="labels")
def implicit_contexts(split, user_ids, movie_index, movie_genres):  # noqa: F811
    watched = _watched(split, user_ids, movie_index, history_only=False)
    count = watched.sum(dim=1, keepdim=True).clamp(min=1.0)
    return torch.cat([watched / count.sqrt(), _genre_block(watched, movie_genres)], dim=1)


@mutant("genre block: the history's share of each genre, the catalogue's share not subtracted", symptom="catalogue")
def implicit_contexts(split, user_ids, movie_index, movie_genres):  # noqa: F811
    watched = _watched(split, user_ids, movie_index)
    count = watched.sum(dim=1, keepdim=True).clamp(min=1.0)
    return torch.cat([watched / count.sqrt(), watched @ movie_genres / count], dim=1)


@mutant("genre block taken from the normalised movie block (divided by sqrt(h), not h)", symptom="sqrt(h)")
def implicit_contexts(split, user_ids, movie_index, movie_genres):  # noqa: F811
    watched = _watched(split, user_ids, movie_index)
    count = watched.sum(dim=1, keepdim=True)
    movies = watched / count.clamp(min=1.0).sqrt()
    genres = torch.where(count > 0, movies @ movie_genres - movie_genres.mean(dim=0), 0.0)
    return torch.cat([movies, genres], dim=1)


@mutant("divides by h without a clamp: NaN for a user without history", symptom="NaN")
def implicit_contexts(split, user_ids, movie_index, movie_genres):  # noqa: F811
    watched = _watched(split, user_ids, movie_index)
    count = watched.sum(dim=1, keepdim=True)
    return torch.cat([watched / count.sqrt(), watched @ movie_genres / count - movie_genres.mean(dim=0)], dim=1)


@mutant("rows in the order of the sorted user ids, not the order given", symptom="order given")
def implicit_contexts(split, user_ids, movie_index, movie_genres):  # noqa: F811
    ordered = np.sort(np.asarray(user_ids))
    watched = _watched(split, ordered, movie_index)
    count = watched.sum(dim=1, keepdim=True)
    genres = movie_genres.to(torch.float32)
    share = watched @ genres / count.clamp(min=1.0)
    genre_block = torch.where(count > 0, share - genres.mean(dim=0), 0.0)
    return torch.cat([watched / count.clamp(min=1.0).sqrt(), genre_block], dim=1)


def pd_index(values):
    import pandas as pd
    return pd.Index(values)


@mutant("multiplies by the temperature", symptom="divide by it")
def catalogue_logits(params, user_context, movie_genres, temperature, movie_rows=None):
    rows = torch.arange(movie_genres.shape[0]) if movie_rows is None else movie_rows
    users = user_tower(params, user_context)
    items = item_tower(params, movie_genres[rows], rows)
    return users @ items.T * temperature


@mutant("ignores movie_rows: always the whole catalogue", symptom="whole catalogue")
def catalogue_logits(params, user_context, movie_genres, temperature, movie_rows=None):  # noqa: F811
    users = user_tower(params, user_context)
    items = item_tower(params, movie_genres, torch.arange(movie_genres.shape[0]))
    return users @ items.T / temperature


@mutant("picks movie_rows with a boolean mask: catalogue order, repeats lost", symptom="one column per entry")
def catalogue_logits(params, user_context, movie_genres, temperature, movie_rows=None):  # noqa: F811
    keep = torch.ones(movie_genres.shape[0], dtype=torch.bool)
    if movie_rows is not None:
        keep = torch.zeros(movie_genres.shape[0], dtype=torch.bool)
        keep[movie_rows] = True
    rows = torch.arange(movie_genres.shape[0])[keep]
    users = user_tower(params, user_context)
    items = item_tower(params, movie_genres[rows], rows)
    return users @ items.T / temperature


@mutant("log of a sum of exp: overflows for large logits", symptom="logsumexp")
def softmax_loss(logits, target_rows, log_popularity, alpha):
    adjusted = logits + alpha * log_popularity
    target = adjusted.gather(1, target_rows[:, None]).squeeze(1)
    return (torch.log(torch.exp(adjusted).sum(dim=1)) - target).mean()


@mutant("subtracts the logit adjustment", symptom="wrong sign")
def softmax_loss(logits, target_rows, log_popularity, alpha):  # noqa: F811
    adjusted = logits - alpha * log_popularity
    target = adjusted.gather(1, target_rows[:, None]).squeeze(1)
    return (torch.logsumexp(adjusted, dim=1) - target).mean()


@mutant("sums the loss over the batch", symptom="mean")
def softmax_loss(logits, target_rows, log_popularity, alpha):  # noqa: F811
    adjusted = logits + alpha * log_popularity
    target = adjusted.gather(1, target_rows[:, None]).squeeze(1)
    return (torch.logsumexp(adjusted, dim=1) - target).sum()


@mutant("Adam without bias correction", symptom="bias correction")
def adam_step(params, loss, state, lr, betas, eps):
    beta1, beta2 = betas
    for p in params.as_list():
        p.grad = None
    loss.backward()
    state.step += 1
    with torch.no_grad():
        for p, m, v in zip(params.as_list(), state.first, state.second):
            m.mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
            p -= lr * m / (v.sqrt() + eps)


@mutant("Adam keeps the old gradients", symptom="old gradients")
def adam_step(params, loss, state, lr, betas, eps):  # noqa: F811
    beta1, beta2 = betas
    loss.backward()
    state.step += 1
    with torch.no_grad():
        for p, m, v in zip(params.as_list(), state.first, state.second):
            m.mul_(beta1).add_(p.grad, alpha=1.0 - beta1)
            v.mul_(beta2).addcmul_(p.grad, p.grad, value=1.0 - beta2)
            p -= lr * (m / (1 - beta1 ** state.step)) / ((v / (1 - beta2 ** state.step)).sqrt() + eps)


@mutant("a fresh Adam state at every step", symptom="AdamState")
def train_retrieval(params, contexts, examples, movie_genres, log_popularity, cfg, generator):
    losses = []
    for step in range(cfg.train.steps):
        rows = sample_minibatch(len(examples), cfg.train.batch_size, generator)
        logits = catalogue_logits(params, contexts[examples.user_row[rows]], movie_genres, cfg.temperature)
        loss = softmax_loss(logits, examples.movie_row[rows], log_popularity, cfg.logit_adjustment)
        if cfg.train.weight_decay:
            loss = loss + cfg.train.weight_decay * sum((p ** 2).sum() for p in params.as_list())
        adam_step(params, loss, new_adam_state(params), learning_rate(step, cfg.train.lr_schedule), cfg.betas, cfg.eps)
        losses.append(float(loss.detach()))
    return losses


@mutant("forgets the weight decay", symptom="weight decay")
def train_retrieval(params, contexts, examples, movie_genres, log_popularity, cfg, generator):  # noqa: F811
    state = new_adam_state(params)
    losses = []
    for step in range(cfg.train.steps):
        rows = sample_minibatch(len(examples), cfg.train.batch_size, generator)
        logits = catalogue_logits(params, contexts[examples.user_row[rows]], movie_genres, cfg.temperature)
        loss = softmax_loss(logits, examples.movie_row[rows], log_popularity, cfg.logit_adjustment)
        adam_step(params, loss, state, learning_rate(step, cfg.train.lr_schedule), cfg.betas, cfg.eps)
        losses.append(float(loss.detach()))
    return losses


def _step_loss(lesson, params, contexts, examples, movie_genres, log_popularity, cfg, rows, negatives=None):
    """One step's loss with the functions of ``lesson`` (the mutant module's globals())."""
    catalogue_logits, softmax_loss = lesson["catalogue_logits"], lesson["softmax_loss"]
    sampled_softmax_loss = lesson["sampled_softmax_loss"]
    context, targets = contexts[examples.user_row[rows]], examples.movie_row[rows]
    if negatives is None:
        logits = catalogue_logits(params, context, movie_genres, cfg.temperature)
        loss = softmax_loss(logits, targets, log_popularity, cfg.logit_adjustment)
    else:
        candidates = torch.cat([targets, negatives])
        logits = catalogue_logits(params, context, movie_genres, cfg.temperature, candidates)
        loss = sampled_softmax_loss(logits, targets, candidates, log_popularity, cfg.num_negatives,
                                    cfg.logit_adjustment)
    if cfg.train.weight_decay:
        loss = loss + cfg.train.weight_decay * sum((p ** 2).sum() for p in params.as_list())
    return loss


@mutant("ignores the schedule: the first learning rate throughout", symptom="learning_rate(step")
def train_retrieval(params, contexts, examples, movie_genres, log_popularity, cfg, generator):  # noqa: F811
    state = new_adam_state(params)
    losses = []
    for step in range(cfg.train.steps):
        rows = sample_minibatch(len(examples), cfg.train.batch_size, generator)
        negatives = None if cfg.num_negatives is None else torch.multinomial(
            log_popularity.exp(), cfg.num_negatives, replacement=True, generator=generator)
        loss = _step_loss(globals(), params, contexts, examples, movie_genres, log_popularity, cfg, rows, negatives)
        adam_step(params, loss, state, cfg.train.lr_schedule[0][1], cfg.betas, cfg.eps)
        losses.append(float(loss.detach()))
    return losses


@mutant("reports a made-up, steadily falling loss curve without training", symptom="recomputed")
def train_retrieval(params, contexts, examples, movie_genres, log_popularity, cfg, generator):  # noqa: F811
    return [6.0 - 0.01 * step for step in range(cfg.train.steps)]


@mutant("draws the negatives before the minibatch", symptom="right after the minibatch")
def train_retrieval(params, contexts, examples, movie_genres, log_popularity, cfg, generator):  # noqa: F811
    state = new_adam_state(params)
    losses = []
    for step in range(cfg.train.steps):
        negatives = None if cfg.num_negatives is None else torch.multinomial(
            log_popularity.exp(), cfg.num_negatives, replacement=True, generator=generator)
        rows = sample_minibatch(len(examples), cfg.train.batch_size, generator)
        loss = _step_loss(globals(), params, contexts, examples, movie_genres, log_popularity, cfg, rows, negatives)
        adam_step(params, loss, state, learning_rate(step, cfg.train.lr_schedule), cfg.betas, cfg.eps)
        losses.append(float(loss.detach()))
    return losses


def _sampled(logits, target_rows, candidate_rows, log_popularity, num_negatives, alpha, correction, keep_own=True,
             mask=True):
    log_q = log_popularity[candidate_rows]
    adjusted = logits - correction + alpha * log_q
    batch = torch.arange(len(target_rows))
    hit = candidate_rows[None, :] == target_rows[:, None]
    if keep_own:
        hit[batch, batch] = False
    if mask:
        adjusted = adjusted.masked_fill(hit, float("-inf"))
    return (torch.logsumexp(adjusted, dim=1) - adjusted[batch, batch]).mean()


@mutant("sampled softmax without the logQ correction", symptom="logQ")
def sampled_softmax_loss(logits, target_rows, candidate_rows, log_popularity, num_negatives, alpha):
    return _sampled(logits, target_rows, candidate_rows, log_popularity, num_negatives, alpha, 0.0)


@mutant("sampled softmax leaves accidental hits in", symptom="accidental hits")
def sampled_softmax_loss(logits, target_rows, candidate_rows, log_popularity, num_negatives, alpha):  # noqa: F811
    correction = torch.log(torch.tensor(float(num_negatives))) + log_popularity[candidate_rows]
    return _sampled(logits, target_rows, candidate_rows, log_popularity, num_negatives, alpha, correction, mask=False)


@mutant("sampled softmax masks row b's own column too", symptom="infinite")
def sampled_softmax_loss(logits, target_rows, candidate_rows, log_popularity, num_negatives, alpha):  # noqa: F811
    correction = torch.log(torch.tensor(float(num_negatives))) + log_popularity[candidate_rows]
    return _sampled(logits, target_rows, candidate_rows, log_popularity, num_negatives, alpha, correction,
                    keep_own=False)


@mutant("sampled softmax corrects the drawn negatives only, not the batch's own movies", symptom="negatives only")
def sampled_softmax_loss(logits, target_rows, candidate_rows, log_popularity, num_negatives, alpha):  # noqa: F811
    correction = torch.log(torch.tensor(float(num_negatives))) + log_popularity[candidate_rows]
    correction[:len(target_rows)] = 0.0
    return _sampled(logits, target_rows, candidate_rows, log_popularity, num_negatives, alpha, correction)


@mutant("trains as it should but reports every loss as NaN", symptom="first loss is nan")
def train_retrieval(params, contexts, examples, movie_genres, log_popularity, cfg, generator):  # noqa: F811
    # Before the checks compared through checks/compare.py, the step-by-step check took these
    # NaNs for exact (abs(nan - want) > tol is False), and the parameters match.
    state = new_adam_state(params)
    for step in range(cfg.train.steps):
        rows = sample_minibatch(len(examples), cfg.train.batch_size, generator)
        negatives = None if cfg.num_negatives is None else torch.multinomial(
            log_popularity.exp(), cfg.num_negatives, replacement=True, generator=generator)
        loss = _step_loss(globals(), params, contexts, examples, movie_genres, log_popularity, cfg, rows, negatives)
        adam_step(params, loss, state, learning_rate(step, cfg.train.lr_schedule), cfg.betas, cfg.eps)
    return [float("nan")] * cfg.train.steps
