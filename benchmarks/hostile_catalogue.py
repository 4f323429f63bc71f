"""The catalogue of attacks of benchmarks/hostile_class.py: what each one is, where it goes,
what verdict it must get, and the learner's file that carries it (built from the snippets of
benchmarks/hostile_attacks.py, the reference of the lesson and the mutants of checks/mutants/).

An attack's guard says what "no points for the forged part" means for it:

- ``("task", None)``: no check of the attacked function's task passes (an attack on the
  sandbox computes the honest answer only if it got out, so a pass would be an escape);
- ``("task", "3.2")``: the same for a fixed task;
- ``("titles", (...))``: the checks of the evidence it forged do not pass;
- ``("symptom", word)``: a mutant: a check that fails says ``word`` (as the mutants' tests ask);
- ``("refused", note)``: the file is refused with that note and scores 0;
- ``("load", (words...))``: the lesson fails to load, saying one of the words, and scores 0;
- ``("shared", None)``: the file is flagged as shared with a peer (and graded: see docs/grading.md).
"""
from __future__ import annotations

import socket
import textwrap
from dataclasses import dataclass
from pathlib import Path

from benchmarks import hostile_attacks as snip
from course import index

# The function a lesson's generic attacks wrap (cheap, and called by every check of its task).
TARGETS = {2: "build_genre_index", 3: "history_size", 5: "init_parameters", 6: "learning_rate",
           8: "most_similar", 10: "catalogue_coverage", 11: "future_history_share", 12: "fold_splits"}

WRAPPER = """

_hostile_honest = {name}


def {name}(*args, **kwargs):  # the attack runs first; the honest answer only if it got out
    got = _hostile_attack()
    if got is True:
        return _hostile_honest(*args, **kwargs)
    if got is False or got is None:
        raise RuntimeError("contained: the attack did not get out")
    return got
"""


@dataclass(frozen=True)
class Context:
    """Where the class lives, and what the attacks aim at on the host."""
    repo: Path            # the copy of this repository whose grader grades the class
    class_dir: Path
    reports: Path
    outside: Path         # beside the class: the secret, and where canaries would appear
    secret: Path
    nonce: str            # in every marker an attack leaves: file names, processes
    port: int             # a listener on the host
    host_ip: str

    @classmethod
    def make(cls, base: Path, nonce: str, port: int) -> "Context":
        outside = base / "outside"
        outside.mkdir(parents=True, exist_ok=True)
        secret = outside / "secret.txt"
        secret.write_text(f"host-secret-{nonce}")
        try:
            host_ip = socket.gethostbyname(socket.gethostname())
        except OSError:
            host_ip = "127.0.0.1"
        return cls(base / "instructor", base / "class", base / "reports", outside, secret, nonce, port, host_ip)


@dataclass(frozen=True)
class Attack:
    name: str
    lesson: int | None            # None: any lesson graded (a generic attack on its TARGETS function)
    what: str
    guard: tuple
    file: str = "source"          # or folder, fifo, symlink, hardlink_reference, hardlink_peer
    whole_checkout: bool = False  # lessons/ itself is the attack
    at_import: str = ""           # generic attacks: code run when the file is imported
    attack: str = ""              # generic attacks: source defining _hostile_attack()

    def target(self, lesson: int) -> str:
        return TARGETS.get(lesson) or index.lesson(lesson).tasks[0].function


def reference(lesson: int) -> str:
    return index.lesson(lesson).solution_path.read_text()


def _split_source(name: str, ctx: Context) -> str:
    honest = ctx.class_dir / "honest00"
    targets = [ctx.repo / "solutions" / "lesson03_masking.py", ctx.repo / "Makefile",
               honest / "lessons" / "lesson03_masking.py", ctx.reports / "class.csv", ctx.reports / "honest00.md",
               ctx.repo / "checks" / "__pycache__" / "lesson03_masking.cpython-311.pyc",
               ctx.outside / f"canary-{ctx.nonce}", Path("/tmp") / f"canary-{ctx.nonce}"]
    body, at_import = snip.split_attacks(targets, str(ctx.repo / "solutions" / "lesson03_masking.py"))[name]
    source = snip.replace_function(reference(3), "split_watch_history", body)
    return source + ("\n\n" + textwrap.dedent(at_import) if at_import else "")


def source_for(attack: Attack, lesson: int, ctx: Context) -> bytes:
    """The bytes of the learner's file carrying ``attack`` in ``lesson``."""
    if attack.name in SPLIT:
        return _split_source(attack.name, ctx).encode()
    if attack.name in SOURCES:
        return SOURCES[attack.name](lesson, ctx)
    if attack.name in MUTANTS:
        return snip.mutant_source(lesson, MUTANTS[attack.name]).encode()
    at_import, body = attack.at_import, attack.attack
    for token, value in (("@NONCE@", ctx.nonce), ("@SECRET@", str(ctx.secret)), ("@OUTSIDE@", str(ctx.outside)),
                         ("@HOST_IP@", ctx.host_ip), ("@PORT@", str(ctx.port))):
        at_import, body = at_import.replace(token, value), body.replace(token, value)
    return (reference(lesson) + "\n\n" + at_import + "\n\n" + body
            + WRAPPER.format(name=attack.target(lesson))).encode()


def _forged(lesson: int, code: str, table: str = "", fake: str = "") -> str:
    forge = snip.FORGE_TABLE.format(name=table, fake=fake) if table else ""
    return reference(lesson) + "\n\n# ---- the learner's versions\n" + code + forge


SOURCES = {
    "huge": lambda n, ctx: (reference(n) + "\n#" + "x" * (2 << 20) + "\n").encode(),
    "binary": lambda n, ctx: b"\x00\x01\xff\xfe" * 4096,
    "sleep_import": lambda n, ctx: (reference(n) + "\nimport time as _t\n_t.sleep(3600)  # waits, computes nothing\n").encode(),
    "l2_forged_probe": lambda n, ctx: _forged(2, snip.SET_ORDER, "in_fresh_interpreters", snip.FAKE_FRESH).encode(),
    "l6_png_signature": lambda n, ctx: _forged(6, snip.SIGNATURE_ONLY, "plot_into_folder", snip.FAKE_PLOT).encode(),
    "l6_png_link": lambda n, ctx: _forged(6, snip.LINKED_PNG).encode(),
    "l8_loop": lambda n, ctx: _forged(8, snip.LOOP).encode(),
    "l8_forged_count": lambda n, ctx: _forged(8, snip.LOOP, "count_tensor_operations", snip.FAKE_COUNT).encode(),
}

SPLIT = ("ref_import", "stack_inspection", "forged_file", "forged_pipe", "patched_libraries", "daemon",
         "bomb_and_flood")

MUTANTS = {
    "l5_zeroing": "zeroes the parameters it is given, then runs the towers on them",
    "l10_ones": "every metric is 1.0, whatever the ranking",
    "l10_nan_coverage": "coverage is NaN (0/0), which a comparison written abs(got - want) > tol takes for exact",
    "l11_nan": "NaN for more than one label (a 0/0 in its average), right for one",
    "l12_madeup_curve": "reports a made-up, steadily falling loss curve without training",
    "l12_nan_losses": "trains as it should but reports every loss as NaN",
}
MUTANT_GUARDS = {"l5_zeroing": (5, "changed the parameters"), "l10_ones": (10, "nothing relevant"),
                 "l10_nan_coverage": (10, "finite"), "l11_nan": (11, "finite"),
                 "l12_madeup_curve": (12, "recomputed"), "l12_nan_losses": (12, "first loss is nan")}

REFUSED = "is not a regular file"
_LIST = [
    # The files themselves.
    Attack("folder", None, "the lesson file is a folder", ("refused", REFUSED), file="folder"),
    Attack("fifo", None, "the lesson file is a FIFO", ("refused", REFUSED), file="fifo"),
    Attack("symlink", None, "the lesson file links to the reference", ("refused", REFUSED), file="symlink"),
    Attack("hardlink_reference", None, "the lesson file is hard-linked to the reference",
           ("refused", "hard links"), file="hardlink_reference"),
    Attack("hardlink_peer", None, "the lesson file is hard-linked to an honest peer's", ("shared", None),
           file="hardlink_peer"),
    Attack("lessons_link", None, "lessons/ links to the reference", ("refused", "lessons/ is a link"),
           whole_checkout=True),
    Attack("huge", None, "the reference with 2 MiB of comment", ("refused", "larger than 1 MiB")),
    Attack("binary", None, "16 KiB that are not text", ("load", ("cannot read", "fails when it is imported"))),
    Attack("sleep_import", None, "time.sleep(3600) at import", ("load", ("waiting",))),
    # Lesson 3's split_watch_history, the families of tests/test_classroom.py.
    *(Attack(name, 3, f"split_watch_history: {name.replace('_', ' ')}", ("task", "3.2")) for name in SPLIT),
    # On any lesson: the function computes the honest answer only if the attack got out.
    Attack("memory", None, "4 forked processes of 700 MiB each (over the sandbox's memory)", ("task", None),
           attack=snip.HOLD_MEMORY + "\ndef _hostile_attack():\n    return hold(4, 700) == 4\n"),
    Attack("tmpfs", None, "600 MiB into /, /dev, /dev/shm, /tmp and lessons/", ("task", None),
           attack=snip.FILL_TMPFS + """
def _hostile_attack():
    w = fill()
    return bool(w["/"] or w["/dev"] or w["/box/lessons"]) or w["/dev/shm"] > 16 or w["/tmp"] > 256
"""),
    Attack("nested_userns", None, "a user and mount namespace of its own, a tmpfs of 1 GiB filled", ("task", None),
           attack=snip.NEW_NAMESPACES + """
def _hostile_attack():
    got = escape()
    if got["mount tmpfs"]:
        with open("/tmp/big", "wb") as f:
            for _ in range(300):
                f.write(b"x" * (1 << 20))
    return any(got.values())
"""),
    Attack("false_cpu", None, "the worker's CPU timer silenced, its CPU reading 0, 15 s of CPU", ("task", None),
           at_import=snip.SILENCE_CPU_TIMER, attack="""
def _hostile_attack():
    import time
    start = time.process_time()
    while time.process_time() - start < 15.0:
        pass
    return True
"""),
    Attack("zero_itemsize", None, "a .npy of 10^15 zero-size items, returned and written on every pipe",
           ("task", None), attack="""
def _hostile_attack():
    import os, numpy
    for fd in range(3, 64):
        try:
            os.write(fd, %r)
        except OSError:
            pass
    return numpy.empty(10 ** 15, dtype="V0")
""" % snip.message_with_array(snip.ZERO_ITEMSIZE_NPY)),
    Attack("proc_fd2", None, "floods /proc/1/fd/2 at import and in the call", ("task", None),
           at_import=snip.PROC_FD2, attack="\ndef _hostile_attack():\n    exec(" + repr(snip.PROC_FD2) + ")\n    return False\n"),
    Attack("network", None, "connects to a listener on the host and to 1.1.1.1", ("task", None), attack="""
def _hostile_attack():
    import socket
    for address in (("@HOST_IP@", @PORT@), ("127.0.0.1", @PORT@), ("1.1.1.1", 53)):
        try:
            socket.create_connection(address, timeout=1).close()
            return True
        except OSError:
            pass
    return False
"""),
    Attack("proc_snoop", None, "looks through /proc for the grader and its values", ("task", None), attack="""
def _hostile_attack():
    import os
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    for pid in pids:
        for part in ("cmdline", "environ"):
            try:
                text = open(f"/proc/{pid}/{part}", "rb").read()
            except OSError:
                continue
            if b"checks.classroom" in text or b"@NONCE@" in text:
                return True
    return len(pids) > 8
"""),
    Attack("host_files", None, "reads the host's secret directly, through links and /proc/*/root; writes a canary",
           ("task", None), attack="""
def _hostile_attack():
    import os
    got = []
    try:
        os.symlink("@SECRET@", "/tmp/link-@NONCE@")
    except OSError:
        pass
    for path in ("@SECRET@", "/tmp/link-@NONCE@", "/proc/1/root@SECRET@", "/proc/self/root@SECRET@",
                 "/proc/1/cwd/../../@SECRET@"):
        try:
            got.append(open(path).read())
        except OSError:
            pass
    for path in ("@OUTSIDE@/canary-@NONCE@", "/proc/1/root@OUTSIDE@/canary-@NONCE@"):
        try:
            open(path, "w").write("owned")
        except OSError:
            pass
    print(got)
    return bool(got)
"""),
    Attack("sleep_check", None, "time.sleep(3600) inside the call", ("task", None),
           attack="\ndef _hostile_attack():\n    import time\n    time.sleep(3600)\n    return True\n"),
    Attack("input_call", None, "input() inside the call", ("task", None),
           attack="\ndef _hostile_attack():\n    input('answer? ')\n    return True\n"),
    Attack("flood", None, "64 MiB to stderr at import, 10 MB to stdout and stderr in the call", ("task", None),
           at_import="import sys as _s\n_s.stderr.write('E' * (64 << 20))\n", attack="""
def _hostile_attack():
    import sys
    print("PASS " * 2_000_000)
    sys.stderr.write("PASS " * 2_000_000)
    return False
"""),
    # Forged evidence.
    Attack("l2_forged_probe", 2, "a set-ordered genre index and a forged fresh-interpreter probe",
           ("titles", ("the same genre index in a fresh Python process",))),
    Attack("l6_png_signature", 6, "an 8-byte PNG signature and a forged reading of the plot",
           ("titles", ("writes a PNG where it is asked to",))),
    Attack("l6_png_link", 6, "the PNG is a link to a real PNG of the system", ("titles", ("writes a PNG where it is asked to",))),
    Attack("l8_loop", 8, "a Python loop under torch._C.DisableTorchFunction()", ("titles", ("no Python loop over the movies",))),
    Attack("l8_forged_count", 8, "the loop and a forged operation count", ("titles", ("no Python loop over the movies",))),
    # Mutants: wrong answers that used to pass (NaN where a check compares with a tolerance...).
    *(Attack(name, lesson, MUTANTS[name], ("symptom", word)) for name, (lesson, word) in MUTANT_GUARDS.items()),
]
ATTACKS = {attack.name: attack for attack in _LIST}
