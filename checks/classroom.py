"""``make grade SUBMISSION=path [REPORTS=dir]``: grade learners' checkouts with *your* checks,
their code in a sandbox.

SUBMISSION is one learner's checkout (a folder holding ``lessons/``) or a folder of them
(every sub-folder holding ``lessons/`` is one learner, named after the sub-folder). Only the
bytes of the learner's ``lessons/*.py`` regular files are used (a link, a linked ``lessons/``
folder or a hard-linked file is refused and noted): their copies of checks/, solutions/ and
course/ are never read.

Trusted and untrusted apart (docs/grading.md says exactly what this guarantees):

- the checks, the reference, the check data, every comparison and the reports run in the
  grader's own processes (one forked child per learner per lesson), which never import or
  unpickle anything the learner's code produced;
- the learner's lesson file runs only in one sandboxed worker per learner per lesson
  (checks/sandbox.py: bubblewrap; checks/sandbox_worker.py inside), which sees the course's
  ground, the reference of earlier lessons, the virtual environment's packages (read-only)
  and its own /tmp, and nothing else; the checks call its functions through a proxy, and
  only data crosses (checks/boundary.py);
- limits are CPU time (the wall clock only a backstop), memory, file size and processes;
- the reports are written by the grader only, after every sandbox of the class has ended;
  this repository (every file, ``__pycache__`` included) is compared with a snapshot before
  and after grading, and the grader never reads bytecode from it (``-X pycache_prefix``).

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
import select
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from course import index
from course.threads import use_course_threads
from course.paths import OUTPUT_DIR, REPO

DEFAULT_REPORTS = OUTPUT_DIR / "grades"
# Never compared or restored: build outputs, caches of tools, learner state, data.
MONITOR_SKIP = (".git", ".venv", "outputs", ".backups", ".progress", ".pytest_cache", ".hypothesis",
                "datasets/data", ".ipynb_checkpoints")
MONITOR_GIT = (".git/config", ".git/hooks")   # ...except the parts of .git that run code
KEEP_BYTES_LIMIT = 8 << 20        # instructor files up to this size can be restored
LESSON_FILE_LIMIT = 1 << 20       # a learner's lesson file larger than this is not graded
DEFAULT_MEMORY_MB = 2048
DEFAULT_IMPORT_TIMEOUT_S = 30.0   # CPU seconds a lesson file may take to import
SETUP_ALLOWANCE_S = 120.0         # wall seconds for starting a sandbox (per start)
NO_SANDBOX = ("NO SANDBOX: graded with --no-sandbox, so the learners' code ran as the grader's user, with "
              "this machine's files and network within its reach; these grades are only as trustworthy as "
              "the code that produced them.")


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
    """The bytes of the learner's lessons/*.py, and notes on what was refused. No link is
    ever followed: a ``lessons/`` that is a link (to solutions/, say), a file that is a link,
    a hard-linked file (it could be the reference itself), anything but a regular file and
    anything over 1 MiB is refused and noted."""
    files, notes = {}, []
    folder = checkout / "lessons"
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        kind = "a link" if folder.is_symlink() else "not a folder"
        return {}, [f"lessons/ is {kind} and was not used: only the learner's own files are graded"]
    try:
        for name in sorted(os.listdir(folder_fd)):
            if not name.endswith(".py"):
                continue
            try:
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder_fd)
            except OSError:
                notes.append(f"lessons/{name} is not a regular file (a link?) and was not used")
                continue
            with os.fdopen(fd, "rb") as f:
                st = os.fstat(f.fileno())
                if not stat.S_ISREG(st.st_mode):
                    notes.append(f"lessons/{name} is not a regular file and was not used")
                elif st.st_nlink > 1:
                    notes.append(f"lessons/{name} has other hard links (to whose file?) and was not used")
                elif st.st_size > LESSON_FILE_LIMIT:
                    notes.append(f"lessons/{name} is larger than {LESSON_FILE_LIMIT >> 20} MiB and was not used")
                else:
                    data = f.read(LESSON_FILE_LIMIT + 1)
                    if len(data) > LESSON_FILE_LIMIT:
                        notes.append(f"lessons/{name} is larger than {LESSON_FILE_LIMIT >> 20} MiB and was not used")
                    else:
                        files[name] = data
    finally:
        os.close(folder_fd)
    return files, notes


@dataclasses.dataclass
class LessonGrade:
    lesson: int
    title: str
    checks: list[dict]                 # task, title, points, status, message, detail, output, earned
    load_error: str | None = None
    status: str = "graded"             # graded | timed out | crashed
    tampering: list[str] = dataclasses.field(default_factory=list)
    printed: str = ""                  # kept for the report format (prints are per check now)
    seconds: float = 0.0
    restarts: int = 0                  # times the sandboxed worker had to be started again

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


# ================================================================= one lesson of one learner

@dataclasses.dataclass
class Settings:
    lessons: list[int]
    timeout_scale: float = 1.0
    memory_mb: int = DEFAULT_MEMORY_MB
    import_timeout: float = DEFAULT_IMPORT_TIMEOUT_S
    lesson_timeout: float | None = None        # wall-clock backstop per lesson; None: from the checks' limits
    jobs: int = 1
    sandbox: bool = True                       # False only with --no-sandbox


def planned_checks(number: int) -> list[dict]:
    """The instructor's checks of a lesson, as the grader (not the submission) sees them."""
    from checks.framework import checks_for

    return [{"task": c.task, "title": c.title, "points": c.points, "timeout": c.timeout} for c in checks_for(number)]


def _cpu_budget(plan: list[dict], settings: Settings) -> float:
    return settings.import_timeout + sum(c["timeout"] for c in plan) * settings.timeout_scale


def lesson_wall_limit(plan: list[dict], settings: Settings) -> float:
    """The wall-clock backstop of one learner's lesson: generous, since the limits that
    decide verdicts are in CPU time (each check's, in the sandbox)."""
    from checks.framework import wall_backstop

    if settings.lesson_timeout:
        return settings.lesson_timeout
    return SETUP_ALLOWANCE_S + wall_backstop(settings.import_timeout) + sum(
        wall_backstop(c["timeout"] * settings.timeout_scale) for c in plan)


def _empty_grade(number: int, plan: list[dict], status: str, message: str) -> "LessonGrade":
    lesson = index.lesson(number)
    checks = [{"task": c["task"], "title": c["title"], "points": c["points"],
               "status": "TIMEOUT" if status == "timed out" else "ERROR", "message": message, "detail": "",
               "output": "", "earned": 0} for c in plan]
    return LessonGrade(number, lesson.title, checks, status=status)


def grade_lesson_here(number: int, lesson_bytes: bytes | None, settings: Settings) -> "LessonGrade":
    """Grade one lesson of one learner in this (trusted) process: the checks run here, the
    learner's functions in a sandboxed worker, through the proxy."""
    import importlib

    from checks import fixtures
    from checks.framework import ERROR, PASS, checks_for, run_inline
    from checks.sandbox import Limits, SandboxedLearner

    lesson = index.lesson(number)
    started = time.monotonic()
    items = checks_for(number)
    plan = planned_checks(number)
    grade = LessonGrade(number, lesson.title, [])
    if lesson_bytes is None:
        grade.load_error = f"lessons/{lesson.module}.py is not in the submission."
        grade.checks = [dict(c, status=ERROR, message="see the import error above", detail="", output="", earned=0)
                        for c in _plain_plan(plan)]
        return grade
    ref = importlib.import_module(f"solutions.{lesson.module}")
    fx = fixtures.for_lesson(number)
    limits = Limits(memory_mb=settings.memory_mb, import_cpu_s=settings.import_timeout * settings.timeout_scale,
                    total_cpu_s=_cpu_budget(plan, settings) * 2 + 60, sandbox=settings.sandbox)
    learner = SandboxedLearner(number, lesson_bytes, limits)
    try:
        grade.load_error = learner.start()
        for item in items:
            if grade.load_error is not None:
                result_status, message = ERROR, "see the import error above"
                grade.checks.append({"task": item.task, "title": item.title, "points": item.points,
                                     "status": result_status, "message": message, "detail": "", "output": "",
                                     "earned": 0})
                continue
            limit = item.timeout * settings.timeout_scale
            learner.begin_check(limit)
            result = run_inline(dataclasses.replace(item, timeout=limit), learner, ref, fx, None)
            if result.status != PASS:
                result.output = learner.printed()[:2000]
            entry = dataclasses.asdict(result)
            entry["earned"] = result.earned
            grade.checks.append(entry)
        grade.restarts = max(0, learner.starts - 1)
    finally:
        learner.close()
    grade.seconds = round(time.monotonic() - started, 1)
    return grade


def _plain_plan(plan: list[dict]) -> list[dict]:
    return [{k: c[k] for k in ("task", "title", "points")} for c in plan]


def _grade_to_json(grade: "LessonGrade") -> bytes:
    return json.dumps(dataclasses.asdict(grade)).encode()


def _grade_from_json(data: bytes) -> "LessonGrade":
    fields = json.loads(data)
    return LessonGrade(**{f.name: fields[f.name] for f in dataclasses.fields(LessonGrade) if f.name in fields})


def grade_lessons(jobs: list[tuple[int, bytes | None]], settings: Settings) -> list["LessonGrade"]:
    """Grade (lesson, lesson file bytes) pairs, each in its own forked trusted child (so what a
    check leaves behind never reaches the next learner), ``settings.jobs`` at a time, each
    with its wall-clock backstop. Returns the grades in order."""
    from checks.sandbox import sweep_leftovers

    results: list[LessonGrade | None] = [None] * len(jobs)
    running: dict[int, tuple[int, int, float, list[bytes]]] = {}     # pid -> (job index, fd, deadline, chunks)
    waiting = list(range(len(jobs)))
    plans = {number: planned_checks(number) for number, _ in jobs}

    def start(i: int) -> None:
        number, data = jobs[i]
        read_end, write_end = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 3
            try:
                os.close(read_end)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                payload = _grade_to_json(grade_lesson_here(number, data, settings))
                with os.fdopen(write_end, "wb") as pipe:
                    pipe.write(payload)
                code = 0
            except BaseException:
                pass
            finally:
                os._exit(code)
        os.close(write_end)
        running[pid] = (i, read_end, time.monotonic() + lesson_wall_limit(plans[number], settings), [])

    def finish(pid: int, timed_out: bool) -> None:
        i, fd, _, chunks = running.pop(pid)
        if timed_out:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        sweep_leftovers(pid)              # a sandbox whose grader child was killed
        number, _ = jobs[i]
        plan = plans[number]
        if timed_out:
            grade = _empty_grade(number, plan, "timed out",
                                 f"grading this lesson took longer than {lesson_wall_limit(plan, settings):g} s "
                                 f"of wall-clock time in all, so this check did not get to run.")
        else:
            try:
                grade = _grade_from_json(b"".join(chunks))
            except (ValueError, TypeError, KeyError):
                grade = _empty_grade(number, plan, "crashed",
                                     f"the grader's own process for this lesson ended without a result "
                                     f"({_describe_status(status)}).")
        results[i] = grade

    try:
        while waiting or running:
            while waiting and len(running) < max(1, settings.jobs):
                start(waiting.pop(0))
            now = time.monotonic()
            for pid in [p for p, (_, _, deadline, _) in running.items() if deadline <= now]:
                finish(pid, timed_out=True)
            if not running:
                continue
            fds = {running[pid][1]: pid for pid in running}
            wait = max(0.05, min(running[pid][2] for pid in running) - time.monotonic())
            ready, _, _ = select.select(list(fds), [], [], min(wait, 5.0))
            for fd in ready:
                pid = fds[fd]
                chunk = os.read(fd, 1 << 16)
                if chunk:
                    running[pid][3].append(chunk)
                else:
                    finish(pid, timed_out=False)
    except BaseException:
        for pid in list(running):
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
            sweep_leftovers(pid)
        raise
    return [r for r in results if r is not None]


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            return f"killed by signal {signal.Signals(number).name}"
        except ValueError:
            return f"killed by signal {number}"
    return f"exit code {os.WEXITSTATUS(status)}"


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
    sandboxed: bool = True

    @property
    def earned(self) -> int:
        return sum(lesson.earned for lesson in self.lessons)

    @property
    def possible(self) -> int:
        return sum(lesson.possible for lesson in self.lessons)

    @property
    def tampering(self) -> list[str]:
        found = [f"lesson {lesson.lesson}: {what}" for lesson in self.lessons for what in lesson.tampering]
        return found + [f"this repository's files changed during grading: {what} (restored)"
                        for what in self.instructor_changes]


def git_commit(root: Path) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def grade_class(submission: Path, reports: Path, settings: Settings, instructor_root: Path = REPO,
                log=print) -> list[LearnerGrade]:
    """Grade every learner under ``submission`` and write the reports; returns the grades.

    Lesson by lesson (the check data is built once per lesson, in this process, and shared
    by the forked children), every learner's file is graded in its own trusted child with its
    own sandbox. The reports are written after every child, and so every sandbox, has ended."""
    submission, reports = submission.resolve(), reports.resolve()
    learners = find_learners(submission)
    if not learners:
        raise SystemExit(f"{submission} holds no lessons/ folder, and none of its sub-folders does: "
                         f"give a learner's checkout, or a folder of them.")
    sys.dont_write_bytecode = True
    venv = Path(sys.prefix) if sys.prefix != sys.base_prefix else None
    snapshot = InstructorFiles(instructor_root, exclude=[submission, reports], venv=venv)
    graded_at = datetime.now().isoformat(timespec="seconds")
    commit = git_commit(instructor_root)
    stems = report_stems([name for name, _ in learners])
    grades = []
    for name, checkout in learners:
        files, notes = learner_lesson_files(checkout)
        learner = LearnerGrade(name, str(checkout), [], notes, sandboxed=settings.sandbox)
        learner.stem = stems[name]
        learner.files = files
        grades.append(learner)
    use_course_threads()
    from checks import fixtures
    for number in settings.lessons:
        module = index.lesson(number).module
        log(f"Lesson {number}: building the check data, then grading {len(grades)} learner(s) ...")
        fixtures.for_lesson(number)
        done = grade_lessons([(number, g.files.get(f"{module}.py")) for g in grades], settings)
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
        write_learner_report(learner, reports, graded_at, commit, settings)
        log(f"  {learner.name}: {learner.earned}/{learner.possible} points -> {reports / (learner.stem + '.md')}")
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
           f"{passed} of {len(learner.lessons)} lessons pass",
           "- Sandbox: " + ("bubblewrap (the learner's code saw only its own lesson file, the course's ground "
                            "and the packages; see docs/grading.md)" if learner.sandboxed else f"**{NO_SANDBOX}**"),
           ""]
    if learner.tampering or learner.environment_changes:
        out += ["## Warning: this repository changed while the class was graded", "",
                "The grader compared this repository with its state before grading and found changes (restored; "
                "the changed versions are kept in tampered-files/during-grading/). With the sandbox no learner's "
                "code could reach these files: look for another program, or a person, that edited them.", ""]
        out += [f"- {_md(what)}" for what in learner.tampering]
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
           ("Every learner's code ran in a bubblewrap sandbox (docs/grading.md)." if settings.sandbox
            else f"**{NO_SANDBOX}**"), "",
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


def main(argv: list[str] | None = None, fresh_interpreter: bool = False) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if fresh_interpreter:
        _private_bytecode(argv)
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
    parser.add_argument("--lesson-timeout", type=float, default=None,
                        help="wall-clock backstop per lesson of a learner (default: from the checks' CPU limits)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without bubblewrap (the learners' code runs as you; the reports say so)")
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
    grades = grade_class(submission, args.reports, settings)
    print(f"\nGraded {len(grades)} learner(s) in {time.monotonic() - started:.0f} s. "
          f"Reports: {args.reports.resolve()}/ (class.md, class.csv, one .md and .json per learner).")
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
