"""A sandbox of `make grade` bounded as a whole, and ended when it waits (checks/cgroup.py,
checks/sandbox_process.py, checks/sandbox_watch.py, checks/sandbox_box.py).

Each attack is a tiny learner file; each test asserts the verdict and that the same learner's
next call is answered (grading goes on). No verdict here depends on how fast the machine is:
the idle tests sleep, and the limits are the kernel's counts of memory, processes and CPU.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from benchmarks.hostile_attacks import FILL_TMPFS, HOLD_MEMORY, NEW_NAMESPACES, SILENCE_CPU_TIMER
from checks.framework import CPUTimeExceeded, LearnerRaised
from checks.sandbox import Limits, SandboxedLearner, bwrap_works, limits_here
from checks.sandbox_watch import IdleClock

BWRAP, WHY_NOT = bwrap_works()
needs_bwrap = pytest.mark.skipif(not BWRAP, reason=f"no usable bubblewrap here: {WHY_NOT}")
HERE = limits_here()
WHOLE = "the sandbox as a whole (cgroup)"


def sandboxed(source: str, **limits) -> SandboxedLearner:
    source = textwrap.dedent(source) + "\n\ndef alive():\n    return 'yes'\n"
    return SandboxedLearner(3, source.encode(), Limits(**limits))


def still_answers(learner: SandboxedLearner) -> None:
    """Grading goes on: the next call (a new sandbox, if the last one was ended) is answered."""
    learner.begin_check(10.0)
    assert learner.alive() == "yes"


# ------------------------------------------------------------------ idle submissions end fast

class FakeWatch:
    def __init__(self, runnable: bool):
        self.used, self.is_runnable = 1.0, runnable

    def cpu(self) -> float:
        return self.used

    def runnable(self) -> bool:
        return self.is_runnable


def test_a_runnable_sandbox_is_never_idle_however_long_it_waits_for_a_cpu():
    # A loaded machine leaves a working process in state R without CPU time for a while.
    clock = IdleClock(FakeWatch(runnable=True), limit_s=3.0)
    assert not any(clock.expired(now) for now in range(0, 600))
    asleep = IdleClock(FakeWatch(runnable=False), limit_s=3.0)
    assert [asleep.expired(now) for now in (0.0, 1.0, 2.9, 3.0)] == [False, False, False, True]
    asleep.watch.used = 1.5                 # CPU used: the clock starts again
    assert [asleep.expired(now) for now in (10.0, 12.0, 14.9, 15.0)] == [False, False, False, True]


WAITS = {
    "sleep": "import time\n    time.sleep(3600)",
    "lock": "import threading\n    lock = threading.Lock()\n    lock.acquire()\n    lock.acquire()",
    "socket": "import socket\n    a, b = socket.socketpair()\n    a.recv(1)",
    "pipe": "import os\n    r, w = os.pipe()\n    os.read(r, 1)",
    "child": "import subprocess\n    subprocess.run(['sleep', '3600'])",
}


@needs_bwrap
@pytest.mark.parametrize("kind", sorted(WAITS))
def test_a_call_that_waits_is_ended_and_reported_as_waiting(kind):
    learner = sandboxed(f"def wait():\n    {WAITS[kind]}\n")
    try:
        assert learner.start() is None, learner.load_error
        learner.begin_check(10.0)
        with pytest.raises(CPUTimeExceeded) as raised:
            learner.wait()
        assert type(raised.value).__name__ == "WallTimeExceeded"
        report = raised.value.report
        assert "was waiting" in report and "time.sleep" in report and "input()" in report and "lock" in report
        still_answers(learner)
    finally:
        learner.close()


@needs_bwrap
def test_a_file_that_sleeps_at_import_is_reported_as_waiting():
    learner = sandboxed("import time\ntime.sleep(3600)\n")
    try:
        error = learner.start()
        assert error is not None and "was waiting while it was imported" in error and "top level" in error
    finally:
        learner.close()


@needs_bwrap
def test_work_longer_than_the_idle_limit_is_not_idle():
    learner = sandboxed("""
        def work():
            import time
            start = time.process_time()
            while time.process_time() - start < 4.0:     # more CPU time than the idle limit is long
                pass
            return "done"
        """)
    try:
        assert learner.start() is None
        learner.begin_check(30.0)
        assert learner.work() == "done"
    finally:
        learner.close()


# ------------------------------------------------------------------ CPU time counted outside

@needs_bwrap
def test_a_silenced_cpu_timer_does_not_buy_cpu_time():
    # The learner's code ignores the worker's SIGPROF and reports no CPU time used: the
    # grader counts the sandbox's CPU time itself.
    learner = sandboxed(SILENCE_CPU_TIMER + textwrap.dedent("""
        def spin():
            while True:
                pass

        def busy(seconds):
            import time
            start = time.process_time()
            while time.process_time() - start < seconds:
                pass
        """))
    try:
        assert learner.start() is None
        learner.begin_check(1.0)
        with pytest.raises(CPUTimeExceeded):
            learner.spin()
        still_answers(learner)
        learner.begin_check(2.5)
        learner.busy(1.0)                    # 1 s counted, whatever the worker says
        with pytest.raises(CPUTimeExceeded):
            learner.busy(2.0)                # 3 s in all: over 2.5
    finally:
        learner.close()


# ------------------------------------------------------------------ memory, files, namespaces

@needs_bwrap
def test_memory_is_bounded_for_the_sandbox_as_a_whole():
    if HERE["memory"] != WHOLE:
        pytest.skip(f"no memory cgroup here: memory is limited per process ({HERE['memory']})")
    learner = sandboxed(HOLD_MEMORY, memory_mb=1024)
    try:
        assert learner.start() is None
        learner.begin_check(30.0)
        try:
            held = learner.hold(4, 700)              # 2.8 GB in four processes, each under its own limit
            assert held <= 2, f"{held} processes held 700 MiB each"
        except LearnerRaised as e:
            assert "memory" in e.report
        still_answers(learner)
    finally:
        learner.close()


@needs_bwrap
def test_no_ram_backed_file_grows_without_a_bound():
    learner = sandboxed(FILL_TMPFS)
    try:
        assert learner.start() is None
        learner.begin_check(60.0)
        written = learner.fill()
        assert written["/"] == written["/dev"] == written["/box/lessons"] == 0, written
        assert written["/dev/shm"] <= 16 and written["/tmp"] <= 256, written
        still_answers(learner)
    finally:
        learner.close()


@needs_bwrap
def test_no_nested_user_namespace_and_no_mount():
    learner = sandboxed(NEW_NAMESPACES)
    try:
        assert learner.start() is None
        learner.begin_check(10.0)
        assert learner.escape() == {"user": False, "mount": False, "mount tmpfs": False}
    finally:
        learner.close()


@needs_bwrap
def test_without_a_cgroup_the_per_process_fallback_still_ends_waiting_and_spinning_code(monkeypatch):
    # A machine that offers no cgroup: processes are found in /proc, CPU time summed there.
    import checks.sandbox_process as process

    monkeypatch.setattr(process.SandboxCgroup, "create", classmethod(lambda cls, *a: None))
    learner = sandboxed("""
        import signal
        signal.signal(signal.SIGPROF, signal.SIG_IGN)

        def wait():
            import time
            time.sleep(3600)

        def spin():
            while True:
                pass
        """)
    try:
        assert learner.start() is None
        learner.begin_check(10.0)
        with pytest.raises(CPUTimeExceeded) as raised:
            learner.wait()
        assert "was waiting" in raised.value.report
        still_answers(learner)
        learner.begin_check(1.0)
        with pytest.raises(CPUTimeExceeded):
            learner.spin()
    finally:
        learner.close()


@needs_bwrap
def test_the_seccomp_filter_refuses_namespaces_and_mounts_and_lets_threads_and_processes_be():
    from checks import seccomp

    if seccomp.program() is None:
        pytest.skip("the seccomp filter is written for x86-64 only")
    learner = sandboxed("""
        def calls():
            import ctypes, errno, os, subprocess, threading
            libc = ctypes.CDLL(None, use_errno=True)
            out = {}
            for name, flags in (("user", 0x10000000), ("net", 0x40000000)):
                libc.unshare(flags)
                out[name] = errno.errorcode.get(ctypes.get_errno(), "")
            libc.syscall(155, b"/tmp", b"/tmp")            # pivot_root
            out["pivot_root"] = errno.errorcode.get(ctypes.get_errno(), "")
            box = []
            thread = threading.Thread(target=lambda: box.append("thread"))
            thread.start()
            thread.join()
            pid = os.fork()
            if pid == 0:
                os._exit(7)
            out["fork"] = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            out["thread"] = box
            out["subprocess"] = subprocess.run(["true"]).returncode
            return out
        """)
    try:
        assert learner.start() is None, learner.load_error
        learner.begin_check(10.0)
        assert learner.calls() == {"user": "EPERM", "net": "EPERM", "pivot_root": "EPERM", "fork": 7,
                                   "thread": ["thread"], "subprocess": 0}
    finally:
        learner.close()


def test_the_empty_cgroups_of_a_killed_grader_are_cleared_before_grading():
    from checks.cgroup import PREFIX, _parents

    parents = _parents("pids")
    if HERE["processes"] != WHOLE or not parents:
        pytest.skip("no pids cgroup here")
    stale = parents[0] / f"{PREFIX}-999999999-1"       # no such process
    stale.mkdir()
    try:
        bwrap_works()
        assert not stale.exists()
    finally:
        if stale.exists():
            stale.rmdir()


def test_docs_grading_states_the_sandboxs_limits_as_the_code_sets_them():
    # docs/grading.md quotes these figures to instructors: they are the code's constants.
    from checks import sandbox, sandbox_box, sandbox_process

    doc = " ".join((Path(__file__).resolve().parents[1] / "docs" / "grading.md").read_text().split())
    assert sandbox.IDLE_S == 3.0 and "when for 3 s no thread" in doc
    assert sandbox_process.TICK_S == 0.2 and "every 0.2 s" in doc
    assert sandbox_box.TMPFS_BYTES == 256 << 20 and "256 MiB tmpfs for `/tmp`" in doc
    assert sandbox_box.SHM_BYTES == 16 << 20 and "16 MiB one for `/dev/shm`" in doc
    assert sandbox_process.LIBRARIES_MB == 512 and "512 MiB for the libraries" in doc
    assert sandbox_process.PROCESS_LIMIT == 64 and "64 processes and threads" in doc
    assert sandbox_process.CPU_GRACE_S == 2.0 and "more than 2 s past its allowance" in doc
    assert "--disable-userns" in Path(sandbox_box.__file__).read_text() and "--disable-userns" in doc
