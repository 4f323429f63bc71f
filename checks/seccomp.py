"""A seccomp filter for the sandboxes of `make grade` (bwrap's ``--seccomp FD``): the system
calls that make namespaces or mounts fail with EPERM, whatever capabilities a process might
hold, so even a kernel bug in those paths is out of the learner's reach. Second to bwrap's
``--disable-userns`` and ``--cap-drop ALL``, which already refuse them.

Written as classic BPF for x86-64 (no library needed); on other machines :func:`program`
returns None and the sandbox goes without it (the reports' limits do not change).
"""
from __future__ import annotations

import errno
import os
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_BIT = 0x40000000
# unshare, setns, mount, umount2, pivot_root, and the new mount API
REFUSED = (272, 308, 165, 166, 155, 428, 429, 430, 431, 432, 433, 442)
CLONE, CLONE3 = 56, 435
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET
NEW_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

LD_W_ABS, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
ALLOW = 0x7FFF0000
DENY = 0x00050000 | errno.EPERM
NO_SUCH_CALL = 0x00050000 | errno.ENOSYS      # clone3's flags cannot be read: glibc falls back to clone


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def program() -> bytes | None:
    """The filter, as the bytes bwrap reads; None where it is not written for this machine."""
    if platform.machine() != "x86_64":
        return None
    ops = [_op(LD_W_ABS, 4), _op(JEQ, AUDIT_ARCH_X86_64, 1, 0), _op(RET, DENY),   # other ABIs: refused
           _op(LD_W_ABS, 0), _op(JGE, X32_BIT, 0, 1), _op(RET, DENY)]
    for number in REFUSED:
        ops += [_op(JEQ, number, 0, 1), _op(RET, DENY)]
    ops += [_op(JEQ, CLONE3, 0, 1), _op(RET, NO_SUCH_CALL),
            _op(JEQ, CLONE, 0, 3), _op(LD_W_ABS, 16), _op(JSET, NEW_NAMESPACES, 0, 1), _op(RET, DENY),
            _op(RET, ALLOW)]
    return b"".join(ops)


def descriptor() -> int | None:
    """A file descriptor holding the filter, to pass to bwrap (the caller closes it)."""
    data = program()
    if data is None:
        return None
    fd = os.memfd_create("grader-seccomp", 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
