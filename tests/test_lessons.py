"""The guarantees of every lesson's checks:

- all checks pass on the reference solutions,
- every check fails on the pristine stub (a check that passes on a stub is a defect),
- every mutant (a realistic wrong implementation, checks/mutants/) is caught by a check
  whose message names the symptom, and each lesson has at least five mutants.
"""
from __future__ import annotations

import pytest

from checks import framework
from checks.mutants import build, mutants_for
from course import index
from course.stubgen import make_stub

LESSONS = [lesson.number for lesson in index.lessons()]
MUTANT_CASES = [pytest.param(n, i, id=f"lesson{n}-{m.name}") for n in LESSONS for i, m in enumerate(mutants_for(n))]


def _summary(result: framework.LessonResult) -> str:
    return "\n".join(f"{r.task} {r.title}: {r.status} {r.message}" for r in result.results)


@pytest.mark.parametrize("number", LESSONS)
def test_solutions_pass_every_check(number):
    lesson = index.lesson(number)
    module, error = framework.load_file(lesson.solution_path, f"solution_{lesson.module}")
    result = framework.run_lesson(number, module, lesson.solution_path, error)
    assert result.results, f"lesson {number} has no checks"
    assert result.passed, _summary(result)


@pytest.mark.parametrize("number", LESSONS)
def test_every_check_fails_on_the_pristine_stub(number, tmp_path):
    lesson = index.lesson(number)
    path = tmp_path / f"{lesson.module}.py"
    path.write_text(make_stub(lesson.solution_path.read_text(), lesson))
    module, error = framework.load_file(path, f"stub_{lesson.module}")
    assert error is None, error
    result = framework.run_lesson(number, module, path)
    passing = [r for r in result.results if r.status == framework.PASS]
    assert not passing, "checks passing on the stub:\n" + _summary(result)
    # A stub is reported as work to do, with the task id, not as a crash.
    assert all(r.status == framework.TODO and f"Lesson {r.task.split('.')[0]}." in r.message
               for r in result.results), _summary(result)


@pytest.mark.parametrize("number", LESSONS)
def test_each_lesson_has_five_mutants(number):
    assert len(mutants_for(number)) >= 5


@pytest.mark.parametrize("number, which", MUTANT_CASES)
def test_mutant_is_caught_with_its_symptom(number, which):
    mutant = mutants_for(number)[which]
    module = build(mutant)
    result = framework.run_lesson(number, module, None)
    caught = [r for r in result.results if r.status != framework.PASS]
    assert caught, f"mutant '{mutant.name}' passes every check of lesson {number}"
    assert any(mutant.symptom.lower() in r.message.lower() for r in caught), (
        f"mutant '{mutant.name}' is caught, but no message names its symptom {mutant.symptom!r}:\n" + _summary(result))


def test_every_task_has_a_check_and_every_check_a_task():
    for lesson in index.lessons():
        checked = {c.task for c in framework.checks_for(lesson.number)}
        tasks = {t.id for t in lesson.tasks}
        assert tasks <= checked, f"lesson {lesson.number}: tasks without a check: {sorted(tasks - checked)}"
        assert checked <= tasks, f"lesson {lesson.number}: checks for unknown tasks: {sorted(checked - tasks)}"
