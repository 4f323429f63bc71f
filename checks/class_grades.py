"""The grades of a class as data: one lesson of one learner, one learner, and their JSON form
(which crosses from a lesson's grading child to the grader, and from a shard to the merge)."""
from __future__ import annotations

import dataclasses
import json

# How a lesson of a learner ended up graded (LessonGrade.status).
GRADED, NOT_STARTED, TIMED_OUT, CRASHED = "graded", "not started", "timed out", "crashed"
NOT_RUN = "NOT RUN"         # a check's status when the lesson gave up on the learner's worker


@dataclasses.dataclass
class LessonGrade:
    lesson: int
    title: str
    checks: list[dict]                 # task, title, points, status, message, detail, output, earned
    load_error: str | None = None
    status: str = GRADED               # graded | not started | timed out | crashed
    tampering: list[str] = dataclasses.field(default_factory=list)
    printed: str = ""                  # kept for the report format (prints are per check now)
    seconds: float = 0.0
    restarts: int = 0                  # times the sandboxed worker had to be started again
    notes: list[str] = dataclasses.field(default_factory=list)   # for the instructor (a copy of the reference)

    @property
    def earned(self) -> int:
        return sum(c["earned"] for c in self.checks)

    @property
    def possible(self) -> int:
        return sum(c["points"] for c in self.checks)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and self.load_error is None and all(c["status"] == "PASS" for c in self.checks)

    @property
    def not_started(self) -> bool:
        """Nothing written yet: the stub as handed out, or every check still TODO."""
        return self.status == NOT_STARTED or (
            self.status == GRADED and self.load_error is None and bool(self.checks)
            and all(c["status"] == "TODO" for c in self.checks))

    def tasks(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for c in self.checks:
            got, of = out.get(c["task"], (0, 0))
            out[c["task"]] = (got + c["earned"], of + c["points"])
        return out

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, fields: dict) -> "LessonGrade":
        return cls(**{f.name: fields[f.name] for f in dataclasses.fields(cls) if f.name in fields})


@dataclasses.dataclass
class LearnerGrade:
    name: str
    checkout: str
    lessons: list[LessonGrade]
    notes: list[str] = dataclasses.field(default_factory=list)
    shared: list[str] = dataclasses.field(default_factory=list)     # files that are another learner's too
    instructor_changes: list[str] = dataclasses.field(default_factory=list)
    environment_changes: list[str] = dataclasses.field(default_factory=list)
    stem: str = ""           # file name of the learner's reports (unique in the class)
    sandboxed: bool = True
    files: dict = dataclasses.field(default_factory=dict, repr=False)   # lesson file name -> bytes (not saved)

    @property
    def earned(self) -> int:
        return sum(lesson.earned for lesson in self.lessons)

    @property
    def possible(self) -> int:
        return sum(lesson.possible for lesson in self.lessons)

    @property
    def tampering(self) -> list[str]:
        found = [f"lesson {lesson.lesson}: {what}" for lesson in self.lessons for what in lesson.tampering]
        return found + [f"this repository's files changed during grading: {what} (restored)"
                        for what in self.instructor_changes]

    def to_json(self) -> dict:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in ("lessons", "files")}
        return {**fields, "lessons": [lesson.to_json() for lesson in self.lessons]}

    @classmethod
    def from_json(cls, fields: dict) -> "LearnerGrade":
        known = {f.name for f in dataclasses.fields(cls)} - {"lessons", "files"}
        return cls(**{k: v for k, v in fields.items() if k in known},
                   lessons=[LessonGrade.from_json(lesson) for lesson in fields.get("lessons", [])])


def lesson_to_bytes(grade: LessonGrade) -> bytes:
    return json.dumps(grade.to_json()).encode()


def lesson_from_bytes(data: bytes) -> LessonGrade:
    return LessonGrade.from_json(json.loads(data))
