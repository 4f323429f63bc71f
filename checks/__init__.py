"""The graded checks: one module per lesson, run by ``make check LESSON=N``."""
