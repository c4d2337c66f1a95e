"""The complex step Im f(x + iε)/ε: order 2, no cancellation, refused where f is not analytic."""

import mpmath
import numpy as np
import pytest

import derivaudit as da
from derivaudit.errors import DerivauditError, DomainError

SMOOTH = [("exp(x)", 1), ("sin(x)", 1), ("log(x)", 2), ("tanh(x)", "0.5"), ("sigmoid(x)", 1),
          ("x**5 - 3*x**2 + x", "1.5"), ("sqrt(1 + x**2)*atan(x)", "0.7"), ("log1p(x**2)/cosh(x)", "0.4")]


@pytest.mark.parametrize("formula, point", SMOOTH)
def test_float64_complex_step_is_exact_down_to_tiny_steps(formula, point):
    table = da.study(formula, wrt="x", at={"x": point}, eps=["1e-100", "1e-200", "1e-20"],
                     schemes=["complex-step", "centered"], precision="float64")
    cs = table.table[table.table.scheme == "complex-step"]
    rel = np.array([float(v) for v in cs.rel_error])
    assert np.all(rel < 2e-15), rel
    # the centered difference at such steps is pure roundoff (0/ε or garbage)
    centered = table.table[table.table.scheme == "centered"]
    assert all(float(v) > 1e-3 for v in centered.rel_error.iloc[:2])


@pytest.mark.parametrize("formula, point", SMOOTH[:5])
def test_mp_complex_step_has_order_two_and_constant_minus_one_sixth(formula, point):
    table = da.study(formula, wrt="x", at={"x": point}, eps="1e-2:1e-6:5", schemes=["complex-step"], dps=50)
    fitted = da.fitted_orders(table)
    assert abs(fitted.fitted_order.iloc[0] - 2) < 0.01
    third = da.study(formula, wrt="x", at={"x": point}, eps=["1e-3"], schemes=["centered"], order=3, dps=30)
    with mpmath.workdps(30):
        constant = table.table.error.iloc[-1] / (mpmath.mpf("1e-6") ** 2 * third.table.exact.iloc[0])
    assert float(constant) == pytest.approx(-1 / 6, rel=1e-6)


def test_mp_complex_step_far_below_the_resolution_is_exact():
    table = da.study("exp(x)*cos(x)", at={"x": 1}, eps=["1e-100"], schemes=["complex-step"], dps=50)
    assert table.table.abs_error.iloc[0] == 0


def test_complex_step_in_a_formula_of_several_variables():
    table = da.study("exp(w*x + b)", wrt="w", at={"w": "0.5", "x": 2, "b": -1}, eps=["1e-30"],
                     schemes=["complex-step"], precision="float64")
    assert float(table.table.rel_error.iloc[0]) < 1e-15


@pytest.mark.parametrize("formula, name", [("abs(x)", "abs"), ("relu(x) + x", "max/relu"),
                                           ("max(x, 2*x)", "max/relu"), ("min(x, x**2)", "min")])
def test_complex_step_is_refused_where_not_analytic(formula, name):
    with pytest.raises(DomainError, match=f"analytic along the real axis, and {name} is not"):
        da.study(formula, at={"x": 1}, schemes=["complex-step"], precision="float64")
    # the real stencils still work there
    da.study(formula, at={"x": 1}, schemes=["centered"], eps=["0.01"])


def test_complex_step_gives_first_derivatives_only():
    with pytest.raises(DerivauditError, match="first derivatives only"):
        da.study("exp(x)", at={"x": 1}, schemes=["complex-step"], order=2)
    with pytest.raises(DerivauditError, match="mixed partials"):
        da.study("exp(x*y)", wrt=["x", "y"], at={"x": 1, "y": 1}, schemes=["complex-step"])
