"""Evidence the grader takes from outside a learner's sandbox (`make grade`).

Some checks rest on something measured where the learner's code runs: a fresh interpreter's
output, a file the code wrote. In the sandbox the learner's module can replace whatever runs
next to it (checks/procedures.py included), so these procedures are done here instead, with
the same results as the in-process versions `make check` uses:

- ``in_fresh_interpreters``: a fresh sandbox per string-hash salt, whose answer the grader
  sorts and prints itself;
- ``plot_into_folder``: the grader makes the folder in the sandbox's /tmp, calls the learner's
  ``plot_loss_curve`` through the boundary, reads the file's bytes through the sandbox's
  ``/proc/PID/root`` (no link followed) and decodes the PNG itself.
"""
from __future__ import annotations

import ast
import os
import secrets
import stat
from pathlib import PurePosixPath

from checks.framework import CPUTimeExceeded, LearnerRaised
from checks.procedures import png_picture

READ_LIMIT = 32 << 20            # the most of a learner's file the grader reads back


def in_fresh_interpreters(learner, name: str, argument_source: str, seeds: list):
    argument = ast.literal_eval(argument_source)
    results = []
    for seed in seeds:
        fresh = learner.fresh(int(seed))
        try:
            error = fresh.start()
            if error is not None:
                results.append((1, "", error.strip().splitlines()[-1] if error.strip() else "(no message)"))
                continue
            fresh.begin_check(max(learner._cpu_left, 1.0))
            try:
                value = getattr(fresh, name)(argument)
            except NotImplementedError as e:
                results.append((1, "", f"NotImplementedError: {e}"))
                continue
            except LearnerRaised as e:
                results.append((1, "", e.report))
                continue
            try:
                results.append((0, f"{sorted(value.items())}\n", ""))
            except (AttributeError, TypeError) as e:
                results.append((1, "", f"{type(e).__name__}: {e}"))
        except CPUTimeExceeded:
            raise
        finally:
            fresh.close()
    return results


# ---------------------------------------------------------------- files in the sandbox

def _open_root(learner) -> tuple[int, str]:
    """A descriptor of the folder that holds the sandbox's tmp/, and where the sandbox sees
    that tmp/ (its /proc/PID/root; with --no-sandbox, the worker's private folder)."""
    learner.ensure_started()
    tmp = learner.private_tmp()
    if tmp is not None:
        return os.open(tmp.parent, os.O_RDONLY | os.O_DIRECTORY), str(tmp)
    pid = learner.sandbox_pid()
    if pid is None:
        raise LearnerRaised("the process running your code ended before its file could be read.")
    return os.open(f"/proc/{pid}/root", os.O_RDONLY | os.O_DIRECTORY), "/tmp"


def _walk(root: int, parts: list[str], create_last: bool = False) -> int | None:
    """Open the folder ``parts`` below ``root`` one name at a time, never through a link."""
    fd = os.dup(root)
    try:
        for i, part in enumerate(parts):
            if part in ("", ".", ".."):
                return None
            if create_last and i == len(parts) - 1:
                os.mkdir(part, 0o755, dir_fd=fd)
            try:
                new = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                return None
            os.close(fd)
            fd = new
        result, fd = fd, None
        return result
    finally:
        if fd is not None:
            os.close(fd)


def make_folder(learner) -> tuple[str, str]:
    """A new empty folder in the sandbox's /tmp: (its name, its path as the sandbox sees it)."""
    name = f"grader-{secrets.token_hex(6)}"
    root, seen_as = _open_root(learner)
    try:
        fd = _walk(root, ["tmp", name], create_last=True)
    finally:
        os.close(root)
    if fd is None:
        raise LearnerRaised("the grader could not make a folder in your code's /tmp.")
    os.close(fd)
    return name, f"{seen_as}/{name}"


def read_file(learner, folder: str, relative: str) -> bytes | None:
    """The bytes of the regular file ``relative`` in the folder ``folder`` of make_folder, or None."""
    parts = ["tmp", folder, *PurePosixPath(relative).parts]
    root, _ = _open_root(learner)
    try:
        parent = _walk(root, parts[:-1])
    finally:
        os.close(root)
    if parent is None:
        return None
    try:
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=parent)
    except OSError:
        return None
    finally:
        os.close(parent)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return None
        return f.read(READ_LIMIT)


def plot_into_folder(learner, history, relative_paths: list, as_str: list):
    name, folder = make_folder(learner)
    out = []
    for rel, text in zip(relative_paths, as_str):
        path = f"{folder}/{rel}"
        returned = learner.plot_loss_curve(history, path if text else PurePosixPath(path))
        try:
            back = None if returned is None else PurePosixPath(str(returned)).relative_to(folder).as_posix()
        except (TypeError, ValueError):
            back = "<outside the folder>" if returned is not None else None
        data = read_file(learner, name, rel)
        out.append({"returned": back, "exists": data is not None, "size": None if data is None else len(data),
                    "head": data[:16] if data is not None and png_picture(data) else b""})
    return out


OUTSIDE = {"in_fresh_interpreters": in_fresh_interpreters, "plot_into_folder": plot_into_folder}
