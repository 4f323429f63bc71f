"""Importing a learner's lesson file: the one way, for `make check` (checks/framework.py), the
sandboxed worker of `make grade` (checks/sandbox_worker.py) and the fresh interpreters of a
procedure (checks/procedures.py), so a file that cannot be imported is described in the same
words everywhere.

The file is imported by path under a private module name (``lessons/`` is not a package, so
the learner's code never shadows the course's modules). It imports only the standard
library: it is copied into the sandbox with the worker.
"""
from __future__ import annotations

import importlib.util
import traceback
from pathlib import Path
from types import ModuleType


def import_lesson_file(path: str | Path, module_name: str, display: str,
                       let_through: tuple[type[BaseException], ...] = ()) -> tuple[ModuleType | None, str | None]:
    """(the module, None), or (None, a sentence saying why ``path`` could not be imported).
    An exception of a ``let_through`` type is raised instead (the worker's CPU limit)."""
    spec = importlib.util.spec_from_file_location(module_name, str(path))
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except let_through:
        raise
    except SyntaxError as e:
        return None, (f"Python cannot read {display}: {e.msg} at line {e.lineno}"
                      + (f":\n    {e.text.rstrip()}" if e.text else "."))
    except BaseException as e:  # an import error, or code at the top of the file that fails
        return None, f"{display} fails when it is imported: {type(e).__name__}: {e}{learner_frame(e, path, display)}"
    return module, None


def learner_frame(error: BaseException, path: str | Path | None, display: str) -> str:
    """' (lessons/x.py, line 12: `code`)' for the deepest frame in the learner's file."""
    if path is None:
        return ""
    target = str(Path(path).resolve())
    found = None
    for frame in traceback.extract_tb(error.__traceback__):
        if str(Path(frame.filename).resolve()) == target:
            found = frame
    if found is None:
        return ""
    return f" ({display}, line {found.lineno}: `{(found.line or '').strip()}`)"
