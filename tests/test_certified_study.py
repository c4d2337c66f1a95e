"""Studies on certified balls: the examples of the certified-numbers issue (12) and
issue 13 item 8, each a regression test."""

import math

import mpmath
import pandas as pd
import pytest
import sympy as sp

import derivaudit as da
from derivaudit.cli import main
from derivaudit.errors import DomainError


def _row(table, scheme="centered", i=0):
    return table.table[table.table.scheme == scheme].iloc[i]


@pytest.mark.parametrize("formula, at, eps, true_error", [
    ("sin(x)", "1e20", "1e-3", "-1.27328394373868e-7"),      # large |x|: x + oε needs log10|x| digits
    ("softplus(x)", "-40", "0.1", "7.08413156374324e-21"),   # internal cancellation in log(1 + exp(x))
])
def test_the_issue_examples_are_right_to_the_last_digit(formula, at, eps, true_error):
    table = da.study(formula, at={"x": at}, eps=eps, schemes=["centered"], dps=15)
    assert mpmath.nstr(_row(table).error, 15) == true_error


@pytest.mark.parametrize("formula, at", [("(1 - cos(x))/x**2", "1e-8"), ("(exp(x) - 1 - x)/x**2", "1e-6")])
@pytest.mark.parametrize("dps", [50, 100])
def test_formulas_that_cancel_inside_are_certified(formula, at, dps):
    table = da.study(formula, at={"x": at}, eps="1e-9,1e-12", schemes=["centered"], dps=dps)
    expr = da.parse_formula(formula)
    x = next(iter(expr.free_symbols))
    # independent: sympy's own evalf of the derivative at the exact point
    exact = sp.diff(expr, x).subs(x, sp.Rational(1, 10 ** int(at.split("-")[1]))).evalf(3 * dps)
    with mpmath.workdps(3 * dps):
        reference = mpmath.mpf(str(exact))
        assert abs(_row(table).exact - reference) <= abs(reference) * mpmath.mpf(10) ** (1 - dps)


def test_every_error_carries_its_certified_radius():
    table = da.study("sin(x)", at={"x": "1e20"}, eps="1e-3", schemes=["centered"], dps=15)
    row = _row(table)
    assert 0 < row.error_radius <= abs(row.error) * mpmath.mpf(10) ** -15


def test_no_row_depends_on_the_other_schemes_of_the_study():
    alone = da.study("softplus(x)", at={"x": "-40"}, eps="0.1,1e-3", schemes=["centered"], dps=20)
    together = da.study("softplus(x)", at={"x": "-40"}, eps="0.1,1e-3",
                        schemes=["forward", "centered4", "centered", "backward"], dps=20)
    assert list(alone.table.error) == list(together.table[together.table.scheme == "centered"].error)


# -- exactly-zero derivatives (issue 13 item 8) -----------------------------------------

def test_a_third_derivative_that_is_zero():
    table = da.study("x**2", at={"x": 1}, order=3)
    assert (table.table.exact == 0).all() and (table.table.error == 0).all()
    assert (da.fitted_orders(table).note.str.contains("exact for this formula")).all()


def test_a_mixed_partial_that_is_zero():
    table = da.study("x*y", wrt=["x", "x"], at={"x": 1, "y": 2})
    assert (table.table.exact == 0).all() and (table.table.approx == 0).all()


def test_cli_studies_of_zero_derivatives_exit_0(capsys):
    assert main(["study", "x**2", "--at", "x=1", "--order", "3"]) == 0
    assert main(["study", "x*y", "--wrt", "x,x", "--at", "x=1", "y=2"]) == 0


# -- kinks ----------------------------------------------------------------------------

@pytest.mark.parametrize("formula, at, left, right", [
    ("abs(x)", "0", "-1", "1"), ("relu(x)", "0", "0", "1"), ("max(x, 100)", "100", "0", "1"),
    ("abs(x - 50)", "50", "-1", "1"),
])
def test_a_kink_at_the_point_is_reported_not_measured(formula, at, left, right):
    table = da.study(formula, at={"x": at}, eps="1e-1,1e-2,1e-3")
    kink = table.not_differentiable
    assert (kink["left"], kink["right"]) == (left, right)
    assert kink["message"] == f"not differentiable at x={at}: left derivative {left}, right {right}"
    assert table.table.observed_order.isna().all() and da.fitted_orders(table).fitted_order.isna().all()


def test_cli_says_not_differentiable(capsys):
    assert main(["study", "abs(x)", "--at", "x=0", "--eps", "0.1,0.01"]) == 0
    assert "not differentiable at x=0: left derivative -1, right 1" in capsys.readouterr().out


@pytest.mark.parametrize("formula", ["abs(x)", "relu(x)", "abs(x - 1)*x", "relu(2*x - 1)**2"])
def test_second_order_studies_with_kinks_never_crash(formula):
    table = da.study(formula, at={"x": 3}, order=2, eps="1e-1,1e-2", schemes=["centered"])
    assert table.not_differentiable is None
    kinked = da.study(formula, at={"x": "0.5" if "2*x" in formula else ("1" if "x - 1" in formula else "0")},
                      order=2, eps="1e-1,1e-2", schemes=["centered"])
    assert kinked.not_differentiable is not None


def test_sqrt_at_zero_says_the_derivative_is_undefined():
    with pytest.raises(DomainError, match=r"the derivative 1/\(2\*sqrt\(x\)\) is undefined"):
        da.study("sqrt(x)", at={"x": 0})


# -- orders that explain themselves ---------------------------------------------------------

def test_order_above_theory_says_which_term_vanishes():
    table = da.study("x**5 - 10*x**3", at={"x": 1}, eps="1e-1:1e-4:4", schemes=["centered"])
    note = table.order_notes["centered"]
    assert note == "order 4: the ε² term vanishes because f‴(x) = 0 here"
    row = da.fitted_orders(table).iloc[0]
    assert abs(row.fitted_order - 4) < 0.01 and row.note == note


def test_the_fit_uses_the_asymptotic_steps_and_says_which():
    # forward differences of exp at large steps are far from order 1: those steps are left out
    table = da.study("exp(10*x)", at={"x": 0}, eps="1:1e-8:9", schemes=["forward"], dps=30)
    row = da.fitted_orders(table).iloc[0]
    assert row.steps_used < 9 and row.fit_steps.endswith("1.0e-8")
    assert abs(row.fitted_order - 1) < 0.01


# -- float64 ---------------------------------------------------------------------------------

def test_an_exact_float64_result_has_error_zero_not_noise():
    table = da.study("log(x)", at={"x": "1e-3"}, eps="1e-20", schemes=["complex-step"], precision="float64")
    assert table.table.error.iloc[0] == 0.0 and table.table.approx.iloc[0] == 1000.0
    assert "float64 result is the exact value" in da.fitted_orders(table).note.iloc[0]


def test_the_error_model_does_not_round_a_point_float64_holds_exactly():
    table = da.study("sin(x)", at={"x": "1e6"}, eps="1e-1:1e-12:12", schemes=["complex-step"],
                     precision="float64")
    predicted = table.error_model["complex-step"]["predicted_min_error"]
    measured = min(float(e) for e in table.table.abs_error)
    assert predicted < 10 * measured  # was 4×10⁵ times too pessimistic


# -- printing --------------------------------------------------------------------------------

def test_cli_never_prints_more_digits_than_dps(capsys):
    assert main(["study", "exp(x)", "--at", "x=1", "--eps", "0.1", "--schemes", "centered",
                 "--dps", "15"]) == 0
    out = capsys.readouterr().out
    assert "2.71828182845905" in out and "2.7182818284590450908" not in out
    assert "0.10000000000000000555" not in out


def test_cli_prints_enough_digits_to_tell_approx_from_exact(capsys):
    assert main(["study", "exp(x)", "--at", "x=1", "--eps", "1e-12", "--schemes", "centered",
                 "--dps", "50", "--digits", "10"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("centered"))
    approx, exact = line.split()[2:4]
    assert approx != exact


def test_csv_has_the_certified_radius(tmp_path):
    path = tmp_path / "t.csv"
    assert main(["study", "sin(x)", "--at", "x=1", "--eps", "0.1,0.01", "--csv", str(path), "-q"]) == 0
    frame = pd.read_csv(path)
    assert "error_radius" in frame.columns and (frame.error_radius_f64 < 1e-50).all()
    assert math.isfinite(frame.error_radius_f64.iloc[0])


@pytest.mark.parametrize("name", ["mpf", "_derivaudit_power", "arb"])
def test_a_variable_named_like_generated_code_is_only_a_variable(name):
    table = da.study(f"{name}**2 + sin({name})", at={name: "0.5"}, eps="1e-3", schemes=["centered"], dps=20)
    assert abs(_row(table).exact - (1 + mpmath.cos(0.5))) < 1e-15
