"""How long `make grade` takes for a class, and what idle learners cost it.

    python -m benchmarks.grading [--learners 30] [--idle-import 3] [--idle-check 3] [--lessons 1-12]
                                 [--baseline REV] [--json outputs/grading_bench.json]

builds a class of ``--learners`` checkouts whose lesson files are the reference's code (every
check passes, so every check runs), grades it, then grades the same class in which
``--idle-import`` learners' first lesson sleeps while it is imported and ``--idle-check``
learners' second lesson sleeps inside its first task's function (a forgotten ``time.sleep``,
an ``input()``, a lock: code that waits without computing). It prints both wall times and
their ratio: the grader ends a sandbox that waits while it owes an answer after a few
seconds, so the ratio stays close to 1 (the issue's goal: at most 1.3).

With ``--baseline REV`` the plain class is graded a second time by the grader of that git
revision (checked out into a temporary worktree, run with this environment's Python), so an
old and a new grader are compared in the same run on the same machine.

Timings depend on the machine and its load: this is a measurement, never a test verdict.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from course import index

REPO = Path(__file__).resolve().parents[1]

SLEEP_AT_IMPORT = "\nimport time as _bench_time\n_bench_time.sleep(3600)  # waits, computes nothing\n"
SLEEP_IN_CHECK = ("\nimport time as _bench_time\n_bench_original = {name}\n\n\n"
                  "def {name}(*args, **kwargs):  # waits, computes nothing, when the check calls it\n"
                  "    _bench_time.sleep(3600)\n"
                  "    return _bench_original(*args, **kwargs)\n")


def parse_lessons(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1)) if "," not in text else [int(n) for n in text.split(",")]


def build_class(folder: Path, learners: int, lessons: list[int], idle_import: int = 0, idle_check: int = 0) -> Path:
    """``learners`` checkouts holding the reference's lesson files; the first ``idle_import``
    sleep while their first lesson is imported, the next ``idle_check`` inside the first
    task of their second lesson."""
    chosen = [index.lesson(n) for n in lessons]
    for number in range(learners):
        target = folder / f"learner{number:02d}" / "lessons"
        target.mkdir(parents=True)
        for position, lesson in enumerate(chosen):
            code = lesson.solution_path.read_text()
            if position == 0 and number < idle_import:
                code += SLEEP_AT_IMPORT
            elif position == min(1, len(chosen) - 1) and idle_import <= number < idle_import + idle_check:
                code += SLEEP_IN_CHECK.format(name=lesson.tasks[0].function)
            (target / lesson.stub_path.name).write_text(code)
    return folder


def grade(grader_root: Path, submission: Path, lessons: list[int], jobs: int | None) -> float:
    """Wall seconds for the grader at ``grader_root`` to grade ``submission``."""
    reports = submission.parent / f"reports-{submission.name}-{abs(hash(grader_root)) % 10 ** 6}"
    command = [sys.executable, "-m", "checks.classroom", str(submission), "--reports", str(reports),
               "--lessons", ",".join(map(str, lessons))] + (["--jobs", str(jobs)] if jobs else [])
    started = time.perf_counter()
    done = subprocess.run(command, cwd=grader_root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"grading {submission.name} with {grader_root} failed ({done.returncode}):\n"
                         f"{done.stdout[-3000:]}")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.grading", description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=30)
    parser.add_argument("--idle-import", type=int, default=3, help="learners whose first lesson sleeps at import")
    parser.add_argument("--idle-check", type=int, default=3, help="learners whose second lesson sleeps in a check")
    parser.add_argument("--lessons", default="1-12", help="e.g. 1-12 or 1,2,5")
    parser.add_argument("--jobs", type=int, default=None, help="the grader's --jobs (default: its own)")
    parser.add_argument("--baseline", default="", help="a git revision whose grader also grades the plain class")
    parser.add_argument("--json", type=Path, default=REPO / "outputs" / "grading_bench.json")
    args = parser.parse_args(argv)
    lessons = parse_lessons(args.lessons)
    figures: dict = {"learners": args.learners, "lessons": lessons, "idle_import": args.idle_import,
                     "idle_check": args.idle_check, "cpu_cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        tmp_path = Path(tmp)
        plain = build_class(tmp_path / "plain", args.learners, lessons)
        idle = build_class(tmp_path / "idle", args.learners, lessons, args.idle_import, args.idle_check)
        figures["plain_s"] = grade(REPO, plain, lessons, args.jobs)
        print(f"plain class ({args.learners} learners x {len(lessons)} lessons): {figures['plain_s']:.1f} s", flush=True)
        figures["idle_s"] = grade(REPO, idle, lessons, args.jobs)
        figures["idle_ratio"] = figures["idle_s"] / figures["plain_s"]
        print(f"same class, {args.idle_import} sleeping at import and {args.idle_check} inside a check: "
              f"{figures['idle_s']:.1f} s, {figures['idle_ratio']:.2f}x (goal <= 1.3x)", flush=True)
        if args.baseline:
            old = tmp_path / "baseline"
            subprocess.run(["git", "worktree", "add", "--detach", "-q", str(old), args.baseline], cwd=REPO, check=True)
            try:
                figures["baseline"] = args.baseline
                figures["baseline_plain_s"] = grade(old, plain, lessons, args.jobs)
                figures["plain_vs_baseline"] = figures["plain_s"] / figures["baseline_plain_s"]
                print(f"plain class by the grader of {args.baseline}: {figures['baseline_plain_s']:.1f} s; this "
                      f"grader takes {figures['plain_vs_baseline']:.2f}x as long (goal <= 1.05x)")
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=REPO, check=False)
                shutil.rmtree(old, ignore_errors=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=1))
    print(f"figures: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
