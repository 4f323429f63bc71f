"""What comes back from a learner's sandbox into the grader's objects: the learner's exception
as one the checks can catch, and the new state of an argument the call changed in place."""
from __future__ import annotations

import dataclasses

from checks.framework import LearnerRaised


def learner_exception(error: dict, report: str) -> LearnerRaised:
    """An exception standing for the one the learner's code raised: of a class with the same
    name, derived from the same builtin exception (so ``except KeyError`` in a check still
    catches an UnknownTitleError), whose str() is the learner's message and whose ``report``
    is the sentence for the report."""
    import builtins

    base = Exception
    for name in error.get("bases") or []:
        candidate = getattr(builtins, str(name), None)
        if isinstance(candidate, type) and issubclass(candidate, Exception) and candidate is not Exception:
            base = candidate
            break
    name = str(error.get("name") or base.__name__)
    name = name if name.isidentifier() else base.__name__
    try:
        cls = type(name, (base, LearnerRaised), {"__str__": lambda self: self.text,
                                                 "__module__": "learner"})
    except TypeError:      # bases whose layouts cannot be combined
        cls = type(name, (LearnerRaised,), {"__str__": lambda self: self.text, "__module__": "learner"})
    e = cls(report)
    e.text = str(error.get("text", report))
    e.report = report
    return e


# ---------------------------------------------------------------- copying changed arguments back

def copy_back(original, new, replaced: list) -> None:
    """Give ``original`` (an argument the check passed) the state ``new`` that the call left
    its copy in: values, gradients, a generator's state; a dataclass field the call replaced
    by another object is replaced here too (so an identity check sees it)."""
    import numpy as np

    module = type(original).__module__.split(".")[0]
    if module == "torch":
        import torch
        if isinstance(original, torch.Generator) and isinstance(new, torch.Generator):
            original.set_state(new.get_state())
        elif isinstance(original, torch.Tensor) and isinstance(new, torch.Tensor):
            with torch.no_grad():
                if original.shape == new.shape and original.dtype == new.dtype:
                    original.copy_(new)
                else:
                    original.data = new.detach()
            if original.is_leaf:
                original.grad = None if new.grad is None else new.grad.detach().clone()
        return
    if isinstance(original, np.ndarray) and isinstance(new, np.ndarray):
        if original.shape == new.shape:
            original[...] = new
        return
    if module == "pandas":
        import pandas as pd
        if isinstance(original, (pd.DataFrame, pd.Series)) and type(new) is type(original):
            # Make the caller's table show what the learner's code left in it.
            object.__setattr__(original, "_mgr", new._mgr)
            if hasattr(original, "_item_cache"):
                original._item_cache.clear()
            if isinstance(original, pd.Series):
                object.__setattr__(original, "_name", new.name)
        return
    if dataclasses.is_dataclass(original) and not isinstance(original, type) and type(new) is type(original):
        for f in dataclasses.fields(original):
            mine, theirs = getattr(original, f.name), getattr(new, f.name)
            if f.name in replaced:
                object.__setattr__(original, f.name, theirs)
            else:
                copy_back(mine, theirs, [])
        return
    if type(original) is list and type(new) is list:
        original[:] = new
    elif type(original) is dict and type(new) is dict:
        original.clear()
        original.update(new)
    elif type(original) is set and type(new) is set:
        original.clear()
        original.update(new)
