"""Finding the learners of a class and reading their lesson files (`make grade`).

A submission is one learner's checkout (a folder holding ``lessons/``) or a folder of them.
From a checkout the grader takes only the bytes of ``lessons/*.py`` regular files, read here
and nowhere else (:func:`read_lesson_file`); no link is ever followed. Whatever a checkout
holds (a folder where a file should be, a FIFO, an unreadable file) becomes a note in that
learner's report: nothing here raises for one learner's files, so no learner can stop the
class from being graded.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

LESSON_FILE_LIMIT = 1 << 20       # a learner's lesson file larger than this is not graded
RESERVED_STEMS = ("class", "tampered-files")


def find_learners(submission: Path) -> list[tuple[str, Path]]:
    """[(name, checkout)]: the folder itself when it holds lessons/, else its sub-folders that
    do, sorted by name (the order every shard of a class agrees on)."""
    if (submission / "lessons").is_dir():
        return [(submission.resolve().name or "learner", submission)]
    if not submission.is_dir():
        return []
    try:
        children = sorted(submission.iterdir())
    except OSError:
        return []
    return [(child.name, child) for child in children if _is_checkout(child)]


def _is_checkout(folder: Path) -> bool:
    """A sub-folder holding lessons/; one that cannot be looked into is a learner too (their
    report says what could not be read), never a reason to stop or a learner left out."""
    try:
        return folder.is_dir() and not folder.is_symlink() and (folder / "lessons").is_dir()
    except OSError:
        return True


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "learner"


def report_stems(names: list[str]) -> dict[str, str]:
    """A distinct report file name for every learner (never class.md, even for a learner
    called "class", and never the same for "a b" and "a_b")."""
    stems: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        base = safe_name(name)
        if base.lower() in RESERVED_STEMS:
            base += "_learner"
        stem, n = base, 2
        while stem.lower() in used:
            stem, n = f"{base}-{n}", n + 1
        used.add(stem.lower())
        stems[name] = stem
    return stems


def read_lesson_file(folder_fd: int, name: str, refused_inodes: frozenset = frozenset()
                     ) -> tuple[bytes | None, str | None]:
    """(the bytes of ``lessons/<name>``, None), or (None, why it was refused). The one way
    the grader reads a learner's file: opened without following a link, checked to be a
    regular file before any read (a folder named like a lesson file is refused, not read),
    at most 1 MiB. A file that is one of ``refused_inodes`` (a file of the instructor's own
    repository, hard-linked into the checkout) is not the learner's work and is refused."""
    where = f"lessons/{name}"
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
    except OSError:
        return None, f"{where} is not a regular file (a link?) and was not used"
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None, f"{where} is not a regular file (a folder, a FIFO, a device?) and was not used"
        if (st.st_dev, st.st_ino) in refused_inodes:
            return None, (f"{where} has other hard links, to a file of the instructor's repository (the "
                          f"reference?), and was not used: only the learner's own files are graded")
        if st.st_size > LESSON_FILE_LIMIT:
            return None, f"{where} is larger than {LESSON_FILE_LIMIT >> 20} MiB and was not used"
        chunks, size = [], 0
        while size <= LESSON_FILE_LIMIT:
            chunk = os.read(fd, LESSON_FILE_LIMIT + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > LESSON_FILE_LIMIT:      # it grew while it was read
            return None, f"{where} is larger than {LESSON_FILE_LIMIT >> 20} MiB and was not used"
        return b"".join(chunks), None
    except OSError as e:
        return None, f"{where} could not be read ({e.strerror or e}) and was not used"
    finally:
        os.close(fd)


def learner_lesson_files(checkout: Path, refused_inodes: frozenset = frozenset()
                         ) -> tuple[dict[str, bytes], list[str]]:
    """The bytes of the learner's lessons/*.py, and notes on what was refused. A ``lessons/``
    that is a link (to solutions/, say) is refused as a whole; each file goes through
    :func:`read_lesson_file`."""
    files, notes = {}, []
    folder = checkout / "lessons"
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        kind = "a link" if folder.is_symlink() else "not a folder"
        return {}, [f"lessons/ is {kind} and was not used: only the learner's own files are graded"]
    try:
        names = sorted(os.listdir(folder_fd))
    except OSError as e:
        os.close(folder_fd)
        return {}, [f"lessons/ could not be listed ({e.strerror or e}): no file was graded"]
    try:
        for name in names:
            if name.endswith(".py"):
                data, refused = read_lesson_file(folder_fd, name, refused_inodes)
                if data is not None:
                    files[name] = data
                else:
                    notes.append(refused)
    finally:
        os.close(folder_fd)
    return files, notes


def shared_files(learners: list[tuple[str, Path]]) -> dict[str, list[str]]:
    """{learner: notes} for lesson files that are one file in several learners' checkouts (hard
    links). Both learners are graded on the file; the pair is flagged for the instructor,
    since the grader cannot tell who wrote it. Only metadata is read (every shard of a class
    sees the same pairs)."""
    holders: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for learner, checkout in learners:
        try:
            folder_fd = os.open(checkout / "lessons", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            for name in sorted(os.listdir(folder_fd)):
                try:
                    st = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
                except OSError:
                    continue
                if name.endswith(".py") and stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                    holders.setdefault((st.st_dev, st.st_ino), []).append((learner, name))
        except OSError:
            pass
        finally:
            os.close(folder_fd)
    notes: dict[str, list[str]] = {}
    for found in holders.values():
        if len({learner for learner, _ in found}) < 2:
            continue
        for learner, name in found:
            others = ", ".join(f"{other}'s lessons/{their}" for other, their in found if other != learner)
            notes.setdefault(learner, []).append(
                f"lessons/{name} is the same file (a hard link) as {others}: both were graded on it; who wrote it "
                f"is for the instructor to find out")
    return notes
