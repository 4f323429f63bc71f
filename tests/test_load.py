"""Verdicts do not depend on the machine's load: the checks are limited by CPU time, and the
wall clock is only a generous backstop (checks/framework.py). This grades a correct lesson and
a pristine stub while the machine runs 8 busy numpy processes per core, and expects the same
verdicts as on a quiet machine: every check PASS on the reference, every check TODO (never
TIME) on the stub."""
from __future__ import annotations

import time

import pytest

from benchmarks.under_load import end_busy, start_busy
from checks import framework
from course import index
from course.stubgen import make_stub
from course.threads import usable_cores

BUSY = ("import numpy as np\n"
        "a = np.random.default_rng(0).random((256, 256))\n"
        "while True:\n"
        "    a = np.tanh(a @ a)\n")
LESSON = 3


@pytest.fixture
def oversubscribed():
    """8 busy processes per core, started here and always ended here."""
    busy = start_busy(8 * usable_cores(), BUSY)
    try:
        time.sleep(1.0)
        assert all(p.poll() is None for p in busy), "the busy processes did not start"
        yield len(busy)
    finally:
        end_busy(busy)


def _cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (the checks' processes
    and sandboxes; the busy processes end only after the test)."""
    import resource

    return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


def _bounded(started_cpu: float, started_wall: float) -> None:
    # The test is bounded by its work, not by the clock: under two minutes of CPU time (on a
    # quiet machine that is the wall time too). The wall time depends on the load: printed only.
    cpu = _cpu_seconds() - started_cpu
    print(f"{cpu:.1f} s of CPU time, {time.monotonic() - started_wall:.1f} s of wall time")
    assert cpu < 120


def _statuses(result: framework.LessonResult) -> list[str]:
    return [r.status for r in result.results]


@pytest.mark.timeout_sensitive
def test_verdicts_under_heavy_load_are_the_quiet_verdicts(oversubscribed, tmp_path):
    lesson = index.lesson(LESSON)
    stub = tmp_path / f"{lesson.module}.py"
    stub.write_text(make_stub(lesson.solution_path.read_text(), lesson))
    started, started_cpu = time.monotonic(), _cpu_seconds()
    correct = framework.grade_file(LESSON, lesson.solution_path.parent)
    pristine = framework.grade_file(LESSON, tmp_path)
    assert correct.results and _statuses(correct) == [framework.PASS] * len(correct.results), \
        [(r.task, r.status, r.message) for r in correct.results]
    assert _statuses(pristine) == [framework.TODO] * len(pristine.results), \
        [(r.task, r.status, r.message) for r in pristine.results]
    _bounded(started_cpu, started)


@pytest.mark.timeout_sensitive
def test_sandboxed_grading_under_heavy_load_gives_the_quiet_verdicts(oversubscribed):
    """The same for `make grade`: the checks' limits count the sandboxed worker's CPU time."""
    from checks import classroom
    from checks.sandbox import bwrap_works

    works, why = bwrap_works()
    if not works:
        pytest.skip(f"no usable bubblewrap here: {why}")
    lesson = index.lesson(LESSON)
    settings = classroom.Settings(lessons=[LESSON], jobs=2)
    started, started_cpu = time.monotonic(), _cpu_seconds()
    correct, pristine = classroom.grade_lessons(
        [(LESSON, lesson.solution_path.read_bytes()),
         (LESSON, make_stub(lesson.solution_path.read_text(), lesson).encode())], settings)
    assert [c["status"] for c in correct.checks] == [framework.PASS] * len(correct.checks), correct.checks
    assert [c["status"] for c in pristine.checks] == [framework.TODO] * len(pristine.checks), pristine.checks
    assert correct.earned == correct.possible > 0
    _bounded(started_cpu, started)
