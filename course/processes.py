"""Running pieces of work in child processes: the one pool of forked children (and
fork-and-wait, the pool of one) and the one memory-limit helper that the checks, `make watch`
and `make grade` share (the classroom grader's sandboxed worker sets its own limits, since it
is copied into the sandbox without this module's callers).

A forked child inherits everything already built (the check data, imported modules), so
starting one costs milliseconds; whatever the child does (a hang, ``os._exit``, a crash,
a Ctrl-C) ends the child only.
"""
from __future__ import annotations

import os
import resource
import select
import signal
import sys
import time
from dataclasses import dataclass
from typing import Callable, Sequence

# What a child exits with when its work raised instead of returning.
CHILD_FAILED = 3


@dataclass(frozen=True)
class ChildEnd:
    """How a forked child ended: its wait status, what it sent back, whether it was killed
    for running past its time."""
    status: int
    payload: bytes
    timed_out: bool

    @property
    def exit_code(self) -> int:
        """The exit code, or minus the signal number that ended the child."""
        return os.waitstatus_to_exitcode(self.status)

    def describe(self) -> str:
        """'killed by signal 9 (SIGKILL)' or 'exited with code 3', for messages."""
        if os.WIFSIGNALED(self.status):
            number = os.WTERMSIG(self.status)
            return f"killed by signal {number} ({signal.Signals(number).name})"
        return f"exited with code {os.WEXITSTATUS(self.status)}"


def fork_and_wait(work: Callable[[], tuple[int, bytes]], timeout: float | None = None) -> ChildEnd:
    """Run ``work()`` in a forked child and wait for it.

    ``work`` returns ``(exit code, payload)``; the payload is sent back through a pipe
    (read while waiting, so a large one cannot block the child). A child still running
    after ``timeout`` seconds of wall time is killed. Ctrl-C in the parent kills the child
    and is raised again.
    """
    return fork_each([work], jobs=1, timeouts=[timeout])[0]


def fork_each(works: Sequence[Callable[[], tuple[int, bytes]]], jobs: int,
              timeouts: Sequence[float | None], after: Callable[[int], None] | None = None) -> list[ChildEnd]:
    """Run every ``work()`` in its own forked child, at most ``jobs`` at a time, and return
    how each ended, in order: the one pool of forked children (``fork_and_wait`` is it with
    one job).

    A fresh child per piece of work (never a reused worker) means nothing one piece leaves
    behind reaches the next. A child still running ``timeouts[i]`` seconds of wall time
    after it started is killed. ``after(pid)`` runs once each child has been reaped (the
    grader sweeps what a killed child left behind). Ctrl-C, or any error here, kills every
    running child and is raised again."""
    ends: list[ChildEnd | None] = [None] * len(works)
    running: dict[int, _Child] = {}           # read end of the pipe -> the child
    waiting = list(range(len(works)))
    try:
        while waiting or running:
            while waiting and len(running) < max(1, jobs):
                i = waiting.pop(0)
                child = _Child.start(i, works[i], timeouts[i])
                running[child.fd] = child
            now = time.monotonic()
            for child in [c for c in running.values() if c.deadline is not None and c.deadline <= now]:
                del running[child.fd]
                ends[child.index] = child.end(timed_out=True, after=after)
            if not running:
                continue
            deadlines = [c.deadline for c in running.values() if c.deadline is not None]
            wait = max(0.05, min(deadlines) - time.monotonic()) if deadlines else None
            ready, _, _ = select.select(list(running), [], [], None if wait is None else min(wait, 5.0))
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    running[fd].chunks.append(chunk)
                else:
                    child = running.pop(fd)
                    ends[child.index] = child.end(timed_out=False, after=after)
    except BaseException:  # Ctrl-C (or anything else) while children run: do not leave them behind
        for child in running.values():
            child.kill()
            if after is not None:
                after(child.pid)
        raise
    return [end for end in ends if end is not None]


@dataclass
class _Child:
    index: int
    pid: int
    fd: int
    deadline: float | None
    chunks: list[bytes]

    @classmethod
    def start(cls, index: int, work: Callable[[], tuple[int, bytes]], timeout: float | None) -> "_Child":
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child
            code = CHILD_FAILED
            try:
                os.close(read_end)
                signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends the child at once
                code, payload = work()
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                except (OSError, ValueError):
                    pass
                with os.fdopen(write_end, "wb") as pipe:
                    pipe.write(payload)
            except BaseException:
                code = CHILD_FAILED
            finally:
                os._exit(code)
        os.close(write_end)
        return cls(index, pid, read_end, None if timeout is None else time.monotonic() + timeout, [])

    def end(self, timed_out: bool, after: Callable[[int], None] | None) -> ChildEnd:
        if timed_out:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        if after is not None:
            after(self.pid)
        return ChildEnd(status, b"".join(self.chunks), timed_out)

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass


def limit_memory(allowance_mb: int, lock: bool = True) -> bool:
    """Cap this process's address space at what it holds now plus ``allowance_mb``.

    Counting from what is already held lets a child that inherited large check data still
    get the same allowance for its own work. ``lock`` sets the hard limit too, so the code
    that runs next cannot raise it again. Returns False where it cannot be set (not Linux,
    or a lower hard limit)."""
    try:
        with open("/proc/self/statm") as f:
            current = int(f.read().split()[0]) * resource.getpagesize()
    except OSError:
        return False
    limit = current + allowance_mb * 1024 * 1024
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY and hard < limit:
        return False
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit if lock else hard))
    except (ValueError, OSError):
        return False
    return True
