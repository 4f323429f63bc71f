"""``make reset LESSON=N``: bring back the pristine stub of a lesson.

Nothing you wrote is ever lost: your file is first copied to
``.backups/<lesson>.<date-time>.py`` (the copy is read back and compared before the stub is
written), and the command says where. If your file already is the stub, nothing happens.

    python -m commands.reset 3
"""
from __future__ import annotations

import argparse
import shutil
import sys
from datetime import datetime
from pathlib import Path

from course import index
from course.paths import BACKUP_DIR, LESSONS_DIR, relative
from course.stubgen import make_stub


def backup_file(path: Path, backup_dir: Path = BACKUP_DIR) -> Path:
    """Copy ``path`` to ``backup_dir/<stem>.<timestamp><suffix>``, never overwriting an
    earlier backup, and check that the copy holds the same bytes."""
    backup_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    original = path.read_bytes()
    for attempt in range(1000):
        suffix = "" if attempt == 0 else f"-{attempt}"
        target = backup_dir / f"{path.stem}.{stamp}{suffix}{path.suffix}"
        try:
            with open(target, "xb") as f:  # "x": fails if it exists, so no backup is overwritten
                f.write(original)
        except FileExistsError:
            continue
        shutil.copystat(path, target)
        if target.read_bytes() != original:
            raise OSError(f"the backup {target} does not match {path}; nothing was changed")
        return target
    raise OSError(f"could not find a free backup name for {path} in {backup_dir}")


def reset_lesson(number: int, folder: Path = LESSONS_DIR, backup_dir: Path = BACKUP_DIR) -> tuple[str, Path | None]:
    """Restore the stub of lesson ``number``. Returns (what happened, the backup or None):
    what happened is "unchanged", "created" or "restored"."""
    lesson = index.lesson(number)
    path = folder / f"{lesson.module}.py"
    stub = make_stub(lesson.solution_path.read_text(), lesson)
    if path.is_file():
        try:
            if path.read_text() == stub:
                return "unchanged", None
        except UnicodeDecodeError:
            pass  # not even text: back it up like any other change
        saved = backup_file(path, backup_dir)
        path.write_text(stub)
        return "restored", saved
    if path.exists():
        raise IsADirectoryError(f"{relative(path)} exists but is not a file; move it away and run this again")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(stub)
    return "created", None


def message(number: int, what: str, saved: Path | None, folder: Path = LESSONS_DIR) -> str:
    lesson = index.lesson(number)
    path = relative(folder / f"{lesson.module}.py")
    if what == "unchanged":
        return f"{path} is already the pristine stub: nothing to do, nothing changed."
    if what == "created":
        return f"{path} was missing, so here is a fresh stub. Next: `make check LESSON={number}`."
    return (f"Your version of {path} is saved as {relative(saved)}: nothing is lost, you can open it "
            f"and copy any function back.\n"
            f"{path} is the pristine stub again. Next: `make check LESSON={number}` "
            f"(`make hint LESSON={number}` if you are stuck).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Restore the pristine stub of a lesson (your file is backed up first).")
    parser.add_argument("lesson", nargs="?", default="", help="lesson number")
    args = parser.parse_args(argv)
    try:
        number = int(args.lesson)
        index.lesson(number)
    except (ValueError, KeyError):
        print(f"There is no lesson {args.lesson!r}." if args.lesson else
              "Which lesson should be reset? For example `make reset LESSON=1`.")
        print("Lessons: " + ", ".join(f"{lesson.number} ({lesson.title})" for lesson in index.lessons()))
        return 2
    try:
        what, saved = reset_lesson(number, LESSONS_DIR, BACKUP_DIR)
    except OSError as e:
        print(f"Nothing was changed: {e}.")
        return 1
    print(message(number, what, saved, LESSONS_DIR))
    return 0


if __name__ == "__main__":
    sys.exit(main())
