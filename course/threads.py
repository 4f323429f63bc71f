"""How many CPU threads PyTorch uses: the course's one thread policy.

Everything that runs the pipeline calls :func:`use_course_threads` once, at start-up: the
demo, the benchmark, the notebooks, the grader and the reference pipeline
(``solutions.pipeline``). It is the only place that decides.

Why one thread. The course's matrices are small: a training step multiplies a 64 x 270
minibatch by a 270 x 50 weight matrix, a few microseconds of arithmetic. Splitting such an
operation over two threads costs more in hand-over than it saves, and when the machine is
busy with anything else (another process, a second learner on a shared machine) a thread
that has to wait for its partner stalls every operation. Measured on the course's 2-core
machine at ML-32M shapes (training steps at batch 64; ``make bench`` repeats the
comparison): 1,291 steps/s at one thread against 343 at two with the machine nearly idle
(load average 0.7 to 1.7), and 1,292 against 19 while other work kept the load average
at 6. Evaluating 6.25M examples in chunks of 8,192 (hundreds of small operations) took
9.3 s at one thread and 24.7 s at two. One thread
also makes every sum add its numbers in the same order on every machine, so stored
results (notebooks, checks) are reproducible whatever the number of cores.

One exception, measured too: a full evaluation (``fast.mse_evaluation.evaluate_sets``) at ML-32M
size is a few operations of tens of milliseconds each, not thousands of microsecond ones.
There a second thread pays: the evaluation cuts its users into fixed parts and
:func:`evaluation_workers` Python threads compute the parts side by side, each operation
still on one thread. (PyTorch releases Python's lock while an operation runs.) The parts
do not depend on the thread count, so the losses are the same on every machine. Quiet,
two threads make an evaluation 1.8 times faster (``make bench`` prints both timings); on
a machine whose cores are all busy they make it slower, so the evaluation uses only the
cores the load average leaves idle (:func:`evaluation_workers` has the measurements).

On a GPU the thread count only concerns the little CPU work around the kernels; the policy
is the same. ``COURSE_THREADS=N`` in the environment overrides it (for measuring), and
``COURSE_EVAL_WORKERS=N`` the evaluation's threads.
"""
from __future__ import annotations

import os

from course.config import environment_count

#: Threads PyTorch uses for the course's CPU work (see the module text for the measurement).
COURSE_THREADS = 1


def course_threads() -> int:
    """The thread count of the policy, or ``$COURSE_THREADS`` when set to a positive integer."""
    return environment_count("COURSE_THREADS") or COURSE_THREADS


def use_course_threads() -> int:
    """Set PyTorch's intra-op thread count to :func:`course_threads` and return it.

    Safe to call more than once. The inter-op pool (used only by parallel autograd on
    several devices) is left alone: PyTorch refuses to resize it once it has started.
    """
    import torch

    threads = course_threads()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity where the system tells it)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def evaluation_workers() -> int:
    """Threads that share a full evaluation (``fast.mse_evaluation.evaluate_sets``):
    ``$COURSE_EVAL_WORKERS`` when set to a positive integer; otherwise one per core this
    process may use (divided by the threads each operation uses), but only as many as the
    rest of the machine leaves idle: ``cores - (1-minute load average - 1)``, rounded, at
    least 1 (the 1 is this run's own training thread, which the load average counts).

    Why the load counts: measured at ML-32M size on the course's 2-core machine, one
    evaluation took 99 ms on two threads against 185 ms on one when quiet (load about 1, the
    run itself), but 1.61 s against 1.37 s on one while 16 other busy processes kept the
    load average near 15: with every core already busy a second thread only adds waiting. The
    losses are the same either way (the parts do not depend on the thread count).
    """
    import torch

    chosen = environment_count("COURSE_EVAL_WORKERS")
    if chosen:
        return chosen
    cores = usable_cores()
    workers = max(1, cores // max(1, torch.get_num_threads()))
    try:
        others = os.getloadavg()[0] - 1.0
    except OSError:  # no load average on this system
        return workers
    return max(1, min(workers, round(cores - others)))
