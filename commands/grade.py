"""``make grade SUBMISSION=path``: grade a class (see checks/classroom.py and docs/grading.md)."""
from __future__ import annotations

import sys

from checks.classroom import main

if __name__ == "__main__":
    sys.exit(main(fresh_interpreter=True))
