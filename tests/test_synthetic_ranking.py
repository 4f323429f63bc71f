"""Ranking means something on the synthetic data: under the course's ranking protocol
(lessons 10-11, the reference pipeline and ml-latest-small's settings), the planted tastes
and co-watching structure of the ``small`` preset put held-out users' liked movies far above
the popularity chart, and EASE, which learns only from the training users' ratings, finds
much of that structure too. With popularity alone choosing what users watch (the generator
before tastes chose), the truth itself does no better than the chart.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from course.config import CONFIGS
from datasets import synthetic
from solutions import evaluation as ev
from solutions.pipeline import prepare_stages

K = 10


def _ranking(spec: synthetic.SyntheticSpec, seed: int = 0) -> dict[str, float]:
    """NDCG@10 of most-popular, EASE and the oracle on the held-out users of one split."""
    data = synthetic.generate(spec, seed)
    cfg = CONFIGS["ml-latest-small"]
    s = prepare_stages(data.ratings, data.movies, cfg.data)
    task = ev.ranking_task(s, s.train_users, s.val_users, cfg.ranking)
    baselines = ev.baseline_scores(task, cfg.ranking)
    movie_ids = np.empty(len(s.movie_index), dtype=np.int64)
    movie_ids[list(s.movie_index.values())] = list(s.movie_index.keys())
    # The oracle: the planted chance that the user watches each movie, times the chance
    # that they rate it relevant (the noise-free rating against the relevance threshold).
    truth = data.truth
    columns = np.searchsorted(truth.movie_ids, movie_ids)
    watch = truth.choice_probability(task.eval_users)[:, columns]
    users = np.repeat(task.eval_users, len(movie_ids))
    expected = truth.expected_rating(users, np.tile(movie_ids, len(task.eval_users)))
    margin = (expected - (cfg.ranking.relevant_rating - 0.25)) / truth.noise_sd
    like = torch.special.ndtr(torch.from_numpy(margin)).numpy().reshape(watch.shape)
    scores = {"most-popular": baselines["most-popular"], "ease": baselines["ease"],
              "oracle": torch.from_numpy(watch * like)}
    ndcg = {name: ev.evaluate_scores(value, task, cfg.ranking)[0][f"ndcg@{K}"] for name, value in scores.items()}
    ndcg["users"] = len(task.eval_users)
    return ndcg


@pytest.fixture(scope="module")
def small_ranking():
    return _ranking(synthetic.SIZES["small"])


def test_planted_tastes_beat_the_popularity_chart(small_ranking):
    ndcg = small_ranking
    assert ndcg["users"] >= 100
    # Measured: most-popular 0.099, EASE 0.211 (2.1x), oracle 0.316 (3.2x), 113 users.
    assert ndcg["oracle"] >= 1.5 * ndcg["most-popular"], ndcg
    # A model that learns from the training users' ratings gains over the chart too.
    assert ndcg["ease"] >= 1.5 * ndcg["most-popular"], ndcg
    assert ndcg["oracle"] > ndcg["ease"], ndcg


def test_popularity_alone_gives_ranking_nothing_to_find():
    # The same preset with every draw from the chart: the truth knows no more than the chart.
    ndcg = _ranking(replace(synthetic.SIZES["small"], taste_choice_share=0.0,
                            cluster_choice_share=0.0))
    assert ndcg["oracle"] < 1.2 * ndcg["most-popular"], ndcg
