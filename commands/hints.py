"""``make hint LESSON=N [TASK=N.k]``: progressive hints, one more each time you ask.

The hints live in course/index.toml, in order from a gentle nudge to a near-recipe; none
of them is the answer. How many of a task's hints you have seen is remembered in
.progress/hints.json (git-ignored), so asking again shows the next one.

Without TASK, the hint is for the first task of the lesson that does not pass yet. To find
it quickly we look at your file first: a task whose stub line ``raise NotImplementedError(
"Lesson N.k ...")`` is still there is not started, so only the checks of the tasks before
the first such task are run (none at all on a fresh stub), stopping at the first failure.

    python -m commands.hints 1          # the first unfinished task of lesson 1
    python -m commands.hints 1 1.3      # task 1.3 (``3`` works too)
    python -m commands.hints 1 1.3 --reset   # forget which hints of task 1.3 you have seen
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from pathlib import Path

from course import index
from course.config import environment
from course.paths import LESSONS_DIR, REPO, relative


def state_file() -> Path:
    """Where the hint counts are kept (``COURSE_STATE_DIR`` overrides the folder, for tests)."""
    folder = Path(environment("COURSE_STATE_DIR") or REPO / ".progress")
    return folder / "hints.json"


def load_state(path: Path | None = None) -> dict[str, int]:
    path = path or state_file()
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # no file yet, or a damaged one: start counting again
    if not isinstance(raw, dict):
        return {}
    return {str(k): int(v) for k, v in raw.items() if isinstance(v, int) and v >= 0}


def save_state(state: dict[str, int], path: Path | None = None) -> None:
    path = path or state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(state.items())), indent=1) + "\n")
    os.replace(tmp, path)  # atomic: an interrupted write never leaves half a file


def not_started_tasks(lesson: index.Lesson, folder: Path = LESSONS_DIR) -> list[str]:
    """Tasks whose stub line is still in the learner's file (cheap: no checks run)."""
    path = folder / f"{lesson.module}.py"
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return []
    return [task.id for task in lesson.tasks if f'raise NotImplementedError("Lesson {task.id}' in text]


def first_unfinished_task(lesson: index.Lesson, folder: Path = LESSONS_DIR,
                          announce=None) -> tuple[index.Task | None, str]:
    """The first task that does not pass yet, and a note on how we know.

    Returns (None, note) when every task passes."""
    from checks.framework import PASS, grade_file

    untouched = not_started_tasks(lesson, folder)
    order = [task.id for task in lesson.tasks]
    stop_at = order.index(untouched[0]) if untouched else len(order)
    to_check = order[:stop_at]
    if not to_check:
        return lesson.tasks[0], "it is the first task and it is not started yet"
    if announce:
        announce(f"(Running the checks of lesson {lesson.number} to find the first task that does not pass yet...)")
    result = grade_file(lesson.number, folder, tasks=to_check, stop_at_first_failure=True)
    if result.load_error:
        first = lesson.task(untouched[0]) if untouched else lesson.tasks[0]
        return first, "your file cannot be loaded right now (`make check` shows why), so this is a guess"
    failing = next((r for r in result.results if r.status != PASS), None)
    if failing is not None:
        return lesson.task(failing.task), "it is the first task whose checks do not all pass"
    if untouched:
        return lesson.task(untouched[0]), "the tasks before it pass and it is not started yet"
    return None, "every task passes"


def show_hints(task: index.Task, lesson: index.Lesson, state: dict[str, int]) -> tuple[str, dict[str, int]]:
    """The text to print for one more hint of ``task``, and the updated state."""
    total = len(task.hints)
    seen = min(state.get(task.id, 0), total)
    where = f"function `{task.function}` in {relative(lesson.stub_path)}"
    out = [f"Lesson {lesson.number}, task {task.id}: {task.title}", f"({where})", ""]
    text = (f"{relative(lesson.text_path)}, task {task.id}" if lesson.text_path.exists()
            else f"the docstring of `{task.function}` in {relative(lesson.stub_path)}")
    if total == 0:
        out.append(f"This task has no hints yet. Read {text}: it explains what the function must return.")
        return "\n".join(out), state
    shown = min(seen + 1, total)
    for number, hint in enumerate(task.hints[:shown], 1):
        label = f"Hint {number} of {total}" + (" (new)" if number == shown and seen < total else "")
        wrapped = textwrap.fill(hint, width=88, initial_indent="    ", subsequent_indent="    ")
        out += [f"  {label}:", wrapped, ""]
    new_state = dict(state)
    new_state[task.id] = shown
    if shown < total:
        left = total - shown
        out.append(f"Try it, then run `make check LESSON={lesson.number}`. Still stuck? Ask again: "
                   f"`make hint LESSON={lesson.number} TASK={task.id}` ({left} more hint{'s' * (left != 1)}).")
    elif seen < total:
        out.append(f"That was the last hint for task {task.id}. If it still does not click, read {text} "
                   f"once more, slowly: it explains the idea step by step. The messages of "
                   f"`make check LESSON={lesson.number}` say which property is still wrong.")
    else:
        out.append(f"You have seen all {total} hints for task {task.id} (all of them are above). "
                   f"The next step is {text}, which explains the idea step by step, and the "
                   f"messages of `make check LESSON={lesson.number}`, which say which property is still wrong. "
                   f"(`python -m commands.hints {lesson.number} {task.id} --reset` starts the hints over.)")
    return "\n".join(out), new_state


def lesson_list() -> str:
    lines = ["Lessons:"]
    for lesson in index.lessons():
        tasks = ", ".join(task.id for task in lesson.tasks)
        lines.append(f"  {lesson.number}  {lesson.title}  (tasks {tasks})")
    return "\n".join(lines)


def main(argv: list[str] | None = None, folder: Path | None = None) -> int:
    folder = LESSONS_DIR if folder is None else folder
    parser = argparse.ArgumentParser(description="One more hint each time you ask.")
    parser.add_argument("lesson", nargs="?", default="", help="lesson number")
    parser.add_argument("task", nargs="?", default="", help="task id, e.g. 1.3 (default: the first unfinished task)")
    parser.add_argument("--reset", action="store_true", help="forget which hints of this task (or lesson) you have seen")
    args = parser.parse_args(argv)
    try:
        lesson = index.lesson(int(args.lesson))
    except (ValueError, KeyError):
        print(f"There is no lesson {args.lesson!r}.\n" if args.lesson else
              "Which lesson? For example `make hint LESSON=1` (or `make hint LESSON=1 TASK=1.2`).\n")
        print(lesson_list())
        return 2
    state = load_state()
    if args.task:
        try:
            task = index.parse_task(lesson, args.task)
        except KeyError as e:
            message = e.args[0]
            print(message[0].upper() + message[1:])
            return 2
    elif args.reset:
        task = None
    else:
        task, why = first_unfinished_task(lesson, folder, announce=lambda text: print(text, flush=True))
        if task is None:
            following = index.next_lesson(lesson.number)
            print(f"Every task of lesson {lesson.number} passes: no hint needed. "
                  + (f"Next: lesson {following.number}, {following.title} (`make hint LESSON={following.number}` "
                     f"when you need one)." if following else "That was the last lesson. Well done."))
            return 0
        print(f"Task {task.id} is next ({why}).\n")
    if args.reset:
        ids = [task.id] if task else [t.id for t in lesson.tasks]
        for task_id in ids:
            state.pop(task_id, None)
        save_state(state)
        print(f"Forgot the hints you had seen for {'task ' + task.id if task else f'lesson {lesson.number}'}; "
              f"the next `make hint` starts again at hint 1.")
        return 0
    text, state = show_hints(task, lesson, state)
    print(text)
    save_state(state)
    return 0


if __name__ == "__main__":
    sys.exit(main())
