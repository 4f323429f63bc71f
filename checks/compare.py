"""NaN-safe comparisons for the checks.

``abs(got - want) > tol`` is False when ``got`` is NaN, so a check written that way takes a
NaN for an exact answer. Every check that compares numbers goes through these helpers
instead: a NaN or an infinity is never near a finite expected value, and a non-finite
expected value is matched only by the same value.
"""
from __future__ import annotations

import math

import torch

from checks.framework import CheckFailed


def far(got, want, atol: float, rtol: float = 0.0) -> bool:
    """True when the number ``got`` is not within ``atol + rtol * |want|`` of ``want``."""
    got, want = float(got), float(want)
    if not math.isfinite(want):
        return got != want
    if not math.isfinite(got):
        return True
    return abs(got - want) > atol + rtol * abs(want)


def near(got, want, atol: float, rtol: float = 0.0) -> bool:
    return not far(got, want, atol, rtol)


def far_entries(got: torch.Tensor, want: torch.Tensor, atol: float, rtol: float = 0.0) -> torch.Tensor:
    """bool, the shape of ``want``: the entries of ``got`` that are not near ``want`` (NaN is far)."""
    got_d, want_d = got.detach().to(torch.float64), want.detach().to(torch.float64)
    within = (got_d - want_d).abs() <= atol + rtol * want_d.abs()   # False for NaN
    return ~(within | (got_d == want_d))                           # equal infinities are near


def all_near(got: torch.Tensor, want: torch.Tensor, atol: float, rtol: float = 0.0) -> bool:
    return tuple(got.shape) == tuple(want.shape) and not bool(far_entries(got, want, atol, rtol).any())


def compare_number(got, want, what: str, atol: float, rtol: float = 0.0) -> str:
    """"exact" or "approx, max abs diff ..." as compare_tensors reports; CheckFailed otherwise."""
    value = float(got)
    if not math.isfinite(value) and math.isfinite(float(want)):
        raise CheckFailed(f"{what} is {value}: it should be a finite number.")
    if far(value, want, atol, rtol):
        raise CheckFailed(f"{what} is {value:.6g}, off by {abs(value - float(want)):.3g} from the expected value.")
    if value == float(want):
        return "exact"
    return f"approx, max abs diff {abs(value - float(want)):.1e}"
