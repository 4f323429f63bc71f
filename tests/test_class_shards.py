"""A class graded in shares (`make grade SHARD=k/n`, then `make grade-merge`) gets exactly the
reports it gets graded at once, apart from when it was graded and how long it took.

The class holds the cases that depend on the whole class or on one odd learner: two learners
sharing one hard-linked file (put in different shares), a lesson file that is a folder, a
stub, the reference, half a lesson. Like tests/test_classroom.py, it grades with a copy of
this repository (the grader snapshots the instructor's files and restores them, so an edit
made here while the test runs is never undone).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from checks import class_shards
from checks.sandbox import bwrap_works
from course import index
from course.paths import REPO
from course.stubgen import make_stub

BWRAP, _ = bwrap_works()
LESSONS = "1,2"
# Fields that say when grading ran and how long it took: the only ones allowed to differ.
TIMING_JSON = ("graded_at", "seconds")
TIMING_LINES = (re.compile(r"^- Graded: .*$", re.M), re.compile(r"^Graded \S+ .*$", re.M),
                re.compile(r"\(after [\d.]+ s\)"))


def _write(folder: Path, files: dict[int, str]) -> None:
    (folder / "lessons").mkdir(parents=True)
    for number, text in files.items():
        (folder / "lessons" / f"{index.lesson(number).module}.py").write_text(text)


def make_class(root: Path) -> Path:
    lesson2 = index.lesson(2)
    ref = lesson2.solution_path.read_text()
    stub = make_stub(ref, lesson2)
    start = ref.index("\ndef build_movie_index(") + 1
    end = ref.index("\ndef ", start) + 1
    half = stub[:stub.index("\ndef build_movie_index(") + 1] + ref[start:end] + \
        stub[stub.index("\ndef ", stub.index("\ndef build_movie_index(") + 1) + 1:]
    _write(root / "ana", {2: ref})
    _write(root / "bea", {})
    os.link(root / "ana" / "lessons" / "lesson02_vocabularies.py", root / "bea" / "lessons" / "lesson02_vocabularies.py")
    _write(root / "cy", {1: make_stub(index.lesson(1).solution_path.read_text(), index.lesson(1)), 2: stub})
    _write(root / "dan", {})
    (root / "dan" / "lessons" / "lesson02_vocabularies.py").mkdir()
    _write(root / "eve", {2: half})
    return root


def instructor_copy(target: Path) -> Path:
    """A copy of this repository's code and Makefile whose .venv is the real one."""
    shutil.copytree(REPO, target, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "outputs", ".backups", ".progress", "__pycache__", ".pytest_cache",
        ".hypothesis", "data", "notebooks", "*.ipynb", "benchmarks"))
    (target / ".venv").symlink_to(REPO / ".venv")
    return target


def _make(repo: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "GRADE_", "LESSON", "SHARD"))}
    options = "--jobs 2" + ("" if BWRAP else " --no-sandbox")
    return subprocess.run(["make", "-s", "-C", str(repo), "-o", ".venv/.installed", *args,
                           f"LESSONS={LESSONS}", f"GRADE_OPTIONS={options}"],
                          capture_output=True, text=True, env=env, timeout=1800)


def _without_timing(path: Path):
    if path.suffix == ".json":
        def scrub(value):
            if isinstance(value, dict):
                return {k: scrub(v) for k, v in value.items() if k not in TIMING_JSON}
            if isinstance(value, list):
                return [scrub(v) for v in value]
            return value
        return scrub(json.loads(path.read_text()))
    text = path.read_text()
    for pattern in TIMING_LINES:
        text = pattern.sub("<timing>", text)
    return text


def _reports(folder: Path) -> dict[str, object]:
    return {p.name: _without_timing(p) for p in sorted(folder.iterdir()) if p.is_file()}


def test_shares_merged_give_the_reports_of_the_whole_class(tmp_path):
    subs = make_class(tmp_path / "class")
    whole, shared = tmp_path / "whole", tmp_path / "shared"
    repo = instructor_copy(tmp_path / "instructor")
    done = _make(repo, "grade", f"SUBMISSION={subs}", f"REPORTS={whole}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for k in (2, 1):                      # in any order
        done = _make(repo, "grade", f"SUBMISSION={subs}", f"REPORTS={shared}", f"SHARD={k}/2")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert f"Shard {k}/2" in done.stdout
    assert not (shared / "class.csv").exists()        # the shares alone write no class report
    done = _make(repo, "grade-merge", f"REPORTS={shared}")
    assert done.returncode == 0 and "Merged 5 learner(s)" in done.stdout, done.stdout + done.stderr
    assert _reports(shared) == _reports(whole)
    assert sorted(p.name for p in (shared / "shards").iterdir()) == ["shard-1-of-2.json", "shard-2-of-2.json"]
    # What the class holds is in those reports: the pair, the folder, the stub, the reference.
    rows = (whole / "class.md").read_text()
    assert rows.count("shares a file with another learner") == 2
    assert "not a regular file" in (whole / "dan.md").read_text()
    assert "| 2 | Vocabularies | 0/8 | not started |" in (whole / "cy.md").read_text()
    ana = json.loads((whole / "ana.json").read_text())
    assert ana["earned"] == 8 and any("reference's" in n for lesson in ana["lessons"] for n in lesson["notes"])


def test_a_merge_of_an_incomplete_or_mixed_class_says_what_is_missing(tmp_path):
    with pytest.raises(class_shards.MergeError, match="holds no shard"):
        class_shards.read_shards(tmp_path)
    common = dict(everyone=["a", "b"], lessons=[2], sandbox=True, graded_at="t", commit="c")
    class_shards.write_shard(tmp_path, 1, 2, [], **common)
    with pytest.raises(class_shards.MergeError, match="2/2 not graded yet"):
        class_shards.read_shards(tmp_path)
    class_shards.write_shard(tmp_path, 2, 2, [], **{**common, "lessons": [3]})
    with pytest.raises(class_shards.MergeError, match="differ in lessons"):
        class_shards.read_shards(tmp_path)


def test_shares_are_disjoint_cover_the_class_and_parse_strictly():
    names = [f"learner{i:02}" for i in range(23)]
    shares = [class_shards.share(names, k, 8) for k in range(1, 9)]
    assert sorted(sum(shares, [])) == names and max(map(len, shares)) - min(map(len, shares)) <= 1
    assert class_shards.parse_shard("2/8") == (2, 8)
    for bad in ("0/8", "9/8", "2", "a/b", "2/0"):
        with pytest.raises(ValueError):
            class_shards.parse_shard(bad)
