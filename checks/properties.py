"""Shared settings for property checks (Hypothesis): bounded, derandomised, no deadline,
so a check gives the same verdict on every run and every machine."""
from hypothesis import HealthCheck, settings

PROPERTY = settings(
    derandomize=True,
    deadline=None,
    max_examples=30,
    database=None,
    print_blob=False,
    # One readable failure, not an ExceptionGroup of several.
    report_multiple_bugs=False,
    suppress_health_check=list(HealthCheck),
)
