"""The limits of a process that runs a learner's code during `make check` (one forked child
per check): CPU time, with the wall clock only as a backstop, output size and memory."""
from __future__ import annotations

import resource
import signal

from course.processes import limit_memory

# The wall clock is only a backstop (a learner's code that sleeps or waits uses no CPU): a
# check is killed after WALL_FACTOR times its CPU limit plus WALL_SLACK_S, so a correct file
# gets the same verdict on a quiet machine and on one running many jobs at once. (In
# `make grade` a sandbox that sleeps is ended sooner: checks/sandbox_process.py.)
WALL_FACTOR = 8.0
WALL_SLACK_S = 30.0
OUTPUT_LIMIT_BYTES = 1 << 20       # a learner's prints beyond 1 MiB are cut off


class CPUTimeExceeded(BaseException):
    """Raised in a check's process when it has used its CPU-time allowance. A BaseException,
    so neither a learner's ``except Exception`` nor a property-test library catches it."""


class WallTimeExceeded(CPUTimeExceeded):
    """The sandboxed worker did not answer in time: it waited (idle) or ran past the wall-clock
    backstop. ``report`` is the sentence for the report. Here, beside CPUTimeExceeded, so that
    a check's result is told apart by its type."""

    def __init__(self, report: str = ""):
        super().__init__(report)
        self.report = report


def wall_backstop(cpu_limit: float) -> float:
    """The wall-clock limit of something allowed ``cpu_limit`` seconds of CPU time."""
    return cpu_limit * WALL_FACTOR + WALL_SLACK_S


def limit_cpu_time(seconds: float, hard_margin_s: int = 5) -> None:
    """Make this process raise :class:`CPUTimeExceeded` after ``seconds`` of CPU time
    (ITIMER_PROF counts user + system time of the process, whatever the machine's load),
    and be killed by the kernel (RLIMIT_CPU, SIGXCPU then SIGKILL) a few seconds later if
    the code catches that. Timers are not inherited across fork: call it in the child."""
    def on_prof(signum, frame):
        raise CPUTimeExceeded()
    signal.signal(signal.SIGPROF, on_prof)
    signal.setitimer(signal.ITIMER_PROF, max(seconds, 0.01))
    used = resource.getrusage(resource.RUSAGE_SELF)
    cap = int(used.ru_utime + used.ru_stime + seconds) + hard_margin_s
    try:
        resource.setrlimit(resource.RLIMIT_CPU, (cap, cap + 2))
    except (ValueError, OSError):
        pass


def child_setup(memory_limit_mb: int | None, cpu_limit_s: float | None = None) -> None:
    """Limits of the child that runs one check."""
    # Print floods: writing past the limit fails with OSError instead of killing the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_LIMIT_BYTES, OUTPUT_LIMIT_BYTES))
    if memory_limit_mb:
        limit_memory(memory_limit_mb)
    if cpu_limit_s:
        limit_cpu_time(cpu_limit_s)


def timeout_message(cpu_limit: float) -> str:
    return (f"did not finish within {cpu_limit:g} s of CPU time. Is there an endless loop, or a Python loop over "
            f"every rating where a vectorised operation would do?")
