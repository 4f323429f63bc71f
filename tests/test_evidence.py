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

from checks import boundary, messages
from checks.framework import FAIL, PASS, CheckFailed, checks_for, run_inline
from checks.properties import property_settings
from checks.sandbox import Limits, SandboxedLearner, bwrap_works
from course import index
from course.paths import REPO

BWRAP, WHY_NOT = bwrap_works()
needs_bwrap = pytest.mark.skipif(not BWRAP, reason=f"no usable bubblewrap here: {WHY_NOT}")

FORGE_TABLE = """
import checks.procedures as _p
_p.PROCEDURES[{name!r}] = lambda learner, *a, **k: {fake}
"""


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

SET_ORDER = """
def build_genre_index(genres_by_id):
    seen = {g for genres in genres_by_id.values() for g in genres}
    return {g: i for i, g in enumerate(seen)}
"""


@needs_bwrap
def test_a_forged_fresh_interpreter_probe_does_not_pass_lesson_2():
    title = "the same genre index in a fresh Python process"
    fake = "[(0, 'same', '')] * 2"
    forged = SET_ORDER + FORGE_TABLE.format(name="in_fresh_interpreters", fake=fake)
    assert run_check(2, title, SET_ORDER).status == FAIL          # the honest mistake
    assert run_check(2, title, forged).status == FAIL             # the forged table changes nothing
    assert run_check(2, title, solution(2)).status == PASS


# ------------------------------------------------------------------ lesson 6: the PNG, decoded by the grader

SIGNATURE_ONLY = """
def plot_loss_curve(history, path):
    from pathlib import Path
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(b"\\x89PNG\\r\\n\\x1a\\n")
    return path
"""


@needs_bwrap
def test_a_png_signature_alone_or_a_forged_table_does_not_pass_lesson_6():
    title = "writes a PNG where it is asked to"
    fake = "[{'returned': r, 'exists': True, 'size': 9, 'head': b'\\x89PNG\\r\\n\\x1a\\n'} for r in a[1]]"
    forged = SIGNATURE_ONLY + FORGE_TABLE.format(name="plot_into_folder", fake=fake)
    link = SIGNATURE_ONLY.replace('Path(path).write_bytes(b"\\x89PNG\\r\\n\\x1a\\n")',
                                  'Path(path).symlink_to("/usr/share/pixmaps/debian-logo.png")')
    for source in (SIGNATURE_ONLY, forged, link):
        result = run_check(6, title, source)
        assert result.status == FAIL and ("not a PNG" in result.message or "did not write" in result.message), \
            result
    assert run_check(6, title, solution(6)).status == PASS


# ------------------------------------------------------------------ lesson 8: the operation count

LOOP = """
import torch

def pairwise_distances(x):
    n = x.shape[0]
    out = torch.zeros((n, n), dtype=x.dtype)
    with torch._C.DisableTorchFunction():
        for i in range(n):
            for j in range(i + 1, n):
                d = ((x[i] - x[j]) ** 2).sum().sqrt()
                out[i, j] = d
                out[j, i] = d
    return out
"""


@needs_bwrap
def test_a_hidden_python_loop_or_a_forged_count_does_not_pass_lesson_8():
    title = "no Python loop over the movies"
    fake = "{'out': learner.pairwise_distances(*a[2:]), 'calls': 3, 'used_cdist': False, 'too_many': False}"
    forged = LOOP + FORGE_TABLE.format(name="count_tensor_operations", fake=fake)
    for source in (LOOP, forged):
        result = run_check(8, title, source)
        assert result.status == FAIL and "Python" in result.message, result
    assert run_check(8, title, solution(8)).status == PASS


# ------------------------------------------------------------------ what crosses the boundary

def message_with_array(blob: bytes) -> bytes:
    text = b'{"v": {"$nd": 0}}'
    payload = text + messages.ARRAY.pack(len(blob)) + blob
    return messages.HEADER.pack(len(payload), len(text)) + payload


def npy(header: str) -> bytes:
    body = header.encode("latin1")
    body += b" " * (63 - (10 + len(body)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


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
    learner = SandboxedLearner(3, textwrap.dedent("""
        import os
        for fd_path in ("/proc/1/fd/2", "/proc/2/fd/2"):
            try:
                with open(fd_path, "wb", buffering=0) as f:
                    for _ in range(64):
                        f.write(b"It said: PASS " * 4096)
            except OSError:
                pass

        def alive():
            return "yes"
        """).encode(), Limits())
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
