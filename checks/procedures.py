"""Small procedures that run *next to* the learner's code: where a check needs several calls
in one process (a gradient through the learner's result, a step on a loss, a file written and
read back, a count of tensor operations, a fresh interpreter), the whole procedure runs where
the learner's functions run, and only its result comes back, as data.

In `make grade` this module is copied into the sandbox, so it holds no reference answer and
imports nothing from solutions/ or from the checks: only the standard library, torch and the
course's containers. In `make check` the same procedures run in the learner's own process.
A procedure takes the learner's module (``learner.name`` is the learner's function) and
plain data, and returns plain data; arguments it changes in place (parameters updated by a
step, gradients filled by backward()) are copied back to the caller's objects by the
boundary. In `make grade` the procedures whose result is evidence (a fresh interpreter, a
written file) are done from outside the sandbox instead (checks/evidence.py); the operation
count cannot be taken from outside a process, so it is counted twice (functions and kernels)
from a table the worker copied before the learner's file was imported.
"""
from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

PROCEDURES: dict[str, object] = {}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_SIDE_LIMIT = 8000             # pixels: a larger image is not decoded (nor a plot)


def procedure(func):
    PROCEDURES[func.__name__] = func
    return func


@procedure
def call_and_backward(learner, name: str, *args, **kwargs):
    """``out = learner.<name>(*args, **kwargs)``, then ``out.sum().backward()`` when ``out``
    is a tensor that requires gradients. The gradients land in the arguments' tensors (and
    come back with them); the result is returned as it was."""
    import torch

    out = getattr(learner, name)(*args, **kwargs)
    if isinstance(out, torch.Tensor) and out.requires_grad:
        out.sum().backward()
    return out


@procedure
def sgd_step_with_gradient(learner, params, gradients: list, lr: float):
    """The learner's ``sgd_step(params, loss, lr)`` on a loss whose gradient is given:
    ``loss = Σ (g · p)`` has gradient ``g`` with respect to every parameter ``p``, so no
    model (and no reference) is needed. Returns the loss's value."""
    loss = sum((g.to(p.dtype) * p).sum() for g, p in zip(gradients, params.as_list()))
    value = float(loss.detach())
    learner.sgd_step(params, loss, lr)
    return value


@procedure
def adam_step_with_gradient(learner, params, gradients: list, state, lr: float, betas, eps: float):
    """The learner's ``adam_step(params, loss, state, lr, betas, eps)`` on a loss whose
    gradient is given (``Σ g · p``, as for :func:`sgd_step_with_gradient`). The parameters
    and the Adam state come back as the learner's code left them."""
    loss = sum((g.to(p.dtype) * p).sum() for g, p in zip(gradients, params.as_list()))
    learner.adam_step(params, loss, state, lr, tuple(betas), eps)


@procedure
def plot_into_folder(learner, history, relative_paths: list, as_str: list):
    """Call ``plot_loss_curve(history, path)`` for paths inside a fresh temporary folder and
    report what happened: the path returned (relative to the folder), whether the file
    exists, its size and first bytes."""
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in zip(relative_paths, as_str):
            path = Path(tmp) / rel
            returned = learner.plot_loss_curve(history, str(path) if text else path)
            try:
                back = None if returned is None else Path(returned).relative_to(tmp).as_posix()
            except (TypeError, ValueError):
                back = "<outside the folder>" if returned is not None else None
            data = path.read_bytes() if path.is_file() else None
            out.append({"returned": back, "exists": path.is_file(), "size": None if data is None else len(data),
                        "head": data[:16] if data is not None and png_picture(data) else b""})
    return out


def png_picture(data: bytes) -> bool:
    """Whether ``data`` is a whole PNG picture: the signature, a header of a plausible size,
    pixels that decode, and more than one colour (a drawing, not an empty canvas)."""
    if len(data) < 33 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return False
    width, height = struct.unpack(">II", data[16:24])
    if not (8 <= width <= PNG_SIDE_LIMIT and 8 <= height <= PNG_SIDE_LIMIT):
        return False
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.convert("RGB").getcolors(maxcolors=1) is None
    except Exception:  # noqa: BLE001 - any decoding error means: not a PNG picture
        return False


class _TooManyOperations(BaseException):
    """Stops a loop early (BaseException: `except Exception` lets it through)."""


FEW_OPERATIONS = 4    # fewer than this cannot compute anything worth counting: counted again, below


@procedure
def count_tensor_operations(learner, name: str, budget: int, *args):
    """``learner.<name>(*args)`` under a torch function mode that counts the tensor
    operations (and stops after ``budget``) and notes any call of cdist. A count too small to
    be true (the operations hidden under ``torch._C.DisableTorchFunction()``, say) is taken
    again one level down, under a dispatch mode that counts the kernels torch runs (its
    first use costs a second of CPU time, so honest code is not counted twice)."""
    import torch
    from torch.overrides import TorchFunctionMode

    class Counter(TorchFunctionMode):
        calls = 0
        used_cdist = False

        def __torch_function__(self, func, types, args=(), kwargs=None):
            self.calls += 1
            if func is torch.cdist or getattr(func, "__name__", "") in ("cdist", "pairwise_distance"):
                self.used_cdist = True
            if self.calls > budget:
                raise _TooManyOperations()
            return func(*args, **(kwargs or {}))

    counter = Counter()
    fresh = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    out, too_many = None, False
    try:
        with counter:
            out = getattr(learner, name)(*args)
    except _TooManyOperations:
        too_many = True
    calls = counter.calls
    if not too_many and calls < FEW_OPERATIONS:
        kernels, too_many = _count_kernels(getattr(learner, name), fresh, 4 * budget)
        calls = max(calls, -(-kernels // 4))          # one tensor operation may run a few kernels
    return {"out": out, "calls": calls, "used_cdist": counter.used_cdist, "too_many": too_many}


def _count_kernels(func, args: list, budget: int) -> tuple[int, bool]:
    """How many kernels ``func(*args)`` runs (up to ``budget``), and whether it ran more."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Kernels(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(self, op, types, args=(), kwargs=None):
            self.calls += 1
            if self.calls > budget:
                raise _TooManyOperations()
            return op(*args, **(kwargs or {}))

    kernels = Kernels()
    try:
        with kernels:
            func(*args)
    except _TooManyOperations:
        return kernels.calls, True
    return kernels.calls, False


@procedure
def in_fresh_interpreters(learner, name: str, argument_source: str, seeds: list):
    """Import the learner's file in a fresh Python process per hash seed, call
    ``<name>(<argument_source>)`` there and print ``sorted(result.items())``. Returns
    [(exit code, what it printed, its last error line)] per seed."""
    module_file = getattr(learner, name).__code__.co_filename
    code = ("from checks.learner_file import import_lesson_file\n"     # the one way to import it
            f"m, error = import_lesson_file({module_file!r}, 'm', 'the lesson file')\n"
            "if m is None:\n    raise SystemExit(error)\n"
            f"print(sorted(m.{name}({argument_source}).items()))\n")
    results = []
    for seed in seeds:
        env = {"PYTHONHASHSEED": str(seed), "PATH": ""}
        # In the sandbox the worker was told by its module path where the ground is: pass it on.
        if os.environ.get("PYTHONPATH"):       # in the sandbox: where the course's ground is
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        flags = ["-S"] if sys.flags.no_site else []
        done = subprocess.run([sys.executable, *flags, "-c", code], capture_output=True, text=True, env=env,
                              timeout=60)
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        results.append((done.returncode, done.stdout, last))
    return results
