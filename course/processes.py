"""Running a piece of work in a child process: the one fork-and-wait and the one
memory-limit helper that the checks and `make watch` share (the classroom grader's sandboxed
worker sets its own limits, since it is copied into the sandbox without this module's callers).

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
from typing import Callable

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
    chunks: list[bytes] = []
    timed_out = False
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select([pipe], [], [], left)
                if not ready:
                    continue
                chunk = pipe.read(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        if timed_out:
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
    except BaseException:  # Ctrl-C (or anything else) while the child runs: do not leave it behind
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
        raise
    return ChildEnd(status, b"".join(chunks), timed_out)


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
