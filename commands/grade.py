"""``make grade SUBMISSION=path [SHARD=k/n]``: grade a class, or a share of it; ``make grade-merge``
puts the shares together (see checks/classroom.py and docs/grading.md)."""
from __future__ import annotations

import sys

from checks.classroom import main

if __name__ == "__main__":
    sys.exit(main(fresh_interpreter=True))
