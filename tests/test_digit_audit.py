"""The digit audit's fast subset: every number of every table right to one unit in its last digit.

``bench/digit_audit.py`` holds the cases and the independent reference (plain
mpmath at 3·dps + 50 digits); the full audit (every case at dps 15, 30, 50, 100)
runs from there.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import digit_audit  # noqa: E402


@pytest.mark.parametrize("case", digit_audit.FAST_CASES, ids=lambda c: f"{c.formula}@{c.at}")
def test_no_wrong_digit(case):
    compared, wrong, notes = digit_audit.audit_case(case, 15)
    assert compared > 0 and wrong == 0, notes[:3]
