"""Peak memory of a stage of work: the one place that reads it (``make bench`` and
``make demo``, which prints each model's time and peak memory next to its ranking).

Peak memory is the process's peak resident set (``VmHWM`` in ``/proc/self/status``, which
counts what torch and numpy allocate, unlike ``tracemalloc``). :func:`reset_peak` sets it
back to the current resident set (``/proc/self/clear_refs``), so a reading after a stage is
the peak *during* that stage, data already held included. Where the system offers neither,
the reading is the process's lifetime peak.
"""
from __future__ import annotations

import resource
import sys


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak() -> bool:
    """Reset the peak resident set to the current one (Linux); False where unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def peak_mib() -> float:
    """Peak resident memory of this process in MiB (since the last :func:`reset_peak`)."""
    kib = _status_kib("VmHWM")
    if kib is None:  # not Linux: the lifetime peak (kilobytes on Linux, bytes on macOS)
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        kib = maxrss // 1024 if sys.platform == "darwin" else maxrss
    return kib / 1024


def peak_gib() -> float:
    return peak_mib() / 1024
