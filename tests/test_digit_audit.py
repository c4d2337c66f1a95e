"""The digit audit's fast subset: every number of every table correctly rounded, exact zeros kept.

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
def test_every_digit_correctly_rounded(case):
    tally = digit_audit.audit_case(case, 15)
    assert tally.compared > 0 and tally.notes == []
    assert tally.wrong == tally.not_rounded == tally.exact_zero == 0


def test_the_audit_sees_a_faithful_but_not_correctly_rounded_digit():
    """The check itself can fail: the issue's value …400746498… printed as …400747."""
    import mpmath

    with mpmath.workdps(40):
        reference = mpmath.mpf("0.87311962266230400746498")
        assert digit_audit._fault(mpmath.mpf("0.87311962266230400747"), reference, 20) == "not rounded"
        assert digit_audit._fault(mpmath.mpf("0.87311962266230400746"), reference, 20) == ""
        assert digit_audit._fault(mpmath.mpf("0.87311962266230400749"), reference, 20) == "wrong"
