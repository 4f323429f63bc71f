"""`make demo` end to end, on the small synthetic fixture data (seconds, no MovieLens needed).

Only what the demo prints and writes is checked here; its speed is measured by
`make bench`, never asserted.
"""
from __future__ import annotations

import contextlib
import io
import re

import pytest

from commands import demo
from course.config import CONFIGS


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-outputs")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = demo.main(["--synthetic", "fixture", "--out", str(out), "--no-progress", "--device", "cpu"])
    return code, stdout.getvalue(), out


def test_demo_exits_cleanly(demo_run):
    code, _, _ = demo_run
    assert code == 0


def test_demo_prints_every_section(demo_run):
    _, text, _ = demo_run
    for section in ("== Data ==", "== Training on cpu ==", "== Validation mean squared error",
                    "== Most similar movies", "== Recommendations for five new users",
                    "== Figures ==", "== Time per stage =="):
        assert section in text, f"missing section {section!r}"
    assert "settings CONFIGS['fixture']" in text


def test_demo_prints_model_and_both_baselines(demo_run):
    _, text, _ = demo_run
    numbers = {}
    for name in ("two-tower model", "baseline: the user's own mean rating",
                 "baseline: the movie's mean rating among training users"):
        match = re.search(re.escape(name) + r"\s+(\d+\.\d{4})", text)
        assert match, f"no MSE printed for {name!r}"
        numbers[name] = float(match.group(1))
    assert all(value > 0 for value in numbers.values())
    assert re.search(r"The model (beats|does NOT beat) the better baseline", text)


def test_demo_skips_titles_missing_from_the_catalogue(demo_run):
    # The synthetic catalogue has none of the seed post's titles: every query is skipped
    # with a note instead of crashing, and personas fall back to their genres.
    _, text, _ = demo_run
    assert text.count("skipped (not in movies.csv)") == 7
    for name in ("Horror Lover", "Children's Movie Lover", "Sci-Fi Lover", "Comedy Lover", "Fantasy Lover"):
        assert f"Hello, {name}" in text
    listed = re.findall(r"^(\d+)\. ", text, flags=re.MULTILINE)
    assert listed.count("10") == 5, "each persona gets a top 10"


def test_demo_saves_both_figures_and_says_where(demo_run):
    _, text, out = demo_run
    for name in ("loss_curve.png", "movie_map.png"):
        path = out / name
        assert path.is_file() and path.stat().st_size > 1000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert str(path) in text


def test_demo_times_each_stage(demo_run):
    _, text, _ = demo_run
    table = text.split("== Time per stage ==", 1)[1]
    for stage in ("prepare (lessons 1-4)", "train (lessons 5-6)", "personas (lesson 9)", "total"):
        assert re.search(re.escape(stage) + r"\s+\d+\.\d\d s", table), stage


def test_short_titles_for_the_map():
    assert demo.short_title("Matrix, The (1999)") == "The Matrix"
    assert demo.short_title("Star Wars: Episode IV - A New Hope (1977)") == "A New Hope"
    assert len(demo.short_title("x" * 80 + " (2001)")) <= 28


def test_ml32m_runs_the_blog_settings():
    # `make demo DATASET=ml-32m` reads the same pipeline's settings from BLOG_DEFAULTS.
    args = demo.parse_args(["--dataset", "ml-32m"])
    assert args.synthetic is None and args.config is None
    assert CONFIGS["ml-32m"].train.steps == 50_000
