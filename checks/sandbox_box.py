"""What a sandbox of `make grade` sees: the folder the grader builds for it (``box/``) and the
bubblewrap command line that shows it that folder and nothing else of this machine.

Every writable place in the sandbox is a tmpfs with a size (/tmp and /dev/shm); the root and
/dev that bubblewrap makes are remounted read-only, so no RAM-backed file grows without a
bound even where no cgroup counts the sandbox's memory. User namespaces are disabled inside
(``--disable-userns``): the learner's code cannot make one in which it would hold
capabilities (to mount a tmpfs of its own, say), and a seccomp filter refuses the calls that
make namespaces or mounts (checks/seccomp.py).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from course import index
from course.paths import REPO

WORKER_MODULES = ("boundary.py", "learner_file.py", "messages.py", "procedures.py", "sandbox_worker.py")
GROUND_SUFFIXES = (".py", ".toml", ".json")
TMPFS_BYTES = 256 << 20          # its /tmp
SHM_BYTES = 16 << 20             # its /dev/shm (multiprocessing's semaphores)


def stdlib_dirs() -> list[str]:
    """The Python installation (standard library, lib-dynload, the interpreter)."""
    return sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.base_exec_prefix)})


def build_box(box: Path, lesson_number: int, lesson_bytes: bytes | None) -> Path:
    """Write the sandbox's code folder (``box/code``) and lesson file (``box/lessons``).
    Returns the path of the lesson file in the box."""
    lesson = index.lesson(lesson_number)
    code = box / "code"
    for path in sorted((REPO / "course").rglob("*")):
        if path.is_file() and not path.is_symlink() and path.suffix in GROUND_SUFFIXES \
                and "__pycache__" not in path.parts:
            target = code / path.relative_to(REPO)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    (code / "checks").mkdir(parents=True)
    (code / "checks" / "__init__.py").write_text("")
    for name in WORKER_MODULES:
        (code / "checks" / name).write_bytes((REPO / "checks" / name).read_bytes())
    (code / "solutions").mkdir()
    (code / "solutions" / "__init__.py").write_text("")
    for earlier in index.lessons():
        if earlier.number < lesson_number:
            (code / "solutions" / f"{earlier.module}.py").write_bytes(earlier.solution_path.read_bytes())
    (box / "lessons").mkdir()
    target = box / "lessons" / f"{lesson.module}.py"
    if lesson_bytes is not None:
        target.write_bytes(lesson_bytes)
    for folder, _, files in os.walk(box):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    return target


def bwrap_command(bwrap: str, box: Path, python: str, env: dict, package_dirs: list[str],
                  seccomp_fd: int | None = None) -> list[str]:
    """The command that runs ``python`` in the sandbox of ``box`` (with checks/seccomp.py's
    filter when ``seccomp_fd`` holds it)."""
    command = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--uid", "65534", "--gid", "65534",
               "--die-with-parent", "--new-session", "--cap-drop", "ALL",
               # /tmp first (a sized tmpfs), then the read-only binds (some may lie under /tmp).
               "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp", "--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        target = Path("/") / link
        if target.is_symlink():
            command += ["--symlink", os.readlink(target), f"/{link}"]
        elif target.is_dir():
            command += ["--ro-bind", str(target), f"/{link}"]
    if Path("/etc/ld.so.cache").exists():
        command += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    bound = ["/usr"]
    for folder in [*stdlib_dirs(), *package_dirs]:
        if not any(folder == b or folder.startswith(b + "/") for b in bound):
            command += ["--ro-bind", folder, folder]
            bound.append(folder)
    real_python = os.path.realpath(python)
    if not any(real_python.startswith(b + "/") for b in bound):
        command += ["--ro-bind", os.path.dirname(real_python), os.path.dirname(real_python)]
    # The root and /dev that bwrap makes are tmpfs mounts without a size: read-only.
    command += ["--ro-bind", str(box / "code"), "/box/code",
                "--ro-bind", str(box / "lessons"), "/box/lessons",
                "--proc", "/proc", "--dev", "/dev", "--size", str(SHM_BYTES), "--tmpfs", "/dev/shm",
                "--remount-ro", "/dev", "--remount-ro", "/",
                "--chdir", "/tmp", "--clearenv"]
    for key, value in env.items():
        command += ["--setenv", key, value]
    if seccomp_fd is not None:
        command += ["--seccomp", str(seccomp_fd)]
    return command + ["--", python]
