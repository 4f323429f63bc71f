"""Evidence taken outside the learner's reach in `make grade` (checks/evidence.py,
checks/boundary.py, checks/procedures.py, checks/properties.py).

Each attack is a tiny learner file run in the sandbox against the real check; the test asserts
the check's verdict, and that an honest file still passes the same check.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, strategies as st

from benchmarks.hostile_attacks import (FAKE_COUNT, FAKE_FRESH, FAKE_PLOT, FORGE_TABLE, LINKED_PNG, LOOP, PROC_FD2,
                                        SET_ORDER, SIGNATURE_ONLY, message_with_array, npy)
from checks import boundary, messages
from checks.framework import FAIL, PASS, CheckFailed, checks_for, run_inline
from checks.properties import property_settings
from checks.sandbox import Limits, SandboxedLearner, bwrap_works
from course import index
from course.paths import REPO

BWRAP, WHY_NOT = bwrap_works()
needs_bwrap = pytest.mark.skipif(not BWRAP, reason=f"no usable bubblewrap here: {WHY_NOT}")


def run_check(lesson: int, task_title: str, source: str):
    """The verdict of the lesson's check ``task_title`` on ``source``, graded in the sandbox."""
    import importlib

    item = next(c for c in checks_for(lesson) if c.title == task_title)
    ref = importlib.import_module(f"solutions.{index.lesson(lesson).module}")
    learner = SandboxedLearner(lesson, textwrap.dedent(source).encode(), Limits())
    try:
        assert learner.start() is None, learner.load_error
        learner.begin_check(item.timeout)
        return run_inline(item, learner, ref, None)
    finally:
        learner.close()


def solution(lesson: int) -> str:
    return index.lesson(lesson).solution_path.read_text()


# ------------------------------------------------------------------ lesson 2: a fresh interpreter

@needs_bwrap
def test_a_forged_fresh_interpreter_probe_does_not_pass_lesson_2():
    title = "the same genre index in a fresh Python process"
    forged = SET_ORDER + FORGE_TABLE.format(name="in_fresh_interpreters", fake=FAKE_FRESH)
    assert run_check(2, title, SET_ORDER).status == FAIL          # the honest mistake
    assert run_check(2, title, forged).status == FAIL             # the forged table changes nothing
    assert run_check(2, title, solution(2)).status == PASS


# ------------------------------------------------------------------ lesson 6: the PNG, decoded by the grader

@needs_bwrap
def test_a_png_signature_alone_or_a_forged_table_does_not_pass_lesson_6():
    title = "writes a PNG where it is asked to"
    forged = SIGNATURE_ONLY + FORGE_TABLE.format(name="plot_into_folder", fake=FAKE_PLOT)
    for source in (SIGNATURE_ONLY, forged, LINKED_PNG):
        result = run_check(6, title, source)
        assert result.status == FAIL and ("not a PNG" in result.message or "did not write" in result.message), \
            result
    assert run_check(6, title, solution(6)).status == PASS


# ------------------------------------------------------------------ lesson 8: the operation count

@needs_bwrap
def test_a_hidden_python_loop_or_a_forged_count_does_not_pass_lesson_8():
    title = "no Python loop over the movies"
    forged = LOOP + FORGE_TABLE.format(name="count_tensor_operations", fake=FAKE_COUNT)
    for source in (LOOP, forged):
        result = run_check(8, title, source)
        assert result.status == FAIL and "Python" in result.message, result
    assert run_check(8, title, solution(8)).status == PASS


# ------------------------------------------------------------------ what crosses the boundary

@pytest.mark.parametrize("header, data", [
    ("{'descr': '|V0', 'fortran_order': False, 'shape': (10**15,), }", b""),           # 10^15 items of nothing
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000,), }", b"\0" * 16),   # fewer bytes than said
    ("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", b"\0" * 800),        # more bytes than said
])
def test_npy_headers_are_checked_against_their_bytes_before_decoding(header, data):
    with pytest.raises(boundary.BoundaryError, match="header"):
        messages.read_message(io.BytesIO(message_with_array(npy(header.replace("10**15", str(10**15))) + data)))


def test_honest_arrays_still_cross():
    for a in (np.arange(6).reshape(2, 3), np.asfortranarray(np.ones((2, 3))), np.zeros((0, 4)), np.array(["a", "bc"]),
              np.zeros((), np.float32), np.arange(3, dtype=">i4")):
        back = messages.read_message(io.BytesIO(messages.dumps({"v": a})))["v"]
        assert back.dtype == a.dtype and back.shape == a.shape and np.array_equal(back, a)


# ------------------------------------------------------------------ the sandbox's standard error

@needs_bwrap
def test_proc_1_fd_2_writes_to_no_file_of_this_machine():
    learner = SandboxedLearner(3, (PROC_FD2 + '\n\ndef alive():\n    return "yes"\n').encode(), Limits())
    try:
        assert learner.start() is None, learner.load_error
        box = learner._box
        assert all(os.path.getsize(os.path.join(folder, name)) < (1 << 20)
                   for folder, _, names in os.walk(box) for name in names)
        assert len(learner._worker.stderr) <= 1 << 16
        learner.begin_check(5.0)
        assert learner.alive() == "yes"
    finally:
        learner.close()


# ------------------------------------------------------------------ a failing property in grading

def test_in_grading_a_property_stops_at_its_first_failing_example():
    for grading, most_calls in ((False, None), (True, 30)):
        calls = []

        @property_settings(grading)
        @given(st.lists(st.integers(0, 10**6), min_size=1))
        def prop(values):
            calls.append(values)
            if sum(values) > 1000:
                raise CheckFailed(f"for the values {values} the sum is over 1000")
        with pytest.raises(CheckFailed, match="for the values \\[") as raised:
            prop()
        if grading:
            # No shrinking: the first failing example (and its replay), reported in words.
            assert len(calls) <= most_calls and calls[-1] == calls[-2], len(calls)
            assert str(calls[-1]) in str(raised.value)
        else:
            assert str(raised.value).startswith("for the values [1001]")    # `make check` shrinks it


def test_the_graders_interpreter_uses_the_grading_settings():
    code = "from checks.properties import PROPERTY, Phase; print(Phase.shrink in PROPERTY.phases)"
    env = {**os.environ, "TWO_TOWER_GRADER_CHILD": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO)
    assert done.stdout.strip() == "False", done.stderr
