"""Run a command while the machine is deliberately oversubscribed.

    python -m benchmarks.under_load [--per-core 8] -- make test

starts ``--per-core`` busy PyTorch processes per core (one thread each, matrix products in a
loop, as a classroom server grading many learners at once), runs the command, ends every
busy process (also when the command fails or is interrupted), and prints the command's exit
status, its wall time and the load averages seen while it ran. The exit status is the
command's. This is how docs/grading.md's "make test under load" figure was measured; the
bounded version that `make test` itself runs is tests/test_load.py.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

from course.threads import usable_cores

BUSY = ("import torch\n"
        "torch.set_num_threads(1)\n"
        "a = torch.rand(256, 256, generator=torch.Generator().manual_seed(0))\n"
        "while True:\n"
        "    a = torch.tanh(a @ a)\n")


def start_busy(count: int, code: str = BUSY) -> list[subprocess.Popen]:
    """``count`` processes running ``code`` (one thread each, each in its own session)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return [subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            for _ in range(count)]


def end_busy(busy: list[subprocess.Popen]) -> None:
    """Kill every process of :func:`start_busy` (with anything it started) and wait for it."""
    for p in busy:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for p in busy:
        p.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-core", type=int, default=8, help="busy processes per core (default 8)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command, after --")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    count = args.per_core * usable_cores()
    busy = start_busy(count)
    loads: list[float] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(30.0):
            loads.append(os.getloadavg()[0])

    def stop(signum, frame):  # `kill` of this command ends the busy processes too (finally below)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the clean-up must not be interrupted
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    sampler = threading.Thread(target=sample, daemon=True)
    started = time.monotonic()
    try:
        time.sleep(2.0)
        alive = sum(p.poll() is None for p in busy)
        print(f"[under_load] {alive} of {count} busy processes running on {usable_cores()} cores; running: "
              f"{' '.join(command)}", flush=True)
        sampler.start()
        started = time.monotonic()
        status = subprocess.call(command)
    except KeyboardInterrupt:
        status = 130
        print("[under_load] interrupted", flush=True)
    finally:
        done.set()
        end_busy(busy)
    wall = time.monotonic() - started
    spread = f"{min(loads):.1f}-{max(loads):.1f}, mean {sum(loads) / len(loads):.1f}" if loads else "not sampled"
    print(f"[under_load] exit status {status}; wall time {wall / 60:.1f} min; 1-minute load average "
          f"{spread} ({count} busy processes on {usable_cores()} cores, sampled every 30 s)", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
