"""Lesson 13's autoencoder two-tower measured on ml-latest-small, with the reference code.

    python -m commands.autoencoder seeds      # seeds 0, 1, 2 on both splits -> outputs/autoencoder_seeds.json
    python -m commands.autoencoder ablation   # each piece taken away, seeds 0, 1, 2 -> outputs/ablation.json

Both train on each split's training users only and rank its held-out users from their
history (lesson 10's protocol), next to most-popular and EASE. ``seeds`` writes every seed's
metrics, the mean, the multiple of most-popular and the paired bootstrap interval of
(autoencoder - EASE); ``ablation`` the mean NDCG@10 of each variant of
``solutions.autoencoder.ABLATION`` on the random split: lesson 13's text quotes that file
(tests/test_lesson_figures.py keeps the quotes equal to it).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from course.config import get_config
from course.paths import OUTPUT_DIR, data_dir
from course.threads import use_course_threads
from solutions import autoencoder as ae
from solutions import evaluation as ev
from solutions.pipeline import SPLITS, prepare_stages, read_movielens

SEEDS = (0, 1, 2)


def split_stages(dataset: str, split_kind: str):
    ratings, movies = read_movielens(data_dir() / dataset)
    cfg = get_config(dataset)
    return cfg, prepare_stages(ratings, movies, cfg.data, split_kind=split_kind)


def measure_seeds(dataset: str, seeds: tuple[int, ...]) -> dict:
    out = {}
    for split in SPLITS:
        cfg, s = split_stages(dataset, split)
        task = ev.ranking_task(s, s.train_users, s.val_users, cfg.ranking)
        baselines = ev.baseline_scorers(task, cfg.ranking)
        ranked = {name: ev.evaluate_ranking(baselines[name], task, cfg.ranking) for name in ("most-popular", "ease")}
        popular = ranked["most-popular"].summary["ndcg@10"]
        rows = {}
        for seed in seeds:
            started = time.perf_counter()
            model = ae.train_autoencoder_model(s, task, cfg, seed=seed)
            seconds = time.perf_counter() - started
            result = ae.evaluate_autoencoder(model, task, cfg)
            mean, low, high = ev.bootstrap_difference(result.per_user, ranked["ease"].per_user, cfg.ranking)
            rows[str(seed)] = {**{k: round(v, 6) for k, v in result.summary.items()},
                               "x most-popular": round(result.summary["ndcg@10"] / popular, 4),
                               "minus ease": {"mean": round(mean, 6), "low": round(low, 6), "high": round(high, 6)},
                               "train seconds": round(seconds, 2)}
        ndcg = [row["ndcg@10"] for row in rows.values()]
        out[split] = {"seeds": rows,
                      "mean ndcg@10": round(sum(ndcg) / len(ndcg), 6),
                      "mean x most-popular": round(sum(ndcg) / len(ndcg) / popular, 4),
                      **{name: {k: round(v, 6) for k, v in r.summary.items()} for name, r in ranked.items()}}
    return out


def measure_ablation(dataset: str, seeds: tuple[int, ...]) -> dict:
    cfg, s = split_stages(dataset, "random")
    task = ev.ranking_task(s, s.train_users, s.val_users, cfg.ranking)
    popular = ev.evaluate_ranking(ev.baseline_scorers(task, cfg.ranking)["most-popular"], task,
                                  cfg.ranking).summary["ndcg@10"]
    table = ae.ablation(s, task, cfg, seeds)
    return {"split": "random", "seeds": list(seeds), "most-popular ndcg@10": round(popular, 6),
            "variants": {name: {"ndcg@10": round(row["ndcg@10"], 6),
                                "per seed": {str(k): round(v, 6) for k, v in row["seeds"].items()},
                                "changes": row["changes"]}
                         for name, row in table.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m commands.autoencoder", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("seeds", "ablation"))
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--out", type=Path, default=None, help="the JSON file to write")
    args = parser.parse_args(argv)
    use_course_threads()
    if not (data_dir() / args.dataset / "ratings.csv").exists():
        print(f"{args.dataset} is not installed: run `make data` first", file=sys.stderr)
        return 2
    seeds = tuple(args.seeds)
    if args.what == "seeds":
        payload, name = measure_seeds(args.dataset, seeds), "autoencoder_seeds.json"
    else:
        payload, name = measure_ablation(args.dataset, seeds), "ablation.json"
    path = args.out or OUTPUT_DIR / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1) + "\n")
    print(json.dumps(payload, indent=1))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
