"""The ordered lesson index (course/index.toml), loaded once."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from course.paths import LESSONS_DIR, REPO, SOLUTIONS_DIR

INDEX_FILE = REPO / "course" / "index.toml"


@dataclass(frozen=True)
class Task:
    id: str
    function: str
    title: str
    hints: tuple[str, ...]


@dataclass(frozen=True)
class Lesson:
    number: int
    module: str
    title: str
    blog_section: str
    minutes: int
    tasks: tuple[Task, ...]

    @property
    def stub_path(self) -> Path:
        return LESSONS_DIR / f"{self.module}.py"

    @property
    def solution_path(self) -> Path:
        return SOLUTIONS_DIR / f"{self.module}.py"

    @property
    def text_path(self) -> Path:
        return LESSONS_DIR / f"{self.module}.md"

    def task(self, task_id: str) -> Task:
        for task in self.tasks:
            if task.id == task_id:
                return task
        raise KeyError(f"lesson {self.number} has no task {task_id}")


@cache
def lessons() -> tuple[Lesson, ...]:
    with open(INDEX_FILE, "rb") as f:
        raw = tomllib.load(f)
    result = []
    for entry in raw["lesson"]:
        tasks = tuple(Task(t["id"], t["function"], t["title"], tuple(t.get("hints", ())))
                      for t in entry.get("task", ()))
        result.append(Lesson(entry["number"], entry["module"], entry["title"],
                             entry.get("blog_section", ""), int(entry.get("minutes", 30)), tasks))
    numbers = [lesson.number for lesson in result]
    if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
        raise ValueError(f"{INDEX_FILE}: lesson numbers must be unique and increasing, got {numbers}")
    return tuple(result)


def lesson(number: int) -> Lesson:
    for item in lessons():
        if item.number == number:
            return item
    raise KeyError(number)


def next_lesson(number: int) -> Lesson | None:
    later = [item for item in lessons() if item.number > number]
    return later[0] if later else None


def task(task_id: str) -> Task:
    return lesson(int(task_id.split(".")[0])).task(task_id)


def parse_task(lesson: Lesson, text: str) -> Task:
    """``1.3`` or just ``3`` for task 1.3 of lesson 1; KeyError with a helpful message otherwise."""
    task_id = text.strip()
    if "." not in task_id:
        task_id = f"{lesson.number}.{task_id}"
    try:
        return lesson.task(task_id)
    except KeyError:
        tasks = ", ".join(task.id for task in lesson.tasks)
        raise KeyError(f"lesson {lesson.number} has no task {text!r}; its tasks are {tasks}.") from None
