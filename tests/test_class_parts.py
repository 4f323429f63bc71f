"""The classroom grader's parts, each on its own (`make grade`): the pool of forked children,
reading a checkout whatever it holds, files shared between learners, a file still the stub,
a file that is the reference's code, a lesson whose worker keeps dying, and the default
number of jobs. Sharded grading is tests/test_class_shards.py; the attacks are
tests/test_classroom.py."""
from __future__ import annotations

import os
import re
import time

import pytest

from checks import class_copies, class_files, classroom
from checks.class_grades import NOT_RUN, NOT_STARTED
from checks.class_lesson import grade_lesson_here
from checks.class_limits import Settings, default_jobs
from checks.class_reports import learner_markdown
from checks.sandbox import bwrap_works
from course import index
from course.paths import REPO
from course.processes import fork_each
from course.stubgen import make_stub

BWRAP, _ = bwrap_works()


def solution(number: int) -> str:
    return index.lesson(number).solution_path.read_text()


def stub(number: int) -> str:
    lesson = index.lesson(number)
    return make_stub(lesson.solution_path.read_text(), lesson)


# ------------------------------------------------------------------ the pool

def test_the_pool_returns_every_end_in_order_and_kills_at_the_deadline():
    swept = []

    def work(i):
        def run():
            if i == 2:
                time.sleep(60)          # killed at its deadline
            if i == 3:
                os._exit(7)             # dies without a result
            return 0, f"result {i}".encode()
        return run

    ends = fork_each([work(i) for i in range(5)], jobs=2, timeouts=[30, 30, 1, 30, 30], after=swept.append)
    assert [e.payload for e in ends] == [b"result 0", b"result 1", b"", b"", b"result 4"]
    assert [e.timed_out for e in ends] == [False, False, True, False, False]
    assert ends[3].exit_code == 7 and ends[2].exit_code == -9
    assert len(swept) == 5            # every child was reaped, then swept


# ------------------------------------------------------------------ reading a checkout

def test_whatever_a_checkout_holds_is_a_note_never_an_error(tmp_path):
    lessons = tmp_path / "odd" / "lessons"
    lessons.mkdir(parents=True)
    (lessons / "lesson01_cleaning.py").mkdir()                     # a folder where the file should be
    (lessons / "lesson02_vocabularies.py").write_text("A = 1\n")
    (lessons / "lesson03_masking.py").write_text("B = 1\n")
    os.chmod(lessons / "lesson03_masking.py", 0)                   # unreadable (unless we are root)
    files, notes = class_files.learner_lesson_files(tmp_path / "odd")
    assert files.get("lesson02_vocabularies.py") == b"A = 1\n"
    assert any("lesson01_cleaning.py is not a regular file" in note for note in notes)
    if os.getuid() != 0:
        assert any("lesson03_masking.py" in note for note in notes)
    # lessons/ that cannot be listed
    closed = tmp_path / "closed" / "lessons"
    closed.mkdir(parents=True)
    os.chmod(closed, 0)
    try:
        files, notes = class_files.learner_lesson_files(tmp_path / "closed")
        assert files == {} or os.getuid() == 0
    finally:
        os.chmod(closed, 0o755)


def test_a_file_two_learners_share_is_flagged_for_both(tmp_path):
    for name in ("ana", "bea", "cy"):
        (tmp_path / name / "lessons").mkdir(parents=True)
    (tmp_path / "ana" / "lessons" / "lesson02_vocabularies.py").write_text("MINE = 1\n")
    os.link(tmp_path / "ana" / "lessons" / "lesson02_vocabularies.py",
            tmp_path / "bea" / "lessons" / "lesson02_vocabularies.py")
    (tmp_path / "cy" / "lessons" / "lesson02_vocabularies.py").write_text("MINE = 1\n")   # equal, not shared
    learners = class_files.find_learners(tmp_path)
    notes = class_files.shared_files(learners)
    assert set(notes) == {"ana", "bea"}
    assert "bea's lessons/lesson02_vocabularies.py" in notes["ana"][0]
    assert "ana's lessons/lesson02_vocabularies.py" in notes["bea"][0]
    # ...and both are graded on it: neither is refused.
    for name in ("ana", "bea"):
        files, refused = class_files.learner_lesson_files(tmp_path / name)
        assert files == {"lesson02_vocabularies.py": b"MINE = 1\n"} and refused == []


# ------------------------------------------------------------------ what a file is

def test_the_stub_is_not_started_and_needs_no_sandbox(tmp_path):
    settings = Settings(lessons=[2], sandbox=False)
    grade = grade_lesson_here(2, stub(2).encode(), settings)
    assert grade.status == NOT_STARTED and grade.earned == 0 and grade.not_started
    assert {c["status"] for c in grade.checks} == {"TODO"}     # as make check says of a stub
    assert grade.seconds == 0.0                                 # no sandbox was started


def test_a_not_started_lesson_is_one_line_of_the_report():
    settings = Settings(lessons=[1, 2, 3], sandbox=False)
    learner = classroom.LearnerGrade("pristine", "/nowhere", [grade_lesson_here(n, stub(n).encode(), settings)
                                                               for n in (1, 2, 3)])
    text = learner_markdown(learner, "today", "abc")
    assert text.count("not started") == 3
    assert "## Lesson" not in text and "TODO" not in text
    assert len(text.splitlines()) < 20


def test_the_reference_copied_is_noted_not_zeroed():
    for number in (2, 3):
        ref = solution(number)
        assert "BEGIN/END SOLUTION markers" in class_copies.reference_copy(number, ref.encode())
        # Without the markers, other comments and docstrings, other spacing: still the same code.
        bare = re.sub(r"\n\s*# (BEGIN|END) SOLUTION[^\n]*", "", ref)
        bare = re.sub(r"^( +)return", r"\1# mine\n\n\1return", bare, flags=re.MULTILINE)
        note = class_copies.reference_copy(number, bare.encode())
        assert note and "every function" in note, note
        assert class_copies.reference_copy(number, stub(number).encode()) is None
    # Another lesson's reference under this lesson's name is not this lesson's reference.
    assert class_copies.reference_copy(3, solution(2).encode()) is None
    # One function written another way: only the others are named.
    other = re.sub(r"\n\s*# (BEGIN|END) SOLUTION[^\n]*", "", solution(3))
    other = other.replace("rng", "generator")
    note = class_copies.reference_copy(3, other.encode())
    assert note is None or "every function" not in note
    # Anything at all (not Python, not text) is simply not a copy.
    assert class_copies.reference_copy(3, b"\xff\xfe" * 100) is None
    assert class_copies.reference_copy(3, b"(" * 10_000) is None


# ------------------------------------------------------------------ a worker that keeps dying

def test_after_two_deaths_the_remaining_checks_are_not_run():
    dying = stub(2)
    for name in ("build_movie_index", "build_genre_index", "build_user_context_index"):
        dying = dying.replace(f"def {name}(", f"def {name}(*a, **k):\n    import os; os._exit(1)\n\n\ndef _{name}(")
    settings = Settings(lessons=[2], sandbox=BWRAP, import_timeout=10)
    grade = grade_lesson_here(2, dying.encode(), settings)
    statuses = [c["status"] for c in grade.checks]
    assert statuses.count("ERROR") <= 2 and NOT_RUN in statuses, statuses
    assert statuses[-1] == NOT_RUN and grade.earned == 0
    assert grade.restarts <= 1                     # never a third worker
    not_run = next(c for c in grade.checks if c["status"] == NOT_RUN)
    assert "ended 2 times" in not_run["message"] and "0 points" in not_run["message"]


# ------------------------------------------------------------------ jobs

def test_jobs_default_to_the_usable_cores_as_the_documentation_says():
    assert classroom._parser().parse_args([]).jobs == default_jobs() == len(os.sched_getaffinity(0))
    doc = " ".join((REPO / "docs" / "grading.md").read_text().split())
    assert "the default is the number of cores the grader may use" in doc


def test_a_checkout_that_cannot_be_looked_into_is_a_learner_with_a_note(tmp_path, monkeypatch):
    from pathlib import Path

    for name in ("ana", "locked"):
        (tmp_path / name / "lessons").mkdir(parents=True)
    looked = Path.is_dir

    def is_dir(self):                       # what a folder without read permission does for a non-root user
        if "locked" in self.parts:
            raise PermissionError(13, "Permission denied", str(self))
        return looked(self)
    monkeypatch.setattr(Path, "is_dir", is_dir)
    assert [name for name, _ in class_files.find_learners(tmp_path)] == ["ana", "locked"]
    # Whatever reading a checkout raises is that learner's note, not the end of grading.
    def unreadable(checkout, refused):
        raise PermissionError(13, "Permission denied", str(checkout))
    monkeypatch.setattr(classroom, "learner_lesson_files", unreadable)
    files, notes = classroom._read_learner("locked", tmp_path / "locked", frozenset())
    assert files == {} and "could not be read (PermissionError" in notes[0]
