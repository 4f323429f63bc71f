"""Grading one lesson of one learner (`make grade`), and many of them side by side.

Each (learner, lesson) is graded in its own forked child of the grader (the pool of
course/processes.py), so whatever a check leaves behind never reaches the next learner and
a child that dies or hangs costs that learner's lesson only. In the child, the checks run as
trusted code; the learner's functions run in a sandboxed worker (checks/sandbox.py) reached
through a proxy. A file that is still the stub is "not started" and needs no sandbox: every
check of a stub is TODO (make test proves it for every lesson), as `make progress` assumes.
"""
from __future__ import annotations

import dataclasses
import os
import signal
import time

from checks.class_copies import is_stub, reference_copy, stub_text, written_functions
from checks.class_grades import (CRASHED, NOT_RUN, NOT_STARTED, TIMED_OUT, LessonGrade, lesson_from_bytes,
                                 lesson_to_bytes)
from checks.class_limits import WORKER_DEATHS_ALLOWED, Settings, cpu_budget, lesson_wall_limit, planned_checks
from course import index
from course.processes import fork_each


def _rows(plan: list[dict], status: str, message: str) -> list[dict]:
    return [{"task": c["task"], "title": c["title"], "points": c["points"], "status": status, "message": message,
             "detail": "", "output": "", "earned": 0} for c in plan]


def empty_grade(number: int, plan: list[dict], status: str, message: str) -> LessonGrade:
    """A lesson whose grading child ended without a result: every check scores nothing."""
    rows = _rows(plan, "TIMEOUT" if status == TIMED_OUT else "ERROR", message)
    return LessonGrade(number, index.lesson(number).title, rows, status=status)


def _gave_up_learner(number: int, lesson_bytes: bytes, settings: Settings):
    """A sandboxed learner that refuses to start a third worker: after the worker died twice
    in this lesson (a crash, a kill at a limit, an exit), the lesson's remaining checks are
    not run, so a submission that kills its worker costs seconds, not a sandbox per call."""
    from checks.framework import LearnerRaised
    from checks.sandbox import Limits, SandboxedLearner

    class GaveUp(LearnerRaised):
        pass

    class Learner(SandboxedLearner):
        gave_up = False

        def start(self):
            # Past the first start, start() runs only when the worker has ended: every worker
            # started so far has died.
            if self.starts >= WORKER_DEATHS_ALLOWED or self.gave_up:
                self.gave_up = True
                raise GaveUp("not run")
            return super().start()

    plan = planned_checks(number)
    limits = Limits(memory_mb=settings.memory_mb, import_cpu_s=settings.import_timeout * settings.timeout_scale,
                    total_cpu_s=cpu_budget(plan, settings) * 2 + 60, sandbox=settings.sandbox)
    return Learner(number, lesson_bytes, limits)


def grade_lesson_here(number: int, lesson_bytes: bytes | None, settings: Settings) -> LessonGrade:
    """Grade one lesson of one learner in this (trusted) process: the checks run here, the
    learner's functions in a sandboxed worker, through the proxy."""
    import importlib

    from checks import fixtures
    from checks.framework import ERROR, PASS, checks_for, run_inline

    lesson = index.lesson(number)
    started = time.monotonic()
    items = checks_for(number)
    plan = planned_checks(number)
    grade = LessonGrade(number, lesson.title, [])
    if lesson_bytes is None:
        grade.load_error = f"lessons/{lesson.module}.py is not in the submission."
        grade.checks = _rows(plan, ERROR, "see the import error above")
        return grade
    if is_stub(number, lesson_bytes):
        return LessonGrade(number, lesson.title, _rows(plan, "TODO", "not started: the file is still the stub"),
                           status=NOT_STARTED)
    copied = reference_copy(number, lesson_bytes)
    grade.notes = [copied] if copied else []
    ref = importlib.import_module(f"solutions.{lesson.module}")
    fx = fixtures.for_lesson(number)
    learner = _gave_up_learner(number, lesson_bytes, settings)
    try:
        grade.load_error = learner.start()
        for item in items:
            if grade.load_error is not None:
                grade.checks += _rows([_plain(item)], ERROR, "see the import error above")
                continue
            if learner.gave_up:
                grade.checks += _rows([_plain(item)], NOT_RUN, _not_run_message())
                continue
            limit = item.timeout * settings.timeout_scale
            learner.begin_check(limit)
            result = run_inline(dataclasses.replace(item, timeout=limit), learner, ref, fx, None)
            if learner.gave_up:       # this very check asked for a third worker
                grade.checks += _rows([_plain(item)], NOT_RUN, _not_run_message())
                continue
            if result.status != PASS:
                result.output = learner.printed()[:2000]
            entry = dataclasses.asdict(result)
            entry["earned"] = result.earned
            grade.checks.append(entry)
        grade.restarts = max(0, learner.starts - 1)
    finally:
        learner.close()
    grade.seconds = round(time.monotonic() - started, 1)
    return grade


def _plain(item) -> dict:
    return {"task": item.task, "title": item.title, "points": item.points}


def _not_run_message() -> str:
    return (f"not run: the process running your code ended {WORKER_DEATHS_ALLOWED} times in this lesson (see the "
            f"checks above), so its remaining checks were not run; 0 points")


def grade_lessons(jobs: list[tuple[int, bytes | None]], settings: Settings) -> list[LessonGrade]:
    """Grade (lesson, lesson file bytes) pairs, each in its own forked trusted child,
    ``settings.jobs`` at a time, each with its wall-clock backstop. Returns the grades in
    order; a child that hangs or dies costs its own lesson only."""
    from checks.sandbox import sweep_leftovers

    plans = {number: planned_checks(number) for number, _ in jobs}
    for number in plans:          # built once here, inherited by every child (not once per child)
        stub_text(number), written_functions(number)

    def work(number: int, data: bytes | None):
        return lambda: (0, lesson_to_bytes(grade_lesson_here(number, data, settings)))

    ends = fork_each([work(number, data) for number, data in jobs], jobs=settings.jobs,
                     timeouts=[lesson_wall_limit(plans[number], settings) for number, _ in jobs],
                     after=sweep_leftovers)      # a sandbox whose grading child was killed
    grades = []
    for (number, _), end in zip(jobs, ends):
        plan = plans[number]
        if end.timed_out:
            grades.append(empty_grade(number, plan, TIMED_OUT,
                                      f"grading this lesson took longer than {lesson_wall_limit(plan, settings):g} s "
                                      f"of wall-clock time in all, so this check did not get to run."))
            continue
        try:
            grades.append(lesson_from_bytes(end.payload))
        except (ValueError, TypeError, KeyError):
            grades.append(empty_grade(number, plan, CRASHED,
                                      f"the grader's own process for this lesson ended without a result "
                                      f"({_describe(end.status)})."))
    return grades


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return f"killed by signal {signal.Signals(number).name}"
        except ValueError:
            return f"killed by signal {number}"
    return f"exit code {os.WEXITSTATUS(status)}"
