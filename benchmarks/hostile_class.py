"""Grading a hostile class: most checkouts attack the grader, a few are honest.

    python -m benchmarks.hostile_class [--learners 50] [--lessons 2,3,5,6,8,10,11,12] [--honest N]
                                       [--attacks NAME,...] [--jobs J] [--json outputs/hostile_class.json]
                                       [--keep DIR]

builds a class of ``--learners`` checkouts (under a temporary folder, beside a copy of this
repository whose checks/__pycache__ holds planted bytecode), grades it with the real grader
(``python -m checks.classroom CLASS --reports DIR``, run from that copy) and prints the wall
time, CPU time and peak memory of the whole grading (the grader runs in a cgroup of its own,
inside which every sandbox's group is made, so the kernel counts them all; where no cgroup v1
can be written: the CPU time of the grader and the processes it waited for, and the sum of
resident memory sampled every 0.5 s, which counts shared pages more than once), the machine's
1-minute load average meanwhile, and a verdict table. Measured on the course's 2-core machine
(shared with other jobs, load 1.6 to 9.0): 50 learners x 8 lessons graded in 721 s wall, 785 s
CPU, 3.0 GiB peak; every one of the 388 verdicts held.

The mix: ``--honest`` learners (default one in ten, at least one) hold the reference's code in
every lesson; every other learner is hostile: two attacks of the catalogue below (dealt in
turn, so that every attack whose lesson is graded is in the class at least once when the class
is large enough: 5 honest and 45 hostile learners carry the 39 attacks of the 8 default
lessons 2 or 3 times each, 87 in all), each in its own lesson, and the reference's code in
every other lesson. The attacks (``ATTACKS``, benchmarks/hostile_catalogue.py): files that are
a folder, a FIFO, a link, a hard link to the reference or to an honest peer's file, too large
or binary, and ``lessons/`` linked to the reference; on lesson 3's ``split_watch_history`` the
families of tests/test_classroom.py (the reference imported, the stack walked, forged results
in files and on the pipe, patched libraries, a daemon writing everywhere after grading, a fork
bomb with disk and print floods); on any lesson's function: forked processes together over the
sandbox's memory, hundreds of MiB into /, /dev, /dev/shm and /tmp, a user namespace of its own
mounting a tmpfs, a false CPU time (the worker's timer silenced), a zero-itemsize .npy of
10^15 elements crossing the boundary, /proc/1/fd/2 flooded, the network, /proc snooped, the
host's files read through links, time.sleep at import and in a check, input(), stdout and
stderr floods; forged evidence (lesson 2's fresh-interpreter probe, lesson 6's PNG table and
an 8-byte signature or a link, lesson 8's operation count and a loop under
``torch._C.DisableTorchFunction()``); and mutants of checks/mutants/ (lesson 5 zeroing the
parameters it is given, lesson 10 metrics of 1.0 everywhere and a NaN coverage, lesson 11 and
12 NaN answers, lesson 12 a made-up loss curve). An attack that tries to get out computes the
honest answer only if it got out, so a check that passes on it is an escape, measured.

The verdicts: every honest learner has full marks; every attack got no points for what it
forged (its guarded checks are not PASS, a refused file scores 0 with its note); every lesson
of a hostile learner that holds no attack has full marks; and nothing escaped: the copy of
this repository and every checkout unchanged, no file written outside the reports (canaries
beside the class, the host's /tmp), the host's secret in no report, no connection to a
listener on the host, no process left behind (the daemon's ``sleep``, the attacks' markers),
every report without tampering. The exit status is 0 only if every verdict holds.

Timings depend on the machine and its load: this is a measurement, never a test verdict
(tests/test_hostile_class.py checks the builder and the verdicts, without grading).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.hostile_catalogue import ATTACKS, Attack, Context, source_for
from benchmarks.hostile_attacks import DAEMON_MARK, instructor_copy, plant_bytecode
from checks.framework import checks_for
from course import index

REPO = Path(__file__).resolve().parents[1]
DEFAULT_LESSONS = "2,3,5,6,8,10,11,12"


@dataclass
class LearnerPlan:
    name: str
    attacks: list[tuple[str, int]] = field(default_factory=list)    # (attack name, lesson)

    @property
    def honest(self) -> bool:
        return not self.attacks


def parse_lessons(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1)) if "," not in text else [int(n) for n in text.split(",")]


def plan_class(learners: int, lessons: list[int], honest: int | None = None,
               only: list[str] | None = None) -> list[LearnerPlan]:
    """Who carries which attack in which lesson: ``honest`` learners first, then the hostile
    ones, each with two attacks of the catalogue dealt in turn, in lessons of their own."""
    honest = max(1, learners // 10) if honest is None else honest
    usable = [a for a in ATTACKS.values() if a.lesson is None or a.lesson in lessons]
    plans = [LearnerPlan(f"honest{i:02d}") for i in range(min(honest, learners))]
    queue = [a for a in ATTACKS.values() if (a.lesson is None or a.lesson in lessons) and (not only or a.name in only)]
    for k in range(learners - len(plans)):
        plan, i = LearnerPlan(f"hostile{k:02d}"), 0
        while len(plan.attacks) < 2 and i < len(queue):
            attack, taken = queue[i], {lesson for _, lesson in plan.attacks}
            free = [n for n in lessons if n not in taken and attack.lesson in (None, n)]
            if not free or (attack.whole_checkout and plan.attacks):
                i += 1                      # it waits for the next learner
                continue
            plan.attacks.append((attack.name, free[(k + len(plan.attacks)) % len(free)]))
            queue.append(queue.pop(i))      # to the back of the queue
            if attack.whole_checkout:
                break
        plans.append(plan)
    return plans


def build_class(folder: Path, plans: list[LearnerPlan], lessons: list[int], ctx: Context) -> Path:
    """Every checkout of the plan under ``folder``: the reference's code in every lesson but
    the attacked ones, and (for hostile learners) copies of checks/ and solutions/ the grader
    must never use."""
    peer = next(p for p in plans if p.honest)
    for plan in plans:
        root = folder / plan.name
        attacked = dict((lesson, name) for name, lesson in plan.attacks)
        if any(ATTACKS[name].whole_checkout for name, _ in plan.attacks):
            root.mkdir(parents=True)
            (root / "lessons").symlink_to(ctx.repo / "solutions", target_is_directory=True)
            continue
        (root / "lessons").mkdir(parents=True)
        for number in lessons:
            path = root / "lessons" / index.lesson(number).stub_path.name
            if number not in attacked:
                path.write_bytes(index.lesson(number).solution_path.read_bytes())
                continue
            attack = ATTACKS[attacked[number]]
            if attack.file == "folder":
                path.mkdir()
            elif attack.file == "fifo":
                os.mkfifo(path)
            elif attack.file == "symlink":
                path.symlink_to(ctx.repo / "solutions" / path.name)
            elif attack.file == "hardlink_reference":
                os.link(ctx.repo / "solutions" / path.name, path)
            elif attack.file == "hardlink_peer":
                os.link(folder / peer.name / "lessons" / path.name, path)
            else:
                path.write_bytes(source_for(attack, number, ctx))
        if not plan.honest:
            (root / "checks").mkdir()
            (root / "checks" / "framework.py").write_text("raise SystemExit('the submission copy of checks/ was used')\n")
            (root / "solutions").mkdir()
            (root / "solutions" / "__init__.py").write_text("raise SystemExit('the submission copy was used')\n")
    return folder


# ------------------------------------------------------------------ what nothing may change

def tree_hashes(root: Path, skip=(".venv",)) -> dict[str, str]:
    """sha256 of every regular file under ``root`` (links and special files by their kind)."""
    out = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in skip]
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            path = Path(folder) / name
            mode = path.lstat().st_mode
            key = path.relative_to(root).as_posix()
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(mode) else f"mode {mode:o}"
    return out


def lingering(marks: list[str]) -> list[str]:
    """Processes whose command line holds one of ``marks`` (this process and its parents aside)."""
    found, mine = [], {os.getpid(), os.getppid()}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) not in mine:
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if any(mark in cmdline for mark in marks) and "hostile_class" not in cmdline:
                found.append(f"{entry.name}: {cmdline[:120]}")
    return found


class Listener:
    """A TCP port on the host that counts who connects (nothing in a sandbox should)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.port, self.connections, self.stop = self.sock.getsockname()[1], 0, False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


class Sampler:
    """Every 0.5 s: the resident memory of the grader and its sandboxes, and the load average."""

    def __init__(self):
        self.peak_kib, self.loads, self.stop = 0, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        tick = 0
        while not self.stop.wait(0.5):
            total = 0
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    cmdline = (entry / "cmdline").read_bytes()
                    if b"checks.classroom" in cmdline or b"sandbox_worker" in cmdline or b"bwrap" in cmdline:
                        for line in (entry / "status").read_text().splitlines():
                            if line.startswith("VmRSS:"):
                                total += int(line.split()[1])
                except (OSError, ValueError):
                    continue
            self.peak_kib = max(self.peak_kib, total)
            if tick % 10 == 0:
                self.loads.append(float(Path("/proc/loadavg").read_text().split()[0]))
            tick += 1

    def close(self):
        self.stop.set()
        self.thread.join(5)


# ------------------------------------------------------------------ the verdicts

def attack_verdict(attack: Attack, lesson: int, report: dict) -> tuple[bool, str]:
    """Whether ``attack`` in ``lesson`` got no points for what it forged, and why (from the
    learner's JSON report)."""
    graded = next((item for item in report["lessons"] if item["lesson"] == lesson), None)
    checks = graded["checks"] if graded else []
    kind, arg = attack.guard
    if kind == "refused":
        earned = graded["earned"] if graded else 0
        noted = any(arg in note for note in report["notes"])
        return earned == 0 and noted, f"{earned} points; note {'found' if noted else 'missing'}: {arg!r}"
    if kind == "shared":
        return bool(report["shared_files"]), f"flagged as shared: {bool(report['shared_files'])}"
    if kind == "load":
        error = (graded or {}).get("load_error") or ""
        earned = graded["earned"] if graded else 0
        return earned == 0 and any(word in error for word in arg), f"{earned} points; load error: {error[:80]!r}"
    if kind == "task":
        task = arg or _task_of(lesson, attack.target(lesson))
        guarded = [c for c in checks if c["task"] == task]
    elif kind == "titles":
        guarded = [c for c in checks if c["title"] in arg]
    else:                                       # "symptom": the check that catches the mutant
        guarded = [c for c in checks if c["status"] != "PASS" and arg.lower() in (c["message"] or "").lower()]
        if not guarded:
            return False, f"no failing check says {arg!r}: " + ", ".join(c["status"] for c in checks)
    passed = [c["title"] for c in guarded if c["status"] == "PASS"]
    if not guarded:
        return False, "no guarded check in the report"
    if kind == "symptom":
        return True, f"{guarded[0]['status']}: {guarded[0]['message'][:70]!r}"
    statuses = sorted({c["status"] for c in guarded})
    outputs = max((len(c.get("output") or "") for c in checks), default=0)
    return not passed and outputs <= 8192, (f"{len(guarded)} guarded checks {'/'.join(statuses)}"
                                             + (f"; PASSED: {passed}" if passed else "") + f"; longest output {outputs}")


def _task_of(lesson: int, function: str) -> str:
    return next(t.id for t in index.lesson(lesson).tasks if t.function == function)


def full_marks(lesson: int) -> int:
    return sum(c.points for c in checks_for(lesson))


def learner_verdicts(plans: list[LearnerPlan], reports: dict[str, dict], lessons: list[int]) -> list[dict]:
    """One row per honest learner, per attack and per untouched lesson of a hostile learner."""
    rows = []
    for plan in plans:
        report = reports.get(plan.name)
        if report is None:
            rows.append({"learner": plan.name, "what": "report", "ok": False, "why": "no report written"})
            continue
        earned = {item["lesson"]: item["earned"] for item in report["lessons"]}
        attacked = {lesson for _, lesson in plan.attacks}
        whole = any(ATTACKS[name].whole_checkout for name, _ in plan.attacks)
        for number in lessons:
            if number in attacked or whole:
                continue
            rows.append({"learner": plan.name, "what": "honest" if plan.honest else f"untouched lesson {number}",
                         "lesson": number, "ok": earned.get(number) == full_marks(number),
                         "why": f"{earned.get(number)}/{full_marks(number)}"})
        for name, number in plan.attacks:
            ok, why = attack_verdict(ATTACKS[name], number, report)
            rows.append({"learner": plan.name, "what": name, "lesson": number, "ok": ok, "why": why})
        if report["tampering"] or report["environment_changes"]:
            rows.append({"learner": plan.name, "what": "tampering", "ok": False,
                         "why": str(report["tampering"] + report["environment_changes"])[:200]})
    return rows


def escape_verdicts(ctx: Context, before: dict, reports: Path, listener_connections: int,
                    expected_reports: set[str]) -> list[dict]:
    """Nothing got out: the repository's copy and the checkouts unchanged, no canary written,
    no secret in a report, no connection, no process left behind, only the reports written."""
    rows = []

    def row(what, ok, why):
        rows.append({"learner": "-", "what": what, "ok": ok, "why": why})
    for name, root in (("repository copy unchanged", ctx.repo), ("every checkout unchanged", ctx.class_dir)):
        after = tree_hashes(root)
        changed = sorted(k for k in set(after) | set(before[name]) if after.get(k) != before[name].get(k))
        row(name, not changed, f"{len(changed)} changed: {changed[:5]}")
    outside = sorted(p.name for p in ctx.outside.iterdir() if p.name != ctx.secret.name)
    row("no file written beside the class", not outside, f"found {outside[:5]}")
    in_tmp = sorted(p.name for p in Path("/tmp").glob(f"*{ctx.nonce}*"))
    row("no file written in the host's /tmp", not in_tmp, f"found {in_tmp[:5]}")
    written = sorted(p.relative_to(reports).as_posix() for p in reports.rglob("*") if p.is_file())
    unexpected = [p for p in written if p not in expected_reports]
    row("only the reports written", not unexpected, f"{len(written)} files; unexpected: {unexpected[:5]}")
    secret = ctx.secret.read_text()
    leaked = [p for p in written if secret in (reports / p).read_text(errors="replace")
              or "owned" == (reports / p).read_text(errors="replace")]
    row("the host's secret in no report, no report 'owned'", not leaked, f"in {leaked[:5]}")
    row("no connection to the host's listener", listener_connections == 0, f"{listener_connections} connections")
    left = lingering([DAEMON_MARK, ctx.nonce])
    row("no process left behind", not left, f"{left[:3]}")
    return rows


# ------------------------------------------------------------------ grading it

class Accounting:
    """A cgroup (v1: cpuacct and memory) of its own for the grader: the sandboxes' groups are
    made inside the grader's group, so its counts are the whole grading's CPU time and peak
    memory (page cache and tmpfs pages included). None where no v1 hierarchy can be written."""

    def __init__(self, name: str):
        self.groups: dict[str, Path] = {}
        own = {}
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(","):
                own[controller] = path
        for controller in ("cpuacct", "memory"):
            root = Path("/sys/fs/cgroup") / controller
            if controller in own and (root / "cgroup.procs").exists():
                try:
                    group = root / own[controller].lstrip("/") / name
                    group.mkdir()
                    self.groups[controller] = group
                except OSError:
                    pass

    def enter(self) -> None:             # in the grader's process, before it runs Python
        for group in self.groups.values():
            (group / "cgroup.procs").write_text(str(os.getpid()))

    def read(self) -> dict:
        out = {}
        if "cpuacct" in self.groups:
            out["cpu_s"] = round(int((self.groups["cpuacct"] / "cpuacct.usage").read_text()) / 1e9, 1)
        if "memory" in self.groups:
            out["peak_memory_mib"] = round(int((self.groups["memory"] / "memory.max_usage_in_bytes").read_text()) / 2 ** 20)
        return out

    def remove(self) -> None:
        for group in self.groups.values():
            for _ in range(50):
                try:
                    group.rmdir()
                    break
                except OSError:
                    time.sleep(0.2)


def grade(ctx: Context, lessons: list[int], jobs: int | None) -> dict:
    """Grade the class with the copy's grader: wall seconds, CPU seconds and peak memory of the
    whole grading (its cgroup; else the grader and the processes it waited for, and the sum
    of resident memory sampled every 0.5 s), and the 1-minute load average meanwhile."""
    command = [sys.executable, "-m", "checks.classroom", str(ctx.class_dir), "--reports", str(ctx.reports),
               "--lessons", ",".join(map(str, lessons))] + (["--jobs", str(jobs)] if jobs else [])
    accounting = Accounting(f"hostile-class-{ctx.nonce}")
    sampler, cpu0 = Sampler(), resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = float(Path("/proc/loadavg").read_text().split()[0])
    started = time.perf_counter()
    with open(ctx.reports.parent / "grader.log", "wb") as log:
        done = subprocess.run(command, cwd=ctx.repo, stdout=log, stderr=subprocess.STDOUT,
                              preexec_fn=accounting.enter if accounting.groups else None)
    wall = time.perf_counter() - started
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler.close()
    counted = accounting.read()
    accounting.remove()
    loads = [load_before] + sampler.loads + [float(Path("/proc/loadavg").read_text().split()[0])]
    waited = round(cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime, 1)
    return {"returncode": done.returncode, "wall_s": round(wall, 1),
            "cpu_s": counted.get("cpu_s", waited), "cpu_counted_by": "cgroup" if "cpu_s" in counted else "rusage",
            "cpu_s_grader_and_waited_for": waited,
            "peak_memory_mib": counted.get("peak_memory_mib"), "peak_rss_sum_mib": round(sampler.peak_kib / 1024),
            "load_1min": {"start": loads[0], "end": loads[-1], "min": min(loads), "max": max(loads),
                          "mean": round(sum(loads) / len(loads), 2)},
            "grader_log_bytes": (ctx.reports.parent / "grader.log").stat().st_size}


def expected_reports(plans: list[LearnerPlan]) -> set[str]:
    return {f"{p.name}.{ext}" for p in plans for ext in ("md", "json")} | {"class.csv", "class.md"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hostile_class", description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=50)
    parser.add_argument("--lessons", default=DEFAULT_LESSONS, help="e.g. 2,3,5 or 2-6")
    parser.add_argument("--honest", type=int, default=None, help="honest learners (default: one in ten, at least 1)")
    parser.add_argument("--attacks", default="", help="only these attacks (names, comma-separated; default: all)")
    parser.add_argument("--jobs", type=int, default=None, help="the grader's --jobs (default: its own)")
    parser.add_argument("--json", type=Path, default=REPO / "outputs" / "hostile_class.json")
    parser.add_argument("--keep", type=Path, default=None, help="build and grade in this folder and keep it")
    args = parser.parse_args(argv)
    lessons = parse_lessons(args.lessons)
    plans = plan_class(args.learners, lessons, args.honest, [a for a in args.attacks.split(",") if a])
    base = Path(tempfile.mkdtemp(prefix="hostile-class-")) if args.keep is None else args.keep
    base.mkdir(parents=True, exist_ok=True)
    listener = Listener()
    try:
        ctx = Context.make(base, secrets.token_hex(6), listener.port)
        instructor_copy(ctx.repo)
        plant_bytecode(ctx.repo)
        build_class(ctx.class_dir, plans, lessons, ctx)
        hostile = [p for p in plans if not p.honest]
        print(f"class: {len(plans)} learners x {len(lessons)} lessons ({','.join(map(str, lessons))}): "
              f"{len(plans) - len(hostile)} honest, {len(hostile)} hostile carrying "
              f"{sum(len(p.attacks) for p in hostile)} attacks "
              f"({len({a for p in hostile for a, _ in p.attacks})} kinds)", flush=True)
        before = {"repository copy unchanged": tree_hashes(ctx.repo), "every checkout unchanged": tree_hashes(ctx.class_dir)}
        figures = grade(ctx, lessons, args.jobs)
        time.sleep(6)            # longer than the daemon waits before it writes
        reports = {p.stem: json.loads(p.read_text()) for p in ctx.reports.glob("*.json")}
        rows = learner_verdicts(plans, reports, lessons)
        rows += escape_verdicts(ctx, before, ctx.reports, listener.connections, expected_reports(plans))
        rows.insert(0, {"learner": "-", "what": "grading finished", "ok": figures["returncode"] in (0, 1),
                        "why": f"exit status {figures['returncode']}"})
    finally:
        listener.close()
    failed = [r for r in rows if not r["ok"]]
    figures.update(learners=len(plans), lessons=lessons, honest=len(plans) - len(hostile), hostile=len(hostile),
                   attacks=sum(len(p.attacks) for p in hostile), cpu_cores=len(os.sched_getaffinity(0)),
                   plan={p.name: p.attacks for p in plans}, verdicts_checked=len(rows), verdicts_failed=failed,
                   verdicts=rows)
    _print(figures, rows)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=1))
    print(f"figures: {args.json}" + (f"; class and reports kept in {base}" if args.keep else ""))
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)
    return 0 if not failed else 1


def _print(figures: dict, rows: list[dict]) -> None:
    by_what: dict[str, list[dict]] = {}
    for r in rows:
        key = "honest learners" if r["what"] == "honest" else (
            "untouched lessons of hostile learners" if r["what"].startswith("untouched") else r["what"])
        by_what.setdefault(key, []).append(r)
    print(f"\n{'verdict':<58} {'held':>6}  example")
    for key, group in by_what.items():
        bad = [r for r in group if not r["ok"]]
        shown = (bad or group)[0]
        print(f"{key:<58} {len(group) - len(bad):>3}/{len(group):<3} "
              f"{'FAILED ' if bad else ''}{shown.get('learner', '-')} {shown['why'][:90]}")
    load = figures["load_1min"]
    print(f"\nwall {figures['wall_s']:.0f} s, CPU {figures['cpu_s']:.0f} s (counted by {figures['cpu_counted_by']}), "
          f"peak memory {figures['peak_memory_mib']} MiB (cgroup; sum of resident memory sampled: "
          f"{figures['peak_rss_sum_mib']} MiB), 1-min load {load['min']}-{load['max']} (mean {load['mean']}) "
          f"on {figures['cpu_cores']} cores; {len(rows) - len(figures['verdicts_failed'])}/{len(rows)} verdicts held")


if __name__ == "__main__":
    sys.exit(main())
