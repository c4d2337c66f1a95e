"""Every printed digit correctly rounded, exact zeros, and how numbers print (issue 25 items 1–3)."""

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import mpmath
import pytest
import sympy as sp

import derivaudit as da
from derivaudit.cli import main


def _table(result):
    return getattr(result, "table", result)


def _row(table, scheme, i):
    return table[table.scheme == scheme].iloc[i]


def _lines(capsys, *argv):
    assert main(list(argv)) in (0, 1)
    return capsys.readouterr().out.splitlines()


# -- item 1: an exact-zero derivative ---------------------------------------------------

def test_an_exact_zero_derivative_never_hides_a_non_zero_error(capsys):
    lines = _lines(capsys, "study", "sin(x)", "--at", "x=0", "--order", "2", "--eps", "1e-6,1e-7,1e-8",
                   "--schemes", "forward,centered", "--dps", "15")
    row = next(line.split() for line in lines if line.split()[:2] == ["forward", "1e-8"])
    # approx, exact, abs_error: the error of an exact 0 is the approximation itself
    assert row[2] == "-1.0e-8" and row[3] == "0" and row[4] == "1.0e-8"


@pytest.mark.parametrize("formula, order, schemes", [
    ("sin(x)", 2, ["forward", "centered", "forward3"]),
    ("x**2", 3, ["forward", "centered"]),
])
def test_rows_of_an_exact_zero_report_the_approximation_as_the_error(formula, order, schemes):
    table = _table(da.study(formula, at={"x": 0}, order=order, eps="1e-4,1e-6,1e-8",
                            schemes=schemes, dps=15))
    assert (table.exact == 0).all()
    assert list(table.error) == list(table.approx)
    assert all(abs(a) == e for a, e in zip(table.approx, table.abs_error))


def test_forward3_error_at_an_exact_zero_is_its_approximation():
    table = _table(da.study("sin(x)", at={"x": 0}, order=2, eps="1e-4,1e-8", schemes=["forward3"], dps=15))
    assert all(e != 0 for e in table.error)
    with mpmath.workdps(15):
        assert mpmath.nstr(table.error.iloc[0], 2) == mpmath.nstr(table.approx.iloc[0], 2)


# -- item 2: correctly rounded, not faithful --------------------------------------------

def test_the_last_digit_is_the_correctly_rounded_one(capsys):
    lines = _lines(capsys, "study", "sin(x)", "--at", "x=1e10", "--eps", "1e-5", "--schemes", "centered",
                   "--dps", "20")
    row = next(line.split() for line in lines if line.startswith("centered"))
    assert row[2] == "0.87311962266230400746"  # the value is 0.87311962266230400746498…


def _reference_quotient(formula, at, eps, offsets_weights, d, digits):
    x = sp.Symbol("x")
    f = sp.lambdify(x, da.parse_formula(formula).subs(sp.Symbol("x", real=True), x), "mpmath")
    with mpmath.workdps(digits):
        step = mpmath.mpf(sp.Rational(eps).p) / sp.Rational(eps).q
        base = mpmath.mpf(sp.Rational(at))
        return sum(mpmath.mpf(w.p) / w.q * f(base + o * step) for o, w in offsets_weights) / step ** d


@pytest.mark.parametrize("formula, at, eps, scheme, dps", [
    ("sin(x)", "10000000000", "1/100000", "centered", 20),
    ("exp(x)", "700", "1/1000", "backward2", 15),
    ("exp(x)", "700", "1/100000", "backward2", 15),
    ("log(x)", "3", "1/7", "centered4", 30),
])
def test_every_printed_number_is_the_correctly_rounded_decimal(formula, at, eps, scheme, dps):
    table = _table(da.study(formula, at={"x": at}, eps=[eps], schemes=[scheme], dps=dps))
    row = table.iloc[0]
    reference = _reference_quotient(formula, at, eps, da.stencil(scheme, 1).terms(), 1, 3 * dps + 60)
    with mpmath.workdps(3 * dps + 60):
        exact = mpmath.mpf(str(sp.diff(da.parse_formula(formula)).subs(
            next(iter(da.parse_formula(formula).free_symbols)), sp.Rational(at)).evalf(3 * dps + 60)))
        expected = {"approx": reference, "exact": exact, "error": reference - exact,
                    "rel_error": abs(reference - exact) / abs(exact)}
        correct = {k: _correctly_rounded(v, dps) for k, v in expected.items()}
    for column, value in correct.items():
        assert Decimal(mpmath.nstr(row[column], dps)) == value, column


def _correctly_rounded(value, dps: int) -> Decimal:
    """``value`` (known to many more than ``dps`` digits) rounded half-even to ``dps`` digits."""
    with localcontext(prec=4 * dps):
        text = Decimal(mpmath.nstr(value, 3 * dps, min_fixed=1, max_fixed=0))
        return text.quantize(Decimal(1).scaleb(text.adjusted() - dps + 1), rounding=ROUND_HALF_EVEN)


# -- item 3: how numbers print ----------------------------------------------------------

def test_exact_integers_and_steps_print_as_typed(capsys):
    lines = _lines(capsys, "study", "x**3", "--at", "x=1", "--eps", "1e-6,0.01", "--schemes", "centered",
                   "--dps", "30")
    rows = [line.split() for line in lines if line.startswith("centered")][:2]
    assert [row[1] for row in rows] == ["1e-6", "0.01"]
    assert [row[3] for row in rows] == ["3", "3"]
    lines = _lines(capsys, "study", "x**3", "--at", "x=1", "--eps", "1e-6", "--schemes", "centered", "--float64")
    assert next(line.split() for line in lines if line.startswith("centered"))[1] == "1e-6"
