"""Shared settings for property checks (Hypothesis): bounded, derandomised, no deadline,
so a check gives the same verdict on every run and every machine.

`make grade` stops a property at its first failing example: shrinking it to a smallest one
serves a learner at `make check` (a simpler example to read), not a grader of a class, where
it cost minutes per wrong submission. The failing example is the one the check's message
describes either way. The grader's own interpreter is marked by checks/classroom.py."""
import os

from hypothesis import HealthCheck, Phase, settings

GRADING = os.environ.get("TWO_TOWER_GRADER_CHILD") == "1"
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


def property_settings(grading: bool) -> settings:
    return settings(
        derandomize=True,
        deadline=None,
        max_examples=30,
        database=None,
        print_blob=False,
        # One readable failure, not an ExceptionGroup of several.
        report_multiple_bugs=False,
        suppress_health_check=list(HealthCheck),
        phases=NO_SHRINK if grading else tuple(Phase),
    )


PROPERTY = property_settings(GRADING)
