"""``make bench``: time, CPU time and peak memory of every stage of the reference pipeline.

    python -m benchmarks.bench            # everything below, one run (about 10 minutes on 2 cores)
    python -m benchmarks.bench --quick    # ml-latest-small size only, no 50k-step run (about a minute)

Every size runs in a fresh Python process (``python -m benchmarks.bench --worker ...`` from
the repository root), so one size's memory never counts against another. Peak memory is
the process's peak resident set (``VmHWM`` in ``/proc/self/status``, which counts what torch
and numpy allocate, unlike ``tracemalloc``); it is reset before every stage
(``/proc/self/clear_refs``), so each row shows the peak *during* that stage, data already
held by earlier stages included. Every time is shown twice, wall clock and the process's
CPU time, with the load average: on a shared machine wall time measures the neighbours too.
PyTorch runs under the course's thread policy (``course.threads``: one thread). Sizes:

- ``ml-latest-small``: the real data if it is installed (``make data``), else the synthetic
  ``small`` preset of the same shape; settings ``CONFIGS["ml-latest-small"]``.
- ``ml-32m``: the synthetic ``ml-32m`` preset (32M ratings, 200k users, 87k movies; real
  ML-32M cannot be assumed present), settings ``CONFIGS["ml-32m"]`` (the post's). Lessons
  1-4 go through ``solutions.pipeline.prepare_stages`` with a per-lesson timer; then the
  whole demo (``commands.demo.run_demo``: lessons 1-9, the post's 50,000 steps with 51
  evaluations, baselines, figures) runs in the same process, its evaluations timed apart.

Then: similar movies (lesson 8, blocked) for an 84,000-movie catalogue of random
embeddings of the model's width; a matrix product's GFLOP/s on one core next to the
training step's; and, side by side, the speed-up of the vectorised code of two lessons over
the Python loops of the seed post, and of the thread policy over PyTorch's default.
Everything is also written to ``outputs/bench.json``. Speed and memory live here only: the
tests run this code on tiny data (``--smoke``) but never assert a time.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

from course.measure import peak_mib, reset_peak

REPO = Path(__file__).resolve().parents[1]
TRAIN_STEPS = 500          # minibatch steps timed per size, without evaluations
SIMILARITY_MOVIES = 300    # movies for the loop-vs-vectorised distance comparison
CONTEXT_USERS = 3000       # users for the loop-vs-vectorised context comparison
SIMILAR_CATALOGUE = 84_000  # movies for the blocked similar-movies stage (ML-32M has 87,585)
SIMILAR_BLOCK_ROWS = 1024
THREAD_STEPS = 300         # steps per thread count in the thread comparison
GOALS = {  # the issues' goals on a quiet 2-core machine (seconds, GiB, ratio)
    # The whole ML-32M demo includes the ranking of both splits (lessons 10-12); per split, the
    # ranking of every held-out user and lesson 12's training have budgets of their own.
    "ml32m_train_50k_s": 120.0, "ml32m_eval_share": 0.25, "ml32m_demo_s": 360.0, "ml32m_peak_gib": 8.0,
    "ml32m_ranking_eval_s": 45.0, "ml32m_retrieval_train_s": 90.0,
    "similar_84k_s": 120.0, "similar_84k_peak_gib": 8e9 / 2 ** 30, "prep_ml32m_s": 30.0,
    "prep_ml32m_peak_gib": 4e9 / 2 ** 30,
    # make demo with every lesson the learner's (the textbook path) against CODE=reference, same run.
    "small_demo_learner_ratio": 3.0,
}


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


# --------------------------------------------------------------------------------------
# Memory


class Recorder:
    """Time, CPU time and peak memory of each stage, written as JSON lines for the parent."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stdout
        self.per_stage_peak = reset_peak()

    def emit(self, **row) -> None:
        print(json.dumps(row), file=self.stream, flush=True)

    def info(self, text: str) -> None:
        self.emit(info=text)

    def figure(self, key: str, value) -> None:
        self.emit(figure=key, value=value)

    @contextmanager
    def stage(self, name: str, note: str = ""):
        gc.collect()
        reset_peak()
        wall, cpu = time.perf_counter(), time.process_time()
        yield
        self.emit(stage=name, seconds=time.perf_counter() - wall, cpu_s=time.process_time() - cpu,
                  peak_mib=peak_mib(), note=note, load=load_average())


# --------------------------------------------------------------------------------------
# Rates: a matrix product, and the training step


def matmul_gflops(m: int, k: int, n: int, seconds: float = 0.5) -> tuple[float, float]:
    """GFLOP/s of ``[m, k] @ [k, n]`` products, by wall time and by CPU time."""
    import torch

    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(10):
        a @ b
    count, wall, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < seconds:
        for _ in range(20):
            a @ b
        count += 20
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    flops = 2.0 * m * k * n * count
    return flops / wall / 1e9, flops / max(cpu, 1e-9) / 1e9


def step_flops(params, data, batch_size: int, weight_decay: float) -> int:
    """Floating-point operations of one training step (forward and backward), counted by
    PyTorch's FlopCounterMode (matrix products only: the rest is a small part)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from solutions import lesson06_training as l6

    probe = params.clone()
    rows = l6.sample_minibatch(len(data.train), batch_size, torch.Generator().manual_seed(0))
    counter = FlopCounterMode(display=False)
    with counter:
        loss = l6.batch_loss(probe, data, data.train, rows, weight_decay)
        loss.backward()
    return int(counter.get_total_flops())


def time_steps(params, data, cfg, steps: int, autograd: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds of ``steps`` training steps (no evaluation), as the fast path
    takes them (``fast.mse_training.minibatch_step``, gradients by hand), or with
    ``autograd`` as lesson 6's textbook ``train`` does (``batch_loss`` then ``sgd_step``)."""
    import torch

    from fast import mse_training
    from solutions import lesson06_training as l6

    generator = torch.Generator().manual_seed(cfg.seed)
    device = params.user_W.device
    wall, cpu = time.perf_counter(), time.process_time()
    for step in range(steps):
        rows = l6.sample_minibatch(len(data.train), cfg.batch_size, generator).to(device)
        lr = l6.learning_rate(step, cfg.lr_schedule)
        if autograd:
            l6.sgd_step(params, l6.batch_loss(params, data, data.train, rows, cfg.weight_decay), lr)
        else:
            mse_training.minibatch_step(params, data, rows, lr, cfg.weight_decay)
    return time.perf_counter() - wall, time.process_time() - cpu


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
    if size in ("ml-32m", "fixture"):
        data = synthetic.generate(size, seed)
        return data.ratings, data.movies, size, f"synthetic {size!r}"
    raise SystemExit(f"unknown size {size!r}")


def run_size(size: str, demo: bool = False, out=None) -> None:
    """Every stage of the pipeline at one size (the body of a worker process); with
    ``demo``, then the whole demo pipeline with the size's full training run."""
    import torch

    from course.config import get_config
    from course.personas import PERSONAS
    from course.threads import use_course_threads
    from fast import mse_evaluation
    from solutions import lesson06_training as l6
    from solutions import lesson07_embeddings as l7
    from solutions import lesson08_similarity as l8
    from solutions import lesson09_personas as l9
    from solutions.pipeline import new_parameters, prepare_stages, to_prepared

    threads = use_course_threads()
    torch.manual_seed(0)
    rec = Recorder(out)
    if not rec.per_stage_peak:
        rec.info("no /proc/self/clear_refs here: each peak is the process's peak so far")
    with rec.stage("load data (read CSV or generate)"):
        ratings, movies, config_name, description = load_size(size)
    rec.info(f"{description}: {len(ratings):,} ratings, {ratings['userId'].nunique():,} users, "
             f"{len(movies):,} movies; settings CONFIGS[{config_name!r}]; {threads} torch thread(s)")
    cfg = get_config(config_name)

    # Lessons 1-4 through the reference chain, one timed stage per lesson, keeping only what
    # `prepare` keeps (so the memory is what the demo needs).
    s = prepare_stages(ratings, movies, cfg.data, stage=rec.stage, keep_tables=False)
    data = to_prepared(s)
    del s
    rec.info(f"catalogue {len(data.top_movies):,} movies, {len(data.user_ids):,} users, "
             f"context {data.context_index.size} slots, {len(data.train):,} training and "
             f"{len(data.val):,} validation examples")

    m, t = cfg.model, cfg.train
    params = new_parameters(data, m)
    time_steps(params, data, t, 20)  # warm-up
    with rec.stage(f"training: {TRAIN_STEPS} steps", f"batch {t.batch_size}, fast path (gradients by hand)"):
        wall, cpu = time_steps(params, data, t, TRAIN_STEPS)
    flops = step_flops(params, data, t.batch_size, t.weight_decay)
    rec.figure("steps_per_s_short", TRAIN_STEPS / wall)
    rec.figure("steps_per_cpu_s_short", TRAIN_STEPS / cpu)
    time_steps(params, data, t, 20, autograd=True)  # warm-up
    with rec.stage(f"training: {TRAIN_STEPS} autograd steps", "textbook: batch_loss + sgd_step"):
        wall, cpu = time_steps(params, data, t, TRAIN_STEPS, autograd=True)
    rec.figure("autograd_steps_per_s_short", TRAIN_STEPS / wall)
    rec.figure("step_mflop", flops / 1e6)
    with rec.stage("training: evaluation plan (once per run)"):
        plan = mse_evaluation.plan_evaluation(data, [data.train, data.val])
    from course.threads import evaluation_workers
    workers = min(evaluation_workers(), len(plan.parts))  # parts, not threads, when fewer
    rec.figure("eval_workers", workers)
    mse_evaluation.evaluate_sets(params, data, plan)  # warm-up: the stages below time evaluations as in a run
    with rec.stage("training: one full evaluation",
                   f"{len(data.train) + len(data.val):,} examples, {workers} thread(s)"):
        mse_evaluation.evaluate_sets(params, data, plan)
    # The same evaluation with its parts on one thread: what the evaluation's threads buy.
    with mock.patch.dict(os.environ, {"COURSE_EVAL_WORKERS": "1"}), \
            rec.stage("training: one full evaluation on one thread", "for comparison"):
        mse_evaluation.evaluate_sets(params, data, plan)
    del plan
    with rec.stage("training: one textbook evaluation", "lesson 6's evaluate on each set"):
        l6.evaluate(params, data, data.train)
        l6.evaluate(params, data, data.val)
    with rec.stage("lesson 7: movie embeddings"):
        embeddings = l7.movie_embeddings(params, data.movie_genres)
    with rec.stage("lesson 8: all-pairs similarity", f"{len(data.top_movies):,} movies, top 5"):
        all_pairs = l8.most_similar(embeddings.combined, 5)
    with rec.stage("lesson 8: blocked similarity", f"{len(data.top_movies):,} movies, top 5"):
        blocked = l8.most_similar_blocked(embeddings.combined, 5, SIMILAR_BLOCK_ROWS)
    rec.info(f"blocked and all-pairs neighbours: {int((blocked == all_pairs).all(dim=1).sum()):,} of "
             f"{len(blocked):,} rows identical")
    del all_pairs, blocked
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
    # The step's biggest product, and a large one: what one core can do.
    shape = (t.batch_size, data.context_index.size, m.user_dim)
    rec.figure("matmul_step_shape", list(shape))
    rec.figure("matmul_gflops_step_shape", matmul_gflops(*shape))
    rec.figure("matmul_gflops", matmul_gflops(512, 512, 512))
    del data, params, embeddings
    if demo:
        run_whole_demo(rec, cfg, config_name, ratings, movies, description)


def run_whole_demo(rec: Recorder, cfg, config_name: str, ratings, movies, description: str) -> None:
    """``commands.demo.run_demo`` end to end (its output hidden), evaluations timed apart."""
    import torch

    from commands import demo
    from fast import mse_evaluation, mse_training

    # What the reference train calls to evaluate: the plan once per run, then both sets at
    # once per evaluation. The plan's time counts as evaluation time too.
    evaluations = {"wall": 0.0, "cpu": 0.0, "calls": 0}
    original, original_plan = mse_evaluation.evaluate_sets, mse_evaluation.plan_evaluation

    def timed(function, count: bool):
        def wrapper(*args, **kwargs):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                evaluations["wall"] += time.perf_counter() - wall
                evaluations["cpu"] += time.process_time() - cpu
                evaluations["calls"] += count
        return wrapper

    training = {"cpu": 0.0}
    original_train = mse_training.train
    main_training: dict = {}   # the evaluations of the demo's main training (the first), frozen

    def timed_train(*args, **kwargs):
        # The ranking splits train MSE models of their own later on: the training figures
        # are the main model's, the first training of the run.
        cpu = time.process_time()
        try:
            return original_train(*args, **kwargs)
        finally:
            if not main_training:
                training["cpu"] += time.process_time() - cpu
                main_training.update(evaluations)

    clock = demo.Stopwatch()
    mse_evaluation.evaluate_sets, mse_evaluation.plan_evaluation = timed(original, True), timed(original_plan, False)
    mse_training.train = timed_train
    try:
        with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()), \
                rec.stage("whole demo pipeline (commands.demo.run_demo)", f"settings CONFIGS[{config_name!r}]"):
            cpu = time.process_time()
            result = demo.run_demo(cfg, ratings, movies, description, Path(folder), demo.pick_device("auto"),
                                   progress=False, clock=clock)
            demo_cpu = time.process_time() - cpu
    finally:
        mse_evaluation.evaluate_sets, mse_evaluation.plan_evaluation = original, original_plan
        mse_training.train = original_train
    stages = dict(clock.stages)
    history = result["history"]
    steps = history.steps[-1]
    train_wall = stages["train (lessons 5-6)"]
    rec.figure("demo_stages", stages)
    rec.figure("demo_s", sum(stages.values()))
    rec.figure("demo_cpu_s", demo_cpu)
    rec.figure("train_s", train_wall)
    rec.figure("train_cpu_s", training["cpu"])
    rec.figure("train_steps", steps)
    evaluations = main_training or evaluations
    rec.figure("evaluations", evaluations["calls"])
    rec.figure("eval_s", evaluations["wall"])
    rec.figure("eval_cpu_s", evaluations["cpu"])
    rec.figure("steps_per_s", steps / max(train_wall - evaluations["wall"], 1e-9))
    rec.figure("val_loss", result["val_loss"])
    # Per split: the ranking of every held-out user (all predictors, the slowest split counts)
    # and lesson 12's training, from the costs the demo measured.
    splits = result["ranking"].values()
    rec.figure("ranking_eval_s", max(sum(c.evaluate_s for c in split.costs.values()) for split in splits))
    rec.figure("ranking_users", max(len(split.task.eval_users) for split in splits))
    rec.figure("retrieval_train_s", max(split.costs["softmax-two-tower"].train_s for split in splits))
    rec.figure("device", str(demo.pick_device("auto")) + (f" ({torch.cuda.get_device_name()})"
                                                         if torch.cuda.is_available() else ""))


def run_similar(movies: int, out=None) -> None:
    """Lesson 8's blocked neighbours for a catalogue of ``movies`` random embeddings of the
    model's width (the worker body of the similar-movies stage)."""
    import torch

    from course.config import get_config
    from course.threads import use_course_threads
    from solutions import lesson08_similarity as l8

    use_course_threads()
    rec = Recorder(out)
    width = get_config("ml-32m").model.user_dim
    embeddings = torch.tanh(torch.randn((movies, width), generator=torch.Generator().manual_seed(8)))
    with rec.stage(f"lesson 8: similar movies, {movies:,} movies (blocked)",
                   f"{width} dims, top 5, blocks of {SIMILAR_BLOCK_ROWS} rows"):
        neighbours = l8.most_similar_blocked(embeddings, 5, SIMILAR_BLOCK_ROWS)
    rec.info(f"{movies:,} x 5 neighbours; an all-pairs matrix would be {movies ** 2 * 4 / 2 ** 30:.1f} GiB "
             f"before its sort")
    del neighbours


def compare_threads(out=None) -> None:
    """Training steps at ML-32M shapes with PyTorch's default thread count and with the
    course's policy, in one process (worker body)."""
    import torch

    from course.config import get_config
    from course.containers import ContextIndex, Examples, PreparedData
    from course.threads import course_threads
    from solutions import lesson05_weights as l5

    rec = Recorder(out)
    default = torch.get_num_threads()
    cfg = get_config("ml-32m")
    g = torch.Generator().manual_seed(0)
    users, context, movies, genres, n = 200_000, 270, 5904, 20, 1_000_000
    data = PreparedData(
        top_movies=list(range(movies)), maps=None, movie_index=None, genre_index={str(i): i for i in range(genres)},
        context_index=ContextIndex({}, {}, context), user_ids=None, user_means=None,
        user_context=torch.randn((users, context), generator=g) * (torch.rand((users, context), generator=g) < 0.1),
        movie_genres=(torch.rand((movies, genres), generator=g) < 0.15).float(),
        train=Examples(torch.randint(0, users, (n,), generator=g), torch.randint(0, movies, (n,), generator=g),
                       torch.randn(n, generator=g)),
        val=None)
    rows = []
    for threads in sorted({default, course_threads()}):
        torch.set_num_threads(threads)
        params = l5.init_parameters(context, genres, movies, cfg.model, torch.Generator().manual_seed(42))
        time_steps(params, data, cfg.train, 20)
        wall, cpu = time_steps(params, data, cfg.train, THREAD_STEPS)
        rows.append({"threads": threads, "steps_per_s": THREAD_STEPS / wall, "steps_per_cpu_s": THREAD_STEPS / cpu})
    rec.figure("threads", rows)
    rec.figure("default_threads", default)
    rec.figure("load", load_average())


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
# The parent: one worker per size, then the tables


def run_worker(*args: str) -> tuple[list[dict], list[str], dict, str | None]:
    """Run ``python -m benchmarks.bench --worker ARGS`` in a fresh process (the course is
    installed as a package) and collect its stages, notes and figures."""
    print(f"[{' '.join(args)}] running in a fresh process (load {load_average()}) ...", file=sys.stderr, flush=True)
    process = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--worker", *args], cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    stages, info, figures = [], [], {}
    for line in process.stdout.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if "info" in row:
            info.append(row["info"])
        elif "figure" in row:
            figures[row["figure"]] = row["value"]
        else:
            stages.append(row)
    error = None if process.returncode == 0 else f"worker exited with status {process.returncode}"
    return stages, info, figures, error


def time_demos(key: str) -> dict:
    """``make demo``'s whole command, timed from outside, twice in a row: with CODE=reference
    (the fast path where there is one) and with every lesson the learner's (the reference's
    lesson files copied over the stubs, CODE=mine, so the textbook path runs everywhere).
    ``key`` is "small" (ml-latest-small, or its synthetic stand-in) or "fixture"."""
    from course import index
    from course.paths import data_dir

    if key == "fixture":
        source = ["--synthetic", "fixture"]
    elif (data_dir() / "ml-latest-small" / "ratings.csv").exists():
        source = ["--dataset", "ml-latest-small"]
    else:
        source = ["--synthetic", "small"]
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        lessons = Path(folder) / "lessons"
        lessons.mkdir()
        for lesson in index.lessons():
            (lessons / lesson.solution_path.name).write_bytes(lesson.solution_path.read_bytes())
        for who, code in (("reference", ["--code", "reference"]), ("learner", ["--code", "mine", "--lessons", str(lessons)])):
            print(f"[demo {key}, {who}'s code] running (load {load_average()}) ...", file=sys.stderr, flush=True)
            start = time.perf_counter()
            process = subprocess.run([sys.executable, "-m", "commands.demo", *source, "--no-progress",
                                      "--out", str(Path(folder) / who), *code], cwd=REPO, capture_output=True, text=True)
            if process.returncode != 0:
                print(f"[demo {key}, {who}'s code] FAILED:\n{process.stdout[-2000:]}{process.stderr[-2000:]}")
                return {}
            figures[f"{key}_demo_{who}_s"] = time.perf_counter() - start
    figures[f"{key}_demo_learner_ratio"] = figures[f"{key}_demo_learner_s"] / figures[f"{key}_demo_reference_s"]
    return figures


def is_preprocessing(stage: str) -> bool:
    return stage.startswith(("lesson 1:", "lesson 2:", "lesson 3:", "lesson 4:"))


def format_table(headers: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def summary(results: dict, similar: tuple, threads: tuple | None, demos: dict | None = None) -> dict:
    """The figures of ``outputs/bench.json`` (seconds, GiB; rates per second)."""
    out: dict = {"load_average_at_end": load_average(), "cpu_cores": os.cpu_count()}
    for key, seconds in (demos or {}).items():
        out[key] = seconds
    for size, (stages, _, figures, _) in results.items():
        key = {"ml-latest-small": "small", "ml-32m": "ml32m", "fixture": "fixture"}[size]
        pre = [s for s in stages if is_preprocessing(s["stage"])]
        if pre:
            out[f"prep_{key}_s"] = sum(s["seconds"] for s in pre)
            out[f"prep_{key}_cpu_s"] = sum(s["cpu_s"] for s in pre)
            out[f"prep_{key}_peak_gib"] = max(s["peak_mib"] for s in pre) / 1024
        out[f"{key}_stages"] = stages
        for name, figure in (("training: one full evaluation", "one_evaluation_s"),
                             ("training: one full evaluation on one thread", "one_evaluation_one_thread_s")):
            out[f"{key}_{figure}"] = next((st["seconds"] for st in stages if st["stage"] == name), None)
        out[f"{key}_evaluation_threads"] = figures.get("eval_workers")
        out[f"{key}_textbook_evaluation_s"] = next(
            (st["seconds"] for st in stages if st["stage"] == "training: one textbook evaluation"), None)
        out[f"{key}_fast_steps_per_s"] = figures.get("steps_per_s_short")
        out[f"{key}_textbook_steps_per_s"] = figures.get("autograd_steps_per_s_short")
        out[f"{key}_fast_steps_per_cpu_s"] = figures.get("steps_per_cpu_s_short")
        if "demo_s" in figures:
            demo_stage = next(s for s in stages if s["stage"].startswith("whole demo"))
            out[f"{key}_demo_s"] = figures["demo_s"]
            out[f"{key}_demo_cpu_s"] = figures["demo_cpu_s"]
            out[f"{key}_demo_with_data_generation_s"] = figures["demo_s"] + stages[0]["seconds"]
            out[f"{key}_demo_stages_s"] = figures["demo_stages"]
            out[f"{key}_peak_gib"] = demo_stage["peak_mib"] / 1024
            out[f"{key}_train_{figures['train_steps'] // 1000}k_s"] = figures["train_s"]
            out[f"{key}_train_steps"] = figures["train_steps"]
            out[f"{key}_evaluations"] = figures["evaluations"]
            out[f"{key}_eval_s"] = figures["eval_s"]
            out[f"{key}_eval_cpu_s"] = figures["eval_cpu_s"]
            out[f"{key}_eval_share"] = figures["eval_s"] / figures["train_s"]
            out[f"{key}_train_cpu_s"] = figures["train_cpu_s"]
            out[f"{key}_eval_share_cpu"] = figures["eval_cpu_s"] / max(figures["train_cpu_s"], 1e-9)
            out[f"{key}_val_loss"] = figures["val_loss"]
            out[f"{key}_device"] = figures["device"]
            for name in ("ranking_eval_s", "ranking_users", "retrieval_train_s"):
                out[f"{key}_{name}"] = figures[name]
    main_size = "ml-32m" if "ml-32m" in results else next(iter(results))
    figures = results[main_size][2]
    rate = figures.get("steps_per_s") or figures.get("steps_per_s_short")
    if rate:
        out["train_steps_per_s"] = rate
        out["train_steps_per_s_from"] = (f"{main_size}: the demo's full run, evaluations excluded"
                                         if figures.get("steps_per_s") else f"{main_size}: {TRAIN_STEPS} steps")
        out["train_step_mflop"] = figures["step_mflop"]
        out["train_gflops"] = rate * figures["step_mflop"] / 1e3
        out["train_gflops_cpu_500"] = figures["steps_per_cpu_s_short"] * figures["step_mflop"] / 1e3
        out["matmul_gflops"], out["matmul_gflops_cpu"] = figures["matmul_gflops"]
        out["matmul_512_gflops"] = figures["matmul_gflops"][0]
        out["matmul_step_shape"] = figures["matmul_step_shape"]
        out["matmul_step_shape_gflops"], out["matmul_step_shape_gflops_cpu"] = figures["matmul_gflops_step_shape"]
    stages, _, _, _ = similar
    if stages:
        out["similar_movies"] = SIMILAR_CATALOGUE
        key = "similar_84k" if SIMILAR_CATALOGUE == 84_000 else "similar"
        out[f"{key}_s"] = stages[0]["seconds"]
        out[f"{key}_cpu_s"] = stages[0]["cpu_s"]
        out[f"{key}_peak_gib"] = stages[0]["peak_mib"] / 1024
    if threads and threads[2].get("threads"):
        out["threads_comparison"] = threads[2]["threads"]
    return out


def main(argv: list[str] | None = None) -> int:
    global SIMILAR_CATALOGUE
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="ml-latest-small size only, and a smaller catalogue")
    parser.add_argument("--json", type=Path, default=REPO / "outputs" / "bench.json", help="where to write the figures")
    parser.add_argument("--no-speedups", action="store_true", help="skip the loop-vs-vectorised comparison")
    parser.add_argument("--smoke", action="store_true", help=argparse.SUPPRESS)  # tests: tiny data, every code path
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == "size":
            run_size(rest[0], demo="demo" in rest[1:])
        elif kind == "similar":
            run_similar(int(rest[0]))
        elif kind == "threads":
            compare_threads()
        return 0

    import torch

    from course.threads import course_threads
    print(f"make bench: {platform.python_implementation()} {platform.python_version()}, torch {torch.__version__} "
          f"on {os.cpu_count()} CPU cores; {course_threads()} torch thread (course.threads; PyTorch's default "
          f"here: {torch.get_num_threads()}); load average {load_average()}")
    if args.smoke:
        sizes, demo_size, SIMILAR_CATALOGUE = ["fixture"], "fixture", 2000
    elif args.quick:
        sizes, demo_size, SIMILAR_CATALOGUE = ["ml-latest-small"], None, 8400
    else:
        sizes, demo_size = ["ml-latest-small", "ml-32m"], "ml-32m"
    results = {size: run_worker("size", size, *(["demo"] if size == demo_size else [])) for size in sizes}
    similar = run_worker("similar", str(SIMILAR_CATALOGUE))
    threads = None if args.smoke else run_worker("threads")
    demos = time_demos("fixture" if args.smoke else "small")

    print()
    for size, (_, info, _, error) in results.items():
        for line in info:
            print(f"[{size}] {line}")
        if error:
            print(f"[{size}] FAILED: {error}")
    names: list[str] = []
    for stages, _, _, _ in results.values():
        names += [s["stage"] for s in stages if s["stage"] not in names]
    headers = ["stage"] + [f"{size} {what}" for size in sizes for what in ("wall", "CPU", "peak RSS")]

    def cells(found):
        return ([f"{found['seconds']:.2f} s", f"{found['cpu_s']:.2f} s", f"{found['peak_mib']:,.0f} MiB"]
                if found else ["-", "-", "-"])
    rows = []
    for name in names:
        rows.append([name] + sum((cells(next((s for s in results[size][0] if s["stage"] == name), None))
                                  for size in sizes), []))
    row = ["lessons 1-4 together"]
    for size in sizes:
        pre = [s for s in results[size][0] if is_preprocessing(s["stage"])]
        row += ([f"{sum(s['seconds'] for s in pre):.2f} s", f"{sum(s['cpu_s'] for s in pre):.2f} s",
                 f"{max(s['peak_mib'] for s in pre):,.0f} MiB"] if pre else ["-", "-", "-"])
    rows.append(row)
    print()
    print("Time and peak resident memory per stage (peak during the stage, data held so far included)")
    print(format_table(headers, rows, right=set(range(1, len(headers)))))
    for stages, _, _, error in (similar,):
        for s in stages:
            print(f"\n{s['stage']}: {s['seconds']:.1f} s wall, {s['cpu_s']:.1f} s CPU, peak "
                  f"{s['peak_mib'] / 1024:.2f} GiB ({s['note']}; load {s['load']})")
        for line in similar[1]:
            print(f"  {line}")
        if error:
            print(f"similar movies FAILED: {error}")

    figures = summary(results, similar, threads, demos)
    figures["run"] = {"mode": "smoke" if args.smoke else "quick" if args.quick else "full",
                      "python": f"{platform.python_implementation()} {platform.python_version()}",
                      "torch": torch.__version__}
    key = "ml32m" if "ml-32m" in results else "fixture" if args.smoke else None
    if key and f"{key}_demo_s" in figures:
        f = figures
        print(f"\nWhole demo at {key} size (commands.demo.run_demo, data generation excluded): {f[f'{key}_demo_s']:.1f} s "
              f"wall, {f[f'{key}_demo_cpu_s']:.1f} s CPU, peak {f[f'{key}_peak_gib']:.2f} GiB; with data "
              f"generation {f[f'{key}_demo_with_data_generation_s']:.1f} s")
        train_key = next(k for k in f if k.startswith(f"{key}_train_") and k.endswith("k_s"))
        print(f"  training: {f[f'{key}_train_steps']:,} steps with {f[f'{key}_evaluations']} evaluations in "
              f"{f[train_key]:.1f} s; evaluations {f[f'{key}_eval_s']:.1f} s "
              f"({f[f'{key}_eval_share']:.0%} of training); CPU time: training {f[f'{key}_train_cpu_s']:.1f} s, "
              f"evaluations {f[f'{key}_eval_cpu_s']:.1f} s ({f[f'{key}_eval_share_cpu']:.0%}); "
              f"validation MSE {f[f'{key}_val_loss']:.4f}; on {f[f'{key}_device']}")
    for size_key in ("ml32m", "small", "fixture"):
        shared, alone = figures.get(f"{size_key}_one_evaluation_s"), figures.get(f"{size_key}_one_evaluation_one_thread_s")
        if shared and alone:
            print(f"  {size_key}: one full evaluation {shared * 1e3:,.0f} ms with its parts on "
                  f"{figures[f'{size_key}_evaluation_threads']} thread(s), {alone * 1e3:,.0f} ms on one ({alone / shared:.2f}x)")
    if "train_steps_per_s" in figures:
        f = figures
        print(f"\nTraining step ({f['train_steps_per_s_from']}): {f['train_steps_per_s']:,.0f} steps/s, "
              f"{f['train_step_mflop']:.2f} MFLOP each = {f['train_gflops']:.1f} GFLOP/s; a matrix product on "
              f"this core in the same run: {f['matmul_gflops']:.1f} GFLOP/s at 512x512x512, "
              f"{f['matmul_step_shape_gflops']:.1f} GFLOP/s at the step's {f['matmul_step_shape']} "
              f"(step at {f['train_gflops'] / f['matmul_gflops']:.0%} of the large product's rate)")
        for size_key in ("ml32m", "small", "fixture"):
            fast, textbook = f.get(f"{size_key}_fast_steps_per_s"), f.get(f"{size_key}_textbook_steps_per_s")
            if fast and textbook:
                print(f"  {size_key}, {TRAIN_STEPS} steps: textbook (batch_loss + sgd_step) {textbook:,.0f} steps/s, "
                      f"fast path (fast.mse_training.minibatch_step) {fast:,.0f} steps/s: {fast / textbook:.2f}x")
            fast, textbook = f.get(f"{size_key}_one_evaluation_s"), f.get(f"{size_key}_textbook_evaluation_s")
            if fast and textbook:
                print(f"  {size_key}, one evaluation of both sets: textbook (evaluate twice) {textbook * 1e3:,.0f} ms, "
                      f"fast path {fast * 1e3:,.0f} ms: {textbook / fast:.2f}x")
    for size_key in ("small", "fixture"):
        reference, learner = figures.get(f"{size_key}_demo_reference_s"), figures.get(f"{size_key}_demo_learner_s")
        if reference and learner:
            print(f"\nmake demo ({size_key}), the whole command: CODE=reference {reference:.1f} s; every lesson the "
                  f"learner's (textbook path) {learner:.1f} s: {learner / reference:.2f}x")
    if threads:
        print(f"\nThread policy (ML-32M shapes, {THREAD_STEPS} steps each; load {threads[2].get('load')}):")
        for row in threads[2].get("threads", []):
            print(f"  {row['threads']} thread(s): {row['steps_per_s']:,.0f} steps/s wall, "
                  f"{row['steps_per_cpu_s']:,.0f} steps per CPU-second")
    if not args.smoke and key:
        print("\nGoals (quiet 2-core machine; this run's load average is printed above):")
        figures["goals"] = {}
        for name, goal in GOALS.items():
            if name in figures:
                ok = figures[name] <= goal
                figures["goals"][name] = {"value": figures[name], "goal": goal, "ok": ok}
                unit = "" if name.endswith(("share", "ratio")) else (" GiB" if name.endswith("gib") else " s")
                print(f"  {name:24} {figures[name]:8.2f}{unit}  goal <= {goal:.2f}{unit}  {'ok' if ok else 'MISSED'}")

    if not args.no_speedups and not args.smoke:
        print("\nSpeed-up of the course's vectorised code over the seed post's Python loops (same inputs)")
        table = speedups()
        figures["loop_vs_vectorised"] = table
        rows = [[r["what"], f"{r['loop']:.3f} s", f"{r['vectorised']:.4f} s", f"{r['loop'] / r['vectorised']:,.0f}x",
                 "yes" if r["same"] else "NO"] for r in table]
        print(format_table(["comparison", "loop", "vectorised", "speed-up", "same result"], rows, right={1, 2, 3}))
    figures["load_average_at_end"] = load_average()
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nFigures written to {args.json}")
    if args.json.name == "bench.json":
        from commands import figures as page
        print(f"With make demo's, as a page: {page.write_page(args.json.parent)}")
    failed = [e for _, _, _, e in (*results.values(), similar, *([threads] if threads else [])) if e]
    return 1 if failed or not demos else 0


if __name__ == "__main__":
    sys.exit(main())
