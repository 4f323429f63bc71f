"""The course's import floors (docs/architecture.md):

    commands, benchmarks   the commands a learner or instructor runs; the benchmark
    recommender            the lessons' code assembled: whose code, which path, which model
                           on which split
    checks, fast           graded checks, their fixtures, mutants and the classroom grader;
                           the speed work, proven equal to the lessons
    solutions              the reference lessons (the textbook), the pipeline, the protocol
    course, datasets       the ground: config, containers, index, paths, personas, stubgen,
                           notebook, processes; download and synthetic data

A module may import its own floor and the floors below it, never one above, and no
import cycle exists. The drawing in docs/architecture.md is compared with the real graph.
"""
from __future__ import annotations

import ast
import re
import subprocess
from functools import cache
from pathlib import Path

from course.paths import REPO

FLOORS = {"course": 0, "datasets": 0, "solutions": 1, "checks": 2, "fast": 2, "recommender": 3, "commands": 4,
          "benchmarks": 4}
# The lessons are the textbook: a lesson file never imports the speed work or anything above it.
LESSON_FILE = re.compile(r"solutions\.lesson\d\d_\w+$")
GROUND = ("config", "containers", "index", "paths", "personas", "stubgen", "notebook", "processes", "measure")
# The one place a module path is set, justified where it stands: the sandboxed worker of
# `make grade` runs without site (so the editable install cannot point it into the
# instructor's repository) and is told by PYTHONPATH where its copied ground and the packages
# are; a procedure's fresh interpreter inherits that.
SYS_PATH_EXCEPTIONS = {"checks/sandbox.py", "checks/procedures.py"}


def _tracked(pattern: str) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", pattern],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    return [REPO / name for name in listed if (REPO / name).exists()]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def project_modules() -> dict[str, Path]:
    """Every module of the course's packages (notebook sources are not modules)."""
    found = {}
    for package in FLOORS:
        for path in sorted((REPO / package).rglob("*.py")):
            if "notebooks" in path.parts or "__pycache__" in path.parts:
                continue
            found[_module_name(path)] = path
    return found


def imports_of(path: Path) -> set[str]:
    """Absolute module names imported anywhere in the file (inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@cache
def module_graph() -> dict[str, set[str]]:
    """module -> the project modules it imports."""
    modules = project_modules()
    return {name: {imported for imported in imports_of(path) if imported in modules and imported != name}
            for name, path in modules.items()}


def package_edges() -> set[tuple[str, str]]:
    """(importer package, imported package) pairs, between different packages."""
    edges = set()
    for name, imported in module_graph().items():
        for other in imported:
            a, b = name.split(".")[0], other.split(".")[0]
            if a != b:
                edges.add((a, b))
    return edges


def test_every_package_is_on_a_floor_and_has_modules():
    packages = {name.split(".")[0] for name in project_modules()}
    assert packages == set(FLOORS)


def test_no_module_imports_a_higher_floor():
    upward = []
    for name, imported in module_graph().items():
        for other in imported:
            if FLOORS[other.split(".")[0]] > FLOORS[name.split(".")[0]]:
                upward.append(f"{name} imports {other}")
    assert not upward, "imports from a lower floor to a higher one:\n" + "\n".join(sorted(upward))


def test_the_lessons_import_only_the_ground_and_earlier_lessons():
    offenders = []
    for name, imported in module_graph().items():
        if not LESSON_FILE.match(name):
            continue
        for other in imported:
            if not (other.startswith("course.") or (LESSON_FILE.match(other) and other < name)):
                offenders.append(f"{name} imports {other}")
    assert not offenders, "a lesson is the textbook: it imports the ground and earlier lessons only:\n" + \
        "\n".join(sorted(offenders))


def test_the_ground_imports_nothing_above_it():
    ground = [f"course.{name}" for name in GROUND]
    assert set(ground) <= set(project_modules()), "a ground module is missing"
    for name in ground + [m for m in project_modules() if m.startswith("datasets")]:
        above = {other for other in module_graph()[name] if not other.startswith(("course", "datasets"))}
        assert not above, f"{name} (the ground) imports {sorted(above)}"


def test_no_import_cycles():
    graph = module_graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_architecture_drawing_matches_the_imports():
    text = (REPO / "docs" / "architecture.md").read_text()
    block = re.search(r"```mermaid\n(.*?)```", text, flags=re.DOTALL)
    assert block, "docs/architecture.md has a mermaid drawing of the package imports"
    drawn = set(re.findall(r"^\s*(\w+)\s*-->\s*(\w+)\s*$", block.group(1), flags=re.MULTILINE))
    real = package_edges()
    assert drawn == real, (f"update the drawing in docs/architecture.md: missing {sorted(real - drawn)}, "
                           f"not imported any more {sorted(drawn - real)}")


def test_nothing_edits_sys_path():
    offenders = []
    for path in _tracked("*.py") + _tracked("*.ipynb"):
        rel = path.relative_to(REPO).as_posix()
        if rel.startswith(".venv/") or rel in SYS_PATH_EXCEPTIONS or rel == "tests/test_architecture.py":
            continue
        if re.search(r"sys\.path\b|PYTHONPATH", path.read_text(errors="replace")):
            offenders.append(rel)
    assert not offenders, f"these files touch sys.path/PYTHONPATH (the course is installed by make venv): {offenders}"
    for rel in SYS_PATH_EXCEPTIONS:
        text = (REPO / rel).read_text()
        line = re.search(r"sys\.path\b|PYTHONPATH", text).start()
        assert "#" in text[max(0, line - 400):line], f"{rel}: say in a comment why it sets the module path"


def test_pytest_does_not_add_the_repository_to_the_path():
    assert "pythonpath" not in (REPO / "pytest.ini").read_text()


def test_the_course_is_installed_as_a_package():
    from importlib.metadata import distribution

    recipe = (REPO / "Makefile").read_text()
    assert re.search(r"pip install .*-e \.", recipe), "make venv installs the course (pip install -e .)"
    assert distribution("two-tower-course").version, "the course is installed in this environment"


# The grader reads in one sitting: no module of checks/ but the lessons' checks and the mutants
# is over this many lines. The two named here are still to be split by job; take them off the list then.
GRADER_LINES = 400
GRADER_LINES_PENDING: set[str] = set()   # grader modules still to split (none)


def test_every_grader_module_reads_in_one_sitting():
    long = []
    for path in sorted((REPO / "checks").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if re.match(r"checks/lesson\d\d_", rel) or "mutants" in path.parts or rel in GRADER_LINES_PENDING:
            continue
        lines = len(path.read_text().splitlines())
        if lines > GRADER_LINES:
            long.append(f"{rel}: {lines} lines")
    assert not long, f"split these grader modules by job (at most {GRADER_LINES} lines each): {long}"
