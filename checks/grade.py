"""``make check LESSON=N``: grade the learner's lesson file and say what to do next.

    python -m checks.grade 3                     # lessons/lesson03_masking.py
    python -m checks.grade 3 --target solutions  # the reference (make check-solutions)
    python -m checks.grade --progress            # every lesson's score
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from course import index
from course.paths import LESSONS_DIR, REPO, SOLUTIONS_DIR
from checks.framework import PASS, LessonResult, load_file, run_lesson

SYMBOL = {"PASS": "ok  ", "FAIL": "FAIL", "TODO": "TODO", "ERROR": "ERR ", "TIMEOUT": "TIME", "MISSING": "MISS"}


def _color(text: str, code: str) -> str:
    if os.environ.get("NO_COLOR") or not sys.stdout.isatty():
        return text
    return f"\033[{code}m{text}\033[0m"


def lesson_list() -> str:
    lines = ["Lessons (make check LESSON=N):"]
    for lesson in index.lessons():
        lines.append(f"  {lesson.number}  {lesson.title:<34} {len(lesson.tasks)} tasks, about {lesson.minutes} min")
    return "\n".join(lines)


def grade(number: int, folder: Path = LESSONS_DIR, isolate: bool = True, **kwargs) -> LessonResult:
    lesson = index.lesson(number)
    path = folder / f"{lesson.module}.py"
    module, error = load_file(path, f"learner_{lesson.module}")
    return run_lesson(number, module, path, error, isolate=isolate, **kwargs)


def render(result: LessonResult, verbose_next: bool = True) -> str:
    lesson = index.lesson(result.lesson)
    out = [f"Lesson {lesson.number}: {lesson.title}  (checking {result.target})", ""]
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
    lesson = index.lesson(result.lesson)
    if result.passed:
        following = index.next_lesson(lesson.number)
        done = f"Lesson {lesson.number} is done."
        if following is None:
            return done + " That was the last lesson: you have built the whole recommender. Try `make demo`."
        return (f"{done} Next: lesson {following.number}, {following.title}. Read "
                f"{following.text_path.relative_to(REPO)}, then run `make check LESSON={following.number}`.")
    first = next(r for r in result.results if r.status != PASS) if result.results else None
    if first is None:
        return "Fix the problem above, then run the check again."
    if first.status == "TODO":
        return (f"Next: task {first.task} in {lesson.stub_path.relative_to(REPO)} "
                f"(stuck? `make hint LESSON={lesson.number} TASK={first.task}`).")
    return (f"Next: fix task {first.task} first; later tasks often follow from it "
            f"(`make hint LESSON={lesson.number} TASK={first.task}` for a hint).")


def progress(folder: Path = LESSONS_DIR) -> tuple[str, bool]:
    lines = ["Progress:", ""]
    next_todo = None
    all_done = True
    for lesson in index.lessons():
        result = grade(lesson.number, folder)
        state = "done" if result.passed else ("not started" if result.earned == 0 else "in progress")
        lines.append(f"  {lesson.number}  {lesson.title:<34} {result.earned:>3}/{result.possible:<3} {state}")
        if not result.passed:
            all_done = False
            next_todo = next_todo or lesson
    lines.append("")
    if next_todo:
        lines.append(f"Next: lesson {next_todo.number}, {next_todo.title}: `make check LESSON={next_todo.number}`.")
    else:
        lines.append("Every lesson passes. Well done.")
    return "\n".join(lines), all_done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade a lesson.")
    parser.add_argument("lesson", nargs="?", default="", help="lesson number")
    parser.add_argument("--target", choices=["lessons", "solutions"], default="lessons")
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
    result = grade(number, folder)
    print(render(result))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
