"""The numbers a check prints are correctly rounded, like every table number (issue 25 item 2).

The claim and the exact derivative at the counterexample, their difference
there, and both at a given point are the correctly rounded decimals of their
balls, not a certified midpoint rounded to binary and then to decimal (that
ends in the other neighbour of the true value about once in a hundred).
"""

import json
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import mpmath
import pytest

import derivaudit as da
from derivaudit.cli import main

#: -log(2) = -0.69314718055994530941723212145817656807550013436025|5254…: the certified
#: midpoint rounded to 50 digits' bits printed …36025
MINUS_LOG2_50 = "-0.69314718055994530941723212145817656807550013436026"


def _run(capsys, *argv) -> str:
    assert main(list(argv)) == 1
    return capsys.readouterr().out


def test_the_witness_values_in_json_are_correctly_rounded(capsys):
    witness = json.loads(_run(capsys, "check", "x**2", "--wrt", "x", "--claim", "log(x)", "--json")
                         )["components"][0]["witness"]
    assert witness == {"point": {"x": "1/2"}, "claim_value": MINUS_LOG2_50, "exact_value": "1"}


def test_the_counterexample_line_and_the_point_agree_digit_for_digit(capsys):
    out = _run(capsys, "check", "x**2", "--wrt", "x", "--claim", "log(x)", "--at", "x=2", "--digits", "50")
    assert f"counterexample: x=1/2: claim = {MINUS_LOG2_50}, exact = 1\n" in out
    assert f"at the point: claim = {MINUS_LOG2_50[1:]}, exact = 4\n" in out
    # the evidence table's claim column is the same number
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("centered", "forward"))]
    assert len(rows) == 12 and {row[5] for row in rows} == {MINUS_LOG2_50[1:]}


def _correctly_rounded(value, digits: int) -> str:
    """``value`` (known to far more digits) rounded half-even to ``digits`` significant digits."""
    with localcontext(prec=4 * digits):
        text = Decimal(mpmath.nstr(value, 3 * digits, min_fixed=1, max_fixed=0))
        return str(text.quantize(Decimal(1).scaleb(text.adjusted() - digits + 1), rounding=ROUND_HALF_EVEN))


@pytest.mark.parametrize("claim, value", [
    ("log(x)", lambda x: mpmath.log(x)),
    ("2*x + sin(x)/3", lambda x: 2 * x + mpmath.sin(x) / 3),
    ("2*x*(1 + atan(x)/7)", lambda x: 2 * x * (1 + mpmath.atan(x) / 7)),
    ("2*x + exp(x)/9", lambda x: 2 * x + mpmath.exp(x) / 9),
    ("2*x + log(1 + x)/11", lambda x: 2 * x + mpmath.log(1 + x) / 11),
])
@pytest.mark.parametrize("dps", [15, 20, 50])
def test_witness_values_are_the_correctly_rounded_decimals(claim, value, dps):
    result = da.check("x**2", wrt="x", claim=claim, dps=dps)
    comparison = result.components[0].comparison
    x = comparison.counterexample["x"]
    with mpmath.workdps(4 * dps):
        x = mpmath.mpf(x.p) / x.q
        claim_value, exact_value = value(x), 2 * x
        difference = claim_value - exact_value
    assert Decimal(mpmath.nstr(comparison.claim_value, dps)) == Decimal(_correctly_rounded(claim_value, dps))
    assert Decimal(mpmath.nstr(comparison.exact_value, dps)) == Decimal(_correctly_rounded(exact_value, dps))
    # "claim − exact there" prints three digits: they are the correctly rounded ones
    assert Decimal(mpmath.nstr(comparison.difference_value, 3)) == Decimal(_correctly_rounded(difference, 3))


def test_the_difference_at_the_witness_prints_three_proved_digits(capsys):
    # log(1/2)/7 = -0.0990210…: certified to two digits only, its third digit was not proved
    out = _run(capsys, "check", "x**2", "--wrt", "x", "--claim", "2*x + log(x)/7")
    assert "claim − exact there: -0.099 (certified: its ball excludes 0)" in out


@pytest.mark.parametrize("formula, claim, at", [
    ("x**3", "3*x", 1),                  # |D_ε f − claim| = ε² exactly: 0.0001 printed 0.0000999…9703
    ("sin(x)", "cos(x)*1001/1000", "1/3"),
    ("exp(x)", "exp(x) + x/7", "1/2"),
    ("log(x)", "1/x + 1/97", 3),
])
def test_the_distance_to_the_claim_is_correctly_rounded(formula, claim, at):
    """The evidence column is |D_ε f − claim|, not the difference of two rounded numbers (which
    loses the digits the subtraction cancels)."""
    import sympy as sp

    dps = 30
    component = da.check(formula, wrt="x", claim=claim, at={"x": at}, dps=dps).components[0]
    table = component.evidence.table
    x = sp.Symbol("x")
    f = sp.lambdify(x, sp.sympify(formula), "mpmath")
    g = sp.lambdify(x, sp.sympify(claim), "mpmath")
    steps = [sp.Rational(1, 10 ** k) for k in range(1, 7)]
    for row in table.itertuples():
        step = min(steps, key=lambda r: abs(mpmath.mpf(r.p) / r.q - row.eps))
        with mpmath.workdps(5 * dps):
            a, h = mpmath.mpf(sp.Rational(at).p) / sp.Rational(at).q, mpmath.mpf(step.p) / step.q
            quotient = sum(mpmath.mpf(w.p) / w.q * f(a + o * h) for o, w in da.stencil(row.scheme, 1).terms()) / h
            distance = abs(quotient - g(a))
        assert Decimal(mpmath.nstr(row.distance_to_claim, dps)) == Decimal(_correctly_rounded(distance, dps)), \
            (row.scheme, step)
