"""What a lesson file is, before it is graded: still the stub as handed out ("not started",
as `make progress` says), or the reference's code copied (noted for the instructor, never
zeroed: the grader cannot tell a copy from a learner who was given the reference, and the
instructor decides).

A copy is found two ways: the reference's ``BEGIN SOLUTION 3.1``/``END SOLUTION`` markers of
this lesson's tasks (which no stub holds), or functions whose code, once parsed, is the reference's (comments,
docstrings, spacing and line breaks do not count; names do). Only the functions the learner
has to write count (those whose stub differs from the reference), and a function of fewer
than three statements is never called a copy: there are few ways to write ``return len(x)``.
"""
from __future__ import annotations

import ast
import re
from functools import cache

from course import index
from course.stubgen import make_stub

SMALLEST_COPY = 3          # statements in a function before two equal ones say "copied"


@cache
def stub_text(number: int) -> str:
    lesson = index.lesson(number)
    return make_stub(lesson.solution_path.read_text(), lesson)


def is_stub(number: int, data: bytes) -> bool:
    """True when the file is exactly the lesson's stub (nothing written yet), as `make progress`
    decides "not started"."""
    try:
        return data.decode("utf-8") == stub_text(number)
    except UnicodeDecodeError:
        return False


def _functions(source: str) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(source)
    return {node.name: node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _shape(node: ast.AST) -> str:
    """The function's code without its docstring, positions or comments."""
    body = list(node.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    clone = ast.FunctionDef(name=node.name, args=node.args, body=body, decorator_list=node.decorator_list,
                            returns=node.returns, type_comment=None)
    return ast.dump(clone, annotate_fields=False, include_attributes=False)


def _statements(node: ast.AST) -> int:
    return sum(isinstance(n, ast.stmt) for n in ast.walk(node)) - 1       # not the def itself


@cache
def written_functions(number: int) -> dict[str, tuple[str, int]]:
    """{name: (its code's shape in the reference, its statements)} for the functions a learner
    writes in this lesson."""
    lesson = index.lesson(number)
    reference = _functions(lesson.solution_path.read_text())
    stub = _functions(stub_text(number))
    return {name: (_shape(node), _statements(node)) for name, node in reference.items()
            if name in stub and _shape(stub[name]) != _shape(node)}


def reference_copy(number: int, data: bytes) -> str | None:
    """A sentence for the report when the file holds the reference's code, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lesson = index.lesson(number)
    where = f"lessons/{lesson.module}.py"
    if re.search(rf"BEGIN SOLUTION {number}\.\d", text) and "END SOLUTION" in text:   # this lesson's markers
        return (f"{where} holds the reference's BEGIN/END SOLUTION markers: it looks copied from the reference "
                f"(graded as written; the instructor decides)")
    try:          # the file is the learner's: any text at all, so any failure to parse is "no copy"
        mine = _functions(text)
        same = [name for name, (shape, size) in written_functions(number).items()
                if size >= SMALLEST_COPY and name in mine and _shape(mine[name]) == shape]
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not same:
        return None
    counted = [name for name, (_, size) in written_functions(number).items() if size >= SMALLEST_COPY]
    how = "every function" if len(same) == len(counted) else f"{len(same)} of {len(counted)} functions"
    return (f"{where}: {how} of the lesson is the reference's code, statement for statement "
            f"({', '.join(same)}; compared after parsing, so comments and spacing do not count): graded as "
            f"written; the instructor decides")
