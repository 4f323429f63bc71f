"""`make grade`: the instructor grades learners' checkouts with the instructor's own checks.

The sample submissions are generated here from solutions/ and the stubs (never committed):
a perfect one, a half-done one, and an adversarial one that hangs, crashes, floods its
output, rewrites the reference and the checks at import time and edits the instructor's
files. Grading runs against a temporary copy of this repository, never against the real one.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from checks import classroom
from checks.framework import checks_for
from commands.check import grade
from course import index
from course.paths import REPO
from course.stubgen import make_stub

LESSONS = (1, 2, 3)
GRADE_OPTIONS = "--jobs 3 --timeout-scale 0.5 --import-timeout 12"


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


def checkout(folder: Path, files: dict[int, str]) -> Path:
    (folder / "lessons").mkdir(parents=True)
    for number, text in files.items():
        (folder / "lessons" / f"{index.lesson(number).module}.py").write_text(text)
    # A learner's checkout also holds (possibly edited) copies of the course's code; the
    # grader must never use them.
    (folder / "checks").mkdir()
    (folder / "checks" / "framework.py").write_text("raise SystemExit('the submission copy of checks/ was used')\n")
    (folder / "solutions").mkdir()
    (folder / "solutions" / "__init__.py").write_text("raise SystemExit('the submission copy of solutions/ was used')\n")
    return folder


def adversarial_lesson1(honest: bool = False) -> str:
    """Wrong clean_ratings and select_top_movies, os._exit in count_ratings_per_movie, an
    endless loop in keep_top_movie_ratings, a correct build_movie_maps; at import time it
    makes the reference agree with it, disables `expect`, empties the expected top movies
    and floods the output. ``honest``: the same functions without any of the attacks."""
    source = solution(1)
    source = replace_function(source, "clean_ratings", """
        def clean_ratings(ratings):
            return ratings
        """)
    source = replace_function(source, "select_top_movies", """
        def select_top_movies(counts, min_ratings_per_movie):
            return []
        """)
    if honest:  # 0 points either way, without the wait
        for name in ("count_ratings_per_movie", "keep_top_movie_ratings"):
            source = replace_function(source, name, f"""
                def {name}(*args):
                    raise NotImplementedError("same as crashing or hanging: no points")
                """)
        return source
    source = replace_function(source, "count_ratings_per_movie", """
        def count_ratings_per_movie(ratings):
            import os
            os._exit(0)
        """)
    source = replace_function(source, "keep_top_movie_ratings", """
        def keep_top_movie_ratings(ratings, top_movies):
            while True:
                pass
        """)
    return source + textwrap.dedent("""

        import solutions.lesson01_cleaning as _ref
        import checks.framework as _framework
        from checks import fixtures as _fixtures

        _ref.clean_ratings = clean_ratings                      # the reference now agrees with me
        _framework.expect = lambda condition, message: None     # and no property can fail
        _fixtures.stages().top_movies.clear()                   # nothing is expected of select_top_movies
        for _ in range(200_000):
            print("flooding the grader's output " * 4)
        """)


def adversarial_lesson2(instructor_root: Path) -> str:
    """Correct functions, except that build_movie_index also rewrites the reference when it
    is called; at import time it sabotages the instructor's repository and the grader's
    private copy of the checks."""
    source = solution(2).replace("def build_movie_index(", "def _build_movie_index(")
    return source + textwrap.dedent(f"""

        def build_movie_index(top_movies):
            import solutions.lesson02_vocabularies as ref
            ref.build_movie_index = lambda top: _build_movie_index(top)
            return _build_movie_index(top_movies)

        import pathlib as _pathlib
        import checks.lesson02_vocabularies as _checks

        if __name__.startswith("learner_"):   # not in the check's own fresh-process run
            _root = _pathlib.Path({str(instructor_root)!r})
            (_root / "solutions" / "lesson02_vocabularies.py").write_text("def build_movie_index(m):\\n    return {{}}\\n")
            (_root / "checks" / "lesson03_masking.py").unlink(missing_ok=True)
            (_root / "Makefile").write_text("grade:\\n\\techo everyone gets full marks\\n")
            _pathlib.Path(_checks.__file__).write_text("")
        """)


def adversarial_lesson3() -> str:
    return solution(3) + "\nwhile True:   # at the top level: the import never ends\n    pass\n"


def instructor_copy(target: Path) -> Path:
    """A copy of this repository (code and Makefile) whose .venv is the real one."""
    shutil.copytree(REPO, target, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "outputs", ".backups", ".progress", "__pycache__", ".pytest_cache",
        ".hypothesis", "data", "notebooks", "*.ipynb", "benchmarks"))
    (target / ".venv").symlink_to(REPO / ".venv")
    return target


def tree_hashes(root: Path) -> dict[str, str]:
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".venv", "__pycache__")]
        for name in files:
            path = Path(folder) / name
            out[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def points(number: int, task: str | None = None) -> int:
    return sum(c.points for c in checks_for(number) if task is None or c.task == task)


# ------------------------------------------------------------------ the class, graded once with `make grade`

@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    repo = instructor_copy(base / "instructor")
    subs = base / "submissions"
    checkout(subs / "adversarial", {1: adversarial_lesson1(), 2: adversarial_lesson2(repo), 3: adversarial_lesson3()})
    checkout(subs / "half", {1: solution(1), 2: stub(2), 3: solution(3)})
    checkout(subs / "perfect", {n: solution(n) for n in LESSONS})
    before = tree_hashes(repo)
    reports = base / "reports"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "GRADE_", "LESSON"))}
    done = subprocess.run(["make", "-s", "-C", str(repo), "-o", ".venv/.installed", "grade",
                           f"SUBMISSION={subs}", f"REPORTS={reports}", "LESSONS=1,2,3",
                           f"GRADE_OPTIONS={GRADE_OPTIONS}"],
                          capture_output=True, text=True, env=env, timeout=400)
    rows = {row["learner"]: row for row in csv.DictReader((reports / "class.csv").open())} \
        if (reports / "class.csv").exists() else {}
    reports_json = {name: json.loads((reports / f"{name}.json").read_text())
                    for name in ("adversarial", "half", "perfect") if (reports / f"{name}.json").exists()}
    return dict(repo=repo, subs=subs, reports=reports, done=done, before=before, rows=rows, json=reports_json)


def _lesson(report: dict, number: int) -> dict:
    return next(lesson for lesson in report["lessons"] if lesson["lesson"] == number)


def test_make_grade_writes_every_report(graded):
    done = graded["done"]
    assert done.returncode == 0, done.stdout + done.stderr
    reports = graded["reports"]
    for name in ("adversarial", "half", "perfect"):
        assert (reports / f"{name}.md").exists() and (reports / f"{name}.json").exists()
    assert (reports / "class.md").exists()
    assert set(graded["rows"]) == {"adversarial", "half", "perfect"}
    assert "Interference was reported for: adversarial" in done.stdout


def test_totals_per_learner_lesson_and_task(graded):
    rows, total = graded["rows"], sum(points(n) for n in LESSONS)
    perfect, half = rows["perfect"], rows["half"]
    assert (int(perfect["earned"]), int(perfect["possible"])) == (total, total)
    assert int(half["earned"]) == points(1) + points(3) and int(half["possible"]) == total
    assert half[f"lesson 2 (of {points(2)})"] == "0" and half[f"lesson 1 (of {points(1)})"] == str(points(1))
    assert half[f"task 3.2 (of {points(3, '3.2')})"] == str(points(3, "3.2"))
    assert perfect["tampering"] == "" and half["tampering"] == ""
    report = graded["json"]["perfect"]
    assert report["earned"] == total and all(lesson["passed"] for lesson in report["lessons"])
    assert report["tampering"] == [] and report["environment_changes"] == []
    markdown = (graded["reports"] / "half.md").read_text()
    assert f"**Total: {points(1) + points(3)}/{total} points" in markdown
    assert "Lesson 2" in markdown and "TODO" in markdown  # what did not pass, with its status


def test_adversary_is_scored_for_what_it_did_right(graded, tmp_path):
    report = graded["json"]["adversarial"]
    # Lesson 1: the same functions graded on their own, without the attacks, in a clean setting.
    honest = checkout(tmp_path / "honest", {1: adversarial_lesson1(honest=True)})
    expected = grade(1, honest / "lessons", timeout_scale=0.5)
    lesson1 = _lesson(report, 1)
    assert lesson1["earned"] == expected.earned > 0
    statuses = {c["title"]: c["status"] for c in lesson1["checks"]}
    by_task = {}
    for c in lesson1["checks"]:
        by_task.setdefault(c["task"], set()).add(c["status"])
    assert by_task["1.2"] == {"ERROR"}            # os._exit in the function
    assert by_task["1.4"] == {"TIMEOUT"}          # the endless loop
    assert "PASS" not in by_task["1.3"]           # emptying the expected top movies did not help
    assert by_task["1.5"] == {"PASS"}
    assert len(statuses) == len(lesson1["checks"])
    tamper = " ".join(lesson1["tampering"])
    assert "solutions.lesson01_cleaning.clean_ratings was replaced" in tamper
    assert "checks.framework.expect was replaced" in tamper
    assert "check data" in tamper
    assert len(lesson1["printed"]) <= 4000 and "flooding" in lesson1["printed"]
    # Lesson 2: correct functions score in full, except where the reference was rewritten
    # while a check ran; the sabotage is reported.
    lesson2 = _lesson(report, 2)
    assert lesson2["earned"] == points(2) - points(2, "2.1")
    assert {c["status"] for c in lesson2["checks"] if c["task"] == "2.1"} == {"FAIL"}
    assert any("during check 2.1" in t and "solutions.lesson02_vocabularies.build_movie_index was replaced" in t
               for t in lesson2["tampering"])
    assert any("checks/lesson02_vocabularies.py was edited on disk" in t for t in lesson2["tampering"])
    changed = " ".join(report["tampering"])
    for rel in ("solutions/lesson02_vocabularies.py (edited)", "checks/lesson03_masking.py (deleted)", "Makefile (edited)"):
        assert rel in changed
    # Lesson 3: an import that never ends scores 0 and says why.
    lesson3 = _lesson(report, 3)
    assert lesson3["earned"] == 0 and "did not finish importing" in lesson3["load_error"]
    assert report["earned"] == lesson1["earned"] + lesson2["earned"]
    markdown = (graded["reports"] / "adversarial.md").read_text()
    assert "Warning: interference with the grader" in markdown


def test_instructor_files_unchanged_and_sabotage_kept_aside(graded):
    assert tree_hashes(graded["repo"]) == graded["before"]
    kept = graded["reports"] / "tampered-files" / "adversarial"
    assert "return {}" in (kept / "solutions" / "lesson02_vocabularies.py").read_text()
    assert "full marks" in (kept / "Makefile").read_text()
    # The submissions' own copies of checks/ and solutions/ were never used (they exit at import).
    assert all(r["earned"] > 0 for r in graded["json"].values())


# ------------------------------------------------------------------ single lessons and parts

def _settings(**kw) -> classroom.Settings:
    return classroom.Settings(lessons=[2], **{"timeout_scale": 0.5, "import_timeout": 10, **kw})


def test_os_exit_at_import_is_a_crash_with_a_reason():
    files = {"lesson02_vocabularies.py": (solution(2) + "\nimport os\nos._exit(7)\n").encode()}
    code = classroom.InstructorFiles(REPO).private_code()
    result = classroom.grade_lesson(2, files, code, _settings())
    assert result.status == "crashed" and result.earned == 0
    assert all(c["status"] == "ERROR" for c in result.checks)
    assert "os._exit" in result.checks[0]["message"] and "exit code 7" in result.checks[0]["message"]


def test_a_hung_grading_process_is_killed_at_the_lesson_limit():
    files = {"lesson02_vocabularies.py": (solution(2) + "\nimport signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                                          "while True:\n    pass\n").encode()}
    code = classroom.InstructorFiles(REPO).private_code()
    result = classroom.grade_lesson(2, files, code, _settings(lesson_timeout=5, import_timeout=1))
    assert result.status == "timed out" and result.earned == 0
    assert all(c["status"] == "TIMEOUT" for c in result.checks)
    assert result.seconds < 15


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
        classroom.main([str(tmp_path), "--reports", str(tmp_path / "reports")])


def test_instructor_files_snapshot_detects_and_restores(tmp_path):
    root = tmp_path / "repo"
    (root / "checks").mkdir(parents=True)
    (root / "checks" / "a.py").write_text("A = 1\n")
    (root / "Makefile").write_text("all:\n")
    (root / "outputs").mkdir()
    snapshot = classroom.InstructorFiles(root)
    assert set(snapshot.private_code()) == {"checks/a.py"}
    (root / "checks" / "a.py").write_text("A = 2\n")
    (root / "Makefile").unlink()
    (root / "checks" / "evil.py").write_text("")
    (root / "outputs" / "fine.txt").write_text("outputs/ is not the instructor's code")
    changed, _ = snapshot.changes()
    assert changed == ["Makefile (deleted)", "checks/a.py (edited)", "checks/evil.py (added)"]
    assert snapshot.restore(tmp_path / "kept") == []
    assert (root / "checks" / "a.py").read_text() == "A = 1\n" and (root / "Makefile").read_text() == "all:\n"
    assert not (root / "checks" / "evil.py").exists()
    assert (tmp_path / "kept" / "checks" / "a.py").read_text() == "A = 2\n"
    assert snapshot.changes() == ([], [])


def test_guard_sees_and_undoes_changes_to_the_reference_and_checks(tmp_path):
    import torch

    import checks.framework as framework
    import solutions.lesson01_cleaning as ref

    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "x.py").write_text("X = 1\n")
    guard = classroom.Guard(tmp_path)
    assert guard.problems() == []
    original_clean, original_expect = ref.clean_ratings, framework.expect
    original_code = ref.count_ratings_per_movie.__code__
    try:
        ref.clean_ratings = lambda ratings: ratings
        framework.expect = lambda condition, message: None
        ref.count_ratings_per_movie.__code__ = (lambda ratings: None).__code__
        torch.set_default_dtype(torch.float64)
        (tmp_path / "checks" / "x.py").write_text("X = 2\n")
        found = " | ".join(guard.problems())
        for text in ("solutions.lesson01_cleaning.clean_ratings was replaced", "checks.framework.expect was replaced",
                     "the code of solutions.lesson01_cleaning.count_ratings_per_movie was changed",
                     "torch default dtype", "checks/x.py was edited on disk"):
            assert text in found
        guard.restore({"checks/x.py": b"X = 1\n"})
        assert guard.problems() == []
        assert ref.clean_ratings is original_clean and framework.expect is original_expect
        assert ref.count_ratings_per_movie.__code__ is original_code
        assert torch.get_default_dtype() == torch.float32
    finally:
        ref.clean_ratings, framework.expect = original_clean, original_expect
        ref.count_ratings_per_movie.__code__ = original_code
        torch.set_default_dtype(torch.float32)
