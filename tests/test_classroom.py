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
import json
import os
import shutil
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from benchmarks.hostile_attacks import DAEMON_MARK, instructor_copy, plant_bytecode, replace_function, split_attacks
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


# ------------------------------------------------------------------ builders

def solution(number: int) -> str:
    return index.lesson(number).solution_path.read_text()


def stub(number: int) -> str:
    lesson = index.lesson(number)
    return make_stub(lesson.solution_path.read_text(), lesson)


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
    """One submission per attack family (benchmarks/hostile_attacks.py). Absolute paths of the
    instructor's copy, of the other learners and of the reports are written into the attacks,
    as a real attacker who knows the layout would."""
    victim = subs / "perfect" / "lessons" / "lesson03_masking.py"
    reports = subs.parent / "reports"
    targets = [repo / "solutions" / "lesson03_masking.py", repo / "Makefile", victim, reports / "class.csv",
               reports / "perfect.md", repo / "checks" / "__pycache__" / "lesson03_masking.cpython-311.pyc"]
    ref_path = str(repo / "solutions" / "lesson03_masking.py")
    built: dict[str, str | bytes] = {name: attack(body, at_import)
                                     for name, (body, at_import) in split_attacks(targets, ref_path).items()}
    # A file far over the size limit, and one that is not text at all.
    built["huge"] = honest_part() + "\n#" + "x" * (2 << 20) + "\n"
    built["binary"] = b"\x00\x01\xff\xfe" * 4096
    return built


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
