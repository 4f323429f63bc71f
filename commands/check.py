"""``make check LESSON=N [TASK=N.k]``: grade the learner's lesson file and say what to do next.

    python -m commands.check 3                     # lessons/lesson03_masking.py
    python -m commands.check 3 --task 3.2          # only task 3.2's checks
    python -m commands.check 3 --target solutions  # the reference (make check-solutions)
    python -m commands.check --progress            # every lesson's score
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from course import index
from course.paths import LESSONS_DIR, REPO, SOLUTIONS_DIR
from checks import honesty
from checks.framework import PASS, LessonResult, checks_for, grade_file

SYMBOL = {"PASS": "ok  ", "FAIL": "FAIL", "TODO": "TODO", "ERROR": "ERR ", "TIMEOUT": "TIME", "MISSING": "MISS",
          honesty.BORROWED: "REF "}


# What the learner is told after the last lesson: tests/test_promises.py ties each claim to the code.
LAST_LESSON_DONE = (
    "That was the last lesson: you have built the whole recommender, from raw ratings to recommendations for a "
    "brand-new user. Run `make demo` to train it on MovieLens with your own lessons 1-13 (its first lines say which "
    "lessons are yours and which code trains each model; any function still left as the stub runs the reference), "
    "then ask the autoencoder your lesson 13 trained for your own top 10, answered by your lessons 9 and 13: "
    "`make recommend LIKES=\"toy story; finding nemo\" LOVES=Animation HATES=Horror`. `make progress` shows your scores.")
EVERY_LESSON_PASSES = (
    "Every lesson passes. Well done: you have built the whole recommender. Try `make demo`: it trains every model "
    "with your own lessons 1-13 and saves the autoencoder your lesson 13 trained for `make recommend`.")

def _color(text: str, code: str) -> str:
    if os.environ.get("NO_COLOR") or not sys.stdout.isatty():
        return text
    return f"\033[{code}m{text}\033[0m"


def lesson_list() -> str:
    lines = ["Lessons (make check LESSON=N):"]
    for lesson in index.lessons():
        lines.append(f"  {lesson.number}  {lesson.title:<34} {len(lesson.tasks)} tasks, about {lesson.minutes} min")
    return "\n".join(lines)


def grade(number: int, folder: Path = LESSONS_DIR, tasks=None, **options) -> LessonResult:
    """The lesson's checks on the lesson file in ``folder`` (see checks.framework.grade_file)."""
    return grade_file(number, folder, tasks, **options)


def render(result: LessonResult, verbose_next: bool = True) -> str:
    lesson = index.lesson(result.lesson)
    out = [f"Lesson {lesson.number}: {lesson.title}  (checking {result.target})", ""]
    borrowed = honesty.borrowed_note(result)
    if borrowed:
        out += [_color("  " + line, "1;31") for line in borrowed.splitlines()] + [""]
    if result.load_error:
        out += [_color("  Your file could not be loaded:", "31"), *("    " + line for line in result.load_error.splitlines()), ""]
    for r in result.results:
        mark = _color(SYMBOL[r.status], "32" if r.status == PASS else "31" if r.status != "TODO" else "33")
        line = f"  {mark} {r.task:<5} {r.earned}/{r.points}  {r.title}"
        if r.status == PASS and r.detail:
            line += f"  ({r.detail})"
        out.append(line)
        if r.status != PASS and not result.load_error:
            for text in r.message.splitlines():
                out.append(f"              {text}")
            if r.output:
                out.append("              your code printed:")
                out += [f"                | {text}" for text in r.output.splitlines()[:12]]
    out += ["", f"  Score: {result.earned}/{result.possible}"]
    if verbose_next:
        out += ["", next_step(result)]
    return "\n".join(out)


def next_step(result: LessonResult) -> str:
    """What the learner should do now: a clear "done" line and the next lesson, or the
    first task that does not pass yet."""
    lesson = index.lesson(result.lesson)
    if result.tasks is not None and result.passed:
        return _tasks_pass(result)
    if result.passed:
        done = _color(f"Lesson {lesson.number} is done: {result.earned}/{result.possible} points.", "1;32")
        following = index.next_lesson(lesson.number)
        if following is None:
            return (done + "\n" + LAST_LESSON_DONE)
        read = (f"read {following.text_path.relative_to(REPO)}, " if following.text_path.exists() else "")
        return (f"{done}\nNext: lesson {following.number}, {following.title} (about {following.minutes} min): "
                f"{read}fill in {following.stub_path.relative_to(REPO)}, then run "
                f"`make check LESSON={following.number}` (or `make watch LESSON={following.number}`).")
    if result.load_error:
        return ("Next: fix the problem above so that Python can load your file, then run the check again "
                f"(`make reset LESSON={lesson.number}` brings back the stub; your file is backed up first).")
    first = next((r for r in result.results if r.status != PASS), None)
    if first is None:
        return "Fix the problem above, then run the check again."
    passed_tasks = _passed_tasks(result)
    so_far = f"{len(passed_tasks)} of {len(lesson.tasks)} tasks pass so far. " if passed_tasks else ""
    if first.status == honesty.BORROWED:
        return (f"{so_far}Next: write task {first.task} yourself in {lesson.stub_path.relative_to(REPO)}, "
                f"without solutions.{lesson.module} or the checks (`make hint LESSON={lesson.number} "
                f"TASK={first.task}` helps).")
    if first.status == "TODO":
        return (f"{so_far}Next: task {first.task} in {lesson.stub_path.relative_to(REPO)} "
                f"(stuck? `make hint LESSON={lesson.number} TASK={first.task}`).")
    return (f"{so_far}Next: fix task {first.task} first; later tasks often follow from it "
            f"(`make hint LESSON={lesson.number} TASK={first.task}` for a hint).")


def _tasks_pass(result: LessonResult) -> str:
    """After `make check LESSON=N TASK=N.k` passes: that task is done, what comes next."""
    lesson = index.lesson(result.lesson)
    chosen = ", ".join(result.tasks)
    done = _color(f"Task {chosen} passes: {result.earned}/{result.possible} points.", "1;32")
    order = [task.id for task in lesson.tasks]
    later = lesson.tasks[max(order.index(task) for task in result.tasks) + 1:]
    if later:
        return (f"{done}\nNext: task {later[0].id} ({later[0].title}): `make check LESSON={lesson.number} "
                f"TASK={later[0].id}`, or `make check LESSON={lesson.number}` for the whole lesson.")
    return f"{done}\nNext: `make check LESSON={lesson.number}` grades the whole lesson."


def _passed_tasks(result: LessonResult) -> list[str]:
    by_task: dict[str, bool] = {}
    for r in result.results:
        by_task[r.task] = by_task.get(r.task, True) and r.status == PASS
    return [task for task, ok in by_task.items() if ok]


def is_pristine_stub(number: int, folder: Path = LESSONS_DIR) -> bool:
    """True when the lesson file is exactly the generated stub (nothing written yet)."""
    from course.stubgen import make_stub

    lesson = index.lesson(number)
    path = folder / f"{lesson.module}.py"
    try:
        return path.read_text() == make_stub(lesson.solution_path.read_text(), lesson)
    except (OSError, UnicodeDecodeError):
        return False


def possible_points(number: int) -> int:
    return sum(item.points for item in checks_for(number))


def progress(folder: Path = LESSONS_DIR) -> tuple[str, bool]:
    """Every lesson's points and state, then the next lesson to do. A lesson whose file is
    still the untouched stub is not run (it scores 0), so a fresh checkout answers at once."""
    all_lessons = index.lessons()
    width = max(len(lesson.title) for lesson in all_lessons)
    lines = ["Progress:", ""]
    next_todo = None
    earned = possible = done = 0
    for lesson in all_lessons:
        if is_pristine_stub(lesson.number, folder):
            got, out_of, state, passed = 0, possible_points(lesson.number), "not started", False
        else:
            result = grade(lesson.number, folder)
            got, out_of, passed = result.earned, result.possible, result.passed
            state = ("done" if passed else "cannot be loaded" if result.load_error
                     else "not started" if got == 0 else "in progress")
        mark = _color("done", "32") if passed else state
        lines.append(f"  {lesson.number}  {lesson.title:<{width}}  {got:>3}/{out_of:<3}  {mark}")
        earned, possible, done = earned + got, possible + out_of, done + passed
        if not passed and next_todo is None:
            next_todo = lesson
    lines += ["", f"  Total: {earned}/{possible} points; {done} of {len(all_lessons)} lessons done.", ""]
    if next_todo:
        lines.append(f"Next: lesson {next_todo.number}, {next_todo.title}: `make check LESSON={next_todo.number}` "
                     f"(`make hint LESSON={next_todo.number}` if you are stuck).")
    else:
        lines.append(EVERY_LESSON_PASSES)
    return "\n".join(lines), next_todo is None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade a lesson.")
    parser.add_argument("lesson", nargs="?", default="", help="lesson number")
    parser.add_argument("--target", choices=["lessons", "solutions"], default="lessons")
    parser.add_argument("--task", default="", help="only this task's checks, e.g. 5.2 (or 2)")
    parser.add_argument("--progress", action="store_true", help="score every lesson")
    args = parser.parse_args(argv)
    folder = SOLUTIONS_DIR if args.target == "solutions" else LESSONS_DIR
    if args.progress:
        text, done = progress(folder)
        print(text)
        return 0
    numbers = [lesson.number for lesson in index.lessons()]
    if args.lesson in ("", "all") and args.target == "solutions":
        failed = 0
        for number in numbers:
            result = grade(number, folder)
            print(render(result, verbose_next=False), end="\n\n")
            failed += not result.passed
        print(f"{len(numbers) - failed} of {len(numbers)} lessons pass on solutions/.")
        return 1 if failed else 0
    try:
        number = int(args.lesson)
        index.lesson(number)
    except (ValueError, KeyError):
        if args.lesson:
            print(f"There is no lesson {args.lesson!r}.\n")
        else:
            print("Which lesson? Give its number, e.g. `make check LESSON=1`.\n")
        print(lesson_list())
        return 2
    lesson = index.lesson(number)
    tasks = None
    if args.task:
        try:
            tasks = (index.parse_task(lesson, args.task).id,)
        except KeyError as e:
            message = e.args[0]
            print(message[0].upper() + message[1:])
            return 2
    result = grade(number, folder, tasks)
    print(render(result))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
