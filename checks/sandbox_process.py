"""One running sandbox of `make grade`, seen from the grader: the process (bwrap and the worker
in it), its cgroup, the channel its answers come on, and the watch the grader keeps on it
while an answer is owed (checks/sandbox_watch.py).

A read of the channel ends in one of four ways, each decided outside the sandbox: the
answer arrives; the sandbox has been idle for ``idle_s`` (:class:`Idle`: it waits for
something that will not come); it has used more CPU time than it was given, by its
cgroup's count (:class:`CPUOverrun`: its own timer was silenced); or the wall-clock backstop
passes (:class:`TimeoutError`), for anything else.
"""
from __future__ import annotations

import os
import resource
import select
import signal
import subprocess
import time

from checks import boundary, messages
from checks.cgroup import SandboxCgroup
from checks.sandbox_watch import IdleClock, Watch, descendants

FILE_LIMIT = 64 << 20            # RLIMIT_FSIZE in the sandbox
PROCESS_LIMIT = 64               # processes and threads in one sandbox
LIBRARIES_MB = 512               # the interpreter, numpy, pandas and torch, resident, on top of --memory-mb
TICK_S = 0.2                     # how often the grader looks at a sandbox that owes an answer
CPU_GRACE_S = 2.0                # past its CPU time, the worker's own timer has this long to answer
STDERR_KEPT = 1 << 16            # what the grader keeps of the sandbox's standard error


class Idle(Exception):
    """Every process of the sandbox slept for the idle limit while it owed an answer."""


class CPUOverrun(Exception):
    """The sandbox used more CPU time than the call was given (counted by the kernel)."""


class Ended(Exception):
    """The worker ended (os._exit, a crash, a kill) before it answered."""


class Worker:
    """The sandbox's process tree, started in its own cgroup where the machine offers one."""

    def __init__(self, command: list[str], env: dict, cwd, memory_mb: int, total_cpu_s: int, idle_s: float,
                 pass_fds: tuple[int, ...] = ()):
        self.cgroup = SandboxCgroup.create((memory_mb + LIBRARIES_MB) << 20, PROCESS_LIMIT)
        cgroup = self.cgroup
        self.idle_s = idle_s
        self.stderr = bytearray()
        self.stderr_open = True

        def limits() -> None:
            if cgroup is not None:
                cgroup.join()
            if (cgroup is None or "pids" not in cgroup.groups) and os.getuid() != 0:
                resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))
            for what, value in ((resource.RLIMIT_CPU, total_cpu_s), (resource.RLIMIT_FSIZE, FILE_LIMIT),
                                (resource.RLIMIT_CORE, 0)):
                resource.setrlimit(what, (value, value))
        # Standard error is a pipe the grader drains (bwrap's own messages, the worker's before
        # the learner's file takes over): nothing written to it, even through /proc/1/fd/2,
        # lands in a file of this machine, and only its first 64 KiB are kept.
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=env, cwd=cwd, preexec_fn=limits,
                                        start_new_session=True, pass_fds=pass_fds)
        self.watch = Watch(self.process.pid, cgroup)

    # -- what the grader measures
    def cpu(self) -> float:
        return self.watch.cpu()

    def out_of_memory(self) -> bool:
        return self.cgroup is not None and self.cgroup.out_of_memory()

    def inner_pid(self) -> int | None:
        """A process inside the sandbox (its PID namespace's first), whose /proc/PID/root is
        the sandbox's file system; None once it has ended."""
        for pid in descendants(self.process.pid):
            if pid != self.process.pid:
                return pid
        return None

    # -- the channel
    def send(self, data: bytes) -> None:
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def receive(self, wall_s: float, cpu_s: float) -> dict:
        """The next message, within ``wall_s`` of wall time, ``cpu_s`` of the sandbox's CPU
        time and the idle limit. Raises Idle, CPUOverrun, TimeoutError or Ended."""
        reader = _Reader(self, time.monotonic() + wall_s, self.cpu() + cpu_s + CPU_GRACE_S)
        message = messages.read_message(reader)
        if message is None:
            raise Ended(self.why_ended())
        return message

    def why_ended(self) -> str:
        code = self.process.wait()
        if self.out_of_memory():
            return ("it was killed for memory: the sandbox's processes together used more than its allowance "
                    "(is something quadratic in the number of ratings?)")
        if code < 0:
            try:
                return f"it was killed by signal {-code} ({signal.Signals(-code).name})"
            except ValueError:
                return f"it was killed by signal {-code}"
        return f"it exited with code {code} (sys.exit or os._exit in your code?)"

    def drain_stderr(self) -> None:
        if not self.stderr_open:
            return
        fd = self.process.stderr.fileno()
        for _ in range(16):             # a bounded drain: a flood cannot keep the grader here
            if not select.select([fd], [], [], 0)[0]:
                return
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                self.stderr_open = False
                return
            self.stderr += chunk[:max(0, STDERR_KEPT - len(self.stderr))]

    def said(self) -> str:
        self.drain_stderr()
        return bytes(self.stderr).decode("utf-8", "replace").strip()[-600:]

    def close(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.cgroup is not None:
            self.cgroup.kill_all()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except (OSError, ValueError, AttributeError):
                pass
        self.process.wait()
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None


class _Reader:
    """A binary reader of the worker's answers that watches the sandbox while it waits."""

    def __init__(self, worker: Worker, deadline: float, cpu_ceiling: float):
        self.worker, self.deadline, self.cpu_ceiling = worker, deadline, cpu_ceiling
        self.idle = IdleClock(worker.watch, worker.idle_s)

    def read(self, size: int) -> bytes:
        out_fd = self.worker.process.stdout.fileno()
        err_fd = self.worker.process.stderr.fileno()
        while True:
            now = time.monotonic()
            if now >= self.deadline:
                raise TimeoutError
            watched = [out_fd, err_fd] if self.worker.stderr_open else [out_fd]
            ready, _, _ = select.select(watched, [], [], min(TICK_S, self.deadline - now))
            if err_fd in ready:
                self.worker.drain_stderr()
            if out_fd in ready:
                self.idle.reset()
                return os.read(out_fd, size)
            if self.worker.cpu() > self.cpu_ceiling:
                raise CPUOverrun
            if self.idle.expired(time.monotonic()):
                raise Idle
