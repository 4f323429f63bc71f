"""``make grade SUBMISSION=path [REPORTS=dir] [SHARD=k/n]``: grade learners' checkouts with
*your* checks, their code in a sandbox; ``make grade-merge REPORTS=dir`` puts shares together.

SUBMISSION is one learner's checkout (a folder holding ``lessons/``) or a folder of them
(every sub-folder holding ``lessons/`` is one learner, named after the sub-folder). Only the
bytes of the learner's ``lessons/*.py`` regular files are used: their copies of checks/,
solutions/ and course/ are never read. docs/grading.md says exactly what is guaranteed.

This module is the command and the order of work; each job is a module of its own:

- checks/class_files.py     finding the learners and reading their lesson files
- checks/class_copies.py    a file still the stub ("not started"), or the reference's code
- checks/class_snapshot.py  this repository before and after grading
- checks/class_limits.py    time, memory and how many lessons at once
- checks/class_lesson.py    grading one lesson of one learner, and many side by side
- checks/class_grades.py    the grades as data
- checks/class_reports.py   the reports
- checks/class_shards.py    a share of the class, and the merge of the shares

Reports, in REPORTS (default outputs/grades/): ``<learner>.md`` to read, ``<learner>.json``
and ``class.csv`` for a gradebook (points per lesson and per task), ``class.md`` a summary.

    python -m checks.classroom submissions/ --reports outputs/grades --lessons 1,2,3 --jobs 2
    make grade SUBMISSION=submissions/ LESSONS=1,2,3      # LESSONS and GRADE_OPTIONS are read
    make grade SUBMISSION=submissions/ SHARD=2/8          # a share; then make grade-merge
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from checks.class_copies import is_stub
from checks.class_files import (LESSON_FILE_LIMIT, find_learners, learner_lesson_files, report_stems, safe_name,
                                shared_files)
from checks.class_grades import LearnerGrade, LessonGrade
from checks.class_lesson import grade_lesson_here, grade_lessons
from checks.class_limits import (DEFAULT_IMPORT_TIMEOUT_S, DEFAULT_MEMORY_MB, Settings, default_jobs,
                                 lesson_wall_limit, planned_checks)
from checks.class_reports import NO_SANDBOX, write_class_reports, write_learner_report
from checks.class_shards import MergeError, parse_shard, read_shards, share, write_shard
from checks.class_snapshot import InstructorFiles
from course import index
from course.paths import OUTPUT_DIR, REPO
from course.threads import use_course_threads

DEFAULT_REPORTS = OUTPUT_DIR / "grades"

# The names this module has always offered (tests and scripts import them from here).
__all__ = ["LESSON_FILE_LIMIT", "InstructorFiles", "LearnerGrade", "LessonGrade", "Settings", "find_learners",
           "grade_class", "grade_lesson_here", "grade_lessons", "learner_lesson_files", "lesson_wall_limit",
           "main", "merge_class", "parse_lessons", "planned_checks", "report_stems", "safe_name"]


def git_commit(root: Path) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _printable(text: str) -> str:
    """A folder name as the reports can write it (a name that is not UTF-8 keeps its place)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _read_learner(name: str, checkout: Path, refused_inodes: frozenset) -> tuple[dict[str, bytes], list[str]]:
    """The learner's files and notes. Reading them never raises: whatever a checkout holds is
    that learner's note, and the class goes on."""
    try:
        return learner_lesson_files(checkout, refused_inodes)
    except Exception as e:        # noqa: BLE001 (a learner's folder must never stop the class)
        return {}, [f"the checkout could not be read ({type(e).__name__}: {e}): no file was graded"]


def grade_class(submission: Path, reports: Path, settings: Settings, instructor_root: Path = REPO,
                log=print, shard: tuple[int, int] | None = None) -> list[LearnerGrade]:
    """Grade every learner under ``submission`` (or the ``shard`` (k, n) share of them) and
    write the reports; returns the grades.

    Lesson by lesson (the check data is built once per lesson, in this process, and shared
    by the forked children), every learner's file is graded in its own trusted child with its
    own sandbox. The reports are written after every child, and so every sandbox, has ended."""
    submission, reports = submission.resolve(), reports.resolve()
    everyone = find_learners(submission)
    if not everyone:
        raise SystemExit(f"{submission} holds no lessons/ folder, and none of its sub-folders does: "
                         f"give a learner's checkout, or a folder of them.")
    sys.dont_write_bytecode = True
    venv = Path(sys.prefix) if sys.prefix != sys.base_prefix else None
    snapshot = InstructorFiles(instructor_root, exclude=[submission, reports], venv=venv)
    graded_at = datetime.now().isoformat(timespec="seconds")
    commit = git_commit(instructor_root)
    # Names, report names and shared files are the whole class's, so every shard agrees on them.
    stems = report_stems([name for name, _ in everyone])
    pairs = shared_files(everyone)
    learners = share(everyone, *shard) if shard else everyone
    if shard:
        log(f"Shard {shard[0]}/{shard[1]}: {len(learners)} of the class's {len(everyone)} learner(s).")
    grades = []
    for name, checkout in learners:
        files, notes = _read_learner(name, checkout, snapshot.linked_inodes)
        learner = LearnerGrade(_printable(name), _printable(str(checkout)), [], notes, shared=pairs.get(name, []),
                               sandboxed=settings.sandbox, stem=stems[name], files=files)
        grades.append(learner)
    use_course_threads()
    from checks import fixtures
    for number in settings.lessons:
        module = index.lesson(number).module
        files = [g.files.get(f"{module}.py") for g in grades]
        if any(data is not None and not is_stub(number, data) for data in files):
            log(f"Lesson {number}: building the check data, then grading {len(grades)} learner(s) ...")
            fixtures.for_lesson(number)     # once, here: every learner's child inherits it
        else:                               # nobody started it: no check runs, no data is needed
            log(f"Lesson {number}: nobody has started it (every file is the stub, or missing).")
        done = grade_lessons([(number, data) for data in files], settings)
        for learner, lesson in zip(grades, done):
            learner.lessons.append(lesson)
            log(f"    {learner.name}: lesson {number}: {lesson.earned}/{lesson.possible}"
                + (f" ({lesson.status})" if lesson.status != "graded" else ""))
    # Every sandbox has ended (each child closed its own; the leftovers of a killed child were
    # swept). Now this repository, then the reports.
    changed, venv_changed = snapshot.changes()
    reports.mkdir(parents=True, exist_ok=True)
    if changed:
        problems = snapshot.restore(reports / "tampered-files" / "during-grading")
        log(f"  WARNING: this repository changed while the class was graded (restored): {', '.join(changed[:10])}")
        for learner in grades:
            learner.instructor_changes = changed + [f"could not restore: {p}" for p in problems]
    if venv_changed:
        log(f"  WARNING: the virtual environment changed during grading: {', '.join(venv_changed[:5])}")
        for learner in grades:
            learner.environment_changes = venv_changed
    for learner in grades:
        write_learner_report(learner, reports, graded_at, commit)
        log(f"  {learner.name}: {learner.earned}/{learner.possible} points -> {reports / (learner.stem + '.md')}")
    if shard:
        path = write_shard(reports, *shard, grades, [_printable(name) for name, _ in everyone], settings.lessons,
                           settings.sandbox, graded_at, commit)
        log(f"  shard {shard[0]}/{shard[1]} -> {path} (when every share is graded: make grade-merge REPORTS={reports})")
    else:
        write_class_reports(grades, reports, settings.lessons, settings.sandbox, graded_at, commit)
    return grades


def merge_class(reports: Path) -> list[LearnerGrade]:
    """Write class.csv and class.md from the shards in ``reports`` (MergeError if incomplete)."""
    merged = read_shards(reports)
    write_class_reports(merged["grades"], reports, merged["lessons"], merged["sandbox"], merged["graded_at"],
                        merged["commit"])
    return merged["grades"]


# ================================================================= command line

def parse_lessons(text: str) -> list[int]:
    known = [lesson.number for lesson in index.lessons()]
    if not text or text.strip() in ("all", ""):
        return known
    numbers = []
    for part in text.replace(" ", "").split(","):
        if "-" in part:
            low, high = part.split("-", 1)
            numbers += list(range(int(low), int(high) + 1))
        elif part:
            numbers.append(int(part))
    unknown = [n for n in numbers if n not in known]
    if unknown:
        raise ValueError(f"no lesson {', '.join(map(str, unknown))} (lessons are {', '.join(map(str, known))})")
    return sorted(set(numbers))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Grade learners' checkouts with the instructor's checks.")
    parser.add_argument("submission", nargs="?", default="", help="a learner's checkout, or a folder of them")
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS, help="where the reports go (default outputs/grades)")
    parser.add_argument("--lessons", default=os.environ.get("LESSONS", ""), help="e.g. 1,2,3 or 1-4 (default: all)")
    parser.add_argument("--jobs", type=int, default=default_jobs(),
                        help="lessons graded at the same time (default: the cores this process may use)")
    parser.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every time limit (slow machines: 2)")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB, help="memory allowance per check")
    parser.add_argument("--import-timeout", type=float, default=DEFAULT_IMPORT_TIMEOUT_S,
                        help="seconds a lesson file may take to import")
    parser.add_argument("--lesson-timeout", type=float, default=None,
                        help="wall-clock backstop per lesson of a learner (default: from the checks' CPU limits)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without bubblewrap (the learners' code runs as you; the reports say so)")
    parser.add_argument("--shard", default="",
                        help="k/n: grade the k-th of n shares of the class (then --merge)")
    parser.add_argument("--merge", action="store_true",
                        help="write class.csv and class.md in --reports from the shares graded there")
    return parser


def main(argv: list[str] | None = None, fresh_interpreter: bool = False) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if fresh_interpreter:
        _private_bytecode(argv)
    argv = shlex.split(os.environ.get("GRADE_OPTIONS", "")) + argv
    args = _parser().parse_args(argv)
    if args.merge:
        try:
            grades = merge_class(args.reports)
        except MergeError as e:
            print(f"Not merged: {e}.")
            return 2
        print(f"Merged {len(grades)} learner(s): {args.reports.resolve()}/class.md and class.csv.")
        return 0
    if not args.submission:
        print("Which submission? `make grade SUBMISSION=path/to/checkout` (a folder holding lessons/), "
              "or a folder of such checkouts.")
        return 2
    submission = Path(args.submission)
    if not submission.exists():
        print(f"{submission} does not exist.")
        return 2
    try:
        lessons = parse_lessons(args.lessons)
        shard = parse_shard(args.shard) if args.shard else None
    except ValueError as e:
        print(f"--lessons or --shard: {e}")
        return 2
    from checks.sandbox import bwrap_works
    if args.no_sandbox:
        print(f"WARNING: {NO_SANDBOX}")
    else:
        works, why = bwrap_works()
        if not works:
            print(f"{why}\nNot grading: without a sandbox the learners' code would run as you. Install bubblewrap "
                  f"(`apt-get install bubblewrap`), or pass --no-sandbox (GRADE_OPTIONS=--no-sandbox) to grade "
                  f"anyway; the reports then say that no sandbox was used.")
            return 3
    settings = Settings(lessons=lessons, timeout_scale=args.timeout_scale, memory_mb=args.memory_mb,
                        import_timeout=args.import_timeout, lesson_timeout=args.lesson_timeout, jobs=args.jobs,
                        sandbox=not args.no_sandbox)
    started = time.monotonic()
    grades = grade_class(submission, args.reports, settings, shard=shard)
    print(f"\nGraded {len(grades)} learner(s) in {time.monotonic() - started:.0f} s. "
          f"Reports: {args.reports.resolve()}/ ("
          + ("one .md and .json per learner, and this share's file in shards/)." if shard
             else "class.md, class.csv, one .md and .json per learner)."))
    if any(g.instructor_changes or g.environment_changes for g in grades):
        print("This repository or its virtual environment changed while the class was graded: see the reports.")
    if not settings.sandbox:
        print(f"WARNING: {NO_SANDBOX}")
    return 0


def _private_bytecode(argv: list[str]) -> None:
    """Run the grader in a fresh interpreter that never reads (or writes) bytecode in this
    repository's __pycache__ folders: planted .pyc files there cannot change the checks."""
    if sys.pycache_prefix is not None or os.environ.get("TWO_TOWER_GRADER_CHILD"):
        return
    prefix = tempfile.mkdtemp(prefix="grader-pycache-")
    # Nothing of the grader's own lands in this repository either: the property-test library's
    # cache goes to the private folder too.
    env = {**os.environ, "TWO_TOWER_GRADER_CHILD": "1", "PYTHONDONTWRITEBYTECODE": "1",
           "HYPOTHESIS_STORAGE_DIRECTORY": os.path.join(prefix, "hypothesis")}
    done = subprocess.run([sys.executable, "-B", "-X", f"pycache_prefix={prefix}", "-m", "checks.classroom", *argv],
                          env=env)
    shutil.rmtree(prefix, ignore_errors=True)
    raise SystemExit(done.returncode)


if __name__ == "__main__":
    sys.exit(main(fresh_interpreter=True))
