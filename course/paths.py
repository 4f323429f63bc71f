"""Where things live in the repository (one place, so commands and tests agree)."""
from __future__ import annotations

from pathlib import Path

from course.config import environment

REPO = Path(__file__).resolve().parents[1]
LESSONS_DIR = REPO / "lessons"
SOLUTIONS_DIR = REPO / "solutions"
CHECKS_DIR = REPO / "checks"
BACKUP_DIR = REPO / ".backups"
OUTPUT_DIR = REPO / "outputs"


def data_dir() -> Path:
    """Folder holding installed datasets (``COURSE_DATA_DIR`` overrides it, for tests)."""
    return Path(environment("COURSE_DATA_DIR") or REPO / "datasets" / "data")


def relative(path: Path | str) -> str:
    """``path`` relative to the repository when it lies inside it (for messages), else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return str(path)
