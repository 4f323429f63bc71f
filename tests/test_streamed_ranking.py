"""The streamed ranking evaluation gives the numbers of the dense one.

The dense evaluation holds every held-out user's scores, history and labels as [U, M]
matrices and ranks whole rows with lesson 10's functions: fine for ml-latest-small, 1.1
billion cells at ML-32M size. The streamed one (solutions.evaluation.evaluate_ranking) takes
a block of users at a time, with lesson 10's rank_unseen on the fast path (fast/ranking.py)
where the reference's runs, and keeps only each block's top k. Here both run on the same
scores, blocks of a few users, and must agree exactly, every metric and every user.
"""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from checks import fixtures
from course.config import CONFIGS
from course.paths import data_dir
from recommender import code as learner_code
from recommender import ranking
from solutions import evaluation as ev
from solutions import lesson10_ranking as l10
from solutions.pipeline import prepare_stages, read_movielens


def dense_metrics(scores: torch.Tensor, task: ev.RankingTask, k: int, depth: int | None = None) -> tuple[dict, dict]:
    """The evaluation as it was before streaming: whole matrices, whole rows sorted."""
    seen, relevant = task.seen_rows(), task.relevant_rows()
    ranked = l10.rank_unseen(scores, seen, task.num_movies if depth is None else depth)
    per_user = l10.ranking_metrics(ranked, relevant, k)
    mrr = "mrr" if depth is None else f"mrr@{depth}"
    summary = {f"ndcg@{k}": float(per_user["ndcg"].mean()), f"hr@{k}": float(per_user["hr"].mean()),
               f"recall@{k}": float(per_user["recall"].mean()), mrr: float(per_user["mrr"].mean()),
               "coverage": l10.catalogue_coverage(ranked, task.num_movies, k)}
    return summary, per_user


def check_streamed_is_dense(s, cfg, params) -> None:
    task = ev.ranking_task(s, s.train_users, s.val_users, cfg.ranking)
    scores = {"mse-two-tower": ev.mse_model_scores(params, s, task), **ev.baseline_scores(task, cfg.ranking)}
    fast = ranking.ranking_code(learner_code.select("reference", lessons=range(1, 13)))
    blocks = replace(cfg.ranking, block_users=7)
    for name, value in scores.items():
        want_summary, want_per_user = dense_metrics(value, task, cfg.ranking.k)
        got = ev.evaluate_ranking(ev.dense_scorer(value), task, blocks, fast)
        assert got.summary == want_summary, name
        for metric, values in want_per_user.items():
            assert torch.equal(got.per_user[metric], values), (name, metric)
    # The baselines' own scorers, streamed: the charts rank only the columns a user can reach
    # (SharedScorer), EASE multiplies sparse history rows; with the MRR cut at 20 as well.
    for depth in (None, 20):
        settings = replace(blocks, mrr_depth=depth)
        for name, scorer in ev.baseline_scorers(task, cfg.ranking).items():
            want_summary, _ = dense_metrics(scores[name], task, cfg.ranking.k, depth)
            got = ev.evaluate_ranking(scorer, task, settings, fast).summary
            if name == "ease":
                assert got == pytest.approx(want_summary, abs=1e-9), (name, depth)
            else:
                assert got == want_summary, (name, depth)
    # Scorers made block by block give the same scores as one pass: the random draws exactly,
    # EASE's products up to float rounding (a product of 7 rows may add in another order).
    # Each block is copied: a scorer may give the same memory back for the next block.
    for name, scorer in ev.baseline_scorers(task, cfg.ranking).items():
        blocked = torch.cat([scorer(first, min(first + 7, task.num_users)).clone()
                             for first in range(0, task.num_users, 7)])
        if name == "ease":
            assert torch.allclose(blocked, scores[name], rtol=1e-12, atol=1e-12), name
        else:
            assert torch.equal(blocked, scores[name]), name


def test_streamed_is_dense_on_the_fixture():
    check_streamed_is_dense(fixtures.stages(), CONFIGS["fixture"], fixtures.trained().params)


def test_streamed_is_dense_on_ml_latest_small():
    folder = data_dir() / "ml-latest-small"
    if not (folder / "ratings.csv").exists():
        pytest.skip("ml-latest-small is not installed (make data)")
    from solutions.pipeline import to_prepared, train_model

    cfg = CONFIGS["ml-latest-small"]
    s = prepare_stages(*read_movielens(folder), cfg.data)
    params, _ = train_model(to_prepared(s), replace(cfg, train=replace(cfg.train, steps=300)))
    check_streamed_is_dense(s, cfg, params)


def test_a_held_out_user_without_a_liked_label_lends_no_history_to_another():
    """Users whose labels hold nothing rated 4.0 or more are not ranked; their watch history
    must not land in anyone's row (the dense matrices once put it in the last user's)."""
    s = fixtures.stages()
    cfg = CONFIGS["fixture"].ranking
    task = ev.ranking_task(s, s.train_users, s.val_users, cfg)
    history = s.split[s.split["is_history"] & s.split["userId"].isin(task.eval_users)]
    assert int(task.seen_rows().sum()) == len(history)
    assert len(task.eval_users) < len(s.val_users)   # some users were left out, so the case happens


@pytest.mark.parametrize("columns", [1, 255, 256, 257, 700])
def test_the_history_product_in_pieces_is_the_whole_product_bit_for_bit(columns):
    """EASE's scores come from the weights cut into pieces of columns (to stay in the cache):
    every score must be the whole product's, exactly, whatever the width."""
    generator = torch.Generator().manual_seed(columns)
    history = ((torch.rand((50, 300), generator=generator) < 0.1).to(torch.float64)).to_sparse_csr()
    weights = torch.randn((300, columns), generator=generator, dtype=torch.float64)
    scores = ev.history_product(history, weights)
    for first, last in ((0, 50), (7, 19), (49, 50)):
        assert torch.equal(scores(first, last), torch.sparse.mm(ev.sparse_rows(history, first, last), weights))
