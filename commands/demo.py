"""``make demo``: the whole recommender on MovieLens, end to end, with your code.

    python -m commands.demo --dataset ml-latest-small     (make demo)
    python -m commands.demo --dataset ml-32m              (make demo DATASET=ml-32m)
    python -m commands.demo --code reference              (make demo CODE=reference)

Every lesson function, lessons 1 to 13, comes from your lessons/ where you have written it
and from the reference solutions otherwise (``--code auto``, the default; ``mine`` insists
on yours, ``reference`` uses solutions/ only): recommender/code.py chooses, and the demo
prints first whose code each lesson is and, per model, which code trains it and on which
path (recommender/paths.py: the lessons' own functions, or a fast path of ``fast/`` where
every function it stands in for is the reference's).

Cleans and prepares the data (lessons 1-4), trains the two towers (lessons 5-6), compares
the validation error with two baselines, ranks every held-out user's catalogue on two splits
with every model and baseline (lessons 10-12: the random split and lesson 11's time-ordered
one, each with its own MSE, retrieval and autoencoder model, lesson 13's beside EASE with
the paired bootstrap interval of their difference), then shows what the models learnt: the
most similar movies of the seed post's seven query movies (lessons 7-8), the five personas'
recommendations from the model ``make recommend`` answers with (lesson 13's autoencoder, its
lift and the personas' genres, where lesson 13 is yours or CODE=reference; else lesson 12's
retrieval model, lesson 9), the loss curve and a 2-D map of movie embeddings (PNG files
under ``outputs/``). It saves the three trained models under ``outputs/models/`` for ``make
recommend`` and ``make similar`` and says which one they will use. Every setting comes from ``course.config.CONFIGS[dataset]``. It trains on the GPU when
PyTorch sees one.

``--synthetic SIZE`` (not listed in ``--help``) runs the same code on the deterministic
synthetic MovieLens of ``datasets.synthetic`` instead of the installed data, with the
settings made for that size (fixture, ml-latest-small for small, ml-32m; ``--config NAME``
picks others). The tests use ``--synthetic fixture``; ``--dataset ml-32m --synthetic
ml-32m`` runs the ML-32M code path (BLOG_DEFAULTS) without the download.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch

from commands import figures, saved_model
from course.config import NUM_RECOMMENDATIONS, SIMILAR_K, CourseConfig, get_config
from course.containers import Params, PreparedData
from course.paths import LESSONS_DIR, OUTPUT_DIR, data_dir, relative
from course.personas import PERSONAS, SIMILAR_QUERIES
from course.threads import use_course_threads
from datasets import synthetic as synthetic_data
from recommender import code as learner_code
from recommender import models, newcomers, ranking
from recommender.code import Code
from recommender.figures import plot_embedding_map
from solutions import evaluation as ev
from solutions.pipeline import prepare_stages, read_movielens, to_prepared

# Default settings for each synthetic size (--synthetic SIZE without --config).
SYNTHETIC_CONFIG = {"fixture": "fixture", "small": "ml-latest-small", "ml-32m": "ml-32m"}
FALLBACK_QUERIES = 3     # most-rated movies queried when none of the seed post's is in the catalogue
DEMO_LESSONS = tuple(range(1, 14))   # the lessons whose code the demo runs
MODEL_KIND = "two-tower-mse"
RETRIEVAL_KIND = "softmax-two-tower"
AUTOENCODER_KIND = saved_model.AUTOENCODER_KIND


class Stopwatch:
    """Wall time of each named stage, in order."""

    def __init__(self) -> None:
        self.stages: list[tuple[str, float]] = []

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stages.append((name, time.perf_counter() - start))

    def table(self) -> str:
        width = max(len(name) for name, _ in self.stages)
        total = sum(seconds for _, seconds in self.stages)
        rows = [f"  {name:<{width}}  {seconds:6.2f} s" for name, seconds in self.stages]
        return "\n".join([*rows, f"  {'total':<{width}}  {total:6.2f} s"])


def heading(text: str) -> None:
    print(f"\n== {text} ==", flush=True)


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_tables(dataset: str, synthetic: str | None, seed: int):
    """``(ratings, movies, description)`` from the installed dataset or the generator."""
    if synthetic:
        data = synthetic_data.generate(synthetic, seed)
        return data.ratings, data.movies, f"synthetic {synthetic!r} data (seed {seed})"
    folder = data_dir() / dataset
    if not (folder / "ratings.csv").exists():
        raise SystemExit(f"{dataset} is not installed in {folder}. Install it with: "
                         f"make data DATASET={dataset}   (SOURCE=path/to/{dataset}.zip offline)")
    ratings, movies = read_movielens(folder)
    return ratings, movies, f"{dataset} from {relative(folder)}"


# ---------------------------------------------------------------- what runs

def lesson_line(code: Code, number: int, functions: tuple[str, ...], role: str) -> str:
    """'  the time-ordered split (lesson 11): yours', '...: the reference's', or the functions
    of yours when only some are."""
    yours = [name for _, name in code.yours_among({number: functions})]
    whose = ("yours" if len(yours) == len(functions) else
             f"your {', '.join(yours)}, the reference's {', '.join(f for f in functions if f not in yours)}"
             if yours else "the reference's")
    return f"  {role} (lesson {number}): {whose}"


def print_what_runs(code: Code) -> None:
    """The demo's first lines after whose lessons these are: per model, which code trains it
    and on which path, and whose code ranks and splits."""
    print("What trains each model, and on which path:")
    for path in (models.mse_path(code), models.retrieval_path(code), models.autoencoder_path(code)):
        print(f"  {path.model}: {path.describe()}")
    print(lesson_line(code, 10, ranking.METRIC_FUNCTIONS + ("most_popular_scores", "bayesian_average_scores",
                                                           "ease_weights", "paired_bootstrap"),
                      "the ranking table and its baselines"))
    print(lesson_line(code, 11, ("split_by_time",), "the time-ordered split")
          + (", on its fast path (fast/time_split.py)" if models.split_on_fast_path(code) else ""))


# ---------------------------------------------------------------- sections

def similar_movies_section(combined: torch.Tensor, data: PreparedData, l8) -> None:
    catalogue = set(data.top_movies)
    queries = []
    for title in SIMILAR_QUERIES:
        movie_id = data.maps.id_by_title.get(title)
        if movie_id not in catalogue:
            why = "not in movies.csv" if movie_id is None else "too few ratings to be in the catalogue"
            print(f"\n{title}: skipped ({why})")
            continue
        queries.append(title)
    if not queries:
        queries = [data.maps.title_by_id[m] for m in data.top_movies[:FALLBACK_QUERIES]]
        print(f"\nNone of the seed post's query movies is in this catalogue; its {len(queries)} most-rated "
              f"movies instead:")
    for title in queries:
        similar = l8.similar_titles(title, SIMILAR_K, combined, data.top_movies,
                                    data.maps.id_by_title, data.maps.title_by_id)
        print(f"\n{title}")
        for i, other in enumerate(similar, 1):
            print(f"  {i}. {other}")


def personas_section(params: Params, combined: torch.Tensor, data: PreparedData, strength: float,
                     l9) -> dict[str, list[int]]:
    """Each persona's top 10, printed in the seed post's form; returns the movie ids of each
    persona's list (by persona name), for the tests."""
    shown: dict[str, list[int]] = {}
    for persona in PERSONAS:
        known = [t for t in persona.favourite_titles if t in data.maps.id_by_title]
        missing = [t for t in persona.favourite_titles if t not in data.maps.id_by_title]
        favourite_ids = [data.maps.id_by_title[t] for t in known]
        try:
            context = l9.persona_context(list(persona.liked_genres), list(persona.disliked_genres),
                                         favourite_ids, data.context_index, strength)
        except ValueError as error:  # a genre this catalogue does not have
            print(f"\n{persona.name}: skipped ({error})")
            continue
        scores = l9.score_catalogue(params, context.to(combined.device), combined).cpu()
        liked_rows = [data.movie_index[m] for m in favourite_ids if m in data.movie_index]
        rows = l9.recommend(scores, liked_rows, NUM_RECOMMENDATIONS)
        shown[persona.name] = [data.top_movies[r] for r in rows]
        print()
        print(l9.format_recommendations(persona.name, list(persona.liked_genres), list(persona.disliked_genres),
                                        known, [data.maps.title_by_id[data.top_movies[r]] for r in rows]))
        unseen = [t for t, m in zip(known, favourite_ids) if m not in data.context_index.movie_slot]
        if missing:
            print(f"(not in movies.csv, left out: {'; '.join(missing)})")
        if unseen:
            print(f"(no user-context slot, so the user tower cannot see: {'; '.join(unseen)})")
    return shown


def autoencoder_personas_section(result: ranking.SplitRanking, data: PreparedData, code: Code) -> dict[str, list[int]]:
    """The personas of :func:`personas_section`, answered as make recommend answers with lesson
    13's model: the lift of their favourites and their genres weighted in (recommender/newcomers.py),
    then lesson 9's top 10 and greeting. Returns the movie ids of each persona's list."""
    shown: dict[str, list[int]] = {}
    model, l9 = result.autoencoder.model, code.l9
    genres = [data.maps.genres_by_id.get(m, ()) for m in data.top_movies]
    for persona in PERSONAS:
        known = [t for t in persona.favourite_titles if t in data.maps.id_by_title]
        missing = [t for t in persona.favourite_titles if t not in data.maps.id_by_title]
        unknown = [g for g in (*persona.liked_genres, *persona.disliked_genres) if g not in data.genre_index]
        if unknown:
            print(f"\n{persona.name}: skipped (no genre {', '.join(unknown)} in this catalogue)")
            continue
        rows = [data.movie_index[data.maps.id_by_title[t]] for t in known
                if data.maps.id_by_title[t] in data.movie_index]
        scores = newcomers.scores(code.l13, model.params, rows, genres, persona.liked_genres,
                                  persona.disliked_genres, model.cfg.normalise, model.cfg.nonlinear)
        chosen = l9.recommend(scores, rows, NUM_RECOMMENDATIONS)
        shown[persona.name] = [data.top_movies[r] for r in chosen]
        print()
        print(l9.format_recommendations(persona.name, list(persona.liked_genres), list(persona.disliked_genres),
                                        known, [data.maps.title_by_id[data.top_movies[r]] for r in chosen]))
        outside = [t for t in known if data.maps.id_by_title[t] not in data.movie_index]
        if missing:
            print(f"(not in movies.csv, left out: {'; '.join(missing)})")
        if outside:
            print(f"(too few ratings to be in the catalogue, so the model cannot see: {'; '.join(outside)})")
    return shown


def lesson_13_answers(code: Code) -> bool:
    """Whether lesson 13's model answers make recommend (commands/saved_model.py's rule, on
    the record the demo saves with it)."""
    return saved_model.lesson_13_answers(code.record(models.AUTOENCODER_LESSONS))


def print_mse_table(model: models.MSEModel, baselines: models.MSEBaselines, cfg: CourseConfig) -> None:
    history, best = model.history, model.best_val_loss
    rows = [("two-tower model", best),
            ("baseline: the user's own mean rating", baselines.user_mean),
            ("baseline: the movie's mean rating among training users", baselines.movie_mean)]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value:.4f}")
    better = baselines.better
    verdict = "beats" if best < better else "does NOT beat"
    print(f"The model {verdict} the better baseline by {better - best:+.4f} "
          f"({100 * (better - best) / better:+.1f} %), on {len(model.data.val):,} ratings of unseen users.")
    if history.steps[-1] != history.best_step:
        print(f"(Early stopping picked the step by this same validation loss, so it flatters the "
              f"model a little: the last evaluation, at step {history.steps[-1]:,}, gave "
              f"{history.val_loss[-1]:.4f}.)")


def print_ranking_table(result: ranking.SplitRanking, cfg: CourseConfig) -> None:
    task, k = result.task, cfg.ranking.k
    print(f"\n{result.split_kind} split: {len(task.eval_users):,} held-out users with a label rated "
          f">= {cfg.ranking.relevant_rating}, {len(task.train_users):,} training users, "
          f"{task.num_movies:,} movies")
    keys = list(next(iter(result.metrics.values())))
    width = max(len(label) for label in table_labels(result).values())
    print(f"  {'predictor':<{width}}  " + "  ".join(f"{key:>9}" for key in keys)
          + "  × most-popular   train s   rank s  peak GiB")
    popular = result.metrics["most-popular"][f"ndcg@{k}"]
    for name, values in result.metrics.items():
        ratio = values[f"ndcg@{k}"] / popular if popular > 0 else float("nan")
        cost = result.costs[name]
        print(f"  {table_labels(result)[name]:<{width}}  " + "  ".join(f"{values[key]:9.3f}" for key in keys)
              + f"  {ratio:14.2f}  {cost.train_s:8.1f}  {cost.evaluate_s:7.1f}  {cost.peak_gib:8.2f}")
    if result.ease_left_out:
        print(f"  (EASE saw the {result.ease_movies:,} most-rated movies, the rest ranked below them: the whole "
              f"catalogue's {task.num_movies:,} x {task.num_movies:,} float64 matrices would need "
              f"{ev.ease_full_gib(task.num_movies):.0f} GiB each; ranking.ease_max_movies in course/config.py)")
    if result.mse_movies < task.num_movies:
        print(f"  (the MSE two-tower knows its own {result.mse_movies:,} movies (lesson 1 with the seed post's "
              f"settings); the others are ranked below them)")
    mean, low, high = result.interval
    level = round(100 * cfg.ranking.bootstrap_confidence)
    verdict = "above 0: a real gain" if low > 0 else ("below 0: a real loss" if high < 0 else "includes 0: not conclusive")
    print(f"  softmax two-tower - most-popular, NDCG@{k}: {mean:+.3f}, {level} % paired bootstrap interval "
          f"[{low:+.3f}, {high:+.3f}] over {len(task.eval_users):,} users ({verdict})")
    if result.autoencoder_interval is not None:
        mean, low, high = result.autoencoder_interval
        verdict = ("above 0: a real gain" if low > 0 else
                   "below 0: a real loss" if high < 0 else "includes 0: not conclusive")
        print(f"  autoencoder two-tower - EASE, NDCG@{k}: {mean:+.3f}, {level} % paired bootstrap interval "
              f"[{low:+.3f}, {high:+.3f}] over {len(task.eval_users):,} users ({verdict})")
    else:
        print(f"  (lesson 13's autoencoder is not trained at this size: its dense rows of {len(task.train_users):,} "
              f"training users x {task.num_movies:,} movies are more than AUTOENCODER_MAX_CELLS in course/config.py)")
    if result.check is not None:
        if result.check.agrees:
            print("  (your lesson 10 made this table; the reference's metrics give the same numbers for the same "
                  "rankings)")
        else:
            print("  WARNING: your lesson 10 made this table, and the reference's metrics give other numbers for "
                  "the same rankings, so these figures are not to be trusted:")
            for line in result.check.differences[:8]:
                print(f"    {line}")
            if len(result.check.differences) > 8:
                print(f"    ... and {len(result.check.differences) - 8} more")
            print("  Run `make check LESSON=10` to see what is wrong.")


def table_labels(result: ranking.SplitRanking) -> dict[str, str]:
    """What the table calls each predictor (EASE says how many movies it saw when not all)."""
    labels = {name: ranking.PREDICTORS.get(name, name) for name in result.metrics}
    if result.ease_left_out:
        labels["ease"] = f"EASE ({result.ease_movies:,} most-rated movies)"
    return labels


def write_metrics(results: dict[str, ranking.SplitRanking], path: Path) -> Path:
    """outputs/metrics.json: {split: {predictor: {metric: value}}}."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {split: {name: {key: round(value, 6) for key, value in values.items()}
                       for name, values in result.metrics.items()}
               for split, result in results.items()}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def save_model(folder: Path, kind: str, params: Params, item_vectors: torch.Tensor, data: PreparedData,
               persona_strength: float, info: dict) -> Path:
    """A trained model, for `make recommend` and `make similar` (commands/saved_model.py)."""
    titles = [data.maps.title_by_id[m] for m in data.top_movies]
    genres = [tuple(data.maps.genres_by_id.get(m, ())) for m in data.top_movies]
    tensors = {**{name: getattr(params, name) for name in Params.NAMES}, "item_vectors": item_vectors}
    return saved_model.save(folder, kind, tensors, list(data.top_movies), titles, genres,
                            data.context_index, {**info, "persona_strength": persona_strength})


def save_autoencoder(folder: Path, autoencoder: models.AutoencoderModel, data: PreparedData, code: Code,
                     persona_strength: float, info: dict) -> Path:
    """Lesson 13's model, for `make recommend` and `make similar`: its four tensors, the
    catalogue it was trained on (``data``: its split's, in row order), its settings and whose
    code trained it."""
    a = autoencoder.model
    return saved_model.save(
        folder, AUTOENCODER_KIND, {name: getattr(a.params, name) for name in saved_model.AUTOENCODER_TENSORS},
        list(data.top_movies), [data.maps.title_by_id[m] for m in data.top_movies],
        [tuple(data.maps.genres_by_id.get(m, ())) for m in data.top_movies], data.context_index,
        {**info, "code": {**code.record(models.AUTOENCODER_LESSONS), "path": autoencoder.path.name},
         "autoencoder": {"normalise": a.cfg.normalise, "nonlinear": a.cfg.nonlinear, "seed": a.cfg.seed},
         "persona_strength": persona_strength})


def print_answering_model(models_dir: Path) -> str:
    """The closing lines: which saved model ``make recommend`` and ``make similar`` will use,
    whose code trained it and whose lessons 8-9 answer (what those commands decide, asked of
    them here). Returns the model's kind."""
    model, which = saved_model.choose(saved_model.available(models_dir))
    answering = saved_model.answering_code(model).owners(saved_model.answering_lessons(model))
    print(f"make recommend and make similar will answer with {model.kind}, {model.description}: trained by "
          f"{model.code.get('summary', 'unknown code')} ({model.code.get('path', 'textbook')} path); "
          f"they answer with {answering}" + ("" if model.trained_by_reference
                                             else f" (yours from {relative(model.lessons_folder)}/)") + ".")
    print(f"  {which}")
    print('  Ask it: make recommend LIKES="toy story; finding nemo" LOVES=Animation HATES=Horror, '
          'or make similar TITLE="matrix"')
    return model.kind


# ---------------------------------------------------------------- the demo

def run_demo(cfg: CourseConfig, ratings, movies, source: str, out_dir: Path,
             device: torch.device, progress: bool = True, clock: Stopwatch | None = None,
             code: Code | None = None, config_name: str = "") -> dict:
    """Every stage of the demo; prints as it goes and returns what it measured. ``code``
    says whose lesson functions run (the reference by default)."""
    clock = clock or Stopwatch()
    code = code or learner_code.select("reference", lessons=DEMO_LESSONS)
    heading("Data")
    counts = ratings.groupby("movieId").size()
    if int((counts > cfg.data.min_ratings_per_movie).sum()) < 2:
        raise SystemExit(f"{source}: fewer than 2 movies have more than {cfg.data.min_ratings_per_movie} "
                         "ratings (min_ratings_per_movie), so there is nothing to train on; "
                         "are these the settings for this dataset?")
    # Where the ranking's catalogue is larger than the MSE model's (ML-32M), the random split's
    # ranking trains an MSE model of its own from these same lessons 1-4: their split is kept
    # for it (and handed over, so that it is let go once that model is trained).
    keep_split = ranking.ranking_data_config(cfg) != cfg.data
    with clock.stage("prepare (lessons 1-4)"):
        stages = prepare_stages(ratings, movies, cfg.data, code, keep_tables=False, keep_split=keep_split)
        data = to_prepared(stages)
        handed_over = [stages] if keep_split else []
        del stages
    print(f"{source}: {len(ratings):,} ratings, {len(movies):,} movies")
    print(f"catalogue: {len(data.top_movies):,} movies with more than {cfg.data.min_ratings_per_movie} "
          f"ratings, {len(data.genre_index)} genres, user context of {data.context_index.size} slots")
    print(f"examples: {len(data.train):,} training ({data.train.user_row.unique().numel():,} users), "
          f"{len(data.val):,} validation ({data.val.user_row.unique().numel():,} other users)")

    with clock.stage("baselines"):
        baselines = models.measure_baselines(data)

    heading(f"Training on {device.type}")
    t, m = cfg.train, cfg.model
    print(f"up to {t.steps:,} steps of batch {t.batch_size}, learning rate {t.lr_schedule}, "
          f"weight decay {t.weight_decay}, early stopping patience {t.patience} "
          f"(evaluations every {t.eval_every} steps); embeddings {m.item_feature_dim} + {m.item_id_dim}")
    with clock.stage("train (lessons 5-6)"):
        mse = models.train_mse(data, cfg, code, device, progress=progress)
    history = mse.history
    stop = f"stopped early at step {history.steps[-1]:,}" if history.stopped_early else f"ran all {t.steps:,} steps"
    print(f"{stop} on the {mse.path.name} path; best validation loss at step {history.best_step:,} "
          f"(those parameters are kept)")

    heading("Validation mean squared error (debiased ratings, lower is better)")
    print_mse_table(mse, baselines, cfg)

    heading("Ranking: what lands in a held-out user's top 10 (lessons 10-13)")
    print(f"each split's own models, trained on its training users; every held-out user scored and ranked in "
          f"blocks of {cfg.ranking.block_users:,}, by lesson 10's functions:")
    for function, path in (("rank_unseen", ranking.ranking_path(code)), ("ranking_metrics", ranking.metrics_path(code)),
                           ("ease_weights (EASE)", ranking.ease_path(code))):
        print(f"  {function}: {path.describe()}")
    results: dict[str, ranking.SplitRanking] = {}
    for split_kind in ranking.SPLITS:
        with clock.stage(f"ranking, {split_kind} split (lessons 10-13)"):
            # The random split is the one the MSE model above was trained on: reused if its inputs match.
            results[split_kind] = ranking.rank_split(cfg, ratings, movies, split_kind, code, device,
                                                     mse if split_kind == "random" else None,
                                                     handed_over.pop() if split_kind == "random" and handed_over
                                                     else None)
        print_ranking_table(results[split_kind], cfg)

    with clock.stage("embeddings (lesson 7)"):
        embeddings = code.l7.movie_embeddings(mse.params, models.to_device(data, device).movie_genres)
    heading(f"Most similar movies (combined embedding, {SIMILAR_K} nearest)")
    with clock.stage("similar movies (lesson 8)"):
        similar_movies_section(embeddings.combined, data, code.l8)

    random_split = results["random"]
    retrieval_vectors = ranking.retrieval_item_vectors(random_split, code)
    retrieval_data = ranking.retrieval_data(random_split)
    # The personas come from the model make recommend will answer with (saved_model.choose's rule).
    by_autoencoder = random_split.autoencoder is not None and lesson_13_answers(code)
    if by_autoencoder:
        heading("Recommendations for five new users (no retraining), from the autoencoder two-tower of lesson 13")
        with clock.stage("personas (lesson 9)"):
            personas = autoencoder_personas_section(random_split, retrieval_data, code)
    else:
        heading("Recommendations for five new users (no retraining), from the softmax two-tower of lesson 12")
        with clock.stage("personas (lesson 9)"):
            personas = personas_section(random_split.retrieval.model.params, retrieval_vectors, retrieval_data,
                                        cfg.retrieval.persona_strength, code.l9)

    heading("Figures")
    with clock.stage("figures"):
        loss_path = code.l6.plot_loss_curve(history, out_dir / "loss_curve.png")
        map_path = plot_embedding_map(embeddings.combined, data, out_dir / "movie_map.png")
    print(f"loss curve:          {loss_path}")
    print(f"movie embedding map: {map_path}")
    print(f"ranking metrics:     {write_metrics(results, out_dir / 'metrics.json')} (both tables above)")

    heading("Saved models")
    models_dir = out_dir / "models"
    with clock.stage("save models"):
        # Both models, each with its NDCG@10 on the random split's held-out users, so that
        # make recommend answers with the better one (and says which).
        ndcg = f"ndcg@{cfg.ranking.k}"
        base = {"command": "make demo", "config": config_name, "source": source}
        metrics = {"val_mse": mse.best_val_loss, "baseline_mse": baselines.better,
                   ndcg: results["random"].metrics["mse-two-tower"][ndcg]}
        mse_dir = save_model(models_dir / MODEL_KIND, MODEL_KIND, mse.params, embeddings.combined, data,
                             cfg.data.persona_strength,
                             {**base, "code": {**code.record(models.MSE_LESSONS), "path": mse.path.name},
                              "metrics": metrics})
        print(f"{mse_dir}: {models.MSE_NAME}, code: {code.owners(models.MSE_LESSONS)}, {mse.path.name} path")
        retrieval = results["random"].retrieval
        retrieval_dir = save_model(
            models_dir / RETRIEVAL_KIND, RETRIEVAL_KIND, retrieval.model.params, retrieval_vectors,
            retrieval_data, cfg.retrieval.persona_strength,
            {**base, "code": {**code.record(models.RETRIEVAL_LESSONS), "path": retrieval.path.name},
             "metrics": {ndcg: results["random"].metrics["softmax-two-tower"][ndcg]}})
        print(f"{retrieval_dir}: {models.RETRIEVAL_NAME}, code: {code.owners(models.RETRIEVAL_LESSONS)}, "
              f"{retrieval.path.name} path")
        autoencoder = results["random"].autoencoder
        if autoencoder is not None:
            autoencoder_dir = save_autoencoder(
                models_dir / AUTOENCODER_KIND, autoencoder, retrieval_data, code, cfg.retrieval.persona_strength,
                {**base, "metrics": {ndcg: results["random"].metrics["autoencoder"][ndcg]}})
            print(f"{autoencoder_dir}: {models.AUTOENCODER_NAME}, code: {code.owners(models.AUTOENCODER_LESSONS)}, "
                  f"{autoencoder.path.name} path, seed {autoencoder.model.cfg.seed}")
    answering = print_answering_model(models_dir)
    genres_by_id = retrieval_data.maps.genres_by_id
    return {"val_loss": mse.best_val_loss, "baselines": baselines, "history": history, "mse": mse,
            "figures": [loss_path, map_path], "models": models_dir, "answering_model": answering,
            "ranking": results, "personas": personas, "data": data, "persona_genres": genres_by_id,
            "code": code, "config": config_name, "source": source}


def persona_fit(shown: dict[str, list[int]], genres_by_id: dict) -> dict[str, dict]:
    """Per persona: how many of its movies have a genre it loves, and how many a genre it
    hates and none it loves (tests/test_demo.py holds the reference to these on ml-latest-small)."""
    fit = {}
    for persona in PERSONAS:
        if persona.name not in shown:
            continue
        genres = [set(genres_by_id.get(m, ())) for m in shown[persona.name]]
        loved = set(persona.liked_genres)
        fit[persona.name] = {"movies": len(genres), "loved": sum(bool(g & loved) for g in genres),
                             "hated_only": sum(bool(g & set(persona.disliked_genres)) and not g & loved
                                               for g in genres)}
    return fit


def demo_record(result: dict, clock: Stopwatch) -> dict:
    """What outputs/demo.json keeps of one run: every figure the demo printed, for the
    figures page (commands/figures.py) and the tests that tie quoted figures to a run."""
    import resource

    mse, data, code, baselines = result["mse"], result["data"], result["code"], result["baselines"]
    history = mse.history
    record = {
        "command": "make demo", "config": result["config"], "source": result["source"],
        "synthetic": result["source"].startswith("synthetic"),
        "code": {"mode": code.mode, "summary": code.owners(DEMO_LESSONS)},
        "paths": {"mse": mse.path.name},
        "catalogue": {"movies": len(data.top_movies), "genres": len(data.genre_index),
                      "context_slots": data.context_index.size},
        "examples": {"train": len(data.train), "train_users": int(data.train.user_row.unique().numel()),
                     "val": len(data.val), "val_users": int(data.val.user_row.unique().numel())},
        "mse": {"val_mse": mse.best_val_loss, "best_step": history.best_step, "last_step": history.steps[-1],
                "last_val_mse": history.val_loss[-1], "first_train_mse": history.train_loss[0],
                "first_val_mse": history.val_loss[0], "last_train_mse": history.train_loss[-1],
                "stopped_early": history.stopped_early, "baseline_user_mean": baselines.user_mean,
                "baseline_movie_mean": baselines.movie_mean},
        "answering_model": result["answering_model"],
        "stages_s": dict(clock.stages), "total_s": sum(seconds for _, seconds in clock.stages),
        # The process's peak resident memory (ru_maxrss is in KiB on Linux).
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20,
    }
    record["paths"]["retrieval"] = result["ranking"]["random"].retrieval.path.name
    autoencoder = result["ranking"]["random"].autoencoder
    record["paths"]["autoencoder"] = autoencoder.path.name if autoencoder is not None else None
    record["code"]["autoencoder"] = code.owners(models.AUTOENCODER_LESSONS)
    record["ranking"] = {
        split: {"held_out_users": len(r.task.eval_users), "train_users": len(r.task.train_users),
                "movies": r.task.num_movies, "ease_movies": r.ease_movies, "mse_movies": r.mse_movies,
                "metrics": r.metrics, "interval_vs_most_popular": r.interval,
                "autoencoder_interval_vs_ease": r.autoencoder_interval,
                "costs": {name: vars(cost) for name, cost in r.costs.items()},
                "lesson_10_agrees": None if r.check is None else r.check.agrees}
        for split, r in result["ranking"].items()}
    record["personas"] = persona_fit(result["personas"], result["persona_genres"])
    return record


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m commands.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="ml-latest-small",
                        help="installed MovieLens dataset to run on (settings: course/config.py)")
    parser.add_argument("--out", type=Path, default=OUTPUT_DIR,
                        help="folder for the PNG figures and the saved models (models/)")
    parser.add_argument("--code", choices=learner_code.MODES, default="auto",
                        help="whose lesson functions run: yours where written (auto), yours only (mine), "
                             "or the reference solutions (reference)")
    parser.add_argument("--lessons", type=Path, default=LESSONS_DIR, help="folder of your lesson files")
    parser.add_argument("--device", default="auto", help="cuda, cpu or auto (cuda when available)")
    parser.add_argument("--no-progress", action="store_true", help="no training progress bar")
    parser.add_argument("--synthetic", metavar="SIZE", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    use_course_threads()  # one CPU thread: see course/threads.py
    clock = Stopwatch()
    config_name = args.config or (SYNTHETIC_CONFIG.get(args.synthetic, args.dataset) if args.synthetic
                                  else args.dataset)
    cfg = get_config(config_name)
    try:
        code = learner_code.select(args.code, args.lessons, lessons=DEMO_LESSONS)
    except learner_code.CodeChoiceError as error:
        print(error, file=sys.stderr)
        return 2
    print(f"Two-tower recommender demo: settings CONFIGS[{config_name!r}] from course/config.py")
    print(code.summary())
    print_what_runs(code)
    with clock.stage("read data"):
        ratings, movies, source = load_tables(args.dataset, args.synthetic, args.seed)
    try:
        result = run_demo(cfg, ratings, movies, source, args.out, pick_device(args.device),
                          progress=not args.no_progress, clock=clock, code=code, config_name=config_name)
    except Exception as error:  # noqa: BLE001 - said in words, with the traceback after it
        if args.code == "reference":
            raise
        import traceback
        sys.stdout.flush()
        traceback.print_exc()
        print("\n" + learner_code.explain_failure(error, code), file=sys.stderr)
        return 1
    heading("Time per stage")
    print(clock.table())
    record = demo_record(result, clock)
    (args.out / "demo.json").write_text(json.dumps(record, indent=1) + "\n")
    print(f"\nEvery figure above: {args.out / 'demo.json'}; with make bench's, as a page: "
          f"{figures.write_page(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
