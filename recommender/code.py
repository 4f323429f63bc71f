"""Whose code runs: the learner's lessons where they are written, the reference solutions
elsewhere, function by function (``make demo``, and ``make recommend`` and ``make similar``
for a model the learner trained).

    CODE=auto       (default) each task function from lessons/ when it is written, the
                    reference's otherwise
    CODE=mine       the learner's functions everywhere; stops, naming the first function
                    that is not written yet
    CODE=reference  solutions/ only (instructors, the README's figures)

A function is "not written yet" while it still carries its stub's
``raise NotImplementedError("Lesson N.k: ...")``: the compiled function raises
NotImplementedError with the "Lesson N.k:" marker of its own task.

Each learner file is loaded under a private module name (never ``lessons.*`` or
``solutions.*``), and so is a private copy of the lesson's reference file; then, in both:
- every task function's name is bound to the chosen function (the learner's where it is
  written, the reference copy's otherwise), so a learner's function calls the reference
  for a sibling not written yet, and a reference function calls the learner's sibling;
- a name imported from an earlier lesson's reference (lesson 6's ``from
  solutions.lesson05_weights import predict``, in the stub and in the reference alike), or
  a reference lesson module, is rebound to what the demo chose for that lesson: the
  learner's ``predict`` is what trains, whether lesson 6's loop is theirs or the reference's.

The speed work of ``fast/`` stands in for whole groups of these functions; it runs only
where every one of them is the reference's (``recommender/paths.py`` decides, with
:meth:`Code.yours_among`).
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, ModuleType, SimpleNamespace
from typing import Collection

from course import index
from course.paths import LESSONS_DIR, relative

MODES = ("auto", "mine", "reference")
# Whose a lesson is, in the demo's report.
MINE, REFERENCE, PARTLY = "yours", "reference", "partly yours"


class CodeChoiceError(Exception):
    """CODE=mine and something is not written, or a lesson file cannot be loaded."""


@dataclass(frozen=True)
class Choice:
    lesson: int
    task: str
    function: str
    mine: bool


@dataclass
class Code:
    """The lesson modules the demo calls (``code.l1`` ... ``code.l9``) and where each
    function comes from."""
    mode: str
    folder: Path
    modules: dict[int, ModuleType | SimpleNamespace] = field(default_factory=dict)
    choices: dict[int, list[Choice]] = field(default_factory=dict)
    learner_files: dict[int, Path] = field(default_factory=dict)   # lesson -> file actually used
    notes: list[str] = field(default_factory=list)

    def __getattr__(self, name: str):
        if name.startswith("l") and name[1:].isdigit() and int(name[1:]) in self.modules:
            return self.modules[int(name[1:])]
        raise AttributeError(name)

    def whose(self, lesson: int) -> str:
        mine = [c.mine for c in self.choices.get(lesson, [])]
        if mine and all(mine):
            return MINE
        return PARTLY if any(mine) else REFERENCE

    def lessons_whose(self, owner: str) -> list[int]:
        return [n for n in sorted(self.choices) if self.whose(n) == owner]

    def yours_among(self, functions: dict[int, tuple[str, ...]]) -> list[tuple[int, str]]:
        """The ``(lesson, function)`` pairs among ``functions`` (lesson -> names) that run the
        learner's code, in lesson order: empty when all of them are the reference's."""
        return [(number, c.function) for number in sorted(functions) for c in self.choices.get(number, [])
                if c.mine and c.function in functions[number]]

    def owners(self, lessons: Collection[int]) -> str:
        """'lessons 1-6 yours; lesson 12 the reference's': whose code ``lessons`` are, for a
        saved model's record and the demo's report."""
        parts = []
        for owner, label in ((MINE, "yours"), (PARTLY, "partly yours"), (REFERENCE, "the reference's")):
            numbers = [n for n in self.lessons_whose(owner) if n in lessons]
            if numbers:
                parts.append(f"lesson{'s' if len(numbers) > 1 else ''} {number_ranges(numbers)} {label}")
        return "; ".join(parts)

    def record(self, lessons: Collection[int]) -> dict:
        """What a saved model keeps about the code that made it (model.json's "code")."""
        return {"mode": self.mode, "lessons_folder": _display(self.folder), "summary": self.owners(lessons),
                "whose": {str(n): self.whose(n) for n in sorted(self.choices) if n in lessons}}

    def summary(self) -> str:
        """The lines the demo prints first: whose code runs, lesson by lesson."""
        if self.mode == "reference":
            return "Code: the reference solutions (solutions/) for every lesson (CODE=reference)."
        where = _display(self.folder)
        if self.mode == "mine":
            lines = [f"Code: your lessons from {where}/, every function (CODE=mine)."]
        else:
            lines = [f"Code: your lessons from {where}/ where you have written them, the reference elsewhere "
                     f"(CODE={self.mode}; CODE=reference runs the reference only, CODE=mine yours only)."]
        ranges = {MINE: "yours", PARTLY: "partly yours", REFERENCE: "the reference's"}
        for owner, label in ranges.items():
            numbers = self.lessons_whose(owner)
            if not numbers:
                continue
            text = f"  lessons {number_ranges(numbers)} are {label}" if len(numbers) > 1 else \
                f"  lesson {numbers[0]} is {label}"
            if owner == PARTLY:
                details = []
                for n in numbers:
                    ref = [c.function for c in self.choices[n] if not c.mine]
                    details.append(f"lesson {n}: reference {', '.join(ref)}")
                text += f" ({'; '.join(details)})"
            lines.append(text)
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def number_ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> '1-3, 5'."""
    parts, start = [], None
    for i, n in enumerate(numbers):
        if start is None:
            start = n
        if i + 1 == len(numbers) or numbers[i + 1] != n + 1:
            parts.append(str(start) if start == n else f"{start}-{n}")
            start = None
    return ", ".join(parts)


_display = relative  # repository-relative paths in messages


# ---------------------------------------------------------------- is it written?

def _constants(code: CodeType):
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _constants(const)
        else:
            yield const


def is_stub(func, task: index.Task) -> bool:
    """True when ``func`` still raises its stub's ``NotImplementedError("Lesson N.k: ...")``."""
    code = getattr(inspect.unwrap(func), "__code__", None)
    if code is None:
        return False
    marker = f"Lesson {task.id}:"
    return ("NotImplementedError" in code.co_names
            and any(isinstance(c, str) and c.startswith(marker) for c in _constants(code)))


# ---------------------------------------------------------------- choosing

def _load(path: Path, lesson: index.Lesson, prefix: str = "_demo_learner_") -> ModuleType:
    """A lesson file as a private module; raises CodeChoiceError saying why not."""
    if not path.exists():
        raise CodeChoiceError(f"{_display(path)} does not exist (`make reset LESSON={lesson.number}` restores the stub)")
    spec = importlib.util.spec_from_file_location(f"{prefix}{lesson.module}", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except BaseException as error:  # a syntax error, or code at the top of the file that fails
        if isinstance(error, KeyboardInterrupt):
            raise
        raise CodeChoiceError(f"{_display(path)} cannot be loaded ({type(error).__name__}: {error}); "
                              f"`make check LESSON={lesson.number}` says more") from error
    return module


def select(mode: str = "auto", folder: Path = LESSONS_DIR, lessons: Collection[int] | None = None) -> Code:
    """The code the demo runs in ``mode`` (see the module docstring), learner files from
    ``folder``, for the lessons numbered in ``lessons`` (all of them by default)."""
    if mode not in MODES:
        raise CodeChoiceError(f"CODE={mode!r} is not a choice: use one of {', '.join(MODES)}")
    code = Code(mode, Path(folder))
    replacements: dict[int, object] = {}          # id(reference object) -> what the demo uses
    for lesson in index.lessons():
        if lessons is not None and lesson.number not in lessons:
            continue
        ref = importlib.import_module(f"solutions.{lesson.module}")
        if mode == "reference":
            code.modules[lesson.number] = ref
            code.choices[lesson.number] = [Choice(lesson.number, t.id, t.function, False) for t in lesson.tasks]
            continue
        path = Path(folder) / f"{lesson.module}.py"
        try:
            learner = _load(path, lesson)
        except CodeChoiceError as error:
            if mode == "mine":
                raise CodeChoiceError(f"CODE=mine: lesson {lesson.number}: {error}.") from None
            code.notes.append(f"{error}: lesson {lesson.number} runs the reference")
            learner = None
        # A private copy of the reference, whose functions look their siblings and earlier
        # lessons up in its own namespace, which is rebound below.
        copy = _load(lesson.solution_path, lesson, prefix="_demo_reference_")
        choices, chosen = [], {}
        for task in lesson.tasks:
            theirs = getattr(learner, task.function, None) if learner is not None else None
            mine = callable(theirs) and not is_stub(theirs, task)
            if mode == "mine" and not mine:
                why = ("is missing from" if learner is not None and theirs is None else "is not written yet in")
                raise CodeChoiceError(
                    f"CODE=mine: `{task.function}` (task {task.id}, {task.title}) {why} {_display(path)}. "
                    f"Write it and check it with `make check LESSON={lesson.number}`, or run `make demo` "
                    f"without CODE to use the reference for what you have not written.")
            choices.append(Choice(lesson.number, task.id, task.function, mine))
            chosen[task.function] = theirs if mine else getattr(copy, task.function)
        code.choices[lesson.number] = choices
        for namespace in (copy, learner):
            if namespace is None:
                continue
            # Earlier lessons' reference names: what the demo chose for them.
            for name, value in list(vars(namespace).items()):
                if id(value) in replacements:
                    setattr(namespace, name, replacements[id(value)])
            for name, function in chosen.items():
                setattr(namespace, name, function)
        used = learner if learner is not None else copy
        code.modules[lesson.number] = used
        if learner is not None:
            code.learner_files[lesson.number] = path
        for name, function in chosen.items():
            replacements[id(getattr(ref, name))] = function
        replacements[id(ref)] = used
    return code


# ---------------------------------------------------------------- when the learner's code fails

def explain_failure(error: BaseException, code: Code) -> str:
    """A message for an exception during the demo: which lesson and function of the
    learner's raised it and what to run, or, when it surfaced in the reference code, which
    of the learner's lessons fed it."""
    files = {str(path.resolve()): number for number, path in code.learner_files.items()}
    frames = traceback.extract_tb(error.__traceback__)
    ours = [(frame, files[str(Path(frame.filename).resolve())]) for frame in frames
            if str(Path(frame.filename).resolve()) in files]
    what = f"{type(error).__name__}: {error}".rstrip(": ")
    if ours:
        frame, number = ours[-1]
        lines = [f"The demo stopped in your code: lesson {number}, function `{frame.name}` "
                 f"({_display(Path(frame.filename))}, line {frame.lineno}: `{(frame.line or '').strip()}`) "
                 f"raised {what}",
                 f"Run `make check LESSON={number}` to see what is wrong, or `make demo CODE=reference` to run "
                 f"the reference solutions instead."]
        if len(ours) > 1:
            lines.append("Your functions on the way there (outermost first):")
            lines += [f"  lesson {n}, `{f.name}` ({_display(Path(f.filename))}, line {f.lineno})" for f, n in ours]
        return "\n".join(lines)
    written = code.lessons_whose(MINE) + code.lessons_whose(PARTLY)
    if not written:
        return f"The demo stopped with {what} (in the reference code; none of your lessons ran)."
    checks = " ".join(f"`make check LESSON={n}`" for n in sorted(written))
    return (f"The demo stopped with {what}, in the reference code, which ran on what your lessons "
            f"{number_ranges(sorted(written))} returned: one of them may return something the next step cannot "
            f"use. Run {checks}, or `make demo CODE=reference` to run the reference solutions instead.")


def with_functions(code: Code, number: int, replaced: dict) -> Code | SimpleNamespace:
    """``code`` with the functions of lesson ``number`` named in ``replaced`` (name -> function)
    in place of its own (a fast stand-in); ``code`` itself where nothing is replaced."""
    if not replaced:
        return code
    lesson = getattr(code, f"l{number}")
    swapped = SimpleNamespace(**{name: getattr(lesson, name) for name in dir(lesson) if not name.startswith("__")})
    for name, function in replaced.items():
        setattr(swapped, name, function)
    return SimpleNamespace(**{**{f"l{n}": getattr(code, f"l{n}") for n in code.modules}, f"l{number}": swapped})
