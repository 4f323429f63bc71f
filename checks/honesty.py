"""Honest self-grading: a lesson file whose own tasks use the reference solution or the
checks of the lesson being graded gets no points for those tasks, and the report says so.

Two looks at the learner's file:
- static (the source, never run): an import of ``solutions.<this lesson>`` or of anything
  under ``checks``, in any spelling (``from solutions import lessonNN_x``, ``import
  solutions.lessonNN_x as ref``, ``from checks.lessonNN_x import *``), and any string that
  names this lesson's module or the checks (``importlib.import_module("solutions." + ...)``,
  ``open("solutions/lessonNN_x.py")``). Found inside a function, it taints the tasks whose
  functions call that function (directly or through the learner's other functions); a
  name imported at the top of the file taints the tasks that use it; ``import *`` and
  strings at the top of the file taint every task.
- at run time: a task function whose code was not compiled from the learner's file
  (``__code__.co_filename``) is someone else's function under the learner's name.

The imports the stubs ship with (an earlier lesson's reference, e.g. lesson 6's ``from
solutions.lesson05_weights import predict``) are allowed: only the lesson being graded and
the checks count.

``review`` is the hook: checks.framework.grade_file hands it the result it built.
"""
from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from pathlib import Path

from course import index

BORROWED = "BORROWED"   # the status of a task that passed with borrowed code: no points


@dataclass(frozen=True)
class Finding:
    line: int
    what: str                 # a sentence: what the file does
    tasks: frozenset[str]     # the task ids it taints


def _forbidden_module(name: str, module: str) -> bool:
    return (name == "checks" or name.startswith("checks.")
            or name == f"solutions.{module}" or name.startswith(f"solutions.{module}."))


def _forbidden_string(text: str, module: str) -> bool:
    lowered = text.lower()
    return (module in lowered or lowered.startswith("checks.") or "checks/" in lowered
            or lowered in ("checks", "solutions"))


def _loaded_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def scan_source(source: str, lesson: index.Lesson) -> list[Finding]:
    """What the source does that uses this lesson's reference or the checks (see above)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # the grader reports the syntax error itself
    module = lesson.module
    all_tasks = frozenset(t.id for t in lesson.tasks)
    task_of = {t.function: t.id for t in lesson.tasks}
    functions = {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    # Which task functions reach which top-level names (through the file's own functions).
    reach: dict[str, set[str]] = {}
    for name in task_of:
        seen, todo = set(), [name]
        while todo:
            current = todo.pop()
            if current in seen or current not in functions:
                continue
            seen.add(current)
            todo.extend(_loaded_names(functions[current]) & set(functions))
        used = set(seen)
        for current in seen:
            used |= _loaded_names(functions[current])
        reach[name] = used

    def tasks_using(names: set[str]) -> frozenset[str]:
        return frozenset(task_of[f] for f, used in reach.items() if used & names)

    findings: list[Finding] = []
    # Docstrings say what a function does; they are never code that reads a file.
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str)}
    for top in tree.body:
        inside = top.name if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else None
        for node in ast.walk(top):
            found, bound, star = None, set(), False
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if _forbidden_module(alias.name, module):
                        found = f"imports {alias.name}"
                        bound.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [a.name for a in node.names]
                if _forbidden_module(node.module, module):
                    found = f"imports from {node.module}"
                elif node.module == "solutions" and module in names:
                    found = f"imports solutions.{module}"
                elif node.module == "checks":
                    found = "imports from checks"
                if found:
                    star = "*" in names
                    bound |= {a.asname or a.name for a in node.names}
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and id(node) not in docstrings and _forbidden_string(node.value, module)):
                found = f"names {node.value!r}"
            if not found:
                continue
            if inside is not None:
                tasks = tasks_using({inside})
                if inside in task_of:
                    tasks |= {task_of[inside]}
            elif star or not bound:
                tasks = all_tasks
            else:
                tasks = tasks_using(bound)
            findings.append(Finding(getattr(node, "lineno", 0), found, tasks or frozenset()))
    return findings


def foreign_functions(learner_module, path: Path, lesson: index.Lesson) -> list[Finding]:
    """Task functions that were not compiled from the learner's file."""
    findings = []
    target = Path(path).resolve()
    for task in lesson.tasks:
        func = getattr(learner_module, task.function, None)
        code = getattr(inspect.unwrap(func), "__code__", None) if callable(func) else None
        if code is None:
            continue
        origin = Path(code.co_filename)
        if origin.resolve() != target:
            where = _short(origin)
            findings.append(Finding(0, f"`{task.function}` is not defined in your file but comes from {where}",
                                    frozenset({task.id})))
    return findings


def _short(path: Path) -> str:
    from course.paths import REPO
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)


def findings_for(learner_module, path: Path | None, lesson_number: int) -> list[Finding]:
    lesson = index.lesson(lesson_number)
    if path is None or not Path(path).exists():
        return []
    found = scan_source(Path(path).read_text(errors="replace"), lesson)
    if learner_module is not None:
        found += foreign_functions(learner_module, path, lesson)
    return [f for f in found if f.tasks]


def review(result, learner_module, path: Path | None):
    """The hook: every passing check of a task that uses borrowed code loses its points
    (status BORROWED) and says why. Returns ``result``."""
    findings = findings_for(learner_module, path, result.lesson)
    if not findings:
        return result
    result.borrowed = [_describe(f, path) for f in findings]   # for the report's first lines
    for r in result.results:
        if r.status == "PASS" and any(r.task in f.tasks for f in findings):
            r.status = BORROWED
            r.message = ("no points: this task's code is the lesson's reference solution or its checks, "
                         "not yours (see above).")
    return result


def _describe(finding: Finding, path: Path | None) -> str:
    where = f"{_short(Path(path))}, line {finding.line}: " if finding.line and path else ""
    return where + finding.what


def borrowed_note(result) -> str | None:
    """One plain sentence for the top of the report, or None."""
    tasks = sorted({r.task for r in result.results if r.status == BORROWED})
    if not tasks:
        return None
    lines = [f"Your file uses the reference solution or the checks of lesson {result.lesson} for "
             f"task{'s' if len(tasks) > 1 else ''} {', '.join(tasks)}: those checks pass, but they earn no "
             f"points. What we found:"]
    lines += [f"  - {reason}" for reason in getattr(result, "borrowed", [])]
    lines.append("Write those functions yourself. The imports your stub came with (earlier lessons' "
                 "reference) are fine.")
    return "\n".join(lines)
