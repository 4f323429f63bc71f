"""How much time and memory a learner's lesson gets in `make grade`, and how many lessons are
graded at once.

Every limit that decides a verdict is CPU time (a check's own limit, counted in the sandbox);
the wall clock is only a backstop against code that waits. The defaults here are what
docs/grading.md promises.
"""
from __future__ import annotations

import dataclasses
import os

DEFAULT_MEMORY_MB = 2048
DEFAULT_IMPORT_TIMEOUT_S = 30.0   # CPU seconds a lesson file may take to import
SETUP_ALLOWANCE_S = 120.0         # wall seconds for starting a sandbox (per start)
WORKER_DEATHS_ALLOWED = 2         # after this many, a lesson's remaining checks are not run


def default_jobs() -> int:
    """Lessons graded at the same time: the cores this process may use (its CPU affinity,
    which a batch system's allocation sets), so a machine's share is used and no more. Each
    job holds one trusted child and one sandbox, about 300 MiB each."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclasses.dataclass
class Settings:
    lessons: list[int]
    timeout_scale: float = 1.0
    memory_mb: int = DEFAULT_MEMORY_MB
    import_timeout: float = DEFAULT_IMPORT_TIMEOUT_S
    lesson_timeout: float | None = None        # wall-clock backstop per lesson; None: from the checks' limits
    jobs: int = 1
    sandbox: bool = True                       # False only with --no-sandbox


def planned_checks(number: int) -> list[dict]:
    """The instructor's checks of a lesson, as the grader (not the submission) sees them."""
    from checks.framework import checks_for

    return [{"task": c.task, "title": c.title, "points": c.points, "timeout": c.timeout} for c in checks_for(number)]


def cpu_budget(plan: list[dict], settings: Settings) -> float:
    return settings.import_timeout + sum(c["timeout"] for c in plan) * settings.timeout_scale


def lesson_wall_limit(plan: list[dict], settings: Settings) -> float:
    """The wall-clock backstop of one learner's lesson: generous, since the limits that
    decide verdicts are in CPU time (each check's, in the sandbox)."""
    from checks.framework import wall_backstop

    if settings.lesson_timeout:
        return settings.lesson_timeout
    return SETUP_ALLOWANCE_S + wall_backstop(settings.import_timeout) + sum(
        wall_backstop(c["timeout"] * settings.timeout_scale) for c in plan)
