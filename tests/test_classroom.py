"""`make grade`: the instructor grades learners' checkouts with the instructor's own checks,
the learners' code in a bubblewrap sandbox behind a data-only boundary.

A class is generated here (never committed) and graded once with `make grade`, against a
temporary copy of this repository: two honest learners and one adversarial submission per
attack family. For every attack the tests prove that this repository, the other learners and
the reports are untouched, that the attacker scores no more than its honest work (each
attacker's history_size, task 3.1, is honest; everything else is the attack), that grading
finishes, and that the honest learners score exactly as when graded alone.

Without bwrap these tests skip (with the reason); under CI=true a missing bwrap is a failure
(tests/test_sandbox.py).
"""
from __future__ import annotations

import csv
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from checks import classroom
from checks.framework import checks_for
from checks.sandbox import bwrap_works
from course import index
from course.paths import REPO
from course.stubgen import make_stub

BWRAP, WHY_NOT = bwrap_works()
needs_bwrap = pytest.mark.skipif(not BWRAP, reason=f"no usable bubblewrap here: {WHY_NOT}")

LESSONS = (3, 6)
GRADE_OPTIONS = "--jobs 2 --import-timeout 5"
DAEMON_MARK = "7654321"          # a daemon's `sleep 7654321`: must not outlive grading


# ------------------------------------------------------------------ builders

def solution(number: int) -> str:
    return index.lesson(number).solution_path.read_text()


def stub(number: int) -> str:
    lesson = index.lesson(number)
    return make_stub(lesson.solution_path.read_text(), lesson)


def replace_function(source: str, name: str, new: str) -> str:
    """``source`` with the top-level function ``name`` replaced by ``new``."""
    start = source.index(f"\ndef {name}(") + 1
    ends = [i for i in (source.find(marker, start) for marker in ("\ndef ", "\n@", "\nclass ")) if i != -1]
    end = min(ends) + 1 if ends else len(source)
    return source[:start] + textwrap.dedent(new).strip() + "\n\n\n" + source[end:]


def honest_part() -> str:
    """Lesson 3 with task 3.1 done (history_size, honest) and 3.2 still the stub."""
    source = stub(3)
    ref = solution(3)
    start = ref.index("\ndef history_size(") + 1
    end = ref.index("\ndef ", start) + 1
    return replace_function(source, "history_size", ref[start:end])


def attack(split_body: str, at_import: str = "") -> str:
    """The honest part, with split_watch_history replaced by the attack (and code run at import)."""
    source = replace_function(honest_part(), "split_watch_history", split_body)
    return source + ("\n\n" + textwrap.dedent(at_import) if at_import else "")


def checkout(folder: Path, files: dict[int, str | bytes]) -> Path:
    (folder / "lessons").mkdir(parents=True)
    for number, text in files.items():
        path = folder / "lessons" / f"{index.lesson(number).module}.py"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    # A learner's checkout also holds (possibly edited) copies of the course's code; the
    # grader must never use them.
    (folder / "checks").mkdir()
    (folder / "checks" / "framework.py").write_text("raise SystemExit('the submission copy of checks/ was used')\n")
    (folder / "solutions").mkdir()
    (folder / "solutions" / "__init__.py").write_text("raise SystemExit('the submission copy of solutions/ was used')\n")
    return folder


def instructor_copy(target: Path) -> Path:
    """A copy of this repository (code and Makefile) whose .venv is the real one."""
    shutil.copytree(REPO, target, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "outputs", ".backups", ".progress", "__pycache__", ".pytest_cache",
        ".hypothesis", "data", "notebooks", "*.ipynb", "benchmarks"))
    (target / ".venv").symlink_to(REPO / ".venv")
    return target


def plant_bytecode(repo: Path) -> Path:
    """A valid .pyc for the copy's checks/lesson03_masking.py (same source size and mtime, so
    Python would load it) whose checks all pass: if the grader ever read bytecode from the
    instructor's tree, a stub would get full marks."""
    source = repo / "checks" / "lesson03_masking.py"
    evil = source.read_text().replace("def history_size_floor(learner, ref, fx):",
                                      "def history_size_floor(learner, ref, fx):\n    return 'planted'\n")
    for name in ("history_size_property", "no_overlap", "sizes", "ratings_preserved", "deterministic",
                 "seed_matters", "random_not_first"):
        evil = evil.replace(f"def {name}(learner, ref, fx):", f"def {name}(learner, ref, fx):\n    return 'planted'\n")
    code = compile(evil, str(source), "exec")
    st = source.stat()
    data = importlib._bootstrap_external._code_to_timestamp_pyc(code, int(st.st_mtime), st.st_size)
    target = Path(importlib.util.cache_from_source(str(source)))
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(bytes(data))
    return target


def tree_hashes(root: Path, skip=(".venv",)) -> dict[str, str]:
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def points(number: int, task: str | None = None) -> int:
    return sum(c.points for c in checks_for(number) if task is None or c.task == task)


def daemons_alive() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if DAEMON_MARK in cmdline and "pytest" not in cmdline:
                found.append(f"{entry.name}: {cmdline}")
    return found


# ------------------------------------------------------------------ the attacks (lesson 3)

def attacks(repo: Path, subs: Path) -> dict[str, str | bytes]:
    """One submission per attack family. Absolute paths of the instructor's copy, of the
    other learners and of the reports are written into the attacks, as a real attacker who
    knows the layout would."""
    victim = subs / "perfect" / "lessons" / "lesson03_masking.py"
    reports = subs.parent / "reports"
    targets = [repo / "solutions" / "lesson03_masking.py", repo / "Makefile", victim, reports / "class.csv",
               reports / "perfect.md", repo / "checks" / "__pycache__" / "lesson03_masking.cpython-311.pyc"]
    write_all = ("def _write_everywhere():\n"
                 f"    for _t in {[str(t) for t in targets]!r}:\n"
                 "        try:\n"
                 "            import pathlib\n"
                 "            pathlib.Path(_t).parent.mkdir(parents=True, exist_ok=True)\n"
                 "            pathlib.Path(_t).write_text('owned')\n"
                 "        except OSError:\n"
                 "            pass\n")
    ref_path = str(repo / "solutions" / "lesson03_masking.py")
    return {
        # The reference of the lesson graded: by import, by path, through the editable install's finder.
        "ref_import": attack(f"""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                import importlib, importlib.util, sys, glob
                environ = open("/proc/self/environ", "rb").read().decode().split("\\0")
                folders = [f for entry in environ if "site-packages" in entry
                           for f in entry.split("=", 1)[1].split(":")]
                finders = [f for folder in folders for f in glob.glob(folder + "/__editable__*finder.py")]
                try:
                    from solutions.lesson03_masking import split_watch_history as ref
                    return ref(ratings, history_fraction, min_ratings_per_user, seed)
                except ImportError:
                    pass
                for finder in finders:
                    spec = importlib.util.spec_from_file_location("finder", finder)
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                    module.install()
                try:
                    from solutions.lesson03_masking import split_watch_history as ref
                    return ref(ratings, history_fraction, min_ratings_per_user, seed)
                except ImportError:
                    pass
                spec = importlib.util.spec_from_file_location("ref", {ref_path!r})
                ref = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(ref)
                return ref.split_watch_history(ratings, history_fraction, min_ratings_per_user, seed)
            """),
        # The check's own values: walk the stack and the heap for a DataFrame with is_history.
        "stack_inspection": attack("""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                import gc, sys, inspect
                frame = sys._getframe()
                while frame is not None:
                    for value in list(frame.f_locals.values()):
                        if hasattr(value, "columns") and "is_history" in getattr(value, "columns", []):
                            return value
                    frame = frame.f_back
                for value in gc.get_objects():
                    if hasattr(value, "columns") and "is_history" in getattr(value, "columns", []):
                        return value
                for info in inspect.stack():
                    for value in info.frame.f_locals.values():
                        if value.__class__.__name__ == "SimpleNamespace":
                            return value.s.split
                raise RuntimeError("nothing to steal")
            """),
        # Forged results: the old results file, the reports, and PASS events appended everywhere.
        "forged_file": attack("""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                import glob, json, os
                event = json.dumps({"event": "check", "index": 0, "status": "PASS"}) + "\\n"
                for path in glob.glob("/tmp/**/*.jsonl", recursive=True) + glob.glob("/tmp/*"):
                    try:
                        with open(path, "a") as f:
                            f.write(event * 50)
                    except OSError:
                        pass
                _write_everywhere()
                raise RuntimeError("forged")
            """, write_all + "_write_everywhere()\n"),
        # Forged results on the result pipe: a pickled PASS, then a well-formed message, then exit.
        "forged_pipe": attack("""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                import os, pickle, struct, json
                for fd in range(3, 64):
                    try:
                        os.write(fd, pickle.dumps({"status": "PASS", "earned": 99}))
                        body = json.dumps({"ok": {"$frame": []}}).encode()
                        os.write(fd, struct.pack("<QI", len(body), len(body)) + body)
                    except OSError:
                        pass
                os._exit(0)
            """),
        # Patched libraries: json and numpy loaders, pickle, hypothesis, the checks' helpers if reachable.
        "patched_libraries": attack("""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                raise NotImplementedError("Lesson 3.2: the attack is at import")
            """, """
            import json, pickle, numpy
            json.loads = lambda *a, **k: {"ok": None, "status": "PASS"}
            pickle.loads = lambda *a, **k: {"status": "PASS"}
            numpy.load = lambda *a, **k: None
            numpy.lib.format.read_array = lambda *a, **k: numpy.zeros(1)
            try:
                import hypothesis
                hypothesis.given = lambda *a, **k: (lambda f: (lambda *x, **y: None))
            except ImportError:
                pass
            try:
                import checks.framework as _f
                _f.expect = lambda condition, message: None
            except ImportError:
                pass
            try:
                import checks.boundary as _b
                _b.Decoder.decode = lambda self, value, depth=0: "PASS"
            except ImportError:
                pass
            """),
        # A daemon (double fork, new session) that outlives the call, then writes everywhere:
        # other learners, this repository, the reports, its bytecode, after grading ended.
        "daemon": attack("""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                raise NotImplementedError("Lesson 3.2: the attack is the daemon")
            """, write_all + f"""
            import os, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    if os.fork() == 0:
                        os.execv("/usr/bin/sleep", ["sleep", "{DAEMON_MARK}"])
                    time.sleep(4)
                    _write_everywhere()
                    os._exit(0)
                os._exit(0)
            """),
        # A fork bomb and a flood of prints and of disk: bounded by the limits.
        "bomb_and_flood": attack("""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                import os
                with open("/tmp/fill", "wb") as f:
                    try:
                        while True:
                            f.write(b"x" * (1 << 20))
                    except OSError:
                        pass
                print("flood " * 100_000)
                pids = []
                for _ in range(10_000):
                    try:
                        pid = os.fork()
                    except OSError:
                        break
                    if pid == 0:
                        import time
                        time.sleep(60)
                        os._exit(0)
                    pids.append(pid)
                raise RuntimeError(f"forked {len(pids)} processes")
            """),
        # A file far over the size limit, and one that is not text at all.
        "huge": honest_part() + "\n#" + "x" * (2 << 20) + "\n",
        "binary": b"\x00\x01\xff\xfe" * 4096,
    }


# ------------------------------------------------------------------ the class, graded once with `make grade`

def _grade(repo: Path, subs: Path, reports: Path, lessons: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "GRADE_", "LESSON"))}
    return subprocess.run(["make", "-s", "-C", str(repo), "-o", ".venv/.installed", "grade",
                           f"SUBMISSION={subs}", f"REPORTS={reports}", f"LESSONS={lessons}",
                           f"GRADE_OPTIONS={GRADE_OPTIONS}"],
                          capture_output=True, text=True, env=env, timeout=3600)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if not BWRAP:
        pytest.skip(f"no usable bubblewrap here: {WHY_NOT}")
    base = tmp_path_factory.mktemp("class")
    repo = instructor_copy(base / "instructor")
    planted = plant_bytecode(repo)
    subs = base / "submissions"
    checkout(subs / "perfect", {3: solution(3), 6: solution(6)})
    checkout(subs / "half", {3: honest_part(), 6: stub(6)})
    for name, text in attacks(repo, subs).items():
        checkout(subs / name, {3: text})
    # lessons/ as a link to the instructor's reference, and a hard link to the reference file.
    (subs / "linked_folder").mkdir()
    (subs / "linked_folder" / "lessons").symlink_to(repo / "solutions", target_is_directory=True)
    (subs / "hard_link" / "lessons").mkdir(parents=True)
    os.link(repo / "solutions" / "lesson03_masking.py", subs / "hard_link" / "lessons" / "lesson03_masking.py")
    before = tree_hashes(repo)
    subs_before = {name: tree_hashes(subs / name) for name in ("perfect", "half")}
    reports = base / "reports"
    started = time.monotonic()
    done = _grade(repo, subs, reports, ",".join(map(str, LESSONS)))
    seconds = time.monotonic() - started
    right_after = tree_hashes(reports) if reports.exists() else {}
    time.sleep(6)     # longer than the daemon waits before it writes
    rows = {row["learner"]: row for row in csv.DictReader((reports / "class.csv").open())} \
        if (reports / "class.csv").exists() else {}
    reports_json = {path.stem: json.loads(path.read_text()) for path in reports.glob("*.json")}
    # The honest learners alone.
    alone = base / "alone"
    for name in ("perfect", "half"):
        shutil.copytree(subs / name, alone / name)
    done_alone = _grade(repo, alone, base / "reports-alone", ",".join(map(str, LESSONS)))
    rows_alone = {row["learner"]: row for row in csv.DictReader((base / "reports-alone" / "class.csv").open())} \
        if (base / "reports-alone" / "class.csv").exists() else {}
    return dict(repo=repo, subs=subs, reports=reports, done=done, before=before, rows=rows, json=reports_json,
                seconds=seconds, right_after=right_after, subs_before=subs_before, planted=planted,
                done_alone=done_alone, rows_alone=rows_alone)


@needs_bwrap
def test_grading_finishes_and_writes_every_report(graded):
    done = graded["done"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    names = {"perfect", "half", "linked_folder", "hard_link", *attacks(graded["repo"], graded["subs"])}
    assert set(graded["rows"]) == names
    for name in names:
        assert (graded["reports"] / f"{name}.md").exists() and (graded["reports"] / f"{name}.json").exists()
    assert "bubblewrap sandbox" in (graded["reports"] / "class.md").read_text()
    # It finished (the grading command's own timeout is the backstop against a hang); how
    # long it took depends on the machine's load, so it is reported, not judged.
    print(f"class graded in {graded['seconds']:.0f} s")


@needs_bwrap
def test_honest_learners_score_as_when_graded_alone(graded):
    rows, alone = graded["rows"], graded["rows_alone"]
    assert graded["done_alone"].returncode == 0, graded["done_alone"].stdout[-2000:]
    total = sum(points(n) for n in LESSONS)
    assert int(rows["perfect"]["earned"]) == total
    assert int(rows["half"]["earned"]) == points(3, "3.1")
    for name in ("perfect", "half"):
        columns = [c for c in rows[name] if c not in ("report", "tampering")]
        assert {c: rows[name][c] for c in columns} == {c: alone[name][c] for c in columns}
    assert "TODO" in (graded["reports"] / "half.md").read_text()


@needs_bwrap
@pytest.mark.parametrize("name", ["ref_import", "stack_inspection", "forged_file", "forged_pipe",
                                  "patched_libraries", "daemon", "bomb_and_flood"])
def test_an_attacker_scores_no_more_than_its_honest_work(graded, name):
    report = graded["json"][name]
    lesson3 = next(lesson for lesson in report["lessons"] if lesson["lesson"] == 3)
    assert lesson3["load_error"] is None, lesson3["load_error"]
    assert all(c["status"] != "PASS" for c in lesson3["checks"] if c["task"] == "3.2")
    assert report["earned"] <= points(3, "3.1")
    if name != "patched_libraries":       # patching json and numpy breaks its own worker: even 3.1 is lost
        assert lesson3["earned"] == points(3, "3.1"), [(c["task"], c["status"], c["message"])
                                                       for c in lesson3["checks"]]


@needs_bwrap
def test_what_the_attacks_ran_into(graded):
    def checks_of(name):
        report = graded["json"][name]
        return next(lesson for lesson in report["lessons"] if lesson["lesson"] == 3)["checks"]
    split = [c for c in checks_of("ref_import") if c["task"] == "3.2"]
    assert all(c["status"] == "ERROR" for c in split), split
    pipe = [c for c in checks_of("forged_pipe") if c["task"] == "3.2"]
    # Its worker exits at every call: after two deaths the lesson's remaining checks are not run.
    assert all(c["status"] in ("ERROR", "NOT RUN") for c in pipe) and any("cannot read" in c["message"]
                                                                         or "ended" in c["message"] for c in pipe)
    assert pipe[-1]["status"] == "NOT RUN" and pipe[-1]["earned"] == 0
    bomb = [c for c in checks_of("bomb_and_flood") if c["task"] == "3.2"]
    forked = [int(c["message"].split("forked ")[1].split()[0]) for c in bomb if "forked" in c["message"]]
    assert forked and max(forked) < 100, bomb
    assert all(len(c["output"]) <= 2000 for c in bomb)


@needs_bwrap
def test_refused_files_score_nothing_and_say_why(graded):
    for name, why in (("linked_folder", "lessons/ is a link"), ("hard_link", "hard links"),
                      ("huge", "larger than 1 MiB")):
        report = graded["json"][name]
        assert report["earned"] == 0
        assert any(why in note for note in report["notes"]), report["notes"]
    binary = graded["json"]["binary"]
    assert binary["earned"] == 0
    lesson3 = next(lesson for lesson in binary["lessons"] if lesson["lesson"] == 3)
    assert lesson3["load_error"] and ("cannot read" in lesson3["load_error"]
                                      or "fails when it is imported" in lesson3["load_error"])


@needs_bwrap
def test_instructor_tree_other_learners_and_reports_untouched(graded):
    assert tree_hashes(graded["repo"]) == graded["before"]          # __pycache__ included
    for name, before in graded["subs_before"].items():
        assert tree_hashes(graded["subs"] / name) == before
    # Nothing changed the reports after grading ended (the daemon waited for that), and
    # nothing it started is still running.
    assert tree_hashes(graded["reports"]) == graded["right_after"]
    assert daemons_alive() == []
    for report in graded["json"].values():
        assert report["tampering"] == [] and report["environment_changes"] == []
    assert "owned" not in (graded["reports"] / "class.csv").read_text()


@needs_bwrap
def test_planted_bytecode_in_the_instructor_tree_is_never_read(graded):
    assert graded["planted"].exists()
    assert graded["rows"]["half"]["earned"] == str(points(3, "3.1"))   # not the planted full marks


# ------------------------------------------------------------------ parts, without grading a class

def test_learner_files_never_follow_a_link(tmp_path):
    target = tmp_path / "reference"
    target.mkdir()
    (target / "lesson03_masking.py").write_text("REFERENCE = 1\n")
    linked = tmp_path / "a"
    linked.mkdir()
    (linked / "lessons").symlink_to(target, target_is_directory=True)
    files, notes = classroom.learner_lesson_files(linked)
    assert files == {} and "lessons/ is a link" in notes[0]
    own = tmp_path / "b" / "lessons"
    own.mkdir(parents=True)
    (own / "lesson03_masking.py").symlink_to(target / "lesson03_masking.py")
    os.link(target / "lesson03_masking.py", own / "lesson01_cleaning.py")
    (own / "lesson02_vocabularies.py").write_text("x" * (2 << 20))
    os.mkfifo(own / "lesson04_debiasing.py")
    (own / "lesson05_weights.py").write_text("MINE = 1\n")
    (own / "lesson06_training.py").mkdir()         # a folder named like a lesson file
    # The hard-linked file is refused when it is one of the instructor's files (the grader
    # passes their inodes), and graded when it is not: a hard link never costs its writer.
    reference = os.stat(target / "lesson03_masking.py")
    files, notes = classroom.learner_lesson_files(tmp_path / "b", frozenset({(reference.st_dev, reference.st_ino)}))
    assert files == {"lesson05_weights.py": b"MINE = 1\n"}
    text = " ".join(notes)
    for what in ("lesson03_masking.py is not a regular file", "lesson01_cleaning.py has other hard links",
                 "lesson02_vocabularies.py is larger", "lesson04_debiasing.py is not a regular file",
                 "lesson06_training.py is not a regular file"):
        assert what in text
    files, _ = classroom.learner_lesson_files(tmp_path / "b")
    assert files == {"lesson05_weights.py": b"MINE = 1\n", "lesson01_cleaning.py": b"REFERENCE = 1\n"}


def test_find_learners_and_lessons_option(tmp_path):
    single = checkout(tmp_path / "one", {1: stub(1)})
    assert classroom.find_learners(single) == [("one", single)]
    (tmp_path / "class").mkdir()
    for name in ("b", "a"):
        checkout(tmp_path / "class" / name, {1: stub(1)})
    (tmp_path / "class" / "not-a-checkout").mkdir()
    assert [name for name, _ in classroom.find_learners(tmp_path / "class")] == ["a", "b"]
    assert classroom.find_learners(tmp_path / "class" / "not-a-checkout") == []
    assert classroom.parse_lessons("1,2,3") == [1, 2, 3] and classroom.parse_lessons("2-4") == [2, 3, 4]
    assert classroom.parse_lessons("") == [lesson.number for lesson in index.lessons()]
    with pytest.raises(ValueError):
        classroom.parse_lessons("1,99")
    assert classroom.safe_name("Ana María / 2") == "Ana_Mar_a_2"
    assert classroom.report_stems(["class", "a b", "a_b"]) == {"class": "class_learner", "a b": "a_b", "a_b": "a_b-2"}


def test_cli_explains_a_missing_or_empty_submission(tmp_path, capsys):
    assert classroom.main([]) == 2 and "Which submission" in capsys.readouterr().out
    assert classroom.main([str(tmp_path / "nowhere")]) == 2
    with pytest.raises(SystemExit, match="holds no lessons/ folder"):
        classroom.main([str(tmp_path), "--reports", str(tmp_path / "reports"), "--no-sandbox"])


def test_without_bwrap_grading_refuses_unless_told_and_then_says_so(tmp_path, monkeypatch, capsys):
    import checks.sandbox as sandbox

    checkout(tmp_path / "class" / "ana", {2: solution(2)})
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: None)
    reports = tmp_path / "reports"
    assert classroom.main([str(tmp_path / "class"), "--reports", str(reports), "--lessons", "2"]) == 3
    out = capsys.readouterr().out
    assert "apt-get install bubblewrap" in out and "--no-sandbox" in out and not reports.exists()
    assert classroom.main([str(tmp_path / "class"), "--reports", str(reports), "--lessons", "2", "--no-sandbox"]) == 0
    assert "NO SANDBOX" in capsys.readouterr().out
    assert "NO SANDBOX" in (reports / "ana.md").read_text() and "NO SANDBOX" in (reports / "class.md").read_text()
    assert json.loads((reports / "ana.json").read_text())["earned"] == points(2)


def test_instructor_files_snapshot_detects_and_restores(tmp_path):
    root = tmp_path / "repo"
    (root / "checks" / "__pycache__").mkdir(parents=True)
    (root / "checks" / "a.py").write_text("A = 1\n")
    (root / "Makefile").write_text("all:\n")
    (root / "outputs").mkdir()
    snapshot = classroom.InstructorFiles(root)
    (root / "checks" / "a.py").write_text("A = 2\n")
    (root / "Makefile").unlink()
    (root / "checks" / "evil.py").write_text("")
    (root / "checks" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"planted")
    (root / "outputs" / "fine.txt").write_text("outputs/ is not the instructor's code")
    changed, _ = snapshot.changes()
    assert changed == ["Makefile (deleted)", "checks/a.py (edited)", "checks/__pycache__/a.cpython-311.pyc (added)",
                       "checks/evil.py (added)"]
    assert snapshot.restore(tmp_path / "kept") == []
    assert (root / "checks" / "a.py").read_text() == "A = 1\n" and (root / "Makefile").read_text() == "all:\n"
    assert not (root / "checks" / "evil.py").exists()
    assert not (root / "checks" / "__pycache__" / "a.cpython-311.pyc").exists()
    assert (tmp_path / "kept" / "checks" / "a.py").read_text() == "A = 2\n"
    assert snapshot.changes() == ([], [])
