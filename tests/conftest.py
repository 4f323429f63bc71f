"""Maintainers' test suite (make test). Runs offline and deterministically."""
import os

# Child processes (the checks' fresh-interpreter tests) must find the repo too.
os.environ.setdefault("PYTHONHASHSEED", "0")
