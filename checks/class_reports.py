"""The reports of `make grade`, written by the grader only, after every sandbox has ended:
``<learner>.md`` to read, ``<learner>.json`` for a script, ``class.csv`` for a gradebook and
``class.md`` for the class at a glance."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from checks.class_files import safe_name
from checks.class_grades import GRADED, NOT_STARTED, LearnerGrade
from checks.class_limits import planned_checks
from course import index

NO_SANDBOX = ("NO SANDBOX: graded with --no-sandbox, so the learners' code ran as the grader's user, with "
              "this machine's files and network within its reach; these grades are only as trustworthy as "
              "the code that produced them.")


def _percent(earned: int, possible: int) -> str:
    return f"{100 * earned / possible:.0f}%" if possible else "-"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _stem(learner: LearnerGrade) -> str:
    return learner.stem or safe_name(learner.name)


def learner_json(learner: LearnerGrade, graded_at: str, commit: str) -> dict:
    return {
        "learner": learner.name, "checkout": learner.checkout, "graded_at": graded_at,
        "grader_commit": commit, "earned": learner.earned, "possible": learner.possible,
        "lessons": [{
            "lesson": lesson.lesson, "title": lesson.title, "earned": lesson.earned, "possible": lesson.possible,
            "passed": lesson.passed, "status": lesson.status, "not_started": lesson.not_started,
            "load_error": lesson.load_error, "seconds": lesson.seconds,
            "tasks": {task: {"earned": got, "possible": of} for task, (got, of) in lesson.tasks().items()},
            "checks": lesson.checks, "tampering": lesson.tampering, "notes": lesson.notes,
            "printed": lesson.printed[:4000],
        } for lesson in learner.lessons],
        "tampering": learner.tampering, "environment_changes": learner.environment_changes,
        "notes": learner.notes, "shared_files": learner.shared,
    }


def _result(lesson) -> str:
    if lesson.passed:
        return "passes"
    if lesson.load_error:
        return "could not be loaded"
    if lesson.not_started:
        return "not started"
    return lesson.status if lesson.status != GRADED else "incomplete"


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
        out.append(f"| {lesson.lesson} | {_md(lesson.title)} | {lesson.earned}/{lesson.possible} | {_result(lesson)} |")
    out.append("")
    for note in learner.notes + learner.shared:
        out.append(f"Note: {note}")
    for lesson in learner.lessons:
        for note in lesson.notes:
            out.append(f"Note for the instructor: lesson {lesson.lesson}: {_md(note)}")
    if learner.notes or learner.shared or any(lesson.notes for lesson in learner.lessons):
        out.append("")
    for lesson in learner.lessons:
        if lesson.not_started:        # one line in the table says it all
            continue
        out += [f"## Lesson {lesson.lesson}: {lesson.title} ({lesson.earned}/{lesson.possible})", ""]
        tasks = lesson.tasks()
        out.append("Tasks: " + ", ".join(f"{task} {got}/{of}" for task, (got, of) in tasks.items()))
        out.append("")
        if lesson.load_error:
            out += ["The lesson file could not be loaded:", "", "```", lesson.load_error, "```", ""]
        if lesson.status != GRADED:
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


def write_learner_report(learner: LearnerGrade, reports: Path, graded_at: str, commit: str) -> None:
    (reports / f"{_stem(learner)}.json").write_text(json.dumps(learner_json(learner, graded_at, commit), indent=1) + "\n")
    (reports / f"{_stem(learner)}.md").write_text(learner_markdown(learner, graded_at, commit))


def _flags(learner: LearnerGrade) -> list[str]:
    flags = []
    if learner.tampering:
        flags.append("interference reported")
    if any(lesson.status not in (GRADED, NOT_STARTED) for lesson in learner.lessons):
        flags.append("a lesson timed out or crashed")
    if learner.shared:
        flags.append("shares a file with another learner")
    copied = [str(lesson.lesson) for lesson in learner.lessons if lesson.notes]
    if copied:
        flags.append(f"reference's code in lesson {', '.join(copied)}")
    return flags


def write_class_reports(grades: list[LearnerGrade], reports: Path, lesson_numbers: list[int], sandbox: bool,
                        graded_at: str, commit: str) -> None:
    lessons = [index.lesson(n) for n in lesson_numbers]
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
                         "yes" if learner.tampering else "", f"{_stem(learner)}.md"])
    (reports / "class.csv").write_text(buffer.getvalue())
    out = ["# Class grades", "", f"Graded {graded_at}" + (f" with commit {commit}" if commit else "")
           + f"; lessons {', '.join(str(n) for n in lesson_numbers)}.", "",
           ("Every learner's code ran in a bubblewrap sandbox (docs/grading.md)." if sandbox
            else f"**{NO_SANDBOX}**"), "",
           "| Learner | Points | % | " + " | ".join(f"L{lesson.number}" for lesson in lessons) + " | Notes |",
           "|---|---:|---:|" + "---:|" * len(lessons) + "---|"]
    for learner in grades:
        by_lesson = {lesson.lesson: lesson for lesson in learner.lessons}
        out.append(f"| [{_md(learner.name)}]({_stem(learner)}.md) | {learner.earned}/{learner.possible} | "
                   f"{_percent(learner.earned, learner.possible)} | "
                   + " | ".join(f"{by_lesson[lesson.number].earned}" if lesson.number in by_lesson else ""
                                for lesson in lessons)
                   + f" | {_md(', '.join(_flags(learner)))} |")
    (reports / "class.md").write_text("\n".join(out) + "\n")
