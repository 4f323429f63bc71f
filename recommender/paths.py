"""Which path trains a model: the textbook (the lessons' own functions) or a fast path.

A fast path (``fast/``) computes what a group of lesson functions computes, faster, and is
proven equal to them by a test. It may run only where every one of those functions is the
reference's: with ``CODE=reference``, or where the learner has left them as stubs. As soon
as the learner has written one of them, the lessons' own loop runs, so that what they wrote
is what trains. ``make demo`` prints, per model, the path and why.
"""
from __future__ import annotations

from dataclasses import dataclass

from recommender.code import Code, number_ranges


@dataclass(frozen=True)
class TrainingPath:
    """How one model is trained."""
    model: str                         # the model's name in the demo ("MSE two-tower", ...)
    fast: bool                         # True: the fast path; False: the lessons' own functions
    fast_module: str | None            # the fast path's module, where there is one
    yours: tuple[tuple[int, str], ...]  # the learner's functions among those the path involves
    involves: dict[int, tuple[str, ...]]  # the lesson functions the training calls (lesson -> names)

    @property
    def name(self) -> str:
        return "fast" if self.fast else "textbook"

    def describe(self) -> str:
        """One line for the demo's report."""
        if self.fast:
            return (f"fast path ({self.fast_module}, proven equal to the textbook): none of the lesson "
                    f"functions it stands in for is yours")
        if self.yours:
            return f"textbook path (the lessons' own functions), with your {self.yours_in_words()}"
        if self.fast_module is None:
            return "textbook path (the lessons' own functions; this model has no fast path)"
        return "textbook path (the lessons' own functions)"


    def yours_in_words(self) -> str:
        """'lessons 5-6' when every function the path involves there is the learner's, else
        'lesson 6's batch_loss, sgd_step' (lesson by lesson)."""
        whole, parts = [], []
        for number in sorted({n for n, _ in self.yours}):
            names = [name for n, name in self.yours if n == number]
            if set(names) == set(self.involves.get(number, ())):
                whole.append(number)
            else:
                parts.append(f"lesson {number}'s {', '.join(names)}")
        if whole:
            parts.insert(0, f"lesson{'s' if len(whole) > 1 else ''} {number_ranges(whole)}")
        return "; ".join(parts)


def choose(model: str, code: Code, involves: dict[int, tuple[str, ...]],
           fast_module: str | None = None) -> TrainingPath:
    """The path for ``model``, whose training calls the lesson functions ``involves`` (lesson
    -> names; a fast module's ``STANDS_FOR`` where it has one): the fast path of
    ``fast_module`` where none of them is the learner's, the textbook otherwise."""
    yours = tuple(code.yours_among(involves))
    return TrainingPath(model, fast_module is not None and not yours, fast_module, yours, dict(involves))
