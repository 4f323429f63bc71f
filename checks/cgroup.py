"""One control group per sandbox of `make grade`: the memory (RAM-backed files in its tmpfs
mounts included), the processes and the CPU time of everything a learner's code starts are
limited and counted *together*, by the kernel, outside the learner's reach.

cgroup v2 (one hierarchy, ``memory.max``, ``pids.max``, ``cpu.stat``) and v1 (a hierarchy per
controller: ``memory.limit_in_bytes``, ``pids.max``, ``cpuacct.usage``) are both used, in a
child of the grader's own group (so the machine's or container's limits above still hold).
Where no controller is writable (no root, no delegated subtree) :meth:`SandboxCgroup.create`
returns None and the sandbox falls back to per-process limits (checks/sandbox.py says which).
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

MOUNT = Path("/sys/fs/cgroup")
PREFIX = "two-tower-grader"


def _own_paths() -> dict[str, str]:
    """{controller or "": the grader's group path in that hierarchy} from /proc/self/cgroup."""
    found = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            found[name.replace("name=", "")] = path
    return found


def _parents(controller: str) -> list[Path]:
    """Where a sandbox's group may be made for ``controller``: under the grader's own group
    first (limits above keep holding), then the hierarchy's root."""
    own = _own_paths()
    candidates = []
    if controller == "":                     # v2: the unified hierarchy
        for root in (MOUNT, MOUNT / "unified"):
            if (root / "cgroup.controllers").exists():
                candidates += [root / own.get("", "/").lstrip("/"), root]
    else:
        for root in (MOUNT / controller, *MOUNT.glob(f"*{controller}*")):
            if (root / "cgroup.procs").exists() and not (root / "cgroup.controllers").exists():
                candidates += [root / own.get(controller, "/").lstrip("/"), root]
    unique = []
    for path in candidates:
        if path not in unique and path.is_dir():
            unique.append(path)
    return unique


def _write(path: Path, value) -> bool:
    try:
        path.write_text(str(value))
        return True
    except OSError:
        return False


def _make(parent: Path, name: str) -> Path | None:
    try:
        (parent / name).mkdir()
        return parent / name
    except OSError:
        return None


class SandboxCgroup:
    """The groups of one sandbox (one per v1 hierarchy, or one v2 group) and what each limits."""

    def __init__(self, groups: dict[str, Path]):
        self.groups = groups                 # "memory" / "pids" / "cpu" -> the group's folder
        self.name = ""

    @classmethod
    def create(cls, memory_bytes: int, processes: int) -> "SandboxCgroup | None":
        name = f"{PREFIX}-{os.getpid()}-{time.monotonic_ns()}"
        groups: dict[str, Path] = {}
        made: list[Path] = []
        for parent in _parents(""):
            group = _make(parent, name)
            if group is None:
                continue
            made.append(group)
            if not (group / "memory.max").exists() or not (group / "pids.max").exists():
                # The parent does not hand these controllers down (a group with processes may not).
                _write(parent / "cgroup.subtree_control", "+memory +pids")
            if _write(group / "memory.max", memory_bytes):
                _write(group / "memory.swap.max", 0)
                groups["memory"] = group
            if _write(group / "pids.max", processes):
                groups["pids"] = group
            if groups and (group / "cpu.stat").exists():
                groups["cpu"] = group
            break
        for controller, key, files in (("memory", "memory", (("memory.limit_in_bytes", memory_bytes),
                                                               ("memory.memsw.limit_in_bytes", memory_bytes))),
                                       ("pids", "pids", (("pids.max", processes),)),
                                       ("cpuacct", "cpu", ())):
            if key in groups:
                continue
            for parent in _parents(controller):
                group = _make(parent, name)
                if group is None:
                    continue
                made.append(group)
                if all(_write(group / f, v) or f == "memory.memsw.limit_in_bytes" for f, v in files):
                    groups[key] = group
                break
        unified = [g for g in made if (g / "cpu.stat").exists()]
        if "cpu" not in groups and unified:      # v2's CPU count holds even where v1 has the controller
            groups["cpu"] = unified[0]
        cgroup = cls(groups)
        cgroup.name = name
        cgroup.made = made
        if not groups:
            cgroup.remove()
            return None
        return cgroup

    def limits(self) -> list[str]:
        """What the kernel limits or counts for the sandbox as a whole."""
        return sorted(self.groups)

    def join(self) -> None:
        """Move the calling process into every group (run in the child, before exec)."""
        for group in dict.fromkeys(self.groups.values()):
            with open(group / "cgroup.procs", "w") as f:
                f.write(str(os.getpid()))

    def pids(self) -> list[int]:
        found: set[int] = set()
        for group in dict.fromkeys(self.groups.values()):
            try:
                found.update(int(p) for p in (group / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return sorted(found)

    def cpu_seconds(self) -> float | None:
        """CPU time (user + system) of every process the sandbox ever ran, by the kernel."""
        group = self.groups.get("cpu")
        if group is None:
            return None
        try:
            if (group / "cpuacct.usage").exists():
                return int((group / "cpuacct.usage").read_text()) / 1e9
            for line in (group / "cpu.stat").read_text().splitlines():
                if line.startswith("usage_usec "):
                    return int(line.split()[1]) / 1e6
        except (OSError, ValueError):
            return None
        return None

    def out_of_memory(self) -> bool:
        """Whether the kernel ended a process of the sandbox for memory."""
        group = self.groups.get("memory")
        if group is None:
            return False
        for file in ("memory.events", "memory.oom_control"):
            try:
                for line in (group / file).read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
            except (OSError, ValueError):
                continue
        return False

    def kill_all(self) -> None:
        for group in dict.fromkeys(self.groups.values()):
            if _write(group / "cgroup.kill", 1):
                break
        for _ in range(100):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill_all()
        for group in reversed(getattr(self, "made", list(self.groups.values()))):
            for _ in range(100):
                try:
                    group.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def sweep_stale() -> None:
    """Remove the empty groups of graders that no longer run (a grader killed as a whole)."""
    for controller in ("", "memory", "pids", "cpuacct"):
        for parent in _parents(controller):
            for group in parent.glob(f"{PREFIX}-*-*"):
                owner = group.name[len(PREFIX) + 1:].split("-")[0]
                if owner.isdigit() and not Path(f"/proc/{owner}").exists():
                    try:
                        group.rmdir()           # refused while a process is still in it
                    except OSError:
                        pass


def sweep(pid: int) -> None:
    """Remove the groups a killed grader child ``pid`` left behind."""
    for controller in ("", "memory", "pids", "cpuacct"):
        for parent in _parents(controller):
            for group in parent.glob(f"{PREFIX}-{pid}-*"):
                cgroup = SandboxCgroup({"pids": group})
                cgroup.made = [group]
                cgroup.remove()
