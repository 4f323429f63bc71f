"""What the grader sees of a running sandbox from outside it, in /proc and its cgroup: which
processes it has, whether any of them can run, and how much CPU time they have used.

Nothing here asks the learner's code anything, so nothing the code does can change it
(except by really computing, or really waiting).

Idleness: a sandbox that owes the grader an answer is *idle* when none of its threads is
runnable (state R) and its CPU time does not grow. A process that waits for the CPU on a busy
machine stays in state R, so load never makes a working submission look idle; a
``time.sleep``, an ``input()``, a lock or a read from a socket or pipe puts every thread in
state S (or D, T) and keeps the CPU count still.
"""
from __future__ import annotations

import os

TICKS = os.sysconf("SC_CLK_TCK")
RUNNING = {"R"}                 # states of a thread that runs or waits for a CPU


def _stat_fields(path: str) -> list[str] | None:
    try:
        with open(path, "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    return text[text.rfind(")") + 2:].split()


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (the sandbox without a cgroup)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(f"/proc/{entry}/stat")
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def any_runnable(pids: list[int]) -> bool:
    """Whether a thread of these processes is running or waiting for a CPU."""
    for pid in pids:
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in threads:
            fields = _stat_fields(f"/proc/{pid}/task/{tid}/stat")
            if fields and fields[0] in RUNNING:
                return True
    return False


def cpu_seconds(pids: list[int]) -> float:
    """User + system time of these processes and of the children they have waited for."""
    total = 0
    for pid in pids:
        fields = _stat_fields(f"/proc/{pid}/stat")
        if fields and len(fields) > 14:
            total += sum(int(v) for v in fields[11:15])     # utime, stime, cutime, cstime
    return total / TICKS


class Watch:
    """Samples one sandbox every tick while the grader waits for its answer."""

    def __init__(self, root_pid: int, cgroup=None):
        self.root_pid, self.cgroup = root_pid, cgroup
        self._high = 0.0

    def pids(self) -> list[int]:
        if self.cgroup is not None and "pids" in self.cgroup.groups:
            return self.cgroup.pids()
        return descendants(self.root_pid)

    def cpu(self) -> float:
        """CPU seconds of the whole sandbox so far (never decreasing)."""
        used = self.cgroup.cpu_seconds() if self.cgroup is not None else None
        if used is None:
            used = cpu_seconds(self.pids())
        self._high = max(self._high, used)
        return self._high

    def runnable(self) -> bool:
        return any_runnable(self.pids())


class IdleClock:
    """Counts how long a sandbox has stayed idle: reset by any CPU used, any runnable thread,
    or any byte that arrives from it."""

    def __init__(self, watch: Watch, limit_s: float):
        self.watch, self.limit_s = watch, limit_s
        self.reset()

    def reset(self) -> None:
        self._cpu = self.watch.cpu()
        self._idle_since: float | None = None

    def idle_for(self, now: float) -> float:
        cpu = self.watch.cpu()
        if cpu > self._cpu or self.watch.runnable():
            self._cpu, self._idle_since = cpu, None
            return 0.0
        if self._idle_since is None:
            self._idle_since = now
        return now - self._idle_since

    def expired(self, now: float) -> bool:
        return self.limit_s > 0 and self.idle_for(now) >= self.limit_s
