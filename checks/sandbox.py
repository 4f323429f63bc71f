"""Running a learner's lesson file in an operating-system sandbox, and the proxy through which
the checks call its functions (used by `make grade`, checks/classroom.py).

The trusted side (the grader: checks, reference, fixtures, comparisons, reports) never runs
the learner's code. It starts one long-lived worker per learner per lesson
(checks/sandbox_worker.py) inside bubblewrap (``bwrap``) and hands the checks a
:class:`SandboxedLearner` in place of the learner's module: ``learner.f(*args)`` sends the
arguments to the worker as data (checks/boundary.py), and returns the result as data; an
argument the call changed in place gets its new state copied back, an exception comes back as
the same learner-facing message `make check` gives.

What the sandbox sees is in checks/sandbox_box.py; how the grader watches it, in
checks/sandbox_process.py and checks/sandbox_watch.py. Its limits hold for the sandbox as a
whole where the machine offers a cgroup (checks/cgroup.py: memory, tmpfs pages included,
processes and CPU time counted by the kernel); elsewhere each process has its own address-space
limit and, for a grader that is not root, RLIMIT_NPROC (:func:`limits_here` says which).
What a verdict rests on is measured outside the sandbox: the CPU time of a call, whether the
sandbox is idle, and the evidence of checks/evidence.py (a fresh interpreter, a written PNG).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from checks import boundary, evidence, messages, seccomp
from checks.cgroup import SandboxCgroup, sweep, sweep_stale
from checks.framework import WALL_FACTOR, WALL_SLACK_S, CPUTimeExceeded, LearnerRaised, MissingFunction
from checks.limits import WallTimeExceeded
from checks.sandbox_box import build_box, bwrap_command
from checks.sandbox_process import LIBRARIES_MB, PROCESS_LIMIT, CPUOverrun, Ended, Idle, Worker
from checks.sandbox_values import copy_back, learner_exception  # noqa: F401 - the proxy's helpers, named here
from course import index
from course.paths import REPO

START_CPU_S = 60.0               # python start and the libraries' imports, before the learner's file
IDLE_S = 3.0                     # a sandbox asleep this long while it owes an answer is ended
INSTALL_HINT = ("bubblewrap (the `bwrap` command) is not installed. Install it with "
                "`sudo apt-get install bubblewrap` (Debian/Ubuntu; `dnf install bubblewrap` on Fedora), "
                "or pass --no-sandbox to grade without a sandbox (the reports will say so).")
WAITING = ("look for time.sleep, input(), a lock or event that is never released, or a read from a network "
           "socket or a pipe")


class LearnerProcessEnded(Ended):
    """The worker ended during a call (os._exit, a crash, a kill)."""


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def bwrap_works() -> tuple[bool, str]:
    """Whether bwrap is installed and can make a sandbox here (namespaces allowed). Asked once
    before a class is graded: also when the empty cgroups of killed graders are cleared."""
    sweep_stale()
    path = bwrap_path()
    if path is None:
        return False, INSTALL_HINT
    try:
        done = subprocess.run([path, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                               "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--", "true"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"bwrap could not run: {e}"
    if done.returncode != 0:
        return False, f"bwrap is installed but cannot create a sandbox here: {done.stderr.strip()[:300]}"
    return True, ""


def site_package_dirs() -> list[str]:
    """The package folders of this Python (the venv's, and any a .pth adds), never the repo."""
    repo = str(REPO.resolve())
    found = []
    # Read, never set: the folders the sandbox binds read-only are those of this module path.
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        real = os.path.realpath(entry)
        if real == repo or real.startswith(repo + os.sep) and ".venv" not in Path(real).relative_to(repo).parts:
            continue
        if os.path.basename(real) in ("site-packages", "dist-packages") and real not in found:
            found.append(real)
    return found


def sweep_leftovers(pid: int) -> None:
    """Kill and remove what the sandboxes of the (ended) grader child ``pid`` left behind,
    when that child could not close them itself (killed at its wall-clock backstop)."""
    sweep(pid)
    for path in Path(tempfile.gettempdir()).glob(f"grade-box-{pid}-*"):
        shutil.rmtree(path, ignore_errors=True)


def limits_here() -> dict[str, str]:
    """How a sandbox is bounded on this machine: for memory, processes and CPU time, either
    'the sandbox as a whole (cgroup)' or the per-process fallback."""
    group = SandboxCgroup.create(64 << 20, PROCESS_LIMIT)
    kinds = group.limits() if group is not None else []
    if group is not None:
        group.remove()
    whole = "the sandbox as a whole (cgroup)"
    return {"memory": whole if "memory" in kinds else "each process (address space, RLIMIT_AS)",
            "processes": whole if "pids" in kinds else ("each user (RLIMIT_NPROC)" if os.getuid() else "none"),
            "cpu": whole if "cpu" in kinds else "the processes alive in the sandbox (/proc)"}


def limits_sentence(memory_mb: int) -> str:
    """What bounds a sandbox on this machine, in words for the instructor (reports, logs)."""
    here = limits_here()
    if all("cgroup" in kind for kind in here.values()):
        return (f"each sandbox is limited as a whole by its own cgroup: {memory_mb} MiB of memory for the learner's "
                f"code (plus {LIBRARIES_MB} MiB for the libraries), files in its tmpfs mounts included, "
                f"{PROCESS_LIMIT} processes and threads, and its CPU time counted by the kernel")
    return ("no writable cgroup here, so some limits hold per process only: "
            + "; ".join(f"{what}: {kind}" for what, kind in here.items())
            + f". A learner's code that forks can then use up to {memory_mb} MiB in each process (the tmpfs "
              f"mounts are capped at their sizes either way); to bound the sandbox as a whole, grade as root or "
              f"in a cgroup v2 subtree delegated to the grader, with the memory and pids controllers enabled "
              f"for its children.")


def process_limit_kind() -> str:
    """How the sandbox's processes are limited here: 'cgroup', 'rlimit' or 'none'."""
    kind = limits_here()["processes"]
    return "cgroup" if "cgroup" in kind else "rlimit" if "RLIMIT" in kind else "none"


# ---------------------------------------------------------------- the worker and the proxy

@dataclasses.dataclass
class Limits:
    memory_mb: int = 2048            # the learner's memory, all processes of the sandbox together
    import_cpu_s: float = 30.0
    total_cpu_s: float = 600.0       # RLIMIT_CPU of the whole worker (every check of the lesson)
    sandbox: bool = True             # False: --no-sandbox (the same worker, without bwrap)
    wall_factor: float = WALL_FACTOR  # the wall-clock backstop of a call: factor x CPU limit + slack
    wall_slack_s: float = WALL_SLACK_S
    idle_s: float = IDLE_S           # asleep this long while owing an answer: ended (0: never)

    def wall(self, cpu_s: float) -> float:
        return max(cpu_s, 0.0) * self.wall_factor + self.wall_slack_s


class SandboxedLearner:
    """The learner's lesson module, as the checks see it during `make grade`."""

    def __init__(self, lesson_number: int, lesson_bytes: bytes | None, limits: Limits, display: str = "",
                 hash_seed: int = 0, bare: bool = False):
        lesson = index.lesson(lesson_number)
        self._lesson = lesson
        self._bytes = lesson_bytes
        self._limits = limits
        self._display = display or f"lessons/{lesson.module}.py"
        self._hash_seed = hash_seed
        self._bare = bare                # a probe: no libraries loaded before the file
        self._worker: Worker | None = None
        self._box: Path | None = None
        self._cpu_left = 10.0
        self._printed: list[str] = []
        self.load_error: str | None = None
        self.starts = 0

    def fresh(self, hash_seed: int) -> "SandboxedLearner":
        """The same lesson file in a fresh sandbox of its own, with another string-hash salt."""
        return SandboxedLearner(self._lesson.number, self._bytes, self._limits, self._display, hash_seed, bare=True)

    # -- the check's budget and prints
    def begin_check(self, cpu_limit: float) -> None:
        self._cpu_left = cpu_limit
        self._printed = []

    def printed(self) -> str:
        return "".join(self._printed).strip()

    # -- what the checks call
    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def call(*args, **kwargs):
            return self._call(name, args, kwargs, procedure=False)
        call.__name__ = name
        return call

    def procedure(self, name: str, *args, **kwargs):
        """A procedure of checks/procedures.py: measured from outside where its result is
        evidence (checks/evidence.py), else run next to the learner's code."""
        outside = evidence.OUTSIDE.get(name)
        if outside is not None:
            return outside(self, *args, **kwargs)
        return self._call(name, args, kwargs, procedure=True)

    def sandbox_pid(self) -> int | None:
        """A process in the running sandbox (its /proc/PID/root is the sandbox's files)."""
        if self._worker is None or not self._limits.sandbox:
            return None
        return self._worker.inner_pid()

    def private_tmp(self) -> Path | None:
        """The worker's /tmp when it runs without the sandbox (--no-sandbox)."""
        return None if self._limits.sandbox or self._box is None else self._box / "tmp"

    # -- the worker
    def start(self) -> str | None:
        """Start the worker and import the lesson file; returns the import error, if any."""
        self.close()
        self.starts += 1
        self._box = Path(tempfile.mkdtemp(prefix=f"grade-box-{os.getpid()}-"))
        os.chmod(self._box, 0o755)
        lesson_path = build_box(self._box, self._lesson.number, self._bytes)
        # The installation's own interpreter (not the venv's link to it): with -S and PYTHONPATH
        # it needs no venv, and no link leads out of what the sandbox binds.
        python = os.path.realpath(sys.executable)
        worker = ["-S", "-s", "-B", "-m", "checks.sandbox_worker", "--import-cpu", str(self._limits.import_cpu_s),
                  "--memory-mb", str(self._limits.memory_mb)] + (["--bare"] if self._bare else [])
        # The worker runs without site (-S), so the editable install's finder, which points into
        # the instructor's repository, is never loaded; PYTHONPATH names the copied ground and
        # the package folders instead (the one place the course sets a module path).
        pythonpath = ":".join([str(self._box / "code") if not self._limits.sandbox else "/box/code",
                               *site_package_dirs()])
        env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "PYTHONPATH": pythonpath, "PYTHONHASHSEED": str(self._hash_seed), "MPLBACKEND": "Agg",
               "NO_COLOR": "1"}
        filter_fd = seccomp.descriptor() if self._limits.sandbox else None
        if self._limits.sandbox:
            command = bwrap_command(bwrap_path() or "bwrap", self._box, python, env, site_package_dirs(),
                                    filter_fd) + worker + ["/box/lessons/" + lesson_path.name, self._display]
            cwd, env = None, {}
        else:
            private_tmp = self._box / "tmp"
            private_tmp.mkdir()
            env.update(HOME=str(private_tmp), TMPDIR=str(private_tmp))
            command = [python, *worker, str(lesson_path), self._display]
            cwd = private_tmp
        try:
            self._worker = Worker(command, env, cwd, self._limits.memory_mb,
                                  int(self._limits.total_cpu_s + START_CPU_S), self._limits.idle_s,
                                  () if filter_fd is None else (filter_fd,))
        finally:
            if filter_fd is not None:
                os.close(filter_fd)
        import_cpu = START_CPU_S + self._limits.import_cpu_s
        try:
            reply = self._worker.receive(self._limits.wall(import_cpu), import_cpu)
        except Idle:
            return self._set_load_error(f"{self._display} was waiting while it was imported: for "
                                        f"{self._limits.idle_s:g} s none of its processes ran. At the top level of "
                                        f"the file (outside any function), {WAITING}.")
        except (TimeoutError, CPUOverrun):
            return self._set_load_error(f"{self._display} did not finish importing in time (it waits or sleeps "
                                        f"at the top level of the file?)")
        except (Ended, boundary.BoundaryError) as e:
            said = self._worker.said()
            return self._set_load_error(f"the process that imports {self._display} ended before it was loaded "
                                        f"({e}). Does the file call os._exit or kill its own process when it is "
                                        f"imported?" + (f" It said: {said}" if said else ""))
        self._printed.append(str(reply.get("printed") or ""))
        error = reply.get("error")
        if reply.get("event") != "loaded":
            return self._set_load_error("the lesson file's process sent something else than its import result")
        if error is not None:
            return self._set_load_error(str(error)[:4000])
        self.load_error = None
        return None

    def ensure_started(self) -> None:
        if self._worker is None or self._worker.process.poll() is not None:
            if self.start() is not None:
                raise LearnerRaised(f"after the previous check ended your code's process, the lesson file could "
                                    f"not be loaded again: {self.load_error}")

    def _set_load_error(self, message: str) -> str:
        self.load_error = message
        self.close()
        return message

    def _call(self, name: str, args, kwargs, procedure: bool):
        if self.load_error is not None:
            raise LearnerRaised(f"the lesson file could not be loaded: {self.load_error}")
        self.ensure_started()
        request = {"name": name, "args": list(args), "kwargs": dict(kwargs), "procedure": procedure,
                   "cpu": max(self._cpu_left, 0.01)}
        try:
            data = messages.dumps(request)
        except boundary.BoundaryError as e:
            raise RuntimeError(f"check set-up: an argument cannot cross the boundary: {e}") from None
        worker = self._worker
        cpu_before = worker.cpu()
        try:
            worker.send(data)
            reply = worker.receive(self._limits.wall(self._cpu_left), max(self._cpu_left, 0.01))
        except Idle:
            self.close()
            raise WallTimeExceeded(f"was waiting, not computing: for {self._limits.idle_s:g} s none of your code's "
                                   f"processes ran while this check waited for its answer; {WAITING}.") from None
        except TimeoutError:
            self.close()
            wall_s = round(self._limits.wall(self._cpu_left), 1)
            raise WallTimeExceeded(f"did not finish within {wall_s:g} s of wall-clock time (while waiting or "
                                   f"sleeping, since it had not used its "
                                   f"{max(self._cpu_left, 0):.3g} s of CPU time).") from None
        except CPUOverrun:
            self.close()
            raise CPUTimeExceeded() from None
        except (BrokenPipeError, Ended) as e:
            why = str(e) if isinstance(e, Ended) else "it ended"
            self.close()
            raise LearnerRaised(f"the process running your code ended during this check: {why}.") from None
        except boundary.BoundaryError as e:
            self.close()
            raise LearnerRaised(f"your code's process sent back something the grader cannot read ({e}).") from None
        # The CPU time the kernel counted for the sandbox, not what the worker says it used.
        self._cpu_left -= worker.cpu() - cpu_before
        self._printed.append(str(reply.get("printed") or ""))
        error = reply.get("error")
        if error is not None:
            self._raise(error)
        everything = list(args) + list(kwargs.values())
        for change in reply.get("changed") or []:
            at = change.get("at")
            if isinstance(at, int) and 0 <= at < len(everything):
                copy_back(everything[at], change.get("value"), change.get("replaced") or [])
        if self._cpu_left < 0:
            raise CPUTimeExceeded()
        return reply.get("ok")

    def _raise(self, error) -> None:
        if not isinstance(error, dict):
            raise LearnerRaised("your code's process sent back a malformed error.")
        kind, message = error.get("kind"), str(error.get("message", ""))[:4000]
        if kind == "cputime":
            raise CPUTimeExceeded()
        if kind == "todo":
            raise NotImplementedError(message)
        if kind == "missing":
            raise MissingFunction(message)
        if kind == "unreadable":
            raise LearnerRaised(f"your function returned {message}, which the grader cannot take back: return "
                                f"numbers, strings, lists, tuples, dicts, numpy arrays, tensors, DataFrames or the "
                                f"course's containers, as the docstring says.")
        raise learner_exception(error, message or "your code raised an error")

    def close(self) -> None:
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()
        if self._box is not None:
            shutil.rmtree(self._box, ignore_errors=True)
            self._box = None


__all__ = ["Limits", "SandboxedLearner", "WallTimeExceeded", "LearnerProcessEnded", "bwrap_works", "copy_back",
           "limits_here", "limits_sentence", "process_limit_kind", "sweep_leftovers", "LIBRARIES_MB"]
