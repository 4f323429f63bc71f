"""Inputs for the checks, built with the reference solutions on the synthetic dataset.

The fixture for lesson N holds everything lessons 1..N-1 produce, computed by solutions/,
so a learner's mistake in lesson 3 never changes the inputs of lesson 5. Built once per
process and shared (read-only) by the checks; a check hands the learner copies.
"""
from __future__ import annotations

from functools import cache
from types import SimpleNamespace

from course.config import get_config
from datasets.synthetic import generate

FIXTURE_CONFIG = get_config("fixture")
FIXTURE_SEED = 0


@cache
def raw() -> SimpleNamespace:
    data = generate("fixture", seed=FIXTURE_SEED)
    return SimpleNamespace(ratings=data.ratings, movies=data.movies, truth=data.truth)


@cache
def stages() -> SimpleNamespace:
    from solutions.pipeline import prepare_stages

    data = raw()
    return prepare_stages(data.ratings, data.movies, FIXTURE_CONFIG.data)


@cache
def prepared():
    from solutions.pipeline import to_prepared

    return to_prepared(stages())


def new_parameters(seed: int | None = None):
    """Fresh reference parameters for the fixture data (lesson 5's init_parameters)."""
    from dataclasses import replace

    from solutions.pipeline import new_parameters as reference_parameters

    cfg = FIXTURE_CONFIG.model if seed is None else replace(FIXTURE_CONFIG.model, init_seed=seed)
    return reference_parameters(prepared(), cfg)


@cache
def trained() -> SimpleNamespace:
    """Reference parameters after the reference training on the fixture, and its history."""
    from solutions.pipeline import train_model

    params, history = train_model(prepared(), FIXTURE_CONFIG)
    return SimpleNamespace(params=params, history=history)


@cache
def embeddings():
    from solutions.lesson07_embeddings import movie_embeddings

    return movie_embeddings(trained().params, prepared().movie_genres)


def for_lesson(number: int) -> SimpleNamespace:
    """Everything a lesson's checks may use: fx.cfg, fx.raw, fx.s (lessons 1-4 stages) and,
    from lesson 5 on, fx.data (PreparedData); from lesson 7 on, fx.trained (params and
    history after reference training) and, from lesson 8 on, fx.embeddings; from lesson 10 on,
    fx.ranking (the ranking protocol on the fixture's random split, its dense view fx.ranking.dense,
    and some predictors' scores); from lesson 12 on, fx.retrieval (fold contexts and examples of
    the training users); from lesson 13 on, fx.autoencoder (the training users' watched and liked
    rows, and a trained autoencoder)."""
    fx = SimpleNamespace(cfg=FIXTURE_CONFIG, raw=raw(), s=stages())
    if number >= 5:
        fx.data = prepared()
    if number >= 7:
        fx.trained = trained()
    if number >= 8:
        fx.embeddings = embeddings()
    if number >= 10:
        fx.ranking = ranking()
    if number >= 12:
        fx.retrieval = retrieval()
    if number >= 13:
        fx.autoencoder = autoencoder()
    return fx


@cache
def ranking() -> SimpleNamespace:
    """Lesson 10's protocol on the fixture's random split, and a few predictors' scores."""
    import torch

    from solutions import evaluation as ev

    s = stages()
    task = ev.ranking_task(s, s.train_users, s.val_users, FIXTURE_CONFIG.ranking)
    scores = ev.baseline_scores(task, FIXTURE_CONFIG.ranking)
    scores["mse-two-tower"] = ev.mse_model_scores(trained().params, s, task)
    generator = torch.Generator().manual_seed(10)
    scores["noisy"] = torch.rand(task.seen.shape, generator=generator, dtype=torch.float64)
    # The task keeps its user x movie matrices sparse (CSR), as at ML-32M size; lesson 10's
    # rank_unseen and ranking_metrics take dense bool rows, so the checks read them here.
    dense = SimpleNamespace(seen=task.seen_rows(), relevant=task.relevant_rows(),
                            train_interactions=task.train_interactions.to_dense())
    return SimpleNamespace(task=task, dense=dense, scores=scores)


@cache
def retrieval() -> SimpleNamespace:
    """Lesson 12's inputs on the fixture: the training users' fold contexts and examples."""
    from solutions import evaluation as ev

    s = stages()
    r = FIXTURE_CONFIG.retrieval
    contexts, examples = ev.retrieval_examples(s, s.train_users, r.num_folds, r.fold_seed)
    index = ev.retrieval_context_index(s)
    prior = ev.log_popularity(ranking().task)
    # The checks hand the learner a plain dense matrix (the demo keeps it sparse: ContextRows).
    return SimpleNamespace(contexts=contexts.to_dense(), examples=examples, context_index=index, log_popularity=prior,
                           training_rows=s.split[s.split["userId"].isin(s.train_users)])


@cache
def autoencoder() -> SimpleNamespace:
    """Lesson 13's inputs on the fixture: the training users' watched and liked rows, and the
    reference autoencoder trained on them (its input embeddings and its lift)."""
    from solutions import autoencoder as ae

    task = ranking().task
    watched, liked = ae.training_rows(stages(), task, FIXTURE_CONFIG.ranking.relevant_rating)
    model = ae.train_autoencoder_model(stages(), task, FIXTURE_CONFIG)
    return SimpleNamespace(watched=watched, liked=liked, params=model.params, cfg=FIXTURE_CONFIG.autoencoder)
