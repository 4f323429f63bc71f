"""This repository as it was before a class was graded (`make grade`): a snapshot of its files
(content hashes, and the bytes for restoring) and of the virtual environment (paths, sizes
and modification times), compared after grading. Nothing a learner's code does in the
sandbox reaches these files; the snapshot catches another program, or a person, editing them
meanwhile, and a planted ``__pycache__`` file.

It also knows which of these files have other hard links: a learner's lesson file that *is*
one of them (the reference, hard-linked into a checkout) is not the learner's work.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from pathlib import Path

# Never compared or restored: build outputs, caches of tools, learner state, data.
MONITOR_SKIP = (".git", ".venv", "outputs", ".backups", ".progress", ".pytest_cache", ".hypothesis",
                "datasets/data", ".ipynb_checkpoints")
MONITOR_GIT = (".git/config", ".git/hooks")   # ...except the parts of .git that run code
KEEP_BYTES_LIMIT = 8 << 20        # instructor files up to this size can be restored


def _skipped(rel: str, skip: tuple[str, ...]) -> bool:
    parts = rel.split("/")
    return any(rel == s or rel.startswith(s + "/") or s in parts for s in skip)


def _walk(root: Path):
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            yield Path(folder) / name


@dataclasses.dataclass
class FileState:
    sha256: str
    data: bytes | None      # None when too large to keep


class InstructorFiles:
    """A snapshot of this repository's files (content hashes, and the bytes for restoring)
    and of the virtual environment (paths, sizes and modification times)."""

    def __init__(self, root: Path, exclude: list[Path] = (), venv: Path | None = None):
        self.root = root.resolve()
        # A folder that holds the repository itself (grading this checkout) is not excluded.
        self.exclude = [p.resolve() for p in exclude
                        if p.resolve() != self.root and p.resolve() not in self.root.parents]
        self.venv = venv.resolve() if venv else None
        self.linked_inodes: frozenset = frozenset()     # (device, inode) of files with other hard links
        self.files = self._files(note_links=True)
        self.venv_state = self._venv_state()

    def _excluded(self, path: Path) -> bool:
        resolved = path.resolve() if path.is_symlink() else path
        return any(resolved == ex or ex in resolved.parents for ex in self.exclude)

    def _files(self, note_links: bool = False) -> dict[str, FileState]:
        found: dict[str, FileState] = {}
        linked = set()
        for path in _walk(self.root):
            rel = path.relative_to(self.root).as_posix()
            if _skipped(rel, MONITOR_SKIP) and not any(rel == g or rel.startswith(g + "/") for g in MONITOR_GIT):
                continue
            if path.is_symlink() or self._excluded(path):
                continue
            try:
                data = path.read_bytes()
                st = os.lstat(path)
            except OSError:
                continue
            found[rel] = FileState(hashlib.sha256(data).hexdigest(), data if len(data) <= KEEP_BYTES_LIMIT else None)
            if st.st_nlink > 1 and not rel.startswith("lessons/"):    # not a learner's own file (this checkout graded)
                linked.add((st.st_dev, st.st_ino))
        if note_links:
            self.linked_inodes = frozenset(linked)
        return found

    def _venv_state(self) -> dict[str, tuple[int, int]]:
        if self.venv is None or not self.venv.is_dir():
            return {}
        state = {}
        for folder, dirs, files in os.walk(self.venv):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                path = os.path.join(folder, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                state[os.path.relpath(path, self.venv)] = (st.st_size, st.st_mtime_ns)
        return state

    def changes(self) -> tuple[list[str], list[str]]:
        """(changed instructor files, changed virtual-environment files) since the snapshot."""
        now = self._files()
        changed = sorted(f"{rel} ({'deleted' if rel not in now else 'edited'})"
                         for rel, state in self.files.items()
                         if rel not in now or now[rel].sha256 != state.sha256)
        changed += sorted(f"{rel} (added)" for rel in now if rel not in self.files)
        venv_changed: list[str] = []
        if self.venv is not None:
            venv_now = self._venv_state()
            venv_changed = sorted(
                [f"{rel} ({'deleted' if rel not in venv_now else 'changed'})"
                 for rel, st in self.venv_state.items() if venv_now.get(rel) != st]
                + [f"{rel} (added)" for rel in venv_now if rel not in self.venv_state])
        return changed, venv_changed

    def restore(self, keep_dir: Path) -> list[str]:
        """Put every changed instructor file back as it was; a changed version is kept in
        ``keep_dir`` first. Returns what could not be restored."""
        problems = []
        now = self._files()
        for rel, state in self.files.items():
            path = self.root / rel
            current = now.get(rel)
            if current is not None and current.sha256 == state.sha256:
                continue
            if current is not None:
                _keep(path, keep_dir / rel)
            if state.data is None:
                problems.append(f"{rel} is too large to restore automatically")
                continue
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                elif path.is_symlink():
                    path.unlink()
                path.write_bytes(state.data)
            except OSError as e:
                problems.append(f"{rel}: {e}")
        for rel in now:
            if rel not in self.files:
                path = self.root / rel
                _keep(path, keep_dir / rel)
                try:
                    path.unlink()
                except OSError as e:
                    problems.append(f"{rel}: {e}")
        self.venv_state = self._venv_state()  # report a venv change once, not for every later learner
        return problems


def _keep(path: Path, target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    except OSError:
        pass
