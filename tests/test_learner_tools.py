"""The learner's tools: `make hint`, `make reset`, `make watch`, and the "done / next"
lines of `make check` and `make progress`. Everything works on temporary copies of the
lesson files; the repository's lessons/ and .backups/ are never touched."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from commands import check as grading
from commands import hints, reset, watch
from course import index
from course.paths import REPO
from course.stubgen import BEGIN, END, make_stub


def stub(number: int) -> str:
    lesson = index.lesson(number)
    return make_stub(lesson.solution_path.read_text(), lesson)


def partly_done(number: int, stubbed: set[str], wrong: dict[str, str] | None = None) -> str:
    """The solution of a lesson with the tasks in ``stubbed`` left as stubs, and the body of
    each task in ``wrong`` replaced by the given (wrong) line."""
    wrong = wrong or {}
    out, mode = [], None
    for line in index.lesson(number).solution_path.read_text().splitlines(keepends=True):
        begin = BEGIN.match(line)
        if begin:
            task, indent = begin["task"], begin["indent"]
            if task in stubbed:
                out.append(f'{indent}raise NotImplementedError("Lesson {task}: not yet")\n')
                mode = "skip"
            elif task in wrong:
                out.append(f"{indent}{wrong[task]}\n")
                mode = "skip"
            else:
                mode = "keep"
            continue
        if END.match(line):
            mode = None
            continue
        if mode != "skip":
            out.append(line)
    return "".join(out)


@pytest.fixture
def lessons_dir(tmp_path, monkeypatch):
    """A lessons/ folder holding every pristine stub, and hint state kept in tmp_path."""
    folder = tmp_path / "lessons"
    folder.mkdir()
    for lesson in index.lessons():
        (folder / f"{lesson.module}.py").write_text(stub(lesson.number))
    monkeypatch.setenv("COURSE_STATE_DIR", str(tmp_path / "state"))
    return folder


def write(folder: Path, number: int, text: str) -> Path:
    path = folder / f"{index.lesson(number).module}.py"
    path.write_text(text)
    return path


# ------------------------------------------------------------------ make hint

def test_hints_come_one_more_each_time_then_point_to_the_lesson_text(lessons_dir, capsys):
    task = index.task("1.2")
    outputs = []
    for _ in range(len(task.hints) + 1):
        assert hints.main(["1", "1.2"], folder=lessons_dir) == 0
        outputs.append(capsys.readouterr().out)
    for asked, out in enumerate(outputs[:-1], 1):
        assert f"Hint {asked} of {len(task.hints)} (new)" in out
        shown = [hint for hint in task.hints if hint[:40] in out.replace("\n    ", " ")]
        assert len(shown) == asked                       # every earlier hint, and one more
    assert "That was the last hint for task 1.2" in outputs[-2]
    assert "You have seen all" in outputs[-1] and "(new)" not in outputs[-1]
    assert "lessons/lesson01_cleaning.md" in outputs[-1] and "make check LESSON=1" in outputs[-1]
    assert hints.load_state() == {"1.2": len(task.hints)}
    # The count is per task: another task starts at hint 1; --reset starts over.
    hints.main(["1", "3"], folder=lessons_dir)
    assert "Hint 1 of" in capsys.readouterr().out
    hints.main(["1", "1.2", "--reset"], folder=lessons_dir)
    assert "starts again at hint 1" in capsys.readouterr().out
    assert hints.load_state() == {"1.3": 1}


def test_hint_without_task_on_a_fresh_stub_is_the_first_task_at_once(lessons_dir, capsys, monkeypatch):
    from checks import framework

    def no_checks(*args, **kwargs):
        raise AssertionError("a fresh stub needs no checks to know its first task")
    monkeypatch.setattr(framework, "grade_file", no_checks)
    assert hints.main(["3"], folder=lessons_dir) == 0
    out = capsys.readouterr().out
    assert "Task 3.1 is next" in out and "Hint 1 of" in out
    assert "Running the checks" not in out


def test_hint_without_task_finds_the_first_task_that_does_not_pass(lessons_dir, capsys):
    lesson = index.lesson(1)
    # 1.1 done, 1.2 written but wrong, 1.3 onwards not started: the answer is 1.2.
    write(lessons_dir, 1, partly_done(1, {"1.3", "1.4", "1.5"}, {"1.2": "return ratings['movieId'].value_counts()"}))
    task, why = hints.first_unfinished_task(lesson, lessons_dir)
    assert task.id == "1.2" and "do not all pass" in why
    # 1.1 and 1.2 done, the rest not started: 1.3, found by running only the checks of 1.1-1.2.
    write(lessons_dir, 1, partly_done(1, {"1.3", "1.4", "1.5"}))
    task, why = hints.first_unfinished_task(lesson, lessons_dir)
    assert task.id == "1.3" and "not started" in why
    # A file that does not load: a guess, and it says so.
    write(lessons_dir, 1, "def clean_ratings(:\n")
    task, why = hints.first_unfinished_task(lesson, lessons_dir)
    assert task.id == "1.1" and "guess" in why


def test_hint_when_every_task_passes_points_to_the_next_lesson(lessons_dir, capsys):
    write(lessons_dir, 2, index.lesson(2).solution_path.read_text())
    assert hints.main(["2"], folder=lessons_dir) == 0
    out = capsys.readouterr().out
    assert "Every task of lesson 2 passes" in out and "lesson 3" in out


@pytest.mark.parametrize("argv, expected", [([], "Which lesson?"), (["42"], "There is no lesson '42'"),
                                            (["1", "1.9"], "Lesson 1 has no task '1.9'")])
def test_hint_explains_a_wrong_lesson_or_task(argv, expected, lessons_dir, capsys):
    assert hints.main(argv, folder=lessons_dir) == 2
    assert expected in capsys.readouterr().out


def test_a_damaged_hint_state_file_starts_over(lessons_dir, capsys):
    hints.state_file().parent.mkdir(parents=True)
    hints.state_file().write_text("{not json")
    assert hints.main(["1", "1.1"], folder=lessons_dir) == 0
    assert "Hint 1 of" in capsys.readouterr().out and hints.load_state() == {"1.1": 1}


def test_hint_state_folder_is_git_ignored():
    assert ".progress/" in (REPO / ".gitignore").read_text().splitlines()
    assert hints.state_file().parent.name == ".progress" or "COURSE_STATE_DIR" in os.environ


# ------------------------------------------------------------------ make reset

def test_reset_backs_up_then_restores_the_stub(tmp_path):
    folder, backups = tmp_path / "lessons", tmp_path / ".backups"
    folder.mkdir()
    mine = "# my work\n" + stub(2).replace("raise NotImplementedError", "return {}  # raise NotImplementedError")
    path = write(folder, 2, mine)
    what, saved = reset.reset_lesson(2, folder, backups)
    assert what == "restored" and saved.parent == backups and saved.name.startswith("lesson02_vocabularies.")
    assert saved.read_text() == mine and path.read_text() == stub(2)
    text = reset.message(2, what, saved, folder)
    assert str(saved) in text and "nothing is lost" in text
    # Already the stub: nothing happens, no new backup.
    assert reset.reset_lesson(2, folder, backups) == ("unchanged", None)
    assert "already the pristine stub" in reset.message(2, "unchanged", None, folder)
    assert len(list(backups.iterdir())) == 1
    # Two resets in the same second never overwrite an earlier backup.
    for version in ("# one\n", "# two\n"):
        path.write_text(version)
        reset.reset_lesson(2, folder, backups)
    assert sorted(p.read_text() for p in backups.iterdir()) == sorted([mine, "# one\n", "# two\n"])


def test_reset_of_a_missing_file_creates_the_stub(tmp_path):
    folder = tmp_path / "lessons"
    what, saved = reset.reset_lesson(3, folder, tmp_path / ".backups")
    assert (what, saved) == ("created", None)
    assert (folder / "lesson03_masking.py").read_text() == stub(3)


def test_reset_command_line(tmp_path, monkeypatch, capsys):
    folder, backups = tmp_path / "lessons", tmp_path / ".backups"
    folder.mkdir()
    monkeypatch.setattr(reset, "LESSONS_DIR", folder)
    monkeypatch.setattr(reset, "BACKUP_DIR", backups)
    write(folder, 1, "print('hello')\n")
    assert reset.main(["1"]) == 0
    out = capsys.readouterr().out
    assert "is saved as" in out and "pristine stub again" in out
    assert reset.main(["1"]) == 0 and "nothing to do" in capsys.readouterr().out
    assert reset.main([]) == 2 and "Which lesson" in capsys.readouterr().out


# ------------------------------------------------------------------ make watch

def test_fingerprint_sees_a_change_with_the_same_size_and_time(tmp_path):
    path = tmp_path / "f.py"
    path.write_text("a = 1\n")
    before = watch.fingerprint(path)
    stat = path.stat()
    path.write_text("a = 2\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    after = watch.fingerprint(path)
    assert before[:2] == after[:2] and before != after
    assert watch.fingerprint(tmp_path / "missing.py") is None


def test_watch_runs_once_then_on_every_settled_change(tmp_path):
    path = tmp_path / "lesson.py"
    # What each look at the file sees: the initial look, then one per poll (plus one more to
    # let a change settle). A change seen twice in a row is a save; one that is still
    # changing is looked at again on the next poll.
    looks = iter(["v1",            # start
                  "v1",            # poll 1: nothing
                  "v2", "v2",      # poll 2: saved (settled): run
                  "v3", "v3b",     # poll 3: still being written
                  "v3b", "v3b",    # poll 4: settled: run
                  "v3b",           # poll 5: nothing
                  None, None])     # poll 6: deleted: run (the check says the file is missing)
    runs, sleeps = [], []
    count = watch.watch(path, runs.append, interval=1.0, settle=0.2, max_iterations=6,
                        sleep=sleeps.append, look=lambda _: next(looks))
    assert count == 4 and runs == [1, 2, 3, 4]
    assert sleeps.count(1.0) == 6 and all(s in (1.0, 0.2) for s in sleeps)


def _read_until(process, text: str, timeout: float) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(process.stdout.fileno(), 65536).decode()
            if not chunk:
                break
            seen += chunk
    return seen


def test_watch_command_rechecks_on_save_and_says_goodbye_on_ctrl_c(lessons_dir):
    process = subprocess.Popen([sys.executable, "-m", "commands.watch", "2", "--folder", str(lessons_dir),
                                "--interval", "0.2", "--no-clear"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT,
                               # Ctrl-C as in a terminal, even where this suite runs as a
                               # background job (which starts with SIGINT ignored).
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        # Generous backstops: they catch a hang, and a busy machine is never one.
        first = _read_until(process, "Ctrl-C to stop", 900)
        assert "First check" in first and "Score: 0/" in first
        write(lessons_dir, 2, index.lesson(2).solution_path.read_text())
        second = _read_until(process, "Ctrl-C to stop", 900)
        assert "check #2" in second and "Lesson 2 is done" in second, second
        process.send_signal(signal.SIGINT)
        # The watcher's own exit is the verdict (a check process it started may still hold
        # the output pipe for a moment, so the pipe's end is not awaited).
        rest = _read_until(process, "Goodbye", 900)
        assert process.wait(timeout=900) == 0
        assert "Goodbye" in rest and "Traceback" not in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# ------------------------------------------------------------------ make check / make progress

def test_done_line_and_next_lesson(lessons_dir):
    write(lessons_dir, 2, index.lesson(2).solution_path.read_text())
    result = grading.grade(2, lessons_dir)
    text = grading.next_step(result)
    assert text.startswith("Lesson 2 is done: 8/8 points") or "Lesson 2 is done" in text
    assert "Next: lesson 3" in text and "make check LESSON=3" in text


def test_next_step_for_a_file_that_does_not_load(lessons_dir):
    write(lessons_dir, 2, "def build_movie_index(:\n")
    text = grading.next_step(grading.grade(2, lessons_dir))
    assert "so that Python can load your file" in text and "make reset LESSON=2" in text


def test_progress_lists_every_lesson_points_and_the_next_lesson(lessons_dir, monkeypatch):
    write(lessons_dir, 1, index.lesson(1).solution_path.read_text())
    write(lessons_dir, 2, partly_done(2, {"2.3"}))
    graded, grade = [], grading.grade

    def counting_grade(number, *args, **kwargs):
        graded.append(number)
        return grade(number, *args, **kwargs)
    monkeypatch.setattr(grading, "grade", counting_grade)
    text, all_done = grading.progress(lessons_dir)
    assert not all_done
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()[:1].isdigit()}
    assert len(lines) == len(index.lessons())
    assert "17/17" in lines["1"] and "done" in lines["1"]
    assert "in progress" in lines["2"]
    assert all("not started" in lines[str(n)] for n in range(3, len(index.lessons()) + 1))
    assert "Next: lesson 2" in text and "Total:" in text and f"1 of {len(index.lessons())} lessons done" in text
    # Untouched stubs are not run: only lessons 1 and 2 are graded.
    assert graded == [1, 2]
