"""``make grade SUBMISSION=path [REPORTS=dir]``: grade learners' checkouts with *your* checks.

SUBMISSION is one learner's checkout (a folder holding ``lessons/``) or a folder of them
(every sub-folder holding ``lessons/`` is one learner, named after the sub-folder). Only
the learner's ``lessons/*.py`` files are used: their copies of checks/, solutions/ and
course/ are never read. Each lesson of each learner is graded in its own process:

- the process runs in a fresh temporary folder holding a *private copy* of this repository's
  checks/, solutions/, course/ and datasets/ code plus the learner's lesson files, with a
  wall-clock limit, CPU, file-size and memory limits, and its output captured and capped;
- the check data and the reference are prepared *before* the learner's file is imported;
  after the import, and after every check, the grader verifies that the reference, the
  checks, a few library functions and the private copy on disk are unchanged, undoes any
  change it finds and reports it;
- every check runs in its own forked child with its own time limit (checks/framework.py);
- after each learner, this repository's own files (and the virtual environment) are
  compared with their state before grading; a changed instructor file is restored (the
  changed version is kept under REPORTS/tampered-files/) and the change is reported.

It is *not* a security sandbox: see docs/grading.md for what this does and does not give.

Reports, in REPORTS (default outputs/grades/): ``<learner>.md`` to read, ``<learner>.json``
and ``class.csv`` for a gradebook (points per lesson and per task), ``class.md`` a summary.

    python -m checks.classroom submissions/ --reports outputs/grades --lessons 1,2,3 --jobs 2
    make grade SUBMISSION=submissions/ LESSONS=1,2,3      # LESSONS and GRADE_OPTIONS are read
    make grade SUBMISSION=submissions/ GRADE_OPTIONS="--jobs 4 --timeout-scale 2"
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from course import index
from course.paths import OUTPUT_DIR, REPO
from course.processes import limit_memory

DEFAULT_REPORTS = OUTPUT_DIR / "grades"
INSTRUCTOR_PACKAGES = ("checks", "solutions", "course", "datasets")
# Parts of those packages a grading process never needs (data, notebooks, maintainers' mutants).
PRIVATE_COPY_SKIP = ("datasets/data", "solutions/notebooks", "checks/mutants")
CODE_SUFFIXES = (".py", ".toml", ".json")
# Never compared or restored: build outputs, caches, learner state, data.
MONITOR_SKIP = (".git", ".venv", "outputs", ".backups", ".progress", ".pytest_cache", ".hypothesis",
                "datasets/data", ".ipynb_checkpoints", "__pycache__")
MONITOR_GIT = (".git/config", ".git/hooks")   # ...except the parts of .git that run code
KEEP_BYTES_LIMIT = 8 << 20        # instructor files up to this size can be restored
LESSON_FILE_LIMIT = 1 << 20       # a learner's lesson file larger than this is not graded
WORKER_OUTPUT_KEPT = 64 << 10     # what a grading process prints beyond this is dropped
WORKER_FILE_LIMIT = 64 << 20      # RLIMIT_FSIZE of a grading process
TAMPER = "TAMPERING"              # first word of a check message when the grader saw interference
DEFAULT_MEMORY_MB = 2048
DEFAULT_IMPORT_TIMEOUT_S = 30.0
SETUP_ALLOWANCE_S = 120.0         # python start, imports and the check data, per lesson


# ================================================================= instructor files

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
        self.files = self._files()
        self.venv_state = self._venv_state()

    def _excluded(self, path: Path) -> bool:
        resolved = path.resolve() if path.is_symlink() else path
        return any(resolved == ex or ex in resolved.parents for ex in self.exclude)

    def _files(self) -> dict[str, FileState]:
        found: dict[str, FileState] = {}
        for path in _walk(self.root):
            rel = path.relative_to(self.root).as_posix()
            if _skipped(rel, MONITOR_SKIP) and not any(rel == g or rel.startswith(g + "/") for g in MONITOR_GIT):
                continue
            if path.is_symlink() or self._excluded(path):
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            found[rel] = FileState(hashlib.sha256(data).hexdigest(), data if len(data) <= KEEP_BYTES_LIMIT else None)
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

    def private_code(self) -> dict[str, bytes]:
        """The code a grading process needs, from the snapshot (never from disk again)."""
        code = {}
        for rel, state in self.files.items():
            top = rel.split("/")[0]
            if top in INSTRUCTOR_PACKAGES and rel.endswith(CODE_SUFFIXES) and not _skipped(rel, PRIVATE_COPY_SKIP):
                if state.data is not None:
                    code[rel] = state.data
        return code

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


# ================================================================= the learner's side

def find_learners(submission: Path) -> list[tuple[str, Path]]:
    """[(name, checkout)]: the folder itself when it holds lessons/, else its sub-folders that do."""
    if (submission / "lessons").is_dir():
        return [(submission.resolve().name or "learner", submission)]
    if not submission.is_dir():
        return []
    return [(child.name, child) for child in sorted(submission.iterdir())
            if child.is_dir() and not child.is_symlink() and (child / "lessons").is_dir()]


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "learner"


RESERVED_STEMS = ("class", "tampered-files")


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


def learner_lesson_files(checkout: Path) -> tuple[dict[str, bytes], list[str]]:
    """The learner's lessons/*.py (regular files only, size-capped), and notes on what was skipped."""
    files, notes = {}, []
    folder = checkout / "lessons"
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.suffix != ".py":
            continue
        if path.is_symlink() or not path.is_file():
            notes.append(f"lessons/{path.name} is not a regular file (a link?) and was not used")
            continue
        if path.stat().st_size > LESSON_FILE_LIMIT:
            notes.append(f"lessons/{path.name} is larger than {LESSON_FILE_LIMIT >> 20} MiB and was not used")
            continue
        files[path.name] = path.read_bytes()
    return files, notes


# ================================================================= one lesson in one process

@dataclasses.dataclass
class LessonGrade:
    lesson: int
    title: str
    checks: list[dict]                 # task, title, points, status, message, detail, output, earned
    load_error: str | None = None
    status: str = "graded"             # graded | timed out | crashed
    tampering: list[str] = dataclasses.field(default_factory=list)
    printed: str = ""                  # what the grading process printed (capped)
    seconds: float = 0.0

    @property
    def earned(self) -> int:
        return sum(c["earned"] for c in self.checks)

    @property
    def possible(self) -> int:
        return sum(c["points"] for c in self.checks)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and self.load_error is None and all(c["status"] == "PASS" for c in self.checks)

    def tasks(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for c in self.checks:
            got, of = out.get(c["task"], (0, 0))
            out[c["task"]] = (got + c["earned"], of + c["points"])
        return out


@dataclasses.dataclass
class Settings:
    lessons: list[int]
    timeout_scale: float = 1.0
    memory_mb: int = DEFAULT_MEMORY_MB
    import_timeout: float = DEFAULT_IMPORT_TIMEOUT_S
    lesson_timeout: float | None = None        # None: from the checks' own time limits
    jobs: int = 1
    python: str = sys.executable


def planned_checks(number: int) -> list[dict]:
    """The instructor's checks of a lesson, as the grader (not the submission) sees them."""
    from checks.framework import checks_for

    return [{"task": c.task, "title": c.title, "points": c.points, "timeout": c.timeout} for c in checks_for(number)]


def _lesson_limit(plan: list[dict], settings: Settings) -> float:
    if settings.lesson_timeout:
        return settings.lesson_timeout
    return SETUP_ALLOWANCE_S + settings.import_timeout + sum(c["timeout"] for c in plan) * settings.timeout_scale


def _user_threads() -> int | None:
    """How many threads this user runs now (RLIMIT_NPROC counts them), best effort."""
    uid, count = os.getuid(), 0
    try:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/status") as f:
                        text = f.read()
                except OSError:
                    continue
                fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
                if int(fields.get("Uid", "-1").split()[0]) == uid:
                    count += int(fields.get("Threads", "1").strip())
    except OSError:
        return None
    return count


def apply_limits(cpu_s: int, nproc: int | None) -> None:
    """Resource limits of a grading process, set by the process itself before it imports
    the learner's file (children inherit them)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit fails, it does not kill
    for limit, value in ((resource.RLIMIT_CPU, cpu_s), (resource.RLIMIT_FSIZE, WORKER_FILE_LIMIT),
                         (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass
    if nproc is not None and hasattr(resource, "RLIMIT_NPROC"):
        try:
            resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        except (ValueError, OSError):
            pass


# The one sys.path edit of the project, on purpose: a grading process must import the
# private snapshot of the instructor's code it was given (argv[1]), not the installed course.
BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); "
        "from checks.classroom import worker_main; sys.exit(worker_main(sys.argv[2:]))")


def _drain(stream, keep: bytearray) -> None:
    while True:
        chunk = stream.read(1 << 16)
        if not chunk:
            return
        room = WORKER_OUTPUT_KEPT - len(keep)
        if room > 0:
            keep += chunk[:room]


def grade_lesson(number: int, lesson_files: dict[str, bytes], code: dict[str, bytes], settings: Settings,
                 nproc: int | None = None, plan: list[dict] | None = None) -> LessonGrade:
    """Grade one lesson of one learner in a separate process and read back its results."""
    lesson = index.lesson(number)
    plan = planned_checks(number) if plan is None else plan
    limit = _lesson_limit(plan, settings)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix=f"grade-l{number}-"))
    try:
        root = work / "grader"
        for rel, data in code.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (root / "lessons").mkdir()
        for name, data in lesson_files.items():
            (root / "lessons" / name).write_bytes(data)
        results = work / "results.jsonl"
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work), "TMPDIR": str(work),
               "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "OPENBLAS_NUM_THREADS": "1", "NO_COLOR": "1"}
        command = [settings.python, "-I", "-B", "-c", BOOT, str(root), str(number), str(results),
                   "--timeout-scale", str(settings.timeout_scale), "--memory-mb", str(settings.memory_mb),
                   "--import-timeout", str(settings.import_timeout * settings.timeout_scale),
                   "--cpu-limit", str(int(limit) + 30)] + (["--nproc", str(nproc)] if nproc else [])
        process = subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        printed = bytearray()
        reader = threading.Thread(target=_drain, args=(process.stdout, printed), daemon=True)
        reader.start()
        timed_out = False
        try:
            process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
        _kill_group(process.pid)          # also whatever the learner's code left running
        process.wait()
        reader.join(timeout=5)
        grade = _read_results(lesson, plan, results, timed_out, process.returncode, limit)
        grade.printed = bytes(printed).decode("utf-8", "replace")
        grade.tampering += _private_copy_changes(root, code, lesson_files)
        grade.seconds = round(time.monotonic() - started, 1)
        return grade
    finally:
        _remove(work)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _remove(path: Path) -> None:
    def make_writable(func, target, _exc):
        try:
            os.chmod(os.path.dirname(target), 0o700)
            os.chmod(target, 0o700)
            func(target)
        except OSError:
            pass
    shutil.rmtree(path, onerror=make_writable)


def _private_copy_changes(root: Path, code: dict[str, bytes], lesson_files: dict[str, bytes]) -> list[str]:
    """Instructor files that the grading process changed in its private copy."""
    changes = []
    for rel, data in code.items():
        path = root / rel
        try:
            same = path.read_bytes() == data
        except OSError:
            same = False
        if not same:
            changes.append(f"{TAMPER}: {rel} of the grader's private copy was "
                           f"{'deleted' if not path.exists() else 'edited'} while this lesson was graded")
    return changes


def _read_results(lesson: index.Lesson, plan: list[dict], results: Path, timed_out: bool,
                  returncode: int | None, limit: float) -> LessonGrade:
    grade = LessonGrade(lesson.number, lesson.title, checks=[])
    got: dict[int, dict] = {}
    done = loaded = False
    try:
        lines = results.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        if kind == "loaded" and not loaded:
            loaded = True
            grade.load_error = event.get("load_error") or None
        elif kind == "tamper":
            grade.tampering += [f"{TAMPER}: {what}" for what in event.get("what", [])]
        elif kind == "check" and isinstance(event.get("index"), int):
            i = event["index"]
            if 0 <= i < len(plan) and i not in got:
                got[i] = event
        elif kind == "done":
            done = True
    if timed_out:
        grade.status = "timed out"
    elif not done:
        grade.status = "crashed"
    for i, planned in enumerate(plan):
        entry = {"task": planned["task"], "title": planned["title"], "points": planned["points"],
                 "status": "ERROR", "message": "", "detail": "", "output": ""}
        event = got.get(i)
        if event is not None:
            status = event.get("status") if event.get("status") in ("PASS", "FAIL", "TODO", "ERROR", "TIMEOUT", "MISSING") else "ERROR"
            entry.update(status=status, message=str(event.get("message", ""))[:4000],
                         detail=str(event.get("detail", ""))[:200], output=str(event.get("output", ""))[:2000])
            if entry["message"].startswith(TAMPER):
                grade.tampering.append(f"{TAMPER} during check {planned['task']} ({planned['title']}): "
                                       f"{entry['message'][len(TAMPER) + 1:].strip()}")
        elif timed_out:
            entry.update(status="TIMEOUT", message=f"grading this lesson took longer than {limit:g} s in all, "
                                                   f"so this check did not get to run.")
        elif not loaded:
            entry["message"] = (f"the grading process ended before the lesson file was loaded "
                                f"({_describe_exit(returncode)}). Does the file call os._exit or kill its "
                                f"own process when it is imported?")
        else:
            entry["message"] = f"the grading process ended before this check ran ({_describe_exit(returncode)})."
        entry["earned"] = entry["points"] if entry["status"] == "PASS" else 0
        grade.checks.append(entry)
    return grade


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


# ================================================================= inside the grading process

class _ImportTimeout(Exception):
    pass


WATCHED_LIBRARY_MODULES = ("builtins", "numpy", "pandas", "torch", "torch.nn.functional",
                           "pandas.testing", "numpy.testing", "math", "random")


def _watched_classes():
    classes = []
    for module_name, names in (("pandas", ("DataFrame", "Series", "Index", "RangeIndex")),
                               ("torch", ("Tensor", "Generator")), ("numpy", ("ndarray",))):
        module = sys.modules.get(module_name)
        for name in names:
            cls = getattr(module, name, None) if module else None
            if isinstance(cls, type):
                classes.append((f"{module_name}.{name}", cls))
    return classes


def _global_state() -> dict:
    state = {}
    torch = sys.modules.get("torch")
    if torch is not None:
        state["torch default dtype"] = torch.get_default_dtype()
        state["torch grad mode"] = torch.is_grad_enabled()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        state["numpy error handling"] = tuple(sorted(numpy.geterr().items()))
    return state


def _set_global_state(state: dict) -> None:
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_default_dtype(state["torch default dtype"])
        torch.set_grad_enabled(state["torch grad mode"])
    numpy = sys.modules.get("numpy")
    if numpy is not None and "numpy error handling" in state:
        numpy.seterr(**dict(state["numpy error handling"]))


class Guard:
    """What the grading process checks for interference: the course's own modules (every
    name they bind and the code of their functions), a few library modules and classes,
    a few global switches, and the private copy of the instructor's code on disk."""

    def __init__(self, root: Path):
        self.root = root
        self.own = {name: module for name, module in sys.modules.items()
                    if module is not None and name.split(".")[0] in INSTRUCTOR_PACKAGES}
        self.library = {name: sys.modules[name] for name in WATCHED_LIBRARY_MODULES if name in sys.modules}
        self.module_dicts = {name: dict(vars(module)) for name, module in {**self.own, **self.library}.items()}
        # (label, class, its attributes, whether an added attribute counts): libraries may add
        # caches to their classes, so only replaced or deleted attributes count there.
        self.classes = ([(label, cls, dict(vars(cls)), True) for label, cls in self._own_classes()]
                        + [(label, cls, dict(vars(cls)), False) for label, cls in _watched_classes()])
        self.functions = [(label, f, f.__code__, f.__defaults__, f.__kwdefaults__) for label, f in self._own_functions()]
        self.state = _global_state()
        self.disk = self._disk()

    def _own_classes(self):
        found = []
        for name, module in self.own.items():
            for attr, value in vars(module).items():
                if isinstance(value, type) and getattr(value, "__module__", None) == name:
                    found.append((f"{name}.{attr}", value))
        return found

    def _own_functions(self):
        found, seen = [], set()

        def add(label, value):
            while hasattr(value, "__wrapped__"):
                value = value.__wrapped__
            if hasattr(value, "__code__") and id(value) not in seen:
                seen.add(id(value))
                found.append((label, value))
        for name, module in self.own.items():
            for attr, value in vars(module).items():
                if getattr(value, "__module__", None) == name:
                    if isinstance(value, type):
                        for method_name, method in vars(value).items():
                            add(f"{name}.{attr}.{method_name}", getattr(method, "__func__", method))
                    else:
                        add(f"{name}.{attr}", value)
        return found

    def _disk(self) -> dict[str, tuple[int, int]]:
        state = {}
        for top in INSTRUCTOR_PACKAGES:
            for path in _walk(self.root / top):
                if "__pycache__" in path.parts:
                    continue
                try:
                    st = path.stat()
                except OSError:
                    continue
                state[path.relative_to(self.root).as_posix()] = (st.st_size, st.st_mtime_ns)
        return state

    def problems(self) -> list[str]:
        found = []
        for name, module in {**self.own, **self.library}.items():
            if sys.modules.get(name) is not module:
                found.append(f"sys.modules[{name!r}] was replaced")
            original, current = self.module_dicts[name], vars(module)
            for key, value in original.items():
                if key in MODULE_CACHES:
                    continue
                if key not in current:
                    found.append(f"{name}.{key} was deleted")
                elif current[key] is not value:
                    found.append(f"{name}.{key} was replaced")
            if name in self.own:
                found += [f"{name}.{key} was added" for key, value in current.items()
                          if key not in original and key not in MODULE_CACHES and not isinstance(value, type(sys))]
        for label, cls, original, additions in self.classes:
            current = vars(cls)
            for key, value in original.items():
                if current.get(key, _MISSING) is not value:
                    found.append(f"{label}.{key} was {'deleted' if key not in current else 'replaced'}")
            if additions:
                found += [f"{label}.{key} was added" for key in current
                          if key not in original and key not in CLASS_CACHES]
        for label, f, code, defaults, kwdefaults in self.functions:
            if f.__code__ is not code or f.__defaults__ is not defaults or f.__kwdefaults__ is not kwdefaults:
                found.append(f"the code of {label} was changed")
        state = _global_state()
        found += [f"{key} was changed from {self.state[key]!r} to {state.get(key)!r}"
                  for key in self.state if state.get(key) != self.state[key]]
        disk = self._disk()
        found += [f"{rel} was {'deleted' if rel not in disk else 'edited'} on disk"
                  for rel, st in self.disk.items() if disk.get(rel) != st]
        found += [f"{rel} was added on disk" for rel in disk if rel not in self.disk]
        return found

    def restore(self, code: dict[str, bytes] | None = None) -> None:
        for name, module in {**self.own, **self.library}.items():
            sys.modules[name] = module
            original, current = self.module_dicts[name], vars(module)
            for key, value in original.items():
                if key not in MODULE_CACHES and current.get(key, _MISSING) is not value:
                    current[key] = value
            if name in self.own:
                for key in [k for k, v in current.items()
                            if k not in original and k not in MODULE_CACHES and not isinstance(v, type(sys))]:
                    del current[key]
        for _, cls, original, additions in self.classes:
            for key, value in original.items():
                if vars(cls).get(key, _MISSING) is not value:
                    try:
                        setattr(cls, key, value)
                    except (TypeError, AttributeError):
                        pass
            for key in [k for k in vars(cls) if additions and k not in original and k not in CLASS_CACHES]:
                try:
                    delattr(cls, key)
                except (TypeError, AttributeError):
                    pass
        for _, f, code_, defaults, kwdefaults in self.functions:
            f.__code__, f.__defaults__, f.__kwdefaults__ = code_, defaults, kwdefaults
        _set_global_state(self.state)
        if code is not None:
            self._restore_disk(code)

    def _restore_disk(self, code: dict[str, bytes]) -> None:
        for rel, data in code.items():
            path = self.root / rel
            try:
                if not path.is_file() or path.read_bytes() != data:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
            except OSError:
                pass
        for rel in list(self._disk()):
            if rel not in code:
                try:
                    (self.root / rel).unlink()
                except OSError:
                    pass
        self.disk = self._disk()

    def wrap(self, func):
        """The check ``func``, followed (in the check's own process) by a look for interference."""
        guard = self

        def guarded(learner, ref, fx):
            try:
                detail = func(learner, ref, fx)
            except BaseException:
                found = guard.problems()
                if found:
                    raise _tampered(found) from None
                raise
            found = guard.problems()
            if found:
                raise _tampered(found)
            return detail
        guarded.__name__ = getattr(func, "__name__", "check")
        return guarded


_MISSING = object()
# Caches Python itself adds (pickle and copy, the warnings machinery): not changes.
CLASS_CACHES = ("__slotnames__",)
MODULE_CACHES = ("__warningregistry__",)


def _tampered(found: list[str]):
    from checks.framework import CheckFailed

    shown = "; ".join(found[:8]) + (f"; and {len(found) - 8} more" if len(found) > 8 else "")
    return CheckFailed(f"{TAMPER}: while this check ran, the course's own code or data was changed "
                       f"({shown}). This check gets no points; the grader undid the change for the others.")


def _fixture_digest(fx) -> str:
    import pickle
    try:
        return hashlib.sha256(pickle.dumps(fx)).hexdigest()
    except Exception:
        return ""


def worker_main(argv: list[str]) -> int:
    """Entry point of a grading process (run by :func:`grade_lesson` through BOOT)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("lesson", type=int)
    parser.add_argument("results", type=Path)
    parser.add_argument("--timeout-scale", type=float, default=1.0)
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB)
    parser.add_argument("--import-timeout", type=float, default=DEFAULT_IMPORT_TIMEOUT_S)
    parser.add_argument("--cpu-limit", type=int, default=600)
    parser.add_argument("--nproc", type=int, default=None)
    args = parser.parse_args(argv)
    apply_limits(args.cpu_limit, args.nproc)
    root = Path(__file__).resolve().parents[1]
    os.chdir(root)
    out = open(args.results, "a", encoding="utf-8")

    def emit(**event) -> None:
        out.write(json.dumps(event, default=str) + "\n")
        out.flush()

    import importlib

    try:
        from course.threads import use_course_threads
        use_course_threads()
    except ImportError:
        pass
    from checks import fixtures
    from checks.framework import ERROR, LearnerModule, checks_for, load_file, run_isolated

    lesson = index.lesson(args.lesson)
    items = checks_for(lesson.number)
    ref = importlib.import_module(f"solutions.{lesson.module}")
    fx = fixtures.for_lesson(lesson.number)
    code = {path.relative_to(root).as_posix(): path.read_bytes()
            for top in INSTRUCTOR_PACKAGES for path in _walk(root / top) if "__pycache__" not in path.parts}
    guard = Guard(root)
    fx_digest = _fixture_digest(fx)
    emit(event="start", checks=len(items))
    if args.memory_mb:
        limit_memory(2 * args.memory_mb, lock=False)

    def on_alarm(signum, frame):
        raise _ImportTimeout()

    path = root / "lessons" / f"{lesson.module}.py"
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, max(args.import_timeout, 0.1))
    try:
        module, error = load_file(path, f"learner_{lesson.module}")
    except _ImportTimeout:
        module, error = None, None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if module is None and (error is None or "_ImportTimeout" in error):
        error = (f"lessons/{lesson.module}.py did not finish importing within {args.import_timeout:g} s: "
                 f"is there an endless loop, or slow work, at the top level of the file (outside any function)?")
    found = guard.problems()
    if _fixture_digest(fx) != fx_digest:
        found.append("the check data (checks.fixtures) was modified")
        for value in vars(fixtures).values():
            if hasattr(value, "cache_clear"):
                value.cache_clear()
    if found:
        emit(event="tamper", what=[f"importing the lesson file changed the course's own code or data: {what} "
                                   f"(undone before grading)" for what in found])
        guard.restore(code)
        fx = fixtures.for_lesson(lesson.number)
        guard = Guard(root)
    emit(event="loaded", load_error=error)
    if module is None:
        for i, item in enumerate(items):
            emit(event="check", index=i, status=ERROR, message="see the import error above", detail="", output="")
        emit(event="done")
        return 0
    learner = LearnerModule(module, path)
    memory = args.memory_mb
    for i, item in enumerate(items):
        guarded = dataclasses.replace(item, func=guard.wrap(item.func))
        result = run_isolated(guarded, learner, ref, fx, path, item.timeout * args.timeout_scale, memory)
        emit(event="check", index=i, **dataclasses.asdict(result))
        on_disk = [what for what in guard.problems() if what.endswith("on disk")]
        if on_disk:
            emit(event="tamper", what=[f"during check {item.task}: {what} (restored)" for what in on_disk])
            guard._restore_disk(code)
    emit(event="done")
    out.close()
    return 0


# ================================================================= the class

@dataclasses.dataclass
class LearnerGrade:
    name: str
    checkout: str
    lessons: list[LessonGrade]
    notes: list[str] = dataclasses.field(default_factory=list)
    instructor_changes: list[str] = dataclasses.field(default_factory=list)
    environment_changes: list[str] = dataclasses.field(default_factory=list)
    stem: str = ""           # file name of the learner's reports (unique in the class)

    @property
    def earned(self) -> int:
        return sum(lesson.earned for lesson in self.lessons)

    @property
    def possible(self) -> int:
        return sum(lesson.possible for lesson in self.lessons)

    @property
    def tampering(self) -> list[str]:
        found = [f"lesson {lesson.lesson}: {what}" for lesson in self.lessons for what in lesson.tampering]
        return found + [f"changed this repository's files: {what} (restored)" for what in self.instructor_changes]


def grade_learner(name: str, checkout: Path, settings: Settings, code: dict[str, bytes],
                  nproc: int | None = None, log=print) -> LearnerGrade:
    files, notes = learner_lesson_files(checkout)
    learner = LearnerGrade(name, str(checkout), [], notes)
    plans = {number: planned_checks(number) for number in settings.lessons}
    with ThreadPoolExecutor(max_workers=max(1, settings.jobs)) as pool:
        futures = [pool.submit(grade_lesson, number, files, code, settings, nproc, plans[number])
                   for number in settings.lessons]
        for number, future in zip(settings.lessons, futures):
            try:
                lesson = future.result()
            except Exception as e:  # the grader's own trouble (disk full...): say so, go on
                lesson = _read_results(index.lesson(number), plans[number], Path("/nonexistent"), False, None, 0)
                lesson.status = "crashed"
                for c in lesson.checks:
                    c["message"] = f"the grader could not run this lesson: {type(e).__name__}: {e}"
            learner.lessons.append(lesson)
            log(f"    lesson {number}: {lesson.earned}/{lesson.possible}"
                + (f" ({lesson.status})" if lesson.status != "graded" else "")
                + (" [tampering reported]" if lesson.tampering else ""))
    return learner


def git_commit(root: Path) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def grade_class(submission: Path, reports: Path, settings: Settings, instructor_root: Path = REPO,
                log=print) -> list[LearnerGrade]:
    """Grade every learner under ``submission`` and write the reports; returns the grades."""
    submission, reports = submission.resolve(), reports.resolve()
    learners = find_learners(submission)
    if not learners:
        raise SystemExit(f"{submission} holds no lessons/ folder, and none of its sub-folders does: "
                         f"give a learner's checkout, or a folder of them.")
    sys.dont_write_bytecode = True
    venv = Path(sys.prefix) if sys.prefix != sys.base_prefix else None
    snapshot = InstructorFiles(instructor_root, exclude=[submission, reports], venv=venv)
    code = snapshot.private_code()
    threads = _user_threads() if hasattr(os, "getuid") and os.getuid() != 0 else None
    nproc = threads + 1024 + 64 * settings.jobs if threads is not None else None
    reports.mkdir(parents=True, exist_ok=True)
    graded_at = datetime.now().isoformat(timespec="seconds")
    commit = git_commit(instructor_root)
    grades = []
    stems = report_stems([name for name, _ in learners])
    for name, checkout in learners:
        log(f"Grading {name} ({checkout}) ...")
        learner = grade_learner(name, checkout, settings, code, nproc, log)
        learner.stem = stems[name]
        changed, venv_changed = snapshot.changes()
        if changed:
            problems = snapshot.restore(reports / "tampered-files" / learner.stem)
            learner.instructor_changes = changed + [f"could not restore: {p}" for p in problems]
            log(f"  WARNING: {name}'s grading changed instructor files; restored: {', '.join(changed)}")
        if venv_changed:
            learner.environment_changes = venv_changed
            snapshot.venv_state = snapshot._venv_state()
            log(f"  WARNING: the virtual environment changed while {name} was graded: {', '.join(venv_changed[:5])}")
        write_learner_report(learner, reports, graded_at, commit, settings)
        log(f"  {name}: {learner.earned}/{learner.possible} points -> {reports / (learner.stem + '.md')}")
        grades.append(learner)
    write_class_reports(grades, reports, settings, graded_at, commit)
    return grades


# ================================================================= reports

def _percent(earned: int, possible: int) -> str:
    return f"{100 * earned / possible:.0f}%" if possible else "-"


def learner_json(learner: LearnerGrade, graded_at: str, commit: str) -> dict:
    return {
        "learner": learner.name, "checkout": learner.checkout, "graded_at": graded_at,
        "grader_commit": commit, "earned": learner.earned, "possible": learner.possible,
        "lessons": [{
            "lesson": lesson.lesson, "title": lesson.title, "earned": lesson.earned, "possible": lesson.possible,
            "passed": lesson.passed, "status": lesson.status, "load_error": lesson.load_error,
            "seconds": lesson.seconds,
            "tasks": {task: {"earned": got, "possible": of} for task, (got, of) in lesson.tasks().items()},
            "checks": lesson.checks, "tampering": lesson.tampering,
            "printed": lesson.printed[:4000],
        } for lesson in learner.lessons],
        "tampering": learner.tampering, "environment_changes": learner.environment_changes,
        "notes": learner.notes,
    }


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def learner_markdown(learner: LearnerGrade, graded_at: str, commit: str) -> str:
    passed = sum(lesson.passed for lesson in learner.lessons)
    out = [f"# Grade report: {learner.name}", "",
           f"- Checkout: `{learner.checkout}`",
           f"- Graded: {graded_at}, with the instructor's checks and reference"
           + (f" (commit {commit})" if commit else ""),
           f"- **Total: {learner.earned}/{learner.possible} points ({_percent(learner.earned, learner.possible)})**, "
           f"{passed} of {len(learner.lessons)} lessons pass", ""]
    if learner.tampering or learner.environment_changes:
        out += ["## Warning: interference with the grader", "",
                "While this submission was graded, the grader saw it change the course's own code, data "
                "or files. Changes made while importing a lesson file were undone before that lesson's checks "
                "ran; a change made while a check ran costs that check its points; this repository's files "
                "were restored (the changed versions are kept in tampered-files/). Other learners' grades are "
                "not affected. Read the lesson files before trusting this grade.", ""]
        out += [f"- {_md(what.replace(TAMPER + ': ', '').replace(TAMPER + ' ', ''))}" for what in learner.tampering]
        out += [f"- the virtual environment changed (another program, or this submission): {_md(what)}"
                for what in learner.environment_changes[:20]]
        out.append("")
    out += ["| Lesson | Title | Points | Result |", "|---:|---|---:|---|"]
    for lesson in learner.lessons:
        result = ("passes" if lesson.passed else "could not be loaded" if lesson.load_error
                  else lesson.status if lesson.status != "graded" else "incomplete")
        out.append(f"| {lesson.lesson} | {_md(lesson.title)} | {lesson.earned}/{lesson.possible} | {result} |")
    out.append("")
    for note in learner.notes:
        out.append(f"Note: {note}")
    for lesson in learner.lessons:
        out += [f"## Lesson {lesson.lesson}: {lesson.title} ({lesson.earned}/{lesson.possible})", ""]
        tasks = lesson.tasks()
        out.append("Tasks: " + ", ".join(f"{task} {got}/{of}" for task, (got, of) in tasks.items()))
        out.append("")
        if lesson.load_error:
            out += ["The lesson file could not be loaded:", "", "```", lesson.load_error, "```", ""]
        if lesson.status != "graded":
            out += [f"The grading process {lesson.status} (after {lesson.seconds:g} s)."
                    + (" The end of what it printed:" if lesson.printed.strip() else ""), ""]
            if lesson.printed.strip():
                out += ["```", lesson.printed.strip()[-1500:].replace("```", "` ` `"), "```", ""]
        failures = [c for c in lesson.checks if c["status"] != "PASS"]
        if failures and not lesson.load_error:
            out.append("What did not pass:")
            out.append("")
            for c in failures:
                out.append(f"- **{c['task']}** {_md(c['title'])} ({c['earned']}/{c['points']}, {c['status']}): "
                           f"{_md(c['message'])}")
                if c.get("output"):
                    out.append(f"  - printed: `{_md(c['output'][:300])}`")
            out.append("")
        elif not failures:
            out += ["Every check passes.", ""]
    return "\n".join(out) + "\n"


def write_learner_report(learner: LearnerGrade, reports: Path, graded_at: str, commit: str,
                         settings: Settings) -> None:
    name = learner.stem or safe_name(learner.name)
    (reports / f"{name}.json").write_text(json.dumps(learner_json(learner, graded_at, commit), indent=1) + "\n")
    (reports / f"{name}.md").write_text(learner_markdown(learner, graded_at, commit))


def write_class_reports(grades: list[LearnerGrade], reports: Path, settings: Settings, graded_at: str,
                        commit: str) -> None:
    lessons = [index.lesson(n) for n in settings.lessons]
    plans = {lesson.number: planned_checks(lesson.number) for lesson in lessons}
    lesson_cols = [f"lesson {lesson.number} (of {sum(c['points'] for c in plans[lesson.number])})" for lesson in lessons]
    task_points: dict[str, int] = {}
    for lesson in lessons:
        for c in plans[lesson.number]:
            task_points[c["task"]] = task_points.get(c["task"], 0) + c["points"]
    task_cols = [f"task {task} (of {points})" for task, points in task_points.items()]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["learner", "earned", "possible", "percent", *lesson_cols, *task_cols, "tampering", "report"])
    for learner in grades:
        by_lesson = {lesson.lesson: lesson for lesson in learner.lessons}
        tasks = {task: got for lesson in learner.lessons for task, (got, _) in lesson.tasks().items()}
        writer.writerow([learner.name, learner.earned, learner.possible, _percent(learner.earned, learner.possible),
                         *(by_lesson[lesson.number].earned if lesson.number in by_lesson else "" for lesson in lessons),
                         *(tasks.get(task, 0) for task in task_points),
                         "yes" if learner.tampering else "", f"{learner.stem or safe_name(learner.name)}.md"])
    (reports / "class.csv").write_text(buffer.getvalue())
    out = ["# Class grades", "", f"Graded {graded_at}" + (f" with commit {commit}" if commit else "")
           + f"; lessons {', '.join(str(n) for n in settings.lessons)}.", "",
           "| Learner | Points | % | " + " | ".join(f"L{lesson.number}" for lesson in lessons) + " | Notes |",
           "|---|---:|---:|" + "---:|" * len(lessons) + "---|"]
    for learner in grades:
        by_lesson = {lesson.lesson: lesson for lesson in learner.lessons}
        flags = []
        if learner.tampering:
            flags.append("interference reported")
        if any(lesson.status != "graded" for lesson in learner.lessons):
            flags.append("a lesson timed out or crashed")
        out.append(f"| [{_md(learner.name)}]({learner.stem or safe_name(learner.name)}.md) | {learner.earned}/{learner.possible} | "
                   f"{_percent(learner.earned, learner.possible)} | "
                   + " | ".join(f"{by_lesson[lesson.number].earned}" for lesson in lessons) + f" | {', '.join(flags)} |")
    (reports / "class.md").write_text("\n".join(out) + "\n")


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


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    argv = shlex.split(os.environ.get("GRADE_OPTIONS", "")) + argv
    parser = argparse.ArgumentParser(description="Grade learners' checkouts with the instructor's checks.")
    parser.add_argument("submission", nargs="?", default="", help="a learner's checkout, or a folder of them")
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS, help="where the reports go (default outputs/grades)")
    parser.add_argument("--lessons", default=os.environ.get("LESSONS", ""), help="e.g. 1,2,3 or 1-4 (default: all)")
    parser.add_argument("--jobs", type=int, default=max(1, min(4, (os.cpu_count() or 2) // 2)),
                        help="lessons of one learner graded at the same time")
    parser.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every time limit (slow machines: 2)")
    parser.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB, help="memory allowance per check")
    parser.add_argument("--import-timeout", type=float, default=DEFAULT_IMPORT_TIMEOUT_S,
                        help="seconds a lesson file may take to import")
    parser.add_argument("--lesson-timeout", type=float, default=None, help="wall-clock limit per lesson (default: from the checks)")
    args = parser.parse_args(argv)
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
    except ValueError as e:
        print(f"--lessons: {e}")
        return 2
    settings = Settings(lessons=lessons, timeout_scale=args.timeout_scale, memory_mb=args.memory_mb,
                        import_timeout=args.import_timeout, lesson_timeout=args.lesson_timeout, jobs=args.jobs)
    started = time.monotonic()
    grades = grade_class(submission, args.reports, settings)
    print(f"\nGraded {len(grades)} learner(s) in {time.monotonic() - started:.0f} s. "
          f"Reports: {args.reports.resolve()}/ (class.md, class.csv, one .md and .json per learner).")
    flagged = [g.name for g in grades if g.tampering or g.environment_changes]
    if flagged:
        print(f"Interference was reported for: {', '.join(flagged)}. Read their reports before trusting those grades.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
