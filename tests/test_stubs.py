"""lessons/ is generated from solutions/: prove they have not drifted apart, and that the
generator keeps signatures and docstrings and never loses a learner's file."""
from __future__ import annotations

import ast

import pytest

from course import index, stubgen
from course.paths import REPO


@pytest.mark.parametrize("lesson", index.lessons(), ids=lambda l: l.module)
def test_committed_stub_matches_the_solution(lesson):
    expected = stubgen.make_stub(lesson.solution_path.read_text(), lesson)
    assert lesson.stub_path.exists(), f"{lesson.stub_path} is missing: run `make stubs`"
    assert lesson.stub_path.read_text() == expected, (
        f"{lesson.stub_path.relative_to(REPO)} differs from the stub generated from "
        f"{lesson.solution_path.relative_to(REPO)}: run `make stubs` and commit (maintainers).")


def _functions(source: str) -> dict[str, tuple[str, str | None]]:
    tree = ast.parse(source)
    return {node.name: (ast.unparse(node.args) + " -> " + (ast.unparse(node.returns) if node.returns else ""),
                        ast.get_docstring(node))
            for node in tree.body if isinstance(node, ast.FunctionDef)}


@pytest.mark.parametrize("lesson", index.lessons(), ids=lambda l: l.module)
def test_stub_has_the_same_functions_signatures_and_docstrings(lesson):
    solution = _functions(lesson.solution_path.read_text())
    stub = _functions(stubgen.make_stub(lesson.solution_path.read_text(), lesson))
    assert solution == stub
    for task in lesson.tasks:
        assert task.function in solution, f"task {task.id} names {task.function}, which the solution lacks"


@pytest.mark.parametrize("lesson", index.lessons(), ids=lambda l: l.module)
def test_stub_points_at_each_task(lesson):
    stub = stubgen.make_stub(lesson.solution_path.read_text(), lesson)
    for task in lesson.tasks:
        assert f'raise NotImplementedError("Lesson {task.id}: ' in stub
        assert f"# TODO Task {task.id}:" in stub
    assert "BEGIN SOLUTION" not in stub and "END SOLUTION" not in stub


def test_unbalanced_markers_are_rejected():
    lesson = index.lesson(1)
    source = lesson.solution_path.read_text().replace("    # END SOLUTION\n", "", 1)
    with pytest.raises(stubgen.MarkerError):
        stubgen.make_stub(source, lesson)


def test_writing_a_stub_backs_up_the_learners_file(tmp_path, monkeypatch):
    monkeypatch.setattr(stubgen, "BACKUP_DIR", tmp_path / "backups")
    target = tmp_path / "lesson.py"
    target.write_text("my work\n")
    saved = stubgen.write_stub(target, "stub\n")
    assert target.read_text() == "stub\n"
    assert saved is not None and saved.read_text() == "my work\n"
    assert stubgen.write_stub(target, "stub\n") is None  # unchanged file: no backup needed
