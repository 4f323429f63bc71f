"""The course's commands, one module per `make` target a learner or instructor runs:
check (make check, check-solutions, progress), hints, watch, reset, demo, grade.

The top floor: commands may use the ground (course/, datasets/), the reference
(solutions/) and the checks (checks/); nothing below imports a command.
"""
