"""The solution notebooks (solutions/notebooks) and the self-study walkthrough.

`make nbval` re-executes every notebook and compares each output with the stored one, which
catches stale *values*. These tests catch what nbval cannot: a notebook that drifted from its
paired .py source, one saved after running cells out of order or not at all, one that leaked
a path of the machine that built it, and a walkthrough that no longer follows course/index.toml.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat
import pytest

from course import index
from course.paths import REPO, data_dir

NB_DIR = REPO / "solutions" / "notebooks"
WALKTHROUGH = REPO / "docs" / "walkthrough.md"


def _load_build():
    spec = importlib.util.spec_from_file_location("notebook_build", NB_DIR / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()
LESSONS = index.lessons()
NOTEBOOKS = [NB_DIR / build.lesson_notebook(lesson.module) for lesson in LESSONS]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


by_name = pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)


def test_one_notebook_and_one_source_per_lesson():
    expected = {p.name for p in NOTEBOOKS}
    present = {p.name for p in NB_DIR.glob("*.ipynb")}
    assert present == expected, (f"solutions/notebooks should hold exactly one notebook per lesson of "
                                 f"course/index.toml; missing: {sorted(expected - present)}, "
                                 f"unexpected: {sorted(present - expected)}")
    sources = {p.with_suffix(".ipynb").name for p in build.sources()}
    assert sources == expected, f"every notebook needs its paired .py source; have {sorted(sources)}"


@by_name
def test_notebook_cells_match_the_paired_source(notebook):
    source = notebook.with_suffix(".py")
    from_py = [(c.cell_type, c.source) for c in jupytext.read(source, fmt="py:percent").cells]
    from_nb = [(c.cell_type, c.source) for c in _read(notebook).cells]
    assert len(from_py) == len(from_nb), (
        f"{source.name} has {len(from_py)} cells, {notebook.name} {len(from_nb)}: "
        "run `make notebooks` to re-execute the notebook from its source")
    for number, (py_cell, nb_cell) in enumerate(zip(from_py, from_nb)):
        assert py_cell == nb_cell, (f"cell {number} of {notebook.name} differs from {source.name}: "
                                    "run `make notebooks` to re-execute the notebook from its source")


@by_name
def test_notebook_was_executed_top_to_bottom(notebook):
    cells = _code_cells(_read(notebook))
    counts = [cell.execution_count for cell in cells]
    assert None not in counts, (f"{notebook.name}: code cells {[i for i, c in enumerate(counts) if c is None]} "
                                "were never executed; run `make notebooks`")
    assert counts == list(range(1, len(cells) + 1)), (
        f"{notebook.name} was saved after running cells out of order (execution counts {counts}); "
        "run `make notebooks`")
    for cell in cells:
        for output in cell.outputs:
            if output.output_type == "execute_result":
                assert output.execution_count == cell.execution_count, f"{notebook.name}: stale output in a cell"


@by_name
def test_notebook_has_outputs_and_no_errors_or_warnings(notebook):
    outputs = [output for cell in _code_cells(_read(notebook)) for output in cell.outputs]
    assert outputs, f"{notebook.name} has no stored outputs (saved without running?): run `make notebooks`"
    errors = [o.ename for o in outputs if o.output_type == "error"]
    assert not errors, f"{notebook.name} stores errors: {errors}"
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, (f"{notebook.name} stores stderr output (a warning?), which holds paths and "
                        f"changes between versions; fix its cause: {stderr[0][:300]!r}")


def _machine_paths() -> list[str]:
    paths = {str(REPO), str(Path.home()), sys.prefix, sys.base_prefix, tempfile.gettempdir(), str(data_dir())}
    return sorted(p for p in paths if p and p.count(os.sep) >= 1 and len(p) > 4)


# Paths of *any* machine: home folders, temporary files, ipykernel's cell file names.
GENERIC_PATHS = re.compile(r"/home/[\w.-]+/|/Users/[\w.-]+/|[A-Za-z]:\\\\Users\\\\|/tmp/|/private/var/|"
                           r"site-packages|ipykernel_\d+")


@pytest.mark.parametrize("path", [*NOTEBOOKS, *(p.with_suffix(".py") for p in NOTEBOOKS)], ids=lambda p: p.name)
def test_no_absolute_path_of_the_building_machine(path):
    text = path.read_text()
    if path.suffix == ".ipynb":  # outputs are JSON strings: compare with the decoded text too
        text += "\n" + json.dumps(json.loads(text), ensure_ascii=False)
    for machine_path in _machine_paths():
        assert machine_path not in text, f"{path.name} contains the path {machine_path!r} of this machine"
    found = GENERIC_PATHS.search(text)
    assert not found, f"{path.name} contains a machine-specific path near {text[max(found.start() - 60, 0):found.end() + 60]!r}"


@by_name
def test_notebook_metadata_is_the_canonical_one(notebook):
    nb = _read(notebook)
    assert dict(nb.metadata) == build.METADATA, (
        f"{notebook.name} was saved by something other than `make notebooks` (metadata {dict(nb.metadata)})")
    assert [cell.id for cell in nb.cells] == [f"c{i:02d}" for i in range(len(nb.cells))]


@by_name
def test_notebook_follows_the_house_rules(notebook):
    cells = _code_cells(_read(notebook))
    setup = cells[0].source
    # course.notebook.setup() applies the course's thread policy (course/threads.py: one
    # thread) and returns the settings of course/config.py; the course is imported by name
    # (installed by make venv).
    assert "from course.notebook import setup" in setup, "the setup cell uses course.notebook.setup"
    assert 'CFG, DATA = setup("ml-latest-small")' in setup, "hyper-parameters come from course/config.py"
    assert "import sys" not in setup, "notebooks import the installed course; they never edit the import path"
    for number, cell in enumerate(cells):
        source = cell.source
        assert "matplotlib.use(" not in source and "%matplotlib" not in source, "never force a backend"
        assert "progress=True" not in source, "no progress bars in notebooks"
        if re.search(r"plt\.(subplots|figure)\(", source):
            assert source.rstrip().endswith("plt.show()"), f"code cell {number}: end a plot cell with plt.show()"
        if "NBVAL_IGNORE_OUTPUT" in source:
            line = next(l for l in source.splitlines() if "NBVAL_IGNORE_OUTPUT" in l)
            assert len(line.split("NBVAL_IGNORE_OUTPUT", 1)[1].strip(" :-")) > 10, (
                f"code cell {number}: say why its output is ignored, on the NBVAL_IGNORE_OUTPUT line")
            assert number + 1 < len(cells) and "assert" in cells[number + 1].source, (
                f"code cell {number} ignores its output: the next cell must assert its result within a tolerance")


def _makefile_recipe(target: str) -> str:
    text = (REPO / "Makefile").read_text()
    match = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", text, flags=re.MULTILINE)
    assert match, f"the Makefile has no {target} target"
    return match.group(1)


def _nbval_flags() -> list[str]:
    match = re.search(r"^NBVAL_FLAGS\s*:?=\s*(.+)$", (REPO / "Makefile").read_text(), flags=re.MULTILINE)
    assert match, "the Makefile defines NBVAL_FLAGS"
    return match.group(1).split()


def test_make_nbval_is_strict_and_part_of_make_test():
    flags = _nbval_flags()
    assert "--nbval" in flags and "--nbval-lax" not in flags, "nbval must compare every output (strict mode)"
    assert "--nbval-current-env" in flags
    assert flags[flags.index("--nbval-sanitize-with") + 1] == "solutions/notebooks/sanitize.cfg"
    nbval = re.search(r"^NBVAL\s*:?=\s*(.+)$", (REPO / "Makefile").read_text(), flags=re.MULTILINE)
    assert nbval and "-m pytest" in nbval.group(1) and "$(NBVAL_FLAGS) solutions/notebooks" in nbval.group(1)
    assert "$(NBVAL)" in _makefile_recipe("nbval"), "make nbval runs $(NBVAL)"
    assert "$(NBVAL)" in _makefile_recipe("test"), "make test runs the notebooks too"


def test_sanitize_file_masks_durations_and_nothing_else():
    from nbval.plugin import get_sanitize_patterns

    patterns = get_sanitize_patterns((NB_DIR / "sanitize.cfg").read_text())
    assert patterns, "sanitize.cfg has no pattern nbval can read"

    def sanitize(text: str) -> str:
        for regex, replacement in patterns:
            text = re.sub(regex, replacement, text)
        return text

    assert sanitize("loop: [0.243 s], matrix: [38 ms]") == sanitize("loop: [9.100 s], matrix: [1.5 ms]")
    for value in ("validation MSE 0.8681", "2,121 movies", "0.243 s", "[0.5, 1.0]", "step 1,750 (4.2★)"):
        assert sanitize(value) == value, f"sanitize.cfg must not mask {value!r}"


def test_nbval_fails_when_a_stored_value_changes(tmp_path):
    """A stored printout that no longer matches what the code prints makes `make nbval` fail.
    Runs notebook 02 (the quickest) from a copy whose first printed number was altered."""
    if not (data_dir() / "ml-latest-small" / "ratings.csv").exists():
        pytest.skip("ml-latest-small is not installed (make data)")
    notebook = NB_DIR / build.lesson_notebook(LESSONS[1].module)
    nb = _read(notebook)
    for cell in _code_cells(nb):
        printed = [o for o in cell.outputs if o.output_type == "stream" and re.search(r"\d", o.text)]
        if printed:
            printed[0].text = re.sub(r"\d", lambda m: str((int(m.group()) + 1) % 10), printed[0].text, count=1)
            changed = cell.execution_count
            break
    # The copy finds the repository root by walking up to course/index.toml: give it one.
    (tmp_path / "course").symlink_to(REPO / "course")
    (tmp_path / "solutions").symlink_to(REPO / "solutions")
    (tmp_path / "nb").mkdir()
    nbformat.write(nb, tmp_path / "nb" / notebook.name)
    flags = [str(REPO / f) if f.endswith(".cfg") else f for f in _nbval_flags()]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *flags, "nb"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "MPLBACKEND": ""})
    assert run.returncode == 1, f"nbval did not fail on an altered output:\n{run.stdout[-3000:]}"
    assert "Cell outputs differ" in run.stdout and re.search(r"\b1 failed\b", run.stdout), run.stdout[-3000:]
    assert f"Cell {changed - 1}" in run.stdout or f"Cell {changed}" in run.stdout, run.stdout[-3000:]


# --- the walkthrough -------------------------------------------------------------------------

def test_walkthrough_lesson_table_is_up_to_date():
    text = WALKTHROUGH.read_text()
    start, end = text.index(build.TABLE_BEGIN) + len(build.TABLE_BEGIN), text.index(build.TABLE_END)
    assert text[start:end].strip() == build.walkthrough_table(), (
        "docs/walkthrough.md's lesson table differs from course/index.toml: run "
        "`python solutions/notebooks/build.py --walkthrough`")


def test_walkthrough_follows_every_lesson_in_index_order():
    text = WALKTHROUGH.read_text()
    body = text[text.index(build.TABLE_END):]  # the hand-written part, after the generated table
    position = 0
    for lesson in LESSONS:
        wanted = "## " + build.section_heading(lesson)
        heading = re.search(rf"^{re.escape(wanted)}$", body[position:], flags=re.MULTILINE)
        assert heading, f"the walkthrough needs a section {wanted!r}, after the one of lesson {lesson.number - 1}"
        section_start = position + heading.end()
        following = re.search(r"^## ", body[section_start:], flags=re.MULTILINE)
        section = body[section_start:section_start + following.start()] if following else body[section_start:]
        for needed in (f"lessons/{lesson.text_path.name}", f"lessons/{lesson.stub_path.name}",
                       f"make check LESSON={lesson.number}", f"solutions/notebooks/{build.lesson_notebook(lesson.module)}",
                       f"{lesson.minutes} min"):
            assert needed in section, f"the walkthrough's lesson {lesson.number} section should mention {needed!r}"
        position = section_start
