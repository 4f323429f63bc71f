"""``make demo``: the whole pipeline on MovieLens, end to end, with your code.

    python -m commands.demo --dataset ml-latest-small     (make demo)
    python -m commands.demo --dataset ml-32m              (make demo DATASET=ml-32m)
    python -m commands.demo --code reference              (make demo CODE=reference)

Every lesson function comes from your lessons/ where you have written it and from the
reference solutions otherwise (``--code auto``, the default; ``mine`` insists on yours,
``reference`` uses solutions/ only): commands/learner_code.py chooses, and the demo
prints first whose code each lesson is.

Cleans and prepares the data (lessons 1-4), trains the two towers (lessons 5-6), compares
the validation error with two baselines a model has to beat, then shows what the model
learnt: the most similar movies of the seed post's seven query movies (lessons 7-8), the
five personas' recommendations (lesson 9), the loss curve and a 2-D map of movie embeddings
(PNG files under ``outputs/``). It saves the trained model under ``outputs/models/``
for ``make recommend`` and ``make similar`` (commands/saved_model.py). Every setting comes from ``course.config.CONFIGS[dataset]``.
It trains on the GPU when PyTorch sees one.

``--synthetic SIZE`` (not listed in ``--help``) runs the same code on the deterministic
synthetic MovieLens of ``datasets.synthetic`` instead of the installed data, with the
settings made for that size (fixture, ml-latest-small for small, ml-32m; ``--config NAME``
picks others). The tests use ``--synthetic fixture``; ``--dataset ml-32m --synthetic
ml-32m`` runs the ML-32M code path (BLOG_DEFAULTS) without the download.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from commands import learner_code, saved_model
from commands.learner_code import Code
from course.config import CourseConfig, get_config
from course.containers import Examples, Params, PreparedData
from course.paths import LESSONS_DIR, OUTPUT_DIR, data_dir
from course.personas import PERSONAS, SIMILAR_QUERIES
from course.threads import use_course_threads
from datasets import synthetic as synthetic_data
from solutions.pipeline import new_parameters, prepare, read_movielens, to_prepared

# Default settings for each synthetic size (--synthetic SIZE without --config).
SYNTHETIC_CONFIG = {"fixture": "fixture", "small": "ml-latest-small", "ml-32m": "ml-32m"}
SIMILAR_K = 5            # neighbours listed per query movie
FALLBACK_QUERIES = 3     # most-rated movies queried when none of the seed post's is in the catalogue
DEMO_LESSONS = tuple(range(1, 10))   # the lessons whose code the demo runs
MODEL_KIND = "two-tower-mse"
RETRIEVAL_KIND = "softmax-two-tower"
NUM_RECOMMENDATIONS = 10
MAP_MOVIES = 40          # the most-rated movies drawn on the embedding map
# The genre that names a movie's colour on the map: the first of these it has.
MAP_GENRES = ("Animation", "Children", "Horror", "Sci-Fi", "Fantasy", "War", "Crime", "Romance",
              "Comedy", "Action", "Thriller", "Drama")


@dataclass
class Baselines:
    user_mean: float   # predict the user's own mean rating: 0 for the debiased target
    movie_mean: float  # predict the movie's mean debiased rating among training users


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
    return ratings, movies, f"{dataset} from {folder}"


def measure_baselines(data: PreparedData) -> Baselines:
    """Two models with no learning, scored on the same validation examples as the model."""
    train, val = data.train, data.val
    user_mean = float((val.target ** 2).mean())
    num_movies = len(data.top_movies)
    total = torch.zeros(num_movies, dtype=torch.float64).index_add_(0, train.movie_row, train.target.double())
    count = torch.bincount(train.movie_row, minlength=num_movies).double()
    movie_mean = torch.where(count > 0, total / count.clamp(min=1), 0.0)
    predicted = movie_mean[val.movie_row]
    return Baselines(user_mean, float(((predicted - val.target.double()) ** 2).mean()))


def to_device(data: PreparedData, device: torch.device) -> PreparedData:
    """The tensors the training loop reads, moved to ``device``."""
    def move(ex: Examples) -> Examples:
        return Examples(ex.user_row.to(device), ex.movie_row.to(device), ex.target.to(device))
    return replace(data, user_context=data.user_context.to(device),
                   movie_genres=data.movie_genres.to(device), train=move(data.train), val=move(data.val))


def params_to(params: Params, device: torch.device) -> Params:
    return Params(*(p.detach().to(device).requires_grad_(True) for p in params.as_list()))


def short_title(title: str, width: int = 28) -> str:
    """A label for the map: 'Matrix, The (1999)' -> 'The Matrix'. A long title keeps its
    subtitle ('Star Wars: Episode IV - A New Hope' -> 'A New Hope'), then is cut."""
    name = re.sub(r"\s*\(\d{4}(?:-\d{4})?\)\s*$", "", title)
    name = re.sub(r"\s*\(.*?\)", "", name) or name  # alternative titles in brackets
    match = re.fullmatch(r"(.*), (The|A|An)", name)
    if match:
        name = f"{match.group(2)} {match.group(1)}"
    if len(name) > width and ":" in name:
        name = name.split(":", 1)[1].split(" - ")[-1].strip() or name
    return name if len(name) <= width else name[:width - 1].rstrip() + "…"


def plot_embedding_map(combined: torch.Tensor, data: PreparedData, path: Path,
                       num_movies: int = MAP_MOVIES) -> Path:
    """PCA of the combined embeddings of the most-rated movies, one labelled dot each."""
    from matplotlib.figure import Figure

    rows = list(range(min(num_movies, len(data.top_movies))))
    points = combined[rows].detach().cpu().double()
    points = points - points.mean(dim=0)
    # The two directions along which these embeddings vary most (principal components).
    _, _, vh = torch.linalg.svd(points, full_matrices=False)
    xy = (points @ vh[:2].T).numpy() if vh.shape[0] >= 2 else torch.zeros((len(rows), 2)).numpy()

    figure = Figure(figsize=(11, 8))
    axes = figure.subplots()
    colours: dict[str, str] = {}
    for i, row in enumerate(rows):
        movie_id = data.top_movies[row]
        genres = data.maps.genres_by_id.get(movie_id, ())
        group = next((g for g in MAP_GENRES if g in genres), "other")
        first = group not in colours
        colours.setdefault(group, f"C{len(colours) % 10}")
        axes.scatter(xy[i, 0], xy[i, 1], color=colours[group], s=30, label=group if first else None)
        axes.annotate(short_title(data.maps.title_by_id[movie_id]), (xy[i, 0], xy[i, 1]), fontsize=7,
                      xytext=(3, 3), textcoords="offset points")
    axes.legend(title="genre", fontsize=8, loc="best")
    axes.set_title(f"Combined embeddings of the {len(rows)} most-rated movies (PCA, 2 components)")
    axes.set_xlabel("first principal component")
    axes.set_ylabel("second principal component")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path


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


def save_model(folder: Path, kind: str, params: Params, combined: torch.Tensor, data: PreparedData,
               persona_strength: float, info: dict) -> Path:
    """A trained model, for `make recommend` and `make similar` (commands/saved_model.py)."""
    titles = [data.maps.title_by_id[m] for m in data.top_movies]
    genres = [tuple(data.maps.genres_by_id.get(m, ())) for m in data.top_movies]
    tensors = {"user_W": params.user_W, "user_b": params.user_b, "item_vectors": combined}
    return saved_model.save(folder, kind, tensors, list(data.top_movies), titles, genres,
                            data.context_index, {**info, "persona_strength": persona_strength})


def code_owners(code: Code) -> str:
    """'lessons 1-6, 8-9 yours; lesson 7 the reference's' for the saved model's record."""
    parts = []
    for owner, label in ((learner_code.MINE, "yours"), (learner_code.PARTLY, "partly yours"),
                         (learner_code.REFERENCE, "the reference's")):
        numbers = code.lessons_whose(owner)
        if numbers:
            parts.append(f"lesson{'s' if len(numbers) > 1 else ''} {learner_code.number_ranges(numbers)} {label}")
    return "; ".join(parts)


# ---------------------------------------------------------------- ranking (lessons 10-12)

RANKING_NAMES = {  # metrics.json name -> how the table describes it
    "mse-two-tower": "MSE two-tower (lessons 1-9)",
    "softmax-two-tower": "softmax two-tower (lesson 12)",
    "random": "random",
    "most-popular": "most-popular (training users' counts)",
    "bayesian-average": "Bayesian-average rating",
    "ease": "EASE (closed form)",
}


def ranking_split(cfg: CourseConfig, ratings, movies, split_kind: str, device: torch.device,
                  mse_model: tuple[Params, PreparedData] | None = None) -> dict:
    """One split of the ranking evaluation: its own MSE model (unless ``mse_model``, the
    parameters trained above and their data, was trained on exactly this split's inputs),
    its own retrieval model and every lesson-10 baseline, all trained on this split's
    training users only."""
    from solutions import evaluation as ev
    from solutions import lesson06_training as l6
    from solutions.pipeline import prepare_stages

    s = prepare_stages(ratings, movies, cfg.data, split_kind=split_kind)
    task = ev.ranking_task(s, s.train_users, s.val_users, cfg.ranking)
    mse_params = None
    if mse_model is not None:
        params, data = mse_model
        if (list(data.top_movies) == list(s.top_movies) and data.context_index == s.context_index
                and torch.equal(data.user_context.cpu(), s.user_context)):
            mse_params = params
        else:  # the learner's lessons 1-4 made other inputs: rank with a model trained on these
            print("(your lessons 1-4 give other inputs than the reference's, so the MSE row below is a model "
                  "trained by the reference on the reference's inputs)")
    if mse_params is None:  # the lesson 5-6 training of run_demo, on this split
        prepared = to_prepared(s)
        mse_params = params_to(new_parameters(prepared, cfg.model), device)
        l6.train(mse_params, to_device(prepared, device), cfg.train, torch.Generator().manual_seed(cfg.train.seed))
    retrieval = ev.train_retrieval_model(s, task, cfg, device)
    scores = {"mse-two-tower": ev.mse_model_scores(mse_params, s, task),
              "softmax-two-tower": ev.retrieval_scores(retrieval, s, task, cfg.retrieval.temperature,
                                                       cfg.retrieval.popularity_weight_for(split_kind)),
              **ev.baseline_scores(task, cfg.ranking)}
    metrics, per_user = {}, {}
    for name, value in scores.items():
        metrics[name], per_user[name] = ev.evaluate_scores(value, task, cfg.ranking.k)
    interval = ev.bootstrap_difference(per_user["softmax-two-tower"], per_user["most-popular"], cfg.ranking)
    return {"stages": s, "task": task, "retrieval": retrieval, "metrics": metrics, "interval": interval}


def print_ranking_table(split_kind: str, result: dict, cfg: CourseConfig) -> None:
    task, k = result["task"], cfg.ranking.k
    print(f"\n{split_kind} split: {len(task.eval_users)} held-out users with a label rated "
          f">= {cfg.ranking.relevant_rating}, {len(task.train_users)} training users, "
          f"{task.seen.shape[1]:,} movies")
    keys = [f"ndcg@{k}", f"hr@{k}", f"recall@{k}", "mrr", "coverage"]
    width = max(len(v) for v in RANKING_NAMES.values())
    print(f"  {'predictor':<{width}}  " + "  ".join(f"{key:>9}" for key in keys) + "  × most-popular")
    popular = result["metrics"]["most-popular"][f"ndcg@{k}"]
    for name, values in result["metrics"].items():
        ratio = values[f"ndcg@{k}"] / popular if popular > 0 else float("nan")
        print(f"  {RANKING_NAMES.get(name, name):<{width}}  " + "  ".join(f"{values[key]:9.3f}" for key in keys)
              + f"  {ratio:14.2f}")
    if "ease" not in result["metrics"]:
        print(f"  (EASE left out: its {task.seen.shape[1]:,} x {task.seen.shape[1]:,} matrices exceed "
              f"ease_max_movies = {cfg.ranking.ease_max_movies:,})")
    mean, low, high = result["interval"]
    level = round(100 * cfg.ranking.bootstrap_confidence)
    verdict = "above 0: a real gain" if low > 0 else ("below 0: a real loss" if high < 0 else "includes 0: not conclusive")
    print(f"  softmax two-tower - most-popular, NDCG@{k}: {mean:+.3f}, {level} % paired bootstrap interval "
          f"[{low:+.3f}, {high:+.3f}] over {len(task.eval_users)} users ({verdict})")


def write_metrics(results: dict[str, dict], path: Path) -> Path:
    """outputs/metrics.json: {split: {predictor: {metric: value}}}."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {split: {name: {key: round(value, 6) for key, value in values.items()}
                       for name, values in result["metrics"].items()}
               for split, result in results.items()}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def ranking_section(cfg: CourseConfig, ratings, movies, device: torch.device,
                    mse_model: tuple[Params, PreparedData], clock: Stopwatch) -> dict[str, dict]:
    """Lessons 10-12: the ranking table on both splits (:func:`write_metrics` saves it)."""
    results = {}
    for split_kind in ("random", "temporal"):
        with clock.stage(f"ranking, {split_kind} split (lessons 10-12)"):
            # The random split is the one the MSE model above was trained on: reuse it.
            results[split_kind] = ranking_split(cfg, ratings, movies, split_kind, device,
                                                mse_model if split_kind == "random" else None)
        print_ranking_table(split_kind, results[split_kind], cfg)
    return results


def retrieval_item_vectors(result: dict) -> torch.Tensor:
    """Every catalogue movie's vector in the retrieval model of one ranking split."""
    from solutions.lesson05_weights import item_tower

    model, s = result["retrieval"], result["stages"]
    device = model.params.user_W.device
    with torch.no_grad():
        return item_tower(model.params, s.movie_genres.to(device), torch.arange(len(s.movie_index), device=device))


def retrieval_data(result: dict) -> PreparedData:
    """The catalogue and vocabularies the retrieval model of one ranking split was trained
    with (the reference lessons 1-4), with its own user-context layout."""
    return replace(to_prepared(result["stages"]), context_index=result["retrieval"].context_index)


def retrieval_personas_section(result: dict, cfg: CourseConfig, l9) -> dict[str, list[int]]:
    """The personas of lesson 9, scored by the retrieval model of the random split."""
    return personas_section(result["retrieval"].params, retrieval_item_vectors(result), retrieval_data(result),
                            cfg.retrieval.persona_strength, l9)


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
    with clock.stage("prepare (lessons 1-4)"):
        data = prepare(ratings, movies, cfg.data, code)
    print(f"{source}: {len(ratings):,} ratings, {len(movies):,} movies")
    print(f"catalogue: {len(data.top_movies):,} movies with more than {cfg.data.min_ratings_per_movie} "
          f"ratings, {len(data.genre_index)} genres, user context of {data.context_index.size} slots")
    print(f"examples: {len(data.train):,} training ({data.train.user_row.unique().numel():,} users), "
          f"{len(data.val):,} validation ({data.val.user_row.unique().numel():,} other users)")

    with clock.stage("baselines"):
        baselines = measure_baselines(data)

    heading(f"Training on {device.type}")
    t, m = cfg.train, cfg.model
    print(f"up to {t.steps:,} steps of batch {t.batch_size}, learning rate {t.lr_schedule}, "
          f"weight decay {t.weight_decay}, early stopping patience {t.patience} "
          f"(evaluations every {t.eval_every} steps); embeddings {m.item_feature_dim} + {m.item_id_dim}")
    with clock.stage("train (lessons 5-6)"):
        params = params_to(new_parameters(data, m, code), device)
        on_device = to_device(data, device)
        history = code.l6.train(params, on_device, t, torch.Generator().manual_seed(t.seed), progress=progress)
    best = history.val_loss[history.steps.index(history.best_step)]
    stop = f"stopped early at step {history.steps[-1]:,}" if history.stopped_early else f"ran all {t.steps:,} steps"
    print(f"{stop}; best validation loss at step {history.best_step:,} (those parameters are kept)")

    heading("Validation mean squared error (debiased ratings, lower is better)")
    rows = [("two-tower model", best),
            ("baseline: the user's own mean rating", baselines.user_mean),
            ("baseline: the movie's mean rating among training users", baselines.movie_mean)]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value:.4f}")
    better = min(baselines.user_mean, baselines.movie_mean)
    verdict = "beats" if best < better else "does NOT beat"
    print(f"The model {verdict} the better baseline by {better - best:+.4f} "
          f"({100 * (better - best) / better:+.1f} %), on {len(data.val):,} ratings of unseen users.")
    if history.steps[-1] != history.best_step:
        print(f"(Early stopping picked the step by this same validation loss, so it flatters the "
              f"model a little: the last evaluation, at step {history.steps[-1]:,}, gave "
              f"{history.val_loss[-1]:.4f}.)")

    heading("Ranking: what lands in a held-out user's top 10 (lessons 10-12, reference code)")
    cells = len(data.user_ids) * len(data.top_movies)
    if cells <= cfg.ranking.max_dense_cells:
        ranking = ranking_section(cfg, ratings, movies, device, (params, data), clock)
    else:
        ranking = None
        print(f"skipped at this size: the evaluation's dense [users, movies] matrices would hold {cells:,} cells "
              f"(limit ranking.max_dense_cells = {cfg.ranking.max_dense_cells:,} in course/config.py); "
              f"the personas below come from the MSE model.")

    with clock.stage("embeddings (lesson 7)"):
        embeddings = code.l7.movie_embeddings(params, on_device.movie_genres)
    heading(f"Most similar movies (combined embedding, {SIMILAR_K} nearest)")
    with clock.stage("similar movies (lesson 8)"):
        similar_movies_section(embeddings.combined, data, code.l8)

    if ranking is not None:
        heading("Recommendations for five new users (no retraining), from the softmax two-tower of lesson 12")
        with clock.stage("personas (lesson 9)"):
            retrieval_personas_section(ranking["random"], cfg, code.l9)
    else:
        heading("Recommendations for five new users (no retraining), from the MSE two-tower of lessons 1-9")
        with clock.stage("personas (lesson 9)"):
            personas_section(params, embeddings.combined, data, cfg.data.persona_strength, code.l9)

    heading("Figures")
    with clock.stage("figures"):
        loss_path = code.l6.plot_loss_curve(history, out_dir / "loss_curve.png")
        map_path = plot_embedding_map(embeddings.combined, data, out_dir / "movie_map.png")
    print(f"loss curve:          {loss_path}")
    print(f"movie embedding map: {map_path}")
    if ranking is not None:
        print(f"ranking metrics:     {write_metrics(ranking, out_dir / 'metrics.json')} (both tables above)")

    heading("Saved model")
    with clock.stage("save model"):
        # Both models, each with its NDCG@10 on the random split's held-out users, so that
        # make recommend answers with the better one (and says which).
        ndcg = f"ndcg@{cfg.ranking.k}"
        metrics = {"val_mse": best, "baseline_mse": better}
        if ranking is not None:
            metrics[ndcg] = ranking["random"]["metrics"]["mse-two-tower"][ndcg]
        info = {"command": "make demo", "config": config_name, "source": source, "code": code_owners(code),
                "metrics": metrics}
        model_dir = save_model(out_dir / "models" / MODEL_KIND, MODEL_KIND, params, embeddings.combined, data,
                               cfg.data.persona_strength, info)
        if ranking is None:  # no retrieval model this time: an older one must not answer for this one
            shutil.rmtree(out_dir / "models" / RETRIEVAL_KIND, ignore_errors=True)
        else:
            retrieval = ranking["random"]["retrieval"]
            retrieval_info = {"command": "make demo", "config": config_name, "source": source,
                              "code": "lessons 1-4 and 10-12 the reference's",
                              "metrics": {ndcg: ranking["random"]["metrics"]["softmax-two-tower"][ndcg]}}
            save_model(out_dir / "models" / RETRIEVAL_KIND, RETRIEVAL_KIND, retrieval.params,
                       retrieval_item_vectors(ranking["random"]), retrieval_data(ranking["random"]),
                       cfg.retrieval.persona_strength, retrieval_info)
    print(f"{model_dir} (ask it: make recommend LIKES=\"toy story; finding nemo\" LOVES=Animation HATES=Horror, "
          f"or make similar TITLE=\"matrix\")")
    return {"val_loss": best, "baselines": baselines, "history": history,
            "figures": [loss_path, map_path], "model": model_dir, "ranking": ranking}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m commands.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="ml-latest-small",
                        help="installed MovieLens dataset to run on (settings: course/config.py)")
    parser.add_argument("--out", type=Path, default=OUTPUT_DIR,
                        help="folder for the PNG figures and the saved model (models/)")
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
    with clock.stage("read data"):
        ratings, movies, source = load_tables(args.dataset, args.synthetic, args.seed)
    try:
        run_demo(cfg, ratings, movies, source, args.out, pick_device(args.device),
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
