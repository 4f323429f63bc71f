"""No figure is typed by hand.

- docs/figures.md is exactly what commands/figures.py renders from the runs kept in
  docs/figures/ (a `make demo CODE=reference` run on the real ml-latest-small and a full
  `make bench` run, published by `make figures`);
- the README quotes no measured figure: it points to that page;
- the published demo's random-split ranking and personas are what the code computes today
  (tests/test_demo.py recomputes them on ml-latest-small and compares).
"""
from __future__ import annotations

import re

import pytest

from commands import figures
from course.paths import REPO


@pytest.fixture(scope="module")
def published():
    runs = figures.load_runs(figures.PUBLISHED_DIR)
    assert runs["demo"] and runs["bench"], "docs/figures/ lacks demo.json or bench.json: run make figures"
    return runs


def test_the_page_is_the_rendering_of_the_published_runs(published):
    assert figures.PAGE.read_text() == figures.render(published), \
        "docs/figures.md differs from what commands/figures.py writes from docs/figures/: run make figures"


def test_the_published_runs_are_a_reference_demo_on_real_data_and_a_full_bench(published):
    assert figures.publishable(published) == []


def test_publishing_refuses_a_learners_run_or_a_partial_bench(published):
    learner = {**published["demo"], "code": {**published["demo"]["code"], "mode": "auto"}}
    assert "CODE=auto run" in " ".join(figures.publishable({"demo": learner, "bench": published["bench"]}))
    smoke = {**published["bench"], "run": {**published["bench"]["run"], "mode": "smoke"}}
    assert "smoke run" in " ".join(figures.publishable({"demo": published["demo"], "bench": smoke}))


def test_the_readme_quotes_no_measured_figure():
    text = (REPO / "README.md").read_text()
    # Times, memory, rates, ratios and metric values: what a run measures.
    measured = re.findall(r"\b\d[\d,]*(?:\.\d+)?\s?(?:s|ms|min|GiB|MiB|GB|%|x|×|steps/s|GFLOP/s)\b|\b0\.\d{3}\b",
                          text)
    assert not measured, f"the README quotes measured figures {measured}: they belong on docs/figures.md"
    assert "docs/figures.md" in text
