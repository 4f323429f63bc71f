"""The grader never crashes or hangs on a learner's file: every kind of bad input becomes a
result with a message, and the grader itself carries on."""
from __future__ import annotations

import textwrap

import pytest

from checks import framework
from commands.check import grade, main, render
from course import index
from course.stubgen import make_stub

LESSON = index.lesson(1)


def _learner_file(tmp_path, replacement: str | None = None, whole: str | None = None):
    """A lesson 1 file: the reference with clean_ratings replaced, or ``whole`` text."""
    folder = tmp_path / "lessons"
    folder.mkdir()
    path = folder / f"{LESSON.module}.py"
    if whole is not None:
        path.write_text(textwrap.dedent(whole))
    else:
        source = LESSON.solution_path.read_text()
        start = source.index("def clean_ratings")
        end = source.index("def count_ratings_per_movie")
        path.write_text(source[:start] + textwrap.dedent(replacement) + "\n\n" + source[end:])
    return folder


def _clean_ratings_results(result):
    return [r for r in result.results if r.task == "1.1"]


def test_stub_scores_zero_with_todo_messages(tmp_path):
    folder = _learner_file(tmp_path, whole=make_stub(LESSON.solution_path.read_text(), LESSON))
    result = grade(1, folder)
    assert result.earned == 0 and not result.passed
    assert all(r.status == framework.TODO for r in result.results)
    text = render(result)
    assert "Lesson 1.1" in text and "make hint LESSON=1 TASK=1.1" in text


def test_exception_names_the_learners_line(tmp_path):
    folder = _learner_file(tmp_path, """
        def clean_ratings(ratings):
            return ratings["no such column"]
        """)
    results = _clean_ratings_results(grade(1, folder))
    assert all(r.status == framework.ERROR for r in results)
    assert "KeyError" in results[0].message and "line" in results[0].message


def test_wrong_type_is_a_failure_in_words(tmp_path):
    folder = _learner_file(tmp_path, """
        def clean_ratings(ratings):
            return ratings.to_numpy()
        """)
    results = _clean_ratings_results(grade(1, folder))
    assert results[0].status == framework.FAIL
    assert "should be a DataFrame" in results[0].message and "ndarray" in results[0].message


def test_hang_is_a_timeout_not_a_hang(tmp_path):
    folder = _learner_file(tmp_path, """
        def clean_ratings(ratings):
            while True:
                pass
        """)
    result = grade(1, folder, timeout_scale=0.05)
    results = _clean_ratings_results(result)
    assert all(r.status == framework.TIMEOUT for r in results)
    assert "did not finish" in results[0].message
    # The other tasks are still graded.
    assert any(r.status == framework.PASS for r in result.results if r.task != "1.1")


def test_process_exit_and_prints_are_reported(tmp_path):
    folder = _learner_file(tmp_path, """
        def clean_ratings(ratings):
            import os
            print("debugging output")
            os._exit(0)
        """)
    results = _clean_ratings_results(grade(1, folder))
    assert all(r.status == framework.ERROR for r in results)
    assert "ended before reporting" in results[0].message
    assert "debugging output" in results[0].output


def test_print_flood_is_cut(tmp_path):
    folder = _learner_file(tmp_path, """
        def clean_ratings(ratings):
            for _ in range(10**6):
                print("x" * 100)
        """)
    results = _clean_ratings_results(grade(1, folder))
    assert all(r.status == framework.ERROR for r in results)
    assert len(results[0].output) < 2000


def test_missing_function_is_named(tmp_path):
    source = LESSON.solution_path.read_text().replace("def clean_ratings(", "def clean_rating(")
    folder = _learner_file(tmp_path, whole=source)
    results = _clean_ratings_results(grade(1, folder))
    assert all(r.status == framework.MISSING for r in results)
    assert "we cannot find the function named `clean_ratings`" in results[0].message


def test_syntax_error_is_reported_once(tmp_path):
    folder = _learner_file(tmp_path, whole="def clean_ratings(ratings:\n    pass\n")
    result = grade(1, folder)
    assert result.load_error and "line 1" in result.load_error
    assert result.earned == 0
    assert "could not be loaded" in render(result)


@pytest.mark.parametrize("argument", ["", "0", "ten"])
def test_unknown_or_missing_lesson_lists_the_lessons(argument, capsys):
    assert main([argument] if argument else []) == 2
    out = capsys.readouterr().out
    assert "make check LESSON=1" in out or "Lessons" in out
    assert all(lesson.title in out for lesson in index.lessons())


def test_check_solutions_exit_code_and_next_step(capsys):
    assert main(["1", "--target", "solutions"]) == 0
    out = capsys.readouterr().out
    assert "Score: 17/17" in out or "Score:" in out
    assert "Lesson 1 is done" in out and "lesson 2" in out


def test_one_task_runs_only_that_tasks_checks(tmp_path, capsys, monkeypatch):
    """`make check LESSON=1 TASK=1.2`: task 1.2's checks only, and what comes next."""
    from commands import check as command

    folder = _learner_file(tmp_path, """
        def clean_ratings(ratings):
            raise NotImplementedError("Lesson 1.1: still to do")
        """)
    monkeypatch.setattr(command, "LESSONS_DIR", folder)
    assert main(["1", "--task", "1.2"]) == 0
    text = capsys.readouterr().out
    checked = {line.split()[1] for line in text.splitlines() if line.startswith("  ok  ")}
    assert checked == {"1.2"}, text
    assert "Task 1.2 passes" in text and "TASK=1.3" in text
    assert "Lesson 1 is done" not in text
    # The same task given as "1" alone (its number within the lesson).
    assert main(["1", "--task", "1"]) == 1
    text = capsys.readouterr().out
    assert {line.split()[1] for line in text.splitlines() if line.strip().startswith(("ok", "TODO"))} == {"1.1"}
    assert "Lesson 1.1" in text


def test_unknown_task_lists_the_lessons_tasks(capsys):
    assert main(["1", "--task", "9.9"]) == 2
    assert "its tasks are 1.1, 1.2" in capsys.readouterr().out


def test_make_check_passes_task_through():
    from course.paths import REPO

    recipe = (REPO / "Makefile").read_text()
    assert "-m commands.check $(LESSON) $(if $(TASK),--task $(TASK))" in recipe
