"""Re-execute the solution notebooks from their paired .py sources and store the outputs.

    python solutions/notebooks/build.py              # every notebook, in lesson order (make notebooks)
    python solutions/notebooks/build.py 6 7          # only the notebooks of lessons 6 and 7
    python solutions/notebooks/build.py --walkthrough  # only refresh the lesson table of docs/walkthrough.md

The ``NN_name.py`` files (jupytext percent format) are the source of truth: edit them (or
edit the notebook in Jupyter with jupytext, which keeps both in sync), then run this after
any change to a notebook, to the reference code or to ``course/config.py``. Each notebook is
executed top to bottom in a fresh kernel of this Python environment (the kernel nbval's
``--nbval-current-env`` uses), in its own folder, and written back with:

- cell ids numbered in order and no per-cell metadata, and notebook metadata reduced to the
  kernel's name, so a rebuild with unchanged results leaves the files unchanged;
- the paired .py rewritten from the same cells, in jupytext's canonical layout.

``make nbval`` then re-executes the stored notebooks and compares every output with the
stored one; tests/test_notebooks.py checks the pairing, the execution order and that no
path of the machine that built them leaked into them.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

NB_DIR = Path(__file__).resolve().parent
REPO = NB_DIR.parents[1]
WALKTHROUGH = REPO / "docs" / "walkthrough.md"
TABLE_BEGIN = "<!-- BEGIN LESSON TABLE (generated from course/index.toml by `make notebooks`) -->"
TABLE_END = "<!-- END LESSON TABLE -->"

# What a notebook keeps as metadata: enough for Jupyter to pick a Python kernel, nothing
# that changes from one machine or one run to the next (Python version, timings).
METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}
# The paired text format, as in solutions/notebooks/jupytext.toml.
PY_FORMAT = {"extension": ".py", "format_name": "percent",
             "notebook_metadata_filter": "-all", "cell_metadata_filter": "-all"}
CELL_TIMEOUT_S = 600


def sources() -> list[Path]:
    """The notebooks' .py sources, in lesson order (their names start with the lesson number)."""
    return sorted(NB_DIR.glob("[0-9][0-9]_*.py"))


def notebook_path(source: Path) -> Path:
    return source.with_suffix(".ipynb")


def read_source(source: Path):
    """The notebook a .py source describes, with canonical ids and metadata, no outputs."""
    import jupytext

    nb = jupytext.read(source, fmt="py:percent")
    return canonical(nb)


def canonical(nb):
    """Fixed metadata, cell ids ``c00, c01, ...``, no per-cell metadata."""
    nb.metadata = {key: dict(value) for key, value in METADATA.items()}
    nb.nbformat, nb.nbformat_minor = 4, 5
    for number, cell in enumerate(nb.cells):
        cell.id = f"c{number:02d}"
        cell.metadata = {}
        if cell.cell_type == "code":
            cell.outputs = merge_streams(cell.outputs)
            for output in cell.outputs:
                if "metadata" in output:
                    output.metadata = {}
    return nb


def merge_streams(outputs):
    """Join consecutive stdout (or stderr) chunks: the kernel splits a cell's printout at
    arbitrary moments, and the stored notebook should not change with that timing."""
    merged = []
    for output in outputs:
        if (output.output_type == "stream" and merged and merged[-1].output_type == "stream"
                and merged[-1].name == output.name):
            merged[-1].text += output.text
        else:
            merged.append(output)
    return merged


def execute(nb):
    """Run every cell in order in a fresh kernel of this environment, in NB_DIR."""
    from jupyter_client import KernelManager
    from nbclient import NotebookClient
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

    # The same kernel as `pytest --nbval-current-env`: this interpreter, whatever kernels
    # happen to be installed on the machine. It draws figures inline unless MPLBACKEND says
    # otherwise (some CI images set it to Agg): then no figure would be stored.
    os.environ.pop("MPLBACKEND", None)
    km = KernelManager(kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=NbvalKernelspecManager())
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT_S, allow_errors=False, record_timing=False,
                            resources={"metadata": {"path": str(NB_DIR)}})
    client.execute(cwd=str(NB_DIR))
    return canonical(nb)


def write(nb, source: Path) -> None:
    import jupytext
    import nbformat

    nbformat.validate(nb)
    nbformat.write(nb, notebook_path(source))
    jupytext.write(nb, source, fmt=PY_FORMAT)


def walkthrough_table() -> str:
    """The walkthrough's lesson table, from course/index.toml."""
    from course import index

    rows = ["| N | lesson | read | implement | then compare with | time |",
            "|---|--------|------|-----------|-------------------|------|"]
    total = 0
    for lesson in index.lessons():
        notebook = lesson_notebook(lesson.module)
        rows.append(f"| {lesson.number} | [{lesson.title}](#{anchor(section_heading(lesson))}) "
                    f"| `lessons/{lesson.text_path.name}` | `lessons/{lesson.stub_path.name}` "
                    f"| `solutions/notebooks/{notebook}` | {lesson.minutes} min |")
        total += lesson.minutes
    rows.append(f"| | **all {len(index.lessons())} lessons** | | | | **about {round(total / 60, 1):g} h** |")
    return "\n".join(rows)


def section_heading(lesson) -> str:
    """The heading of a lesson's section in the walkthrough (the table links to it)."""
    return f"Lesson {lesson.number}: {lesson.title}"


def anchor(heading: str) -> str:
    """The link target GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def lesson_notebook(module: str) -> str:
    """``lesson06_training`` -> ``06_training.ipynb``: notebooks are numbered like the lessons."""
    match = re.fullmatch(r"lesson(\d+_\w+)", module)
    if not match:
        raise ValueError(f"lesson module {module!r} is not named lessonNN_name")
    return f"{match.group(1)}.ipynb"


def update_walkthrough() -> bool:
    """Replace the table between the markers of docs/walkthrough.md; True if it changed."""
    text = WALKTHROUGH.read_text() if WALKTHROUGH.exists() else ""
    if TABLE_BEGIN not in text or TABLE_END not in text:
        raise SystemExit(f"{WALKTHROUGH.relative_to(REPO)} lacks the lesson-table markers {TABLE_BEGIN!r} "
                         f"and {TABLE_END!r}")
    start, end = text.index(TABLE_BEGIN) + len(TABLE_BEGIN), text.index(TABLE_END)
    new = text[:start] + "\n" + walkthrough_table() + "\n" + text[end:]
    if new != text:
        WALKTHROUGH.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("lessons", nargs="*", type=int, help="lesson numbers (default: all)")
    parser.add_argument("--walkthrough", action="store_true",
                        help="only refresh the generated lesson table of docs/walkthrough.md")
    args = parser.parse_args(argv)

    if update_walkthrough():
        print(f"updated the lesson table of {WALKTHROUGH.relative_to(REPO)}")
    if args.walkthrough:
        return 0
    chosen = [s for s in sources() if not args.lessons or int(s.name[:2]) in args.lessons]
    if not chosen:
        print(f"no notebook source matches lessons {args.lessons}", file=sys.stderr)
        return 1
    total = time.perf_counter()
    for source in chosen:
        started = time.perf_counter()
        print(f"executing {source.relative_to(REPO)} ...", end=" ", flush=True)
        nb = execute(read_source(source))
        write(nb, source)
        print(f"{time.perf_counter() - started:.1f} s -> {notebook_path(source).name}")
    print(f"{len(chosen)} notebook(s) in {time.perf_counter() - total:.1f} s; "
          "now run `make nbval` to check they re-execute identically")
    return 0


if __name__ == "__main__":
    sys.exit(main())
