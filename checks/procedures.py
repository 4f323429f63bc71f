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
boundary. What a procedure measures in the sandbox (an operation count, a file's bytes) is
reported by code the learner's file could tamper with: the checks compare such results only
with properties, and every value-level comparison with the reference happens outside.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROCEDURES: dict[str, object] = {}


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
                        "head": b"" if data is None else data[:16]})
    return out


class _TooManyOperations(BaseException):
    """Stops a loop early (BaseException: `except Exception` lets it through)."""


@procedure
def count_tensor_operations(learner, name: str, budget: int, *args):
    """``learner.<name>(*args)`` under a torch function mode that counts the tensor
    operations (and stops after ``budget``) and notes any call of cdist."""
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
    out, too_many = None, False
    try:
        with counter:
            out = getattr(learner, name)(*args)
    except _TooManyOperations:
        too_many = True
    return {"out": out, "calls": counter.calls, "used_cdist": counter.used_cdist, "too_many": too_many}


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
