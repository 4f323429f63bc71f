"""Generate the learner's stubs in lessons/ from the reference solutions.

In a solution file, the body of a task sits between two marker lines::

    # BEGIN SOLUTION 1.2
    ...reference code...
    # END SOLUTION

The stub keeps everything else (imports, signature, docstring) and replaces the marked
block with a task comment and ``raise NotImplementedError("Lesson 1.2: ...")``, the task
title coming from course/index.toml. A learner file that differs from the new stub is
copied to .backups/ before it is replaced: nothing a learner wrote is lost.

    python -m course.stubgen            # (re)write every stub
    python -m course.stubgen --check    # exit 1 if a committed stub is out of date
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from course import index
from course.paths import BACKUP_DIR, REPO

BEGIN = re.compile(r"^(?P<indent>\s*)# BEGIN SOLUTION (?P<task>\d+\.\d+)\s*$")
END = re.compile(r"^\s*# END SOLUTION\s*$")
HEADER = ("# This file is generated from solutions/{name} by `make stubs`: fill in the\n"
          "# functions marked TODO. `make check LESSON={number}` grades your work and\n"
          "# `make reset LESSON={number}` brings back this version (your file is backed up first).\n")


class MarkerError(ValueError):
    pass


def make_stub(solution_source: str, lesson: index.Lesson) -> str:
    """The stub text for one lesson's solution source."""
    out: list[str] = []
    open_task: str | None = None
    seen: list[str] = []
    lines = solution_source.splitlines(keepends=True)
    for number, line in enumerate(lines, 1):
        begin = BEGIN.match(line)
        if open_task is None and begin:
            open_task = begin["task"]
            task = lesson.task(open_task)  # KeyError: marker names a task the index lacks
            seen.append(open_task)
            indent = begin["indent"]
            out.append(f"{indent}# TODO Task {task.id}: {task.title}.\n")
            out.append(f"{indent}# Read {lesson.text_path.relative_to(REPO)}, task {task.id}; "
                       f"`make hint LESSON={lesson.number} TASK={task.id}` if you are stuck.\n")
            out.append(f'{indent}raise NotImplementedError("Lesson {task.id}: {task.title}")\n')
        elif open_task is not None:
            if begin:
                raise MarkerError(f"line {number}: BEGIN SOLUTION inside task {open_task}")
            if END.match(line):
                open_task = None
        elif END.match(line):
            raise MarkerError(f"line {number}: END SOLUTION without BEGIN")
        else:
            out.append(line)
    if open_task is not None:
        raise MarkerError(f"task {open_task}: BEGIN SOLUTION is never closed")
    expected = [task.id for task in lesson.tasks]
    if seen != expected:
        raise MarkerError(f"{lesson.module}: solution markers {seen} do not match the index's tasks {expected}")
    text = "".join(out)
    # Keep the module docstring first, then the generated-file note.
    header = HEADER.format(name=lesson.solution_path.name, number=lesson.number)
    match = re.match(r'(""".*?"""\n)', text, re.S)
    if match:
        return match.group(1) + header + text[match.end():]
    return header + text


def expected_stubs() -> dict[Path, str]:
    return {lesson.stub_path: make_stub(lesson.solution_path.read_text(), lesson)
            for lesson in index.lessons()}


def backup(path: Path) -> Path:
    """Copy a learner's file to .backups/<name>.<timestamp>.py and return the copy's path."""
    BACKUP_DIR.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    target = BACKUP_DIR / f"{path.stem}.{stamp}{path.suffix}"
    shutil.copy2(path, target)
    return target


def write_stub(path: Path, text: str) -> Path | None:
    """Write one stub; returns the backup of the previous file when one was made."""
    saved = None
    if path.exists() and path.read_text() != text:
        saved = backup(path)
    path.write_text(text)
    return saved


def committed_text(path: Path) -> str | None:
    """The file as committed in git (HEAD), or None outside a git checkout."""
    rel = path.relative_to(REPO).as_posix()
    try:
        result = subprocess.run(["git", "-C", str(REPO), "show", f"HEAD:{rel}"],
                                capture_output=True, text=True, check=False)
    except OSError:
        return None
    return result.stdout if result.returncode == 0 else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report stubs that are out of date")
    args = parser.parse_args(argv)
    stale = 0
    for path, text in expected_stubs().items():
        rel = path.relative_to(REPO)
        if args.check:
            current = path.read_text() if path.exists() else None
            if current != text:
                stale += 1
                print(f"{rel} is out of date with solutions/: run `make stubs`")
            continue
        saved = write_stub(path, text)
        print(f"wrote {rel}" + (f" (your previous version is saved as {saved.relative_to(REPO)})" if saved else ""))
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
