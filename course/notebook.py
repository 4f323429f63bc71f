"""The one setup call of every solution notebook.

    from course.notebook import setup
    CFG, DATA = setup()

It makes the printed values reproducible and returns the tuned settings and the data
folder, so each notebook starts the same way without repeating the lines below.
"""
from __future__ import annotations

from pathlib import Path

from course.config import CONFIGS, CourseConfig
from course.paths import data_dir
from course.threads import use_course_threads


def setup(dataset: str = "ml-latest-small") -> tuple[CourseConfig, Path]:
    """Fix what a notebook's printed values depend on; return ``(CONFIGS[dataset], its folder)``.

    - the course's thread policy (course/threads.py: one torch thread): PyTorch then adds up
      floating-point numbers in the same order on every machine, whatever its number of
      cores, so stored outputs re-execute identically;
    - tensors and tables print with 4 decimals;
    - torch's global generator is seeded (every draw in the course uses its own seeded
      generator; this is a safety net).
    Raises FileNotFoundError, naming the command to run, when the data is not installed.
    """
    import pandas as pd
    import torch

    use_course_threads()
    torch.set_printoptions(precision=4)
    torch.manual_seed(0)
    pd.set_option("display.precision", 4)
    folder = data_dir() / dataset
    if not (folder / "ratings.csv").exists():
        raise FileNotFoundError(f"{dataset} is not installed in {folder}: run `make data` first")
    return CONFIGS[dataset], folder
