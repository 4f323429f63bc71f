"""Honest self-grading (checks/honesty.py): a lesson file whose own tasks use the reference
solution or the checks of the lesson being graded gets no points for those tasks, and the
report says so; the imports the stubs ship with are never flagged."""
from __future__ import annotations

import re

import shutil

import pytest

from checks import honesty
from commands.check import grade, render
from course import index
from course.stubgen import make_stub


def lesson_file(tmp_path, number, text=None):
    lesson = index.lesson(number)
    path = tmp_path / f"{lesson.module}.py"
    if text is None:
        shutil.copy(lesson.solution_path, path)
    else:
        path.write_text(text)
    return path


def test_a_star_import_of_the_reference_earns_nothing_and_is_said(tmp_path):
    lesson_file(tmp_path, 3, '"""Lesson 3."""\nfrom solutions.lesson03_masking import *  # noqa\n')
    result = grade(3, tmp_path)
    assert result.earned == 0 and not result.passed
    assert {r.status for r in result.results} == {honesty.BORROWED}
    report = render(result)
    assert "Your file uses the reference solution or the checks of lesson 3 for tasks 3.1, 3.2" in report
    assert "line 2: imports from solutions.lesson03_masking" in report
    assert "REF  3.1   0/1" in report


def test_only_the_tasks_that_borrow_lose_their_points(tmp_path):
    path = lesson_file(tmp_path, 2)
    source = path.read_text()
    start = source.index("def build_user_context_index(")
    path.write_text(source[:start] + "from solutions.lesson02_vocabularies import build_user_context_index\n")
    result = grade(2, tmp_path)
    by_task = {r.task: r.status for r in result.results}
    assert by_task["2.3"] == honesty.BORROWED
    assert by_task["2.1"] == by_task["2.2"] == "PASS"
    assert result.earned == sum(r.points for r in result.results if r.task != "2.3")


@pytest.mark.parametrize("trick", [
    'import importlib\n    ref = importlib.import_module("solutions." + "lesson02_vocabularies")',
    'ref = {}\n    exec(open("solutions/lesson02_vocabularies.py").read(), ref)',
    'from checks import fixtures as ref',
])
def test_tricks_inside_a_task_function_are_found(trick):
    lesson = index.lesson(2)
    source = lesson.solution_path.read_text().replace(
        "def build_genre_index(genres_by_id: dict[int, tuple[str, ...]]) -> dict[str, int]:\n",
        "def build_genre_index(genres_by_id: dict[int, tuple[str, ...]]) -> dict[str, int]:\n    " + trick + "\n")
    findings = honesty.scan_source(source, lesson)
    assert findings and all(f.tasks == {"2.2"} for f in findings)


def test_shipped_imports_and_stubs_and_solutions_are_not_flagged(tmp_path):
    for lesson in index.lessons():
        stub = make_stub(lesson.solution_path.read_text(), lesson)
        assert honesty.scan_source(stub, lesson) == [], lesson.module
        assert honesty.scan_source(lesson.solution_path.read_text(), lesson) == [], lesson.module
    # Lesson 6 ships `from solutions.lesson05_weights import ... predict ...`: an earlier lesson, allowed.
    path = lesson_file(tmp_path, 6)
    assert re.search(r"from solutions\.lesson05_weights import .*\bpredict\b", path.read_text())
    result = grade(6, tmp_path, tasks=("6.3",))
    assert result.passed and not honesty.borrowed_note(result)
