"""The one process that runs a learner's lesson file during `make grade` (inside the sandbox).

    python -S -B -m checks.sandbox_worker LESSON_FILE DISPLAY_NAME --import-cpu S --memory-mb M [--bare]

It imports the lesson file, then answers requests read from its standard input: "call the
learner's function ``name`` (or the procedure ``name``) with these arguments", each answered
on its standard output with the result, the new state of every argument the call changed in
place, the CPU time used and what the code printed, or with the error it raised, all as
data (checks/boundary.py). The learner's own prints go to a file, never to the channel.

Like checks/boundary.py and checks/procedures.py it is copied into the sandbox on its own:
it imports no check and no reference answer.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import resource
import signal
import sys
from pathlib import Path

from checks import boundary, messages
from checks.learner_file import import_lesson_file, learner_frame
from checks.procedures import PROCEDURES

PRINTED_LIMIT = 4000          # what one call's prints may add to the reply


class CPUTimeExceeded(BaseException):
    pass


class _Missing(AttributeError):
    """A function the learner's file lacks (an AttributeError, so hasattr() stays False)."""


class Module:
    """The learner's module: a missing function is a sentence, not an AttributeError."""

    def __init__(self, module, display: str):
        self._module, self._display = module, display

    def __getattr__(self, name):
        try:
            return getattr(self._module, name)
        except AttributeError:
            raise _Missing(f"we cannot find the function named `{name}` in {self._display}. Did you rename or "
                           f"delete it? `make reset` restores the stub (your file is backed up first).") from None


def describe_error(e: BaseException, path: str, display: str) -> dict:
    if isinstance(e, CPUTimeExceeded):
        return {"kind": "cputime"}
    if isinstance(e, _Missing):
        return {"kind": "missing", "message": str(e)}
    if isinstance(e, NotImplementedError):
        return {"kind": "todo", "message": str(e)}
    if isinstance(e, RecursionError):
        return {"kind": "raised", "message": f"your code recursed too deeply (RecursionError)"
                                             f"{learner_frame(e, path, display)}"}
    if isinstance(e, MemoryError):
        return {"kind": "raised", "message": "your code ran out of memory (MemoryError): is something quadratic "
                                             "in the number of ratings?"}
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    what = f"{type(e).__name__}" + (f": {text}" if text else "")
    # The exception's own name, its builtin bases and str(e) too: a check may expect a KeyError
    # and read its message.
    return {"kind": "raised", "message": f"your code raised {what[:1000]}{learner_frame(e, path, display)}",
            "name": type(e).__name__[:100], "text": str(e)[:4000],
            "bases": [c.__name__ for c in type(e).__mro__ if c.__module__ == "builtins"]}


def _digest(value) -> str:
    try:
        return hashlib.sha256(messages.dumps({"v": value})).hexdigest()
    except boundary.BoundaryError:
        return ""


def _fields(value) -> dict[str, int]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: id(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return {}


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("lesson_file")
    parser.add_argument("display")
    parser.add_argument("--import-cpu", type=float, default=30.0)
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--bare", action="store_true")
    args = parser.parse_args(argv)
    # The procedures as they are now, before the learner's file runs: its module can reach
    # checks.procedures and replace entries of that table, never this copy.
    procedures = dict(PROCEDURES)

    # The channel: the standard input and output as they were given; the learner's prints
    # go to a file (read back after every call), and its standard input is empty.
    channel_in = os.fdopen(os.dup(0), "rb", buffering=0)
    channel_out = os.fdopen(os.dup(1), "wb")
    printed_path = Path(os.environ.get("TMPDIR", "/tmp")) / "printed.txt"
    printed = os.open(printed_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(printed, 1)
    os.dup2(printed, 2)
    sys.stdout = sys.stderr = open(1, "w", buffering=1, closefd=False, encoding="utf-8", errors="replace")
    seen = 0

    def new_prints() -> str:
        nonlocal seen
        try:
            with open(printed_path, "rb") as f:
                f.seek(seen)
                data = f.read(PRINTED_LIMIT + 1)
                seen = f.seek(0, 2)
        except OSError:
            return ""
        text = data.decode("utf-8", "replace")
        return text[:PRINTED_LIMIT] + ("\n[... output cut ...]" if len(text) > PRINTED_LIMIT else "")

    def send(**document) -> None:
        try:
            message = messages.dumps(document)
        except boundary.BoundaryError as e:
            message = messages.dumps({"error": {"kind": "unreadable", "message": str(e)}, "printed": new_prints()})
        channel_out.write(message)
        channel_out.flush()

    # The libraries first, then the memory limit, then the learner's file. A bare worker (a
    # probe's fresh interpreter) loads only what the boundary needs: the file loads the rest.
    import importlib
    for library in ("numpy",) if args.bare else ("numpy", "pandas"):
        importlib.import_module(library)
    if not args.bare:
        from course.threads import use_course_threads
        use_course_threads()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    def on_prof(signum, frame):
        raise CPUTimeExceeded()
    signal.signal(signal.SIGPROF, on_prof)

    if args.memory_mb:
        with open("/proc/self/statm") as f:
            current = int(f.read().split()[0]) * resource.getpagesize()
        limit = current + args.memory_mb * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):
            pass

    path = str(Path(args.lesson_file).resolve())
    module, error = None, None
    signal.setitimer(signal.ITIMER_PROF, max(args.import_cpu, 0.1))
    try:
        module, error = import_lesson_file(path, "learner_lesson", args.display, let_through=(CPUTimeExceeded,))
        error = error[:4000] if error else None
    except CPUTimeExceeded:
        error = (f"{args.display} did not finish importing within {args.import_cpu:g} s of CPU time: is there an "
                 f"endless loop, or slow work, at the top level of the file (outside any function)?")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    send(event="loaded", error=error, printed=new_prints())
    if module is None:
        return 0
    learner = Module(module, args.display)

    while True:
        try:
            request = messages.read_message(channel_in)
        except boundary.BoundaryError:
            return 2
        if request is None:
            return 0
        name = str(request.get("name", ""))
        call_args = list(request.get("args") or [])
        kwargs = dict(request.get("kwargs") or {})
        before = [_digest(a) for a in call_args] + [_digest(v) for v in kwargs.values()]
        ids = [_fields(a) for a in call_args] + [_fields(v) for v in kwargs.values()]
        start = _cpu()
        try:
            signal.setitimer(signal.ITIMER_PROF, max(float(request.get("cpu", 10.0)), 0.01))
            try:
                if request.get("procedure"):
                    result = procedures[name](learner, *call_args, **kwargs)
                else:
                    result = getattr(learner, name)(*call_args, **kwargs)
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
        except BaseException as e:  # noqa: B902 - everything the learner's code raised comes back as data
            send(error=describe_error(e, path, args.display), cpu=_cpu() - start, printed=new_prints())
            continue
        changed = []
        for i, value in enumerate(call_args + list(kwargs.values())):
            if _digest(value) != before[i]:
                now = _fields(value)
                changed.append({"at": i, "value": value,
                                "replaced": [f for f, ident in ids[i].items() if now.get(f) != ident]})
        send(ok=result, changed=changed, cpu=_cpu() - start, printed=new_prints())


if __name__ == "__main__":
    sys.exit(main())
