"""``make bench``: wall time and peak memory of every stage of the reference pipeline.

    python -m benchmarks.bench            # ml-latest-small size, then ML-32M size (synthetic)
    python -m benchmarks.bench --quick    # ml-latest-small size only

Each size runs in a fresh Python process, so one size's memory never counts against the
other. Peak memory is the process's peak resident set (``VmHWM`` in ``/proc/self/status``,
which counts what torch and numpy allocate, unlike ``tracemalloc``); it is reset before
every stage (``/proc/self/clear_refs``), so each row shows the peak *during* that stage,
data already held by earlier stages included. Sizes:

- ``ml-latest-small``: the real data if it is installed (``make data``), else the synthetic
  ``small`` preset of the same shape; settings ``CONFIGS["ml-latest-small"]``.
- ``ml-32m``: the synthetic ``ml-32m`` preset (about 32M ratings, 200k users, 87k movies),
  settings ``BLOG_DEFAULTS``. Generating it takes a while and is not counted as a stage.

Then it measures, side by side, the speed-up of the vectorised code of two lessons over the
Python loops of the seed post: all-pairs distances (lesson 8) and the user context matrix
(lesson 4). Speed and memory live here only: the tests never assert a time.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRAIN_STEPS = 500          # minibatch steps timed per size
SIMILARITY_MOVIES = 300    # movies for the loop-vs-vectorised distance comparison
CONTEXT_USERS = 3000       # users for the loop-vs-vectorised context comparison
PREPROCESSING_BUDGET = (180.0, 8 * 1024)  # seconds and MiB for lessons 1-4 at ML-32M size


# --------------------------------------------------------------------------------------
# Memory


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Reset the peak resident set to the current one (Linux); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def peak_mib() -> float:
    """Peak resident memory of this process in MiB (since the last :func:`reset_peak`)."""
    kib = _status_kib("VmHWM")
    if kib is None:  # not Linux: the lifetime peak (kilobytes on Linux, bytes on macOS)
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kib = maxrss // 1024 if sys.platform == "darwin" else maxrss
    return kib / 1024


class Recorder:
    """Time and peak memory of each stage, written as JSON lines for the parent process."""

    def __init__(self, stream=sys.stdout) -> None:
        self.stream = stream
        self.per_stage_peak = reset_peak()

    @contextmanager
    def stage(self, name: str, note: str = ""):
        gc.collect()
        reset_peak()
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        row = {"stage": name, "seconds": seconds, "peak_mib": peak_mib(), "note": note}
        print(json.dumps(row), file=self.stream, flush=True)


# --------------------------------------------------------------------------------------
# One size, in its own process


def load_size(size: str, seed: int = 0):
    """``(ratings, movies, config name, description)`` for a benchmark size."""
    from course.paths import data_dir
    from datasets import synthetic
    from solutions.pipeline import read_movielens

    if size == "ml-latest-small":
        folder = data_dir() / "ml-latest-small"
        if (folder / "ratings.csv").exists():
            ratings, movies = read_movielens(folder)
            return ratings, movies, "ml-latest-small", "real ml-latest-small"
        data = synthetic.generate("small", seed)
        return data.ratings, data.movies, "ml-latest-small", "synthetic 'small' (ml-latest-small not installed)"
    if size == "ml-32m":
        data = synthetic.generate("ml-32m", seed)
        return data.ratings, data.movies, "ml-32m", "synthetic 'ml-32m'"
    raise SystemExit(f"unknown size {size!r}")


def run_size(size: str, out=sys.stdout) -> None:
    """Every stage of the pipeline at one size (the body of a worker process)."""
    import torch

    from course.config import get_config
    from course.personas import PERSONAS
    from solutions import lesson01_cleaning as l1
    from solutions import lesson02_vocabularies as l2
    from solutions import lesson03_masking as l3
    from solutions import lesson04_debiasing as l4
    from solutions import lesson06_training as l6
    from solutions import lesson07_embeddings as l7
    from solutions import lesson08_similarity as l8
    from solutions import lesson09_personas as l9
    from solutions.pipeline import new_parameters, to_prepared
    from types import SimpleNamespace

    torch.manual_seed(0)
    rec = Recorder(out)
    if not rec.per_stage_peak:
        print(json.dumps({"info": "no /proc/self/clear_refs here: each peak is the process's peak so far"}),
              file=out, flush=True)
    with rec.stage("load data (read CSV or generate)"):
        ratings, movies, config_name, description = load_size(size)
    print(json.dumps({"info": f"{description}: {len(ratings):,} ratings, {ratings['userId'].nunique():,} users, "
                              f"{len(movies):,} movies; settings CONFIGS[{config_name!r}]"}), file=out, flush=True)
    cfg = get_config(config_name)
    d = cfg.data

    # Lessons 1-4 exactly as solutions.pipeline.prepare_stages chains them (same intermediates
    # kept alive, so the memory is what `prepare` needs), one timed stage per lesson.
    s = SimpleNamespace(raw_ratings=ratings, movies=movies, cfg=d)
    with rec.stage("lesson 1: cleaning"):
        s.clean = l1.clean_ratings(ratings)
        s.rating_counts = l1.count_ratings_per_movie(s.clean)
        s.top_movies = l1.select_top_movies(s.rating_counts, d.min_ratings_per_movie)
        s.top_ratings = l1.keep_top_movie_ratings(s.clean, s.top_movies)
        s.maps = l1.build_movie_maps(movies, s.top_ratings, s.top_movies)
    with rec.stage("lesson 2: vocabularies"):
        s.movie_index = l2.build_movie_index(s.top_movies)
        s.genre_index = l2.build_genre_index(s.maps.genres_by_id)
        s.context_index = l2.build_user_context_index(s.top_movies, s.genre_index, d.num_context_movies)
    with rec.stage("lesson 3: masking"):
        s.split = l3.split_watch_history(s.top_ratings, d.history_fraction, d.min_ratings_per_user, d.split_seed)
    with rec.stage("lesson 4: debiasing, examples"):
        s.user_means = l4.user_mean_ratings(s.split)
        s.movie_genres = l4.movie_genre_matrix(s.top_movies, s.maps.genres_by_id, s.genre_index)
        s.genre_affinity = l4.user_genre_affinity(s.split, s.user_means, s.movie_index, s.movie_genres)
        s.user_context = l4.build_user_contexts(s.split, s.user_means, s.context_index, s.genre_affinity)
        s.users = l4.select_users(s.split, d.min_labels, d.max_labels)
        s.train_users, s.val_users = l4.split_users(s.users, d.train_user_fraction, d.split_seed)
        s.train = l4.build_examples(s.split, s.train_users, s.user_means, s.movie_index)
        s.val = l4.build_examples(s.split, s.val_users, s.user_means, s.movie_index)
    data = to_prepared(s)
    print(json.dumps({"info": f"catalogue {len(data.top_movies):,} movies, {len(data.user_ids):,} users, "
                              f"context {data.context_index.size} slots, {len(data.train):,} training and "
                              f"{len(data.val):,} validation examples"}), file=out, flush=True)
    del s, ratings
    gc.collect()

    m, t = cfg.model, cfg.train
    params = new_parameters(data, m)
    generator = torch.Generator().manual_seed(t.seed)
    with rec.stage(f"training: {TRAIN_STEPS} steps", f"batch {t.batch_size}"):
        for step in range(TRAIN_STEPS):
            rows = l6.sample_minibatch(len(data.train), t.batch_size, generator)
            loss = l6.batch_loss(params, data, data.train, rows, t.weight_decay)
            l6.sgd_step(params, loss, l6.learning_rate(step, t.lr_schedule))
    with rec.stage("training: one full evaluation", f"{len(data.train) + len(data.val):,} examples"):
        l6.evaluate(params, data, data.train)
        l6.evaluate(params, data, data.val)
    with rec.stage("lesson 7: movie embeddings"):
        embeddings = l7.movie_embeddings(params, data.movie_genres)
    with rec.stage("lesson 8: all-pairs similarity", f"{len(data.top_movies):,} movies, top 5"):
        l8.most_similar(embeddings.combined, 5)
    with rec.stage("lesson 9: persona scoring", f"{len(PERSONAS)} personas, top 10"):
        for persona in PERSONAS:
            # Synthetic catalogues have other titles: stand in the most-rated movies.
            favourites = [data.maps.id_by_title[t] for t in persona.favourite_titles
                          if t in data.maps.id_by_title] or data.top_movies[:3]
            genres = [g for g in (*persona.liked_genres, *persona.disliked_genres) if g in data.genre_index]
            liked = [g for g in persona.liked_genres if g in genres]
            disliked = [g for g in persona.disliked_genres if g in genres]
            context = l9.persona_context(liked, disliked, favourites, data.context_index)
            scores = l9.score_catalogue(params, context, embeddings.combined)
            l9.recommend(scores, [data.movie_index[f] for f in favourites if f in data.movie_index], 10)


# --------------------------------------------------------------------------------------
# Loops of the seed post, for the speed-up comparison


def user_contexts_dict_loop(split, user_means, context_index, genres_by_id):
    """The user context matrix the way the seed post builds it: dictionaries of
    dictionaries and Python loops over every rating. Same result as lesson 4's
    ``user_genre_affinity`` + ``build_user_contexts``."""
    import torch

    history = split[split["is_history"]]
    watch_history: dict[int, dict[int, float]] = {}
    for user, movie, rating in zip(history["userId"].tolist(), history["movieId"].tolist(),
                                   history["rating"].tolist()):
        watch_history.setdefault(user, {})[movie] = rating

    genre_stats: dict[int, dict[str, list[float]]] = {}
    for user, rated in watch_history.items():
        stats = genre_stats[user] = {}
        for movie, rating in rated.items():
            for genre in genres_by_id[movie]:
                count_sum = stats.setdefault(genre, [0, 0.0])
                count_sum[0] += 1
                count_sum[1] += rating

    contexts = []
    for user, mean in zip(user_means.index.tolist(), user_means.tolist()):
        context = [0.0] * context_index.size
        for movie, rating in watch_history.get(user, {}).items():
            if movie in context_index.movie_slot:
                context[context_index.movie_slot[movie]] = rating - mean
        for genre, (count, total) in genre_stats.get(user, {}).items():
            context[context_index.genre_slot[genre]] = total / count - mean
        contexts.append(context)
    return torch.tensor(contexts, dtype=torch.float32)


def best_of(function, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def speedups() -> list[dict]:
    """Seed-post loops against the course's vectorised code, on the same inputs."""
    import torch

    from course.config import get_config
    from datasets import synthetic
    from solutions import lesson04_debiasing as l4
    from solutions import lesson08_similarity as l8
    from solutions.pipeline import prepare_stages

    rows = []
    embeddings = torch.randn((SIMILARITY_MOVIES, 50), generator=torch.Generator().manual_seed(0))
    loop_s, loop = best_of(lambda: l8.pairwise_distances_loop(embeddings), 1)
    vec_s, vec = best_of(lambda: l8.pairwise_distances(embeddings), 5)
    rows.append({"what": f"lesson 8: all-pairs distances, {SIMILARITY_MOVIES} movies x 50 dims",
                 "loop": loop_s, "vectorised": vec_s,
                 "same": bool(torch.allclose(loop, vec, atol=1e-4))})

    spec = synthetic.SyntheticSpec(num_users=CONTEXT_USERS, num_movies=10_000, num_ratings=500_000,
                                   max_user_share=0.3)
    data = synthetic.generate(spec, 0)
    s = prepare_stages(data.ratings, data.movies, get_config("ml-latest-small").data)
    loop_s, loop = best_of(lambda: user_contexts_dict_loop(s.split, s.user_means, s.context_index,
                                                            s.maps.genres_by_id), 1)

    def vectorised():
        affinity = l4.user_genre_affinity(s.split, s.user_means, s.movie_index, s.movie_genres)
        return l4.build_user_contexts(s.split, s.user_means, s.context_index, affinity)
    vec_s, vec = best_of(vectorised, 3)
    rows.append({"what": f"lesson 4: user contexts, {len(s.user_means):,} users, "
                         f"{int(s.split['is_history'].sum()):,} history ratings",
                 "loop": loop_s, "vectorised": vec_s,
                 "same": bool(torch.allclose(loop, vec, atol=1e-5))})
    return rows


# --------------------------------------------------------------------------------------
# The parent: one worker per size, then the table


def run_worker(size: str) -> tuple[list[dict], list[str], str | None]:
    print(f"[{size}] running in a fresh process ...", file=sys.stderr, flush=True)
    process = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--worker", size], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    stages, info = [], []
    for line in process.stdout.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        (info.append(row["info"]) if "info" in row else stages.append(row))
    error = None if process.returncode == 0 else f"worker exited with status {process.returncode}"
    return stages, info, error


def is_preprocessing(stage: str) -> bool:
    return stage.startswith(("lesson 1:", "lesson 2:", "lesson 3:", "lesson 4:"))


def format_table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the ML-32M size")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--no-speedups", action="store_true", help="skip the loop-vs-vectorised comparison")
    args = parser.parse_args(argv)
    if args.worker:
        run_size(args.worker)
        return 0

    import torch
    torch_threads = torch.get_num_threads()
    print(f"make bench: {platform.python_implementation()} {platform.python_version()}, torch {torch.__version__} "
          f"on CPU ({os.cpu_count()} cores, {torch_threads} torch threads)")
    sizes = ["ml-latest-small"] + ([] if args.quick else ["ml-32m"])
    results = {size: run_worker(size) for size in sizes}

    print()
    for size, (_, info, error) in results.items():
        for line in info:
            print(f"[{size}] {line}")
        if error:
            print(f"[{size}] FAILED: {error}")
    names: list[str] = []
    for stages, _, _ in results.values():
        names += [s["stage"] for s in stages if s["stage"] not in names]
    headers = ["stage"] + [f"{size} {what}" for size in sizes for what in ("time", "peak RSS")]
    rows = []
    for name in names:
        row = [name]
        for size in sizes:
            found = next((s for s in results[size][0] if s["stage"] == name), None)
            row += ([f"{found['seconds']:.2f} s", f"{found['peak_mib']:,.0f} MiB"] if found else ["-", "-"])
        rows.append(row)
    def totals(pick):
        row = []
        for size in sizes:
            chosen = [s for s in results[size][0] if pick(s["stage"])]
            row += ([f"{sum(s['seconds'] for s in chosen):.2f} s", f"{max(s['peak_mib'] for s in chosen):,.0f} MiB"]
                    if chosen else ["-", "-"])
        return row
    rows.append(["lessons 1-4 together"] + totals(is_preprocessing))
    rows.append(["whole run"] + totals(lambda name: True))
    print()
    print("Time and peak resident memory per stage (peak during the stage, data held so far included)")
    print(format_table(headers, rows, right=set(range(1, len(headers)))))
    if "ml-32m" in results and results["ml-32m"][0]:
        pre = [s for s in results["ml-32m"][0] if is_preprocessing(s["stage"])]
        seconds, mib = sum(s["seconds"] for s in pre), max(s["peak_mib"] for s in pre)
        ok = seconds < PREPROCESSING_BUDGET[0] and mib < PREPROCESSING_BUDGET[1]
        print(f"\nML-32M size, lessons 1-4: {seconds:.0f} s and {mib / 1024:.1f} GiB peak "
              f"({'within' if ok else 'OVER'} the budget of {PREPROCESSING_BUDGET[0]:.0f} s and "
              f"{PREPROCESSING_BUDGET[1] / 1024:.0f} GiB)")

    if not args.no_speedups:
        print("\nSpeed-up of the course's vectorised code over the seed post's Python loops (same inputs)")
        rows = [[r["what"], f"{r['loop']:.3f} s", f"{r['vectorised']:.4f} s", f"{r['loop'] / r['vectorised']:,.0f}x",
                 "yes" if r["same"] else "NO"] for r in speedups()]
        print(format_table(["comparison", "loop", "vectorised", "speed-up", "same result"], rows, right={1, 2, 3}))
    return 1 if any(error for _, _, error in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
