"""Realistic wrong implementations ("mutants") of the reference solutions.

The maintainers' tests build each mutant (the reference module with one or a few functions
replaced) and prove that at least one check of the lesson fails on it, with a message that
names the symptom. A mutant that slips through means a check is missing.
"""
from __future__ import annotations

import importlib
import types
from dataclasses import dataclass, field
from typing import Callable

from course import index


@dataclass
class Mutant:
    lesson: int
    name: str
    symptom: str                    # a word the failing check's message must contain
    overrides: dict[str, Callable] = field(default_factory=dict)


MUTANTS: dict[int, list[Mutant]] = {}


def mutant(name: str, symptom: str, *extra: Callable):
    """Register a mutant made of the decorated function (and any ``extra`` functions)."""
    def register(func: Callable) -> Callable:
        module = func.__module__.rsplit(".", 1)[-1]
        lesson = next(item.number for item in index.lessons() if item.module == module)
        overrides = {f.__name__: f for f in (func, *extra)}
        MUTANTS.setdefault(lesson, []).append(Mutant(lesson, name, symptom, overrides))
        return func
    return register


def mutants_for(lesson_number: int) -> list[Mutant]:
    name = f"checks.mutants.{index.lesson(lesson_number).module}"
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        return []  # no mutants written yet: test_each_lesson_has_five_mutants says so
    return MUTANTS.get(lesson_number, [])


def build(m: Mutant) -> types.ModuleType:
    """A fresh copy of the reference module with the mutant's functions swapped in.

    The replacements are rebound to the copy's globals, so they can call the reference's
    other functions and use its imports, exactly as a learner's edited file would.
    """
    lesson = index.lesson(m.lesson)
    module = types.ModuleType(f"mutant_{lesson.module}")
    module.__file__ = str(lesson.solution_path)
    exec(compile(lesson.solution_path.read_text(), str(lesson.solution_path), "exec"), module.__dict__)
    for name, func in m.overrides.items():
        # Helpers and imports of the mutant's own file, where the reference lacks them.
        for key, value in func.__globals__.items():
            if not key.startswith("__"):
                module.__dict__.setdefault(key, value)
        if not hasattr(module, name):
            raise AttributeError(f"mutant {m.name!r} replaces {name}, which {lesson.module} does not define")
        module.__dict__[name] = types.FunctionType(func.__code__, module.__dict__, name,
                                                   func.__defaults__, func.__closure__)
    return module
