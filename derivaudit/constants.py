"""Numeric facts every package shares (the bottom floor: imports nothing of derivaudit)."""

from __future__ import annotations

__all__ = ["UNIT_ROUNDOFF"]

#: unit roundoff of IEEE double precision, u = 2⁻⁵³ (half the spacing of doubles at 1)
UNIT_ROUNDOFF = 2.0 ** -53
