"""The figures page: every figure the course measures, written from the runs that measured
it, never typed by hand.

    python -m commands.figures            # outputs/figures.md from outputs/demo.json and bench.json
    python -m commands.figures --publish  # (maintainers, make figures) copy both into docs/figures/
                                          # and write docs/figures.md from them

``make demo`` writes ``outputs/demo.json`` and ``make bench`` ``outputs/bench.json``; each then
calls :func:`write_page`, so ``outputs/figures.md`` always shows your latest runs. The
course's own page, ``docs/figures.md``, is the same rendering of the copies in
``docs/figures/``: ``--publish`` takes only a ``make demo CODE=reference`` run on the real
ml-latest-small and a full ``make bench`` run, and ``tests/test_figures.py`` fails when the
page is not exactly what :func:`render` makes of those copies.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from course.paths import OUTPUT_DIR, REPO
from recommender.ranking import PREDICTORS

PUBLISHED_DIR = REPO / "docs" / "figures"
PAGE = REPO / "docs" / "figures.md"
RUNS = ("demo", "bench")
SPLIT_NAMES = {"random": "random split", "temporal": "time-ordered split"}


def load_runs(folder: Path) -> dict[str, dict | None]:
    """``{"demo": ..., "bench": ...}`` from ``folder``'s JSON files (None where absent)."""
    runs = {}
    for name in RUNS:
        path = Path(folder) / f"{name}.json"
        runs[name] = json.loads(path.read_text()) if path.exists() else None
    return runs


def _table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s ({value / 60:.1f} min)"


def render_demo(demo: dict) -> str:
    data = "synthetic data" if demo.get("synthetic") else "real data"
    code = demo["code"]
    out = [f"## `make demo` ({demo['config']}, {data})", "",
           f"Run on {demo['source']} with settings `CONFIGS[{demo['config']!r}]`; code: {code['summary']} "
           f"(CODE={code['mode']}); MSE model on the {demo['paths']['mse']} path"
           + (f", retrieval model on the {demo['paths']['retrieval']} path" if "retrieval" in demo["paths"] else "")
           + (f", autoencoder (lesson 13, seed 0) on the {demo['paths']['autoencoder']} path"
              if demo["paths"].get("autoencoder") else "")
           + f". Wall time {_seconds(demo['total_s'])}, peak memory {demo['peak_gib']:.2f} GiB.", ""]
    c, e, m = demo["catalogue"], demo["examples"], demo["mse"]
    out += [f"Catalogue: {c['movies']:,} movies, {c['genres']} genres, a user context of {c['context_slots']} "
            f"slots; {e['train']:,} training examples ({e['train_users']:,} users), {e['val']:,} validation "
            f"examples ({e['val_users']:,} other users).", "",
            "Validation mean squared error of the debiased rating (lessons 1-6):", "",
            _table(["predictor", "validation MSE"], [
                ["the user's own mean rating (predict 0)", f"{m['baseline_user_mean']:.4f}"],
                ["the movie's mean rating among training users", f"{m['baseline_movie_mean']:.4f}"],
                [f"**two-tower model** (best evaluation, step {m['best_step']:,}; the last, at step "
                 f"{m['last_step']:,}, gives {m['last_val_mse']:.4f})", f"**{m['val_mse']:.4f}**"]]), ""]
    if "ranking" in demo:
        ranking = demo["ranking"]
        splits = list(ranking)
        header = ["NDCG@10 (× most-popular)"] + [f"{SPLIT_NAMES.get(s, s)} ({ranking[s]['held_out_users']} users)"
                                                 for s in splits]
        rows = []
        for name, label in PREDICTORS.items():
            cells = []
            for split in splits:
                metrics = ranking[split]["metrics"]
                if name not in metrics:
                    cells.append("-")
                    continue
                value, popular = metrics[name]["ndcg@10"], metrics["most-popular"]["ndcg@10"]
                cells.append(f"{value:.3f} ({value / popular:.2f})" if name not in ("most-popular", "random")
                             else f"{value:.3f}")
            rows.append([label] + cells)
        out += ["Ranking (lessons 10-13): each held-out user's catalogue ranked from their watch history, "
                "relevant = labels rated 4.0 or more:", "", _table(header, rows), ""]
        for split in splits:
            mean, low, high = ranking[split]["interval_vs_most_popular"]
            out.append(f"- {SPLIT_NAMES.get(split, split)}: softmax two-tower − most-popular NDCG@10 {mean:+.3f}, "
                       f"95 % paired bootstrap interval [{low:+.3f}, {high:+.3f}]")
            if ranking[split].get("autoencoder_interval_vs_ease"):
                mean, low, high = ranking[split]["autoencoder_interval_vs_ease"]
                out.append(f"- {SPLIT_NAMES.get(split, split)}: autoencoder two-tower − EASE NDCG@10 {mean:+.3f}, "
                           f"95 % paired bootstrap interval [{low:+.3f}, {high:+.3f}]")
        out.append("")
        for split in splits:
            r = ranking[split]
            keys = [key for key in next(iter(r["metrics"].values())) if key != "ndcg@10"]
            rows = []
            for name, values in r["metrics"].items():
                cost = r.get("costs", {}).get(name)
                rows.append([PREDICTORS.get(name, name)] + [f"{values[key]:.3f}" for key in keys]
                            + ([f"{cost['train_s']:.1f} s", f"{cost['evaluate_s']:.1f} s", f"{cost['peak_gib']:.2f} GiB"]
                               if cost else ["", "", ""]))
            notes = []
            if r.get("ease_movies", r["movies"]) < r["movies"]:
                notes.append(f"EASE saw the {r['ease_movies']:,} most-rated of the {r['movies']:,} movies, the rest "
                             f"ranked below them (the whole catalogue's float64 [M, M] matrices would need "
                             f"{r['movies'] ** 2 * 8 / 2 ** 30:.0f} GiB each)")
            if r.get("mse_movies", r["movies"]) < r["movies"]:
                notes.append(f"the MSE two-tower scores its own {r['mse_movies']:,} movies, the rest ranked below them")
            out += [f"The {SPLIT_NAMES.get(split, split)}'s other metrics, {r['movies']:,} movies, and what each "
                    f"predictor took to train and to rank every held-out user (peak: the process's memory then)"
                    + (f"; {'; '.join(notes)}" if notes else "") + ":", "",
                    _table(["predictor", *keys, "train", "rank", "peak"], rows), ""]
    if demo.get("personas"):
        rows = [[name, f"{fit['loved']} of {fit['movies']}", str(fit["hated_only"])]
                for name, fit in demo["personas"].items()]
        out += ["The personas' top 10 (lesson 9, from the model `make recommend` uses): movies with a genre the "
                "persona loves, and with a genre it hates and none it loves:", "",
                _table(["persona", "loved genre", "hated genre only"], rows), ""]
    rows = [[name, f"{seconds:.2f} s"] for name, seconds in demo["stages_s"].items()]
    out += ["Time per stage:", "", _table(["stage", "wall"], rows), ""]
    return "\n".join(out)


def render_bench(bench: dict) -> str:
    run = bench.get("run", {})
    out = [f"## `make bench` ({run.get('mode', 'full')} run)", "",
           f"{run.get('python', '')} with torch {run.get('torch', '?')} on {bench.get('cpu_cores', '?')} CPU cores, "
           f"one torch thread per operation (`course/threads.py`); load average at the end "
           f"{bench.get('load_average_at_end', '?')}. The ML-32M-size figures come from **synthetic data** of "
           f"ML-32M's size (`datasets/synthetic.py`), not from the real ML-32M.", ""]
    rows = []
    for key, label in (("small", "ml-latest-small"), ("ml32m", "ML-32M size (synthetic)"), ("fixture", "fixture")):
        if f"prep_{key}_s" in bench:
            rows.append([f"{label}: lessons 1-4 (CSV reading excluded)", _seconds(bench[f"prep_{key}_s"]),
                         _seconds(bench[f"prep_{key}_cpu_s"]), f"{bench[f'prep_{key}_peak_gib']:.2f} GiB"])
        if f"{key}_demo_s" in bench:
            steps = bench[f"{key}_train_steps"]
            train = next(v for k, v in bench.items() if k.startswith(f"{key}_train_") and k.endswith("k_s"))
            rows.append([f"{label}: training, {steps:,} steps with {bench[f'{key}_evaluations']} evaluations",
                         _seconds(train), _seconds(bench[f"{key}_train_cpu_s"]), ""])
            rows.append([f"{label}: of which the evaluations ({bench[f'{key}_eval_share']:.0%})",
                         _seconds(bench[f"{key}_eval_s"]), _seconds(bench[f"{key}_eval_cpu_s"]), ""])
            rows.append([f"{label}: the whole demo (data generation excluded)", _seconds(bench[f"{key}_demo_s"]),
                         _seconds(bench[f"{key}_demo_cpu_s"]), f"{bench[f'{key}_peak_gib']:.2f} GiB"])
    for key in ("similar_84k", "similar"):
        if f"{key}_s" in bench:
            rows.append([f"similar movies, {bench.get('similar_movies', 84_000):,} movies, top 5 (lesson 8, blocked)",
                         _seconds(bench[f"{key}_s"]), _seconds(bench[f"{key}_cpu_s"]),
                         f"{bench[f'{key}_peak_gib']:.2f} GiB"])
    out += [_table(["stage", "wall", "CPU", "peak memory"], rows), ""]
    if "train_steps_per_s" in bench:
        out += [f"Training step ({bench['train_steps_per_s_from']}): {bench['train_steps_per_s']:,.0f} steps/s, "
                f"{bench['train_step_mflop']:.2f} MFLOP a step = {bench['train_gflops']:.1f} GFLOP/s, against "
                f"{bench['matmul_gflops']:.1f} GFLOP/s for a 512 × 512 × 512 matrix product on the same core in the "
                f"same run ({bench['matmul_step_shape_gflops']:.1f} GFLOP/s at the step's own shape "
                f"{bench['matmul_step_shape']}): {bench['train_gflops'] / bench['matmul_gflops']:.0%} of it.", ""]
    rows = []
    for key, label in (("small", "ml-latest-small"), ("ml32m", "ML-32M size"), ("fixture", "fixture")):
        fast, textbook = bench.get(f"{key}_fast_steps_per_s"), bench.get(f"{key}_textbook_steps_per_s")
        if fast and textbook:
            rows.append([f"{label}: training steps/s", f"{textbook:,.0f}", f"{fast:,.0f}", f"{fast / textbook:.2f}×"])
        fast, textbook = bench.get(f"{key}_one_evaluation_s"), bench.get(f"{key}_textbook_evaluation_s")
        if fast and textbook:
            rows.append([f"{label}: one evaluation of both sets", f"{textbook * 1e3:,.0f} ms", f"{fast * 1e3:,.0f} ms",
                         f"{textbook / fast:.2f}×"])
    if rows:
        out += ["The textbook (lesson 6's `batch_loss` + `sgd_step`, and `evaluate` on each set) and the fast path "
                "(`fast/`, proven equal in `tests/test_fast_paths.py`):", "",
                _table(["", "textbook", "fast", "fast ÷ textbook"], rows), ""]
    for key, label in (("small", "ml-latest-small"), ("fixture", "fixture")):
        reference, learner = bench.get(f"{key}_demo_reference_s"), bench.get(f"{key}_demo_learner_s")
        if reference and learner:
            out += [f"`make demo` on {label}, whole command, in the same run: CODE=reference "
                    f"{_seconds(reference)}; every lesson the learner's (the reference copied over the stubs, so the "
                    f"textbook path everywhere) {_seconds(learner)}, {learner / reference:.2f}× as long.", ""]
    if bench.get("threads_comparison"):
        rows = [[str(r["threads"]), f"{r['steps_per_s']:,.0f}", f"{r['steps_per_cpu_s']:,.0f}"]
                for r in bench["threads_comparison"]]
        out += ["Thread policy (training steps at ML-32M shapes):", "",
                _table(["torch threads", "steps/s", "steps per CPU-second"], rows), ""]
    if bench.get("loop_vs_vectorised"):
        rows = [[r["what"], f"{r['loop']:.3f} s", f"{r['vectorised']:.4f} s", f"{r['loop'] / r['vectorised']:,.0f}×",
                 "yes" if r["same"] else "NO"] for r in bench["loop_vs_vectorised"]]
        out += ["The course's vectorised code against the seed post's Python loops (same inputs):", "",
                _table(["comparison", "loop", "vectorised", "speed-up", "same result"], rows), ""]
    if bench.get("goals"):
        rows = [[name, f"{goal['value']:.2f}", f"≤ {goal['goal']:.2f}", "ok" if goal["ok"] else "MISSED"]
                for name, goal in bench["goals"].items()]
        out += ["Goals (`benchmarks/bench.py`, a quiet 2-core machine):", "",
                _table(["figure", "measured", "goal", ""], rows), ""]
    return "\n".join(out)


def render(runs: dict[str, dict | None]) -> str:
    """The whole page, from the runs' JSON (either may be missing)."""
    parts = ["# Measured figures", "",
             "Written by `python -m commands.figures` from the JSON files of one `make demo` run and one "
             "`make bench` run: no figure on this page is typed by hand. `make demo` and `make bench` write "
             "`outputs/figures.md` from your own runs; this page is the course's, from the runs kept in "
             "`docs/figures/` (`make figures` publishes a `make demo CODE=reference` run on the real "
             "ml-latest-small and a full `make bench` run). Times vary by up to a third between runs on a shared "
             "machine; the matrix product of the same run is the yardstick.", ""]
    if runs.get("demo"):
        parts.append(render_demo(runs["demo"]))
    if runs.get("bench"):
        parts.append(render_bench(runs["bench"]))
    if not runs.get("demo") and not runs.get("bench"):
        parts.append("No run yet: `make demo` and `make bench` write the figures.\n")
    return "\n".join(parts).rstrip() + "\n"


def write_page(folder: Path = OUTPUT_DIR) -> Path:
    """``folder/figures.md`` from ``folder``'s demo.json and bench.json; returns its path."""
    path = Path(folder) / "figures.md"
    path.write_text(render(load_runs(folder)))
    return path


def publishable(runs: dict[str, dict | None]) -> list[str]:
    """Why these runs may not become the course's page (empty: they may)."""
    problems = []
    demo, bench = runs.get("demo"), runs.get("bench")
    if demo is None:
        problems.append("no outputs/demo.json: run `make demo CODE=reference`")
    elif demo["code"]["mode"] != "reference" or demo["config"] != "ml-latest-small" or demo.get("synthetic"):
        problems.append(f"outputs/demo.json is a CODE={demo['code']['mode']} run on {demo['source']}: the course's "
                        f"page takes `make demo CODE=reference` on the real ml-latest-small")
    if bench is None:
        problems.append("no outputs/bench.json: run `make bench`")
    elif bench.get("run", {}).get("mode") != "full":
        problems.append(f"outputs/bench.json is a {bench.get('run', {}).get('mode', 'partial')} run: the course's "
                        f"page takes a full `make bench`")
    return problems


def publish(source: Path = OUTPUT_DIR) -> Path:
    runs = load_runs(source)
    problems = publishable(runs)
    if problems:
        raise SystemExit("Not published:\n  " + "\n  ".join(problems))
    PUBLISHED_DIR.mkdir(parents=True, exist_ok=True)
    for name in RUNS:
        shutil.copy(Path(source) / f"{name}.json", PUBLISHED_DIR / f"{name}.json")
    PAGE.write_text(render(load_runs(PUBLISHED_DIR)))
    return PAGE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m commands.figures", description=__doc__.split("\n\n")[0])
    parser.add_argument("--publish", action="store_true",
                        help="(maintainers) copy outputs/demo.json and bench.json to docs/figures/ and write "
                             "docs/figures.md")
    args = parser.parse_args(argv)
    print(publish() if args.publish else write_page())
    return 0


if __name__ == "__main__":
    sys.exit(main())
