"""The sandbox of `make grade` and its data-only boundary, piece by piece (checks/sandbox.py,
checks/sandbox_worker.py, checks/boundary.py). The whole class is in tests/test_classroom.py.

Where bwrap is missing the sandbox tests skip with the reason, except under CI=true, where a
missing bwrap fails (the CI installs it: .ci/run), so the sandbox itself is always tested.
"""
from __future__ import annotations

import io
import os
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import torch

from checks import boundary, messages
from checks.framework import CPUTimeExceeded, LearnerRaised, MissingFunction, WallTimeExceeded
from checks.sandbox import Limits, SandboxedLearner, bwrap_works, copy_back, process_limit_kind
from course.containers import Examples, Params, TrainHistory
from course.paths import REPO

BWRAP, WHY_NOT = bwrap_works()
needs_bwrap = pytest.mark.skipif(not BWRAP, reason=f"no usable bubblewrap here: {WHY_NOT}")


def test_bwrap_is_there_in_ci():
    if os.environ.get("CI", "").lower() != "true":
        pytest.skip("only under CI=true: elsewhere the sandbox tests skip when bwrap is missing")
    assert BWRAP, WHY_NOT


# ------------------------------------------------------------------ the boundary

def roundtrip(value):
    data = messages.dumps({"v": value})
    return messages.read_message(io.BytesIO(data))["v"]


def test_values_cross_as_data():
    leaf = torch.randn(3, 2, dtype=torch.float64).requires_grad_(True)
    leaf.grad = torch.ones(3, 2, dtype=torch.float64)
    computed = leaf * 2
    generator = torch.Generator().manual_seed(5)
    generator_copy = roundtrip(generator)
    assert torch.equal(torch.rand(4, generator=generator_copy), torch.rand(4, generator=generator))
    back = roundtrip({"leaf": leaf, "computed": computed, "scalar": torch.tensor(2.5), "int": torch.arange(3)})
    assert back["leaf"].is_leaf and back["leaf"].requires_grad and torch.equal(back["leaf"].grad, leaf.grad)
    assert not back["computed"].is_leaf and back["computed"].requires_grad
    assert back["scalar"].dim() == 0 and back["int"].dtype == torch.int64
    frame = pd.DataFrame({"userId": np.array([3, 1], dtype=np.int64), "title": ["a", None],
                          "ok": [True, False]}, index=pd.Index([10, 20], name="row"))
    copy = roundtrip(frame)
    pd.testing.assert_frame_equal(copy, frame)
    series = pd.Series([1.5, 2.5], index=pd.MultiIndex.from_tuples([(1, 2), (3, 4)], names=["u", "m"]), name="r")
    pd.testing.assert_series_equal(roundtrip(series), series)
    params = Params(*(torch.zeros(2) for _ in Params.NAMES))
    examples = Examples(torch.arange(2), torch.arange(2), torch.zeros(2))
    history = TrainHistory([0, 10], [1.0, 0.5], [1.1, 0.6], 10, False)
    got = roundtrip((params, examples, history, {1: ("a", 2.0)}, {3}, b"\x89PNG", np.int64(4), float("nan")))
    assert isinstance(got[0], Params) and isinstance(got[1], Examples) and got[2] == history
    assert got[3] == {1: ("a", 2.0)} and got[4] == {3} and got[5] == b"\x89PNG" and got[6] == 4
    assert np.isnan(got[7])


def test_a_sparse_csr_matrix_crosses_checked():
    # Lesson 10's interactions are sparse CSR: they cross as row starts, columns and values.
    matrix = torch.sparse_csr_tensor(torch.tensor([0, 2, 2, 3]), torch.tensor([0, 3, 1]),
                                     torch.tensor([1.0, 5.0, 0.0], dtype=torch.float64), size=(3, 4))
    back = roundtrip(matrix)
    assert back.layout == torch.sparse_csr and back.shape == (3, 4) and back.dtype == torch.float64
    assert torch.equal(back.to_dense(), matrix.to_dense()) and back.values().numel() == 3   # the stored zero too
    # Arrays that do not describe a matrix are refused before torch builds one: a column outside
    # it, row starts that decrease, that do not start at 0, or one row too few.
    document = {"$csr": [0, 1, 2], "shape": [3, 4], "dtype": "float64"}
    for starts, columns in (([0, 2, 2, 3], [0, 9, 1]), ([0, 3, 2, 3], [0, 3, 1]), ([1, 2, 2, 3], [0, 3, 1]),
                            ([0, 2, 3], [0, 3, 1])):
        with pytest.raises(boundary.BoundaryError, match="sparse"):
            boundary.Decoder([np.array(starts), np.array(columns), np.array([1.0, 5.0, 0.0])]).decode(document)


def test_nothing_else_crosses_and_nothing_is_unpickled():
    class Sneaky(list):
        pass
    for value in (Sneaky([1]), object(), lambda: 1, np.array([object()], dtype=object).reshape(1, 1)[0, 0]):
        with pytest.raises(boundary.BoundaryError):
            messages.dumps({"v": value})
    # An array message that would need unpickling (an object array written with pickle) is refused.
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    text = b'{"v": {"$nd": 0}}'
    blob = buffer.getvalue()
    payload = text + messages.ARRAY.pack(len(blob)) + blob
    message = messages.HEADER.pack(len(payload), len(text)) + payload
    with pytest.raises(boundary.BoundaryError, match="unpickling"):
        messages.read_message(io.BytesIO(message))
    for bad in (b'{"v": {"$dc": "Popen", "fields": {}}}', b'{"v": {"$nd": 7}}', b"[1]", b"not json"):
        message = messages.HEADER.pack(len(bad), len(bad)) + bad
        with pytest.raises(boundary.BoundaryError):
            messages.read_message(io.BytesIO(message))


def test_copy_back_updates_the_callers_objects():
    params = Params(*(torch.zeros(2).requires_grad_(True) for _ in Params.NAMES))
    kept = params.user_b
    new = Params(*(torch.ones(2).requires_grad_(True) for _ in Params.NAMES))
    new.user_b.grad = torch.full((2,), 3.0)
    copy_back(params, roundtrip(new), replaced=["item_id_b"])
    assert params.user_b is kept and torch.equal(params.user_b.detach(), torch.ones(2))
    assert torch.equal(params.user_b.grad, torch.full((2,), 3.0))
    frame = pd.DataFrame({"a": [1, 2]})
    copy_back(frame, pd.DataFrame({"a": [5, 6]}), [])
    assert frame["a"].tolist() == [5, 6]


# ------------------------------------------------------------------ the sandboxed worker

def _learner(tmp_path, source: str, lesson: int = 3, **limits) -> SandboxedLearner:
    learner = SandboxedLearner(lesson, textwrap.dedent(source).encode(), Limits(**limits))
    return learner


@needs_bwrap
def test_the_sandbox_sees_only_its_own_files(tmp_path):
    learner = _learner(tmp_path, f"""
        import os, socket, sys

        def look():
            seen = {{}}
            for path in ({str(REPO)!r}, {str(REPO / "solutions" / "lesson03_masking.py")!r},
                         {str(REPO / "checks")!r}, "/root", "/home", "/work", "/box/code/checks",
                         "/box/code/solutions"):
                seen[path] = sorted(os.listdir(path)) if os.path.isdir(path) else os.path.exists(path)
            try:
                socket.create_connection(("1.1.1.1", 53), timeout=2)
                seen["network"] = True
            except OSError:
                seen["network"] = False
            seen["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
            seen["uid"] = os.getuid()
            try:
                open("/box/lessons/lesson03_masking.py", "a").close()
                seen["own file writable"] = True
            except OSError:
                seen["own file writable"] = False
            return seen
        """)
    try:
        assert learner.start() is None, learner.load_error
        learner.begin_check(10)
        seen = learner.look()
    finally:
        learner.close()
    assert seen[str(REPO / "solutions" / "lesson03_masking.py")] is False
    assert seen[str(REPO / "checks")] is False
    assert seen[str(REPO)] in (False, [".venv"])              # at most the (read-only) venv is bound there
    assert seen["/box/code/checks"] == ["__init__.py", "boundary.py", "learner_file.py", "messages.py",
                                        "procedures.py", "sandbox_worker.py"]
    assert seen["/box/code/solutions"] == ["__init__.py", "lesson01_cleaning.py", "lesson02_vocabularies.py"]
    assert seen["network"] is False and seen["own file writable"] is False
    assert len(seen["pids"]) <= 3                          # its own PID namespace
    # /root and /home hold at most the folders on the way to the (read-only) Python installation.
    import sys
    for top in ("/root", "/home"):
        assert seen[top] is False or all(sys.base_prefix.startswith(f"{top}/{entry}") for entry in seen[top])


@needs_bwrap
def test_errors_come_back_as_good_messages(tmp_path):
    learner = _learner(tmp_path, """
        class UnknownTitleError(KeyError):
            pass

        def todo():
            raise NotImplementedError("Lesson 3.1: how many")

        def bad(x):
            return x[10]

        def unknown(title):
            raise UnknownTitleError(f"no {title}, did you mean Heat?")

        def spin():
            while True:
                pass

        def exits():
            import os
            os._exit(4)

        def unreadable():
            return object()
        """)
    try:
        assert learner.start() is None, learner.load_error
        learner.begin_check(2.0)
        with pytest.raises(NotImplementedError, match="Lesson 3.1"):
            learner.todo()
        with pytest.raises(MissingFunction, match="we cannot find the function named `nothing`"):
            learner.nothing()
        with pytest.raises(IndexError) as raised:
            learner.bad([1])
        assert isinstance(raised.value, LearnerRaised)
        assert "lessons/lesson03_masking.py, line 9: `return x[10]`" in raised.value.report
        with pytest.raises(KeyError) as raised:
            learner.unknown("Hat")
        assert type(raised.value).__name__ == "UnknownTitleError" and "did you mean Heat" in str(raised.value)
        with pytest.raises(LearnerRaised, match="cannot take back"):
            learner.unreadable()
        started = time.process_time(), time.monotonic()
        with pytest.raises(CPUTimeExceeded):
            learner.spin()
        with pytest.raises(LearnerRaised, match="exited with code 4"):
            learner.begin_check(2.0)
            learner.exits()
        learner.begin_check(2.0)
        with pytest.raises(NotImplementedError):          # started again for the next call
            learner.todo()
        assert learner.starts == 2
    finally:
        learner.close()
    del started


@needs_bwrap
def test_sleeping_code_meets_the_wall_clock_backstop(tmp_path):
    learner = _learner(tmp_path, """
        def sleeper():
            import time
            time.sleep(3600)
        """, wall_factor=1.0, wall_slack_s=2.0)
    try:
        assert learner.start() is None
        learner.begin_check(1.0)
        started = time.monotonic()
        with pytest.raises(CPUTimeExceeded) as raised:
            learner.sleeper()
        assert isinstance(raised.value, WallTimeExceeded)
        # The backstop is 3 s here; far less than the hour it would otherwise sleep, even on
        # a busy machine.
        assert time.monotonic() - started < 600
    finally:
        learner.close()


@needs_bwrap
def test_a_process_limit_that_holds_for_root(tmp_path):
    if process_limit_kind() == "none":
        pytest.skip("root without a writable pids cgroup: no process limit can be set here")
    learner = _learner(tmp_path, """
        def bomb():
            import os, time
            count = 0
            for _ in range(1000):
                try:
                    if os.fork() == 0:
                        time.sleep(30)
                        os._exit(0)
                except OSError:
                    break
                count += 1
            return count
        """)
    try:
        assert learner.start() is None
        learner.begin_check(10.0)
        assert learner.bomb() < 64
    finally:
        learner.close()


@needs_bwrap
def test_nothing_it_starts_survives_it(tmp_path):
    mark = "7654322"

    def alive() -> list[str]:
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        if f.read().split(b"\0")[:2] == [b"sleep", mark.encode()]:
                            found.append(entry)
                except OSError:
                    pass
        return found

    learner = _learner(tmp_path, f"""
        import os
        if os.fork() == 0:                 # a double-forked daemon in a session of its own
            os.setsid()
            if os.fork() == 0:
                os.execv("/usr/bin/sleep", ["sleep", "{mark}"])
            os._exit(0)

        def ready():
            return True
        """)
    try:
        assert learner.start() is None
        learner.begin_check(5.0)
        assert learner.ready()
        deadline = time.monotonic() + 10
        while not alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert alive(), "the daemon did not start: this test would prove nothing"
    finally:
        learner.close()
    deadline = time.monotonic() + 5
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert alive() == []


# ------------------------------------------------------------------ every lesson, through the boundary

@needs_bwrap
def test_every_lessons_reference_scores_full_marks_in_the_sandbox(tmp_path):
    """The one check style holds for every lesson: graded by `make grade`, in the sandbox,
    the reference solutions earn every point and the pristine stubs none. (A check that
    composed a learner function with code in the trusted process would lose its points here.)"""
    import csv
    import shutil
    import subprocess
    import sys

    from course import index
    from course.stubgen import make_stub

    reference = tmp_path / "class" / "reference" / "lessons"
    stubs = tmp_path / "class" / "stubs" / "lessons"
    reference.mkdir(parents=True)
    stubs.mkdir(parents=True)
    for lesson in index.lessons():
        shutil.copyfile(lesson.solution_path, reference / lesson.stub_path.name)
        (stubs / lesson.stub_path.name).write_text(make_stub(lesson.solution_path.read_text(), lesson))
    done = subprocess.run([sys.executable, "-m", "commands.grade", str(tmp_path / "class"),
                           "--reports", str(tmp_path / "reports"), "--jobs", "1"],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = {row["learner"]: row for row in csv.DictReader(open(tmp_path / "reports" / "class.csv"))}
    lessons = [f"lesson {lesson.number}" for lesson in index.lessons()]
    for column in lessons:
        name = next(key for key in rows["reference"] if key.startswith(column + " "))
        possible = int(name.split("(of ")[1].rstrip(")"))
        assert int(rows["reference"][name]) == possible, f"{column}: the reference earns {rows['reference'][name]} " \
                                                         f"of {possible} in the sandbox"
        assert int(rows["stubs"][name]) == 0, f"{column}: a pristine stub earns points in the sandbox"
