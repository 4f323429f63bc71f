"""``make watch LESSON=N``: re-run the lesson's checks every time you save the lesson file.

The file is polled about once a second (its modification time, size and a SHA-256 of its
bytes), rather than using file-system events, so it works the same on WSL, in containers
and on network drives, and an editor that saves by writing a new file is noticed too.
The check data is built once, up front; every run then happens in a fresh child process,
so a run starts quickly and nothing your code does can break the watcher. Ctrl-C stops it.

    python -m commands.watch 1
    python -m commands.watch 1 --no-clear    # keep the earlier runs on screen
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Callable

from course import index
from course.paths import LESSONS_DIR, relative
from course.processes import fork_and_wait

POLL_INTERVAL_S = 1.0
SETTLE_S = 0.2   # an editor may save in several writes: wait until two looks agree

Fingerprint = tuple[int, int, str] | None


def fingerprint(path: Path) -> Fingerprint:
    """(mtime_ns, size, sha256) of a file, or None when it is missing or unreadable."""
    try:
        stat = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, digest


def watch(path: Path, on_change: Callable[[int], None], *, interval: float = POLL_INTERVAL_S,
          settle: float = SETTLE_S, max_iterations: int | None = None,
          sleep: Callable[[float], None] = time.sleep,
          look: Callable[[Path], Fingerprint] = fingerprint) -> int:
    """Call ``on_change(run_number)`` once now, then each time ``path`` changes.

    Polls every ``interval`` seconds; ``max_iterations`` bounds the number of polls and
    ``sleep``/``look`` can be replaced (tests). Returns how many times it ran ``on_change``.
    """
    last = look(path)
    runs = 1
    on_change(runs)
    polls = 0
    while max_iterations is None or polls < max_iterations:
        sleep(interval)
        polls += 1
        current = look(path)
        if current == last:
            continue
        sleep(settle)
        if look(path) != current:
            continue  # still being written: look again on the next poll
        last = current
        runs += 1
        on_change(runs)
    return runs


def run_checks_in_child(number: int, folder: Path = LESSONS_DIR) -> int:
    """Grade the lesson in a forked child (it inherits the prepared check data) and print
    the report. Returns the child's exit status (0: the lesson passes)."""
    from commands.check import grade, render

    def work() -> tuple[int, bytes]:
        try:
            result = grade(number, folder)
        except Exception:
            traceback.print_exc()
            raise
        print(render(result), flush=True)
        return (0 if result.passed else 1), b""

    return fork_and_wait(work).exit_code


def prepare(number: int) -> None:
    """Import the lesson's checks and build its check data once, before watching."""
    from checks import fixtures
    from checks.framework import checks_for

    checks_for(number)
    fixtures.for_lesson(number)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Re-run a lesson's checks whenever you save its file.")
    parser.add_argument("lesson", nargs="?", default="", help="lesson number")
    parser.add_argument("--no-clear", action="store_true", help="do not clear the screen between runs")
    parser.add_argument("--interval", type=float, default=POLL_INTERVAL_S, help="seconds between looks at the file")
    parser.add_argument("--folder", type=Path, default=LESSONS_DIR, help="folder holding the lesson files (default lessons/)")
    args = parser.parse_args(argv)
    try:
        lesson = index.lesson(int(args.lesson))
    except (ValueError, KeyError):
        print(f"There is no lesson {args.lesson!r}." if args.lesson else
              "Which lesson should be watched? For example `make watch LESSON=1`.")
        print("Lessons: " + ", ".join(f"{item.number} ({item.title})" for item in index.lessons()))
        return 2
    path = args.folder / f"{lesson.module}.py"
    clear = sys.stdout.isatty() and not args.no_clear and not os.environ.get("NO_CLEAR")

    def on_change(run: int) -> None:
        if clear:
            print("\033[2J\033[H", end="")
        stamp = datetime.now().strftime("%H:%M:%S")
        what = "First check" if run == 1 else f"You saved the file: check #{run}"
        print(f"[{stamp}] {what} of {relative(path)}\n", flush=True)
        run_checks_in_child(lesson.number, args.folder)
        print(f"\nWatching {relative(path)}: save it to check again, Ctrl-C to stop.", flush=True)

    try:
        print(f"Getting lesson {lesson.number}'s checks ready (only this once)...", flush=True)
        try:
            prepare(lesson.number)
        except Exception as e:  # every run will show the problem in full
            print(f"(Could not prepare the checks up front: {type(e).__name__}: {e})")
        watch(path, on_change, interval=args.interval)
    except KeyboardInterrupt:
        print(f"\nStopped watching {relative(path)}. Goodbye for now: `make watch LESSON={lesson.number}` "
              f"picks up right where you left off.")
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
