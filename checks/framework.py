"""The grader's machinery: registering checks, loading the learner's file, running each
check in its own process with a time limit, and turning whatever happens into a result.

A check is a function ``(learner, ref, fx) -> str | None``:
- ``learner`` is the learner's lesson module (a missing function becomes a clear message),
- ``ref`` the reference solution of the same lesson,
- ``fx`` the fixture: inputs built with the *reference* lessons 1..N-1 on the synthetic
  dataset, so a mistake in an earlier lesson never blocks this one.
It raises :class:`CheckFailed` with a message in words when a property does not hold, and
may return a short detail for the report ("exact", "max abs diff 2e-07").
"""
from __future__ import annotations

import importlib
import os
import pickle
import signal
import sys
import tempfile
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Callable, Collection

from checks import honesty
from checks.learner_file import import_lesson_file, learner_frame
from checks.limits import (OUTPUT_LIMIT_BYTES, WALL_FACTOR, WALL_SLACK_S, CPUTimeExceeded,  # noqa: F401 - named here
                           WallTimeExceeded, child_setup, limit_cpu_time, timeout_message, wall_backstop)
from course import index
from course.paths import relative
from course.processes import fork_and_wait
from course.threads import use_course_threads

DEFAULT_TIMEOUT_S = 10.0          # a check's limit, in seconds of CPU time (not wall clock)
SHOWN_OUTPUT_CHARS = 600           # how much of a failing check's prints the report shows


# ---------------------------------------------------------------- registering checks

@dataclass(frozen=True)
class Check:
    task: str
    points: int
    title: str
    func: Callable
    timeout: float

    @property
    def lesson(self) -> int:
        return int(self.task.split(".")[0])


REGISTRY: dict[int, list[Check]] = {}


def check(task: str, points: int = 1, title: str = "", timeout: float = DEFAULT_TIMEOUT_S):
    """Register a graded check for ``task`` (e.g. "1.2")."""
    def register(func: Callable) -> Callable:
        item = Check(task, points, title or func.__name__.replace("_", " "), func, timeout)
        REGISTRY.setdefault(item.lesson, []).append(item)
        return func
    return register


def checks_for(lesson_number: int) -> list[Check]:
    """The lesson's checks, in task order then definition order."""
    lesson = index.lesson(lesson_number)
    name = f"checks.{lesson.module}"
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        return []  # a lesson without checks yet: the maintainers' tests flag it
    order = {task.id: i for i, task in enumerate(lesson.tasks)}
    return sorted(REGISTRY.get(lesson_number, []), key=lambda c: order.get(c.task, len(order)))


# ---------------------------------------------------------------- failures and comparisons

class CheckFailed(AssertionError):
    """A property of the learner's output does not hold; the message says which, in words."""


class MissingFunction(Exception):
    """The learner's file lacks a function the lesson asks for."""


class LearnerRaised(Exception):
    """The learner's code (run elsewhere: the sandbox of `make grade`) raised or ended;
    ``report`` is the sentence for the report, made where the error happened."""

    @property
    def report(self) -> str:
        return self.__dict__.get("_report") or (str(self.args[0]) if self.args else "your code raised an error")

    @report.setter
    def report(self, value: str) -> None:
        self.__dict__["_report"] = value


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def describe(value) -> str:
    """A short description of a value's kind and shape, for messages."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    kind = type(value).__name__
    if shape is not None:
        return f"a {kind} of shape {tuple(shape)}" + (f" and dtype {dtype}" if dtype is not None else "")
    if isinstance(value, (list, tuple, dict, set)):
        return f"a {kind} of length {len(value)}"
    return f"a {kind}"


def expect_type(value, expected: type | tuple[type, ...], what: str) -> None:
    if not isinstance(value, expected):
        names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
        raise CheckFailed(f"{what} should be a {names}, but it is {describe(value)}.")


def compare_tensors(got, expected, what: str, *, atol: float = 1e-6, rtol: float = 1e-5,
                    check_dtype: bool = True) -> str:
    """Compare a learner's tensor with the reference's; returns "exact" or the max abs diff.

    The failure message says how far off and where, never the expected values themselves.
    """
    import torch

    expect_type(got, torch.Tensor, what)
    if tuple(got.shape) != tuple(expected.shape):
        raise CheckFailed(f"{what} has shape {tuple(got.shape)}; it should have shape {tuple(expected.shape)}.")
    if check_dtype and got.dtype != expected.dtype:
        raise CheckFailed(f"{what} has dtype {got.dtype}; it should be {expected.dtype}.")
    got_d = got.detach().to(torch.float64)
    exp_d = expected.detach().to(torch.float64)
    if bool(torch.isnan(got_d).any()) and not bool(torch.isnan(exp_d).any()):
        count = int(torch.isnan(got_d).sum())
        raise CheckFailed(f"{what} contains {count} NaN value(s); it should contain none.")
    if torch.equal(got_d, exp_d):
        return "exact"
    diff = (got_d - exp_d).abs()
    max_diff = float(diff.max()) if diff.numel() else 0.0
    if torch.allclose(got_d, exp_d, atol=atol, rtol=rtol):
        return f"approx, max abs diff {max_diff:.1e}"
    wrong = diff > atol + rtol * exp_d.abs()
    where = tuple(int(i) for i in torch.nonzero(wrong)[0])
    raise CheckFailed(f"{what} differs from the expected values in {int(wrong.sum())} of {wrong.numel()} "
                      f"entries (max abs diff {max_diff:.3g}; first at index {where}).")


# ---------------------------------------------------------------- loading the learner's file

class LearnerModule:
    """Wraps a lesson module so that a missing function gives a sentence, not an AttributeError."""

    def __init__(self, module: ModuleType, path: Path | None):
        self._module = module
        self._path = path

    def procedure(self, name: str, *args, **kwargs):
        """Run one of checks/procedures.py's procedures with this module (in `make grade` the
        same procedure runs in the sandbox, next to the learner's code)."""
        from checks.procedures import PROCEDURES

        return PROCEDURES[name](self, *args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return getattr(self._module, name)
        except AttributeError:
            where = _display(self._path) if self._path else "your lesson file"
            raise MissingFunction(f"we cannot find the function named `{name}` in {where}. "
                                  f"Did you rename or delete it? `make reset` restores the stub "
                                  f"(your file is backed up first).") from None


_display = relative  # repository-relative paths in messages


def load_file(path: Path, name: str) -> tuple[ModuleType | None, str | None]:
    """Import a lesson file under a private module name. Returns (module, None) or
    (None, a message saying why it could not be imported)."""
    if not path.exists():
        return None, f"{_display(path)} does not exist. `make reset` restores the stub."
    return import_lesson_file(path, name, _display(path))


def _learner_frame(error: BaseException, path: Path | None) -> str:
    """' (lessons/x.py, line 12: `code`)' for the deepest frame in the learner's file."""
    return learner_frame(error, path, _display(path)) if path is not None else ""


def _raised_in_checks(error: BaseException) -> bool:
    """True when the deepest frame of the traceback is in a check module, not in the
    learner's (or any library's) code."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return False
    deepest = Path(frames[-1].filename).resolve()
    return deepest.parent == Path(__file__).resolve().parent and deepest.name.startswith("lesson")


# ---------------------------------------------------------------- running checks

PASS, FAIL, TODO, ERROR, TIMEOUT, MISSING = "PASS", "FAIL", "TODO", "ERROR", "TIMEOUT", "MISSING"


@dataclass
class CheckResult:
    task: str
    title: str
    points: int
    status: str
    message: str = ""
    detail: str = ""
    output: str = ""

    @property
    def earned(self) -> int:
        return self.points if self.status == PASS else 0


@dataclass
class LessonResult:
    lesson: int
    target: str
    results: list[CheckResult] = field(default_factory=list)
    load_error: str | None = None
    tasks: tuple[str, ...] | None = None   # the tasks graded, when not the whole lesson

    @property
    def earned(self) -> int:
        return sum(r.earned for r in self.results)

    @property
    def possible(self) -> int:
        return sum(r.points for r in self.results)

    @property
    def passed(self) -> bool:
        return self.load_error is None and bool(self.results) and all(r.status == PASS for r in self.results)


def run_inline(item: Check, learner, ref, fx, learner_path: Path | None = None) -> CheckResult:
    """Run one check in this process and classify what happened."""
    result = CheckResult(item.task, item.title, item.points, PASS)
    try:
        detail = item.func(learner, ref, fx)
        result.detail = detail or ""
    except CPUTimeExceeded as e:
        limit = getattr(item, "timeout", DEFAULT_TIMEOUT_S)
        result.status = TIMEOUT
        # A sandbox that waited or ran past the wall clock says so itself (checks/sandbox.py).
        result.message = getattr(e, "report", "") or timeout_message(limit)
    except LearnerRaised as e:
        result.status, result.message = ERROR, e.report
    except NotImplementedError as e:
        result.status, result.message = TODO, f"not implemented yet ({e})" if str(e) else "not implemented yet"
    except MissingFunction as e:
        result.status, result.message = MISSING, str(e)
    except CheckFailed as e:
        result.status, result.message = FAIL, str(e)
    except RecursionError as e:
        result.status, result.message = ERROR, f"your code recursed too deeply (RecursionError){_learner_frame(e, learner_path)}"
    except MemoryError:
        result.status, result.message = ERROR, "your code ran out of memory (MemoryError): is something quadratic in the number of ratings?"
    except Exception as e:  # anything the learner's code raised
        text = str(e).strip().splitlines()[0] if str(e).strip() else ""
        what = f"{type(e).__name__}" + (f": {text}" if text else "")
        result.status = ERROR
        if _raised_in_checks(e):
            # The learner's function returned, but its result broke the check's own code.
            result.message = (f"your function returned something the check could not use ({what}). "
                              f"Compare the type and shape of what you return with the docstring.")
        else:
            result.message = f"your code raised {what}" + _learner_frame(e, learner_path)
    return result


def run_isolated(item: Check, learner, ref, fx, learner_path: Path | None = None,
                 timeout: float | None = None, memory_limit_mb: int | None = None) -> CheckResult:
    """Run one check in a forked child: a hang, a crash or an ``os._exit`` in the learner's
    code ends that child only, and is reported as the check's result.

    ``timeout`` (default: the check's own) is seconds of *CPU time*; the wall clock only
    ends a child that sleeps or waits, after :func:`wall_backstop` seconds."""
    timeout = item.timeout if timeout is None else timeout
    item = replace(item, timeout=timeout)
    captured = tempfile.TemporaryFile()

    def work() -> tuple[int, bytes]:
        os.dup2(captured.fileno(), 1)
        os.dup2(captured.fileno(), 2)
        # Python-level streams too (pytest and notebooks replace sys.stdout); line
        # buffered so prints survive an os._exit.
        sys.stdout = sys.stderr = open(1, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")
        use_course_threads()
        child_setup(memory_limit_mb, timeout)
        result = run_inline(item, learner, ref, fx, learner_path)
        signal.setitimer(signal.ITIMER_PROF, 0)
        return 0, pickle.dumps(result)

    end = fork_and_wait(work, wall_backstop(timeout))

    captured.seek(0)
    output = captured.read(SHOWN_OUTPUT_CHARS + 1).decode("utf-8", "replace")
    captured.close()
    if len(output) > SHOWN_OUTPUT_CHARS:
        output = output[:SHOWN_OUTPUT_CHARS] + "\n[... output cut ...]"

    cpu_killed = os.WIFSIGNALED(end.status) and os.WTERMSIG(end.status) in (signal.SIGXCPU, signal.SIGKILL)
    if end.timed_out:
        result = CheckResult(item.task, item.title, item.points, TIMEOUT,
                             f"did not finish within {wall_backstop(timeout):g} s of wall-clock time (while "
                             f"waiting or sleeping, since it had not used its {timeout:g} s of CPU time).")
    elif not end.payload and cpu_killed:
        result = CheckResult(item.task, item.title, item.points, TIMEOUT, timeout_message(timeout))
    elif end.payload:
        try:
            result = pickle.loads(end.payload)
        except Exception:
            result = CheckResult(item.task, item.title, item.points, ERROR, "the check's result could not be read back")
    else:
        why = end.describe()
        if not os.WIFSIGNALED(end.status):
            why += " (sys.exit or os._exit in your code?)"
        result = CheckResult(item.task, item.title, item.points, ERROR,
                             f"the process running this check ended before reporting: it {why}.")
    if result.status != PASS:
        result.output = output.strip()
    return result


def run_lesson(lesson_number: int, module: ModuleType | None, path: Path | None = None,
               load_error: str | None = None, isolate: bool = True, target: str = "",
               memory_limit_mb: int | None = None, timeout_scale: float = 1.0,
               tasks: Collection[str] | None = None, stop_at_first_failure: bool = False) -> LessonResult:
    """Run the checks of a lesson against ``module`` (the learner's, or a mutant): all of
    them, or those of ``tasks`` only; ``stop_at_first_failure`` ends at the first check
    that does not pass (``make hint`` looks for the first unfinished task that way)."""
    from checks import fixtures

    lesson = index.lesson(lesson_number)
    report = LessonResult(lesson_number, target or (_display(path) if path else lesson.module),
                          tasks=None if tasks is None else tuple(tasks))
    items = [c for c in checks_for(lesson_number) if tasks is None or c.task in tasks]
    if module is None:
        report.load_error = load_error or "the lesson file could not be loaded"
        report.results = [CheckResult(c.task, c.title, c.points, ERROR, "see the import error above") for c in items]
        return report
    ref = importlib.import_module(f"solutions.{lesson.module}")
    fx = fixtures.for_lesson(lesson_number)
    learner = LearnerModule(module, path)
    for item in items:
        if isolate:
            result = run_isolated(item, learner, ref, fx, path, item.timeout * timeout_scale, memory_limit_mb)
        else:
            result = run_inline(item, learner, ref, fx, path)
        report.results.append(result)
        if stop_at_first_failure and result.status != PASS:
            break
    return report


def grade_file(lesson_number: int, folder: Path, tasks: Collection[str] | None = None,
               **options) -> LessonResult:
    """The one way to run a lesson's checks on a lesson file: load ``folder``'s file of
    that lesson (a file that cannot be loaded is reported, never raised) and run its checks
    (``tasks`` selects some; ``options`` as for :func:`run_lesson`). `make check`,
    `make hint`, `make watch` and `make progress` all call this."""
    lesson = index.lesson(lesson_number)
    path = folder / f"{lesson.module}.py"
    module, error = load_file(path, f"learner_{lesson.module}")
    result = run_lesson(lesson_number, module, path, error, tasks=tasks, **options)
    return honesty.review(result, module, path)  # no points for tasks done with borrowed code
