from decimal import Decimal

import mpmath
import numpy as np
import pytest

import derivaudit as da
from derivaudit.studies.inputs import parse_eps
from derivaudit.studies.orders import observed_order
from derivaudit.errors import DerivauditError, DomainError, LimitExceeded, ParseError


def digits(value, n=50):
    return Decimal(mpmath.nstr(value, n))


def test_seed_example_is_exact_at_50_digits():
    table = da.study("theta**3", wrt="theta", at={"theta": 1}, eps=[0.01],
                     schemes=["forward", "centered"], dps=50)
    forward, centered = table.table.iloc[0], table.table.iloc[1]
    assert digits(forward.approx) == Decimal("3.0301")
    assert digits(forward.abs_error) == Decimal("0.0301")
    assert digits(centered.approx) == Decimal("3.0001")
    assert digits(centered.abs_error) == Decimal("0.0001")
    assert digits(forward.exact) == Decimal(3)
    assert forward.theoretical_order == 1 and centered.theoretical_order == 2


def test_table_columns_and_metadata():
    table = da.study("theta**3", at={"theta": 1}, eps="1e-1:1e-3:3")
    assert list(table.table.columns) == ["scheme", "derivative", "eps", "approx", "exact", "error",
                                   "abs_error", "rel_error", "observed_order", "theoretical_order", "error_radius"]
    assert len(table.table) == 6
    assert np.isnan(table.table.observed_order.iloc[0])
    assert table.exact_derivative == "3*theta**2"
    assert table.wrt == "theta" and table.point == {"theta": "1"}


def test_cubic_sweep_orders_at_50_digits():
    table = da.study("theta**3", wrt="theta", at={"theta": 1}, eps="1e-1:1e-12:12", dps=50,
                     schemes=["forward", "centered"])
    forward = table.table[table.table.scheme == "forward"].observed_order.iloc[1:]
    centered = table.table[table.table.scheme == "centered"].observed_order.iloc[1:]
    assert np.all(np.abs(forward - 1) < 0.02)
    assert np.all(np.abs(centered - 2) < 1e-9)    # θ³: centered error is exactly ε²
    fitted = da.fitted_orders(table).set_index("scheme")
    assert abs(fitted.loc["forward", "fitted_order"] - 1) < 0.01
    assert abs(fitted.loc["centered", "fitted_order"] - 2) < 1e-9
    assert fitted.loc["centered", "steps_used"] == 12
    # error of centered at 1e-12 is exactly 1e-24 at 50 digits
    assert digits(table.table[table.table.scheme == "centered"].abs_error.iloc[-1]) == Decimal("1e-24")


FUNCTIONS = ["x**5 - 2*x", "exp(x)", "sin(x)", "log(x)", "tanh(x)", "sigmoid(x)"]


@pytest.mark.parametrize("formula", FUNCTIONS)
@pytest.mark.parametrize("scheme, order, expected", [
    ("forward", 1, 1), ("backward", 1, 1), ("centered", 1, 2), ("centered4", 1, 4),
    ("centered", 2, 2), ("forward2", 1, 2),
])
def test_measured_orders(formula, scheme, order, expected):
    table = da.study(formula, at={"x": "0.7"}, eps="1e-3:1e-7:5", schemes=[scheme], order=order)
    observed = table.table.observed_order.iloc[1:]
    assert np.all(np.abs(observed - expected) < 0.05), list(observed)
    assert abs(da.fitted_orders(table).fitted_order.iloc[0] - expected) < 0.05


def test_centered_is_exact_for_quadratics():
    table = da.study("x**2", at={"x": 3}, eps=[0.1, 0.01], schemes=["centered"])
    assert all(e == 0 for e in table.table.abs_error)
    assert table.table.observed_order.isna().all()
    assert da.fitted_orders(table).fitted_order.isna().all()


def test_multivariate_partial():
    table = da.study("x**2*y", wrt="y", at={"x": 3, "y": "0.5"}, eps=[0.1], schemes=["forward"])
    assert digits(table.table.exact.iloc[0]) == Decimal(9)
    assert digits(table.table.approx.iloc[0]) == Decimal(9)  # linear in y: forward is exact


def test_float64_shows_the_v_curve():
    table = da.study("exp(x)", at={"x": 1}, eps="1e-1:1e-13:13", schemes=["forward", "centered"],
                     precision="float64")
    assert isinstance(table.table.approx.iloc[0], float)
    best = da.best_steps(table).set_index("scheme")
    # textbook optimum: forward near sqrt(u) ~ 1e-8, centered near cbrt(u) ~ 1e-5
    assert 1e-9 <= best.loc["forward", "best_eps"] <= 1e-7
    assert 1e-7 <= best.loc["centered", "best_eps"] <= 1e-4
    centered = table.table[table.table.scheme == "centered"]
    assert centered.abs_error.iloc[-1] > 100 * best.loc["centered", "min_abs_error"]  # roundoff arm
    fitted = da.fitted_orders(table).set_index("scheme")
    assert abs(fitted.loc["centered", "fitted_order"] - 2) < 0.1


def test_observed_order_formula():
    orders = observed_order([mpmath.mpf("1e-2"), mpmath.mpf("1e-4")], [0.1, 0.01])
    assert np.isnan(orders[0]) and orders[1] == pytest.approx(2.0)


def test_parse_eps():
    steps = parse_eps("1e-1:1e-3:3")
    assert [str(s) for s in steps] == ["1/10", "1/100", "1/1000"]
    assert [str(s) for s in parse_eps("0.5, 0.25")] == ["1/2", "1/4"]
    assert [str(s) for s in parse_eps([0.01])] == ["1/100"]
    for bad in ["0", "-1", "1:2", "1e-1:1e-3:x", "1e-1:1e-3:0", ""]:
        with pytest.raises(ParseError):
            parse_eps(bad)


@pytest.mark.parametrize("kwargs, cls, fragment", [
    ({"formula": "x*y", "at": {"x": 1, "y": 2}}, DerivauditError, "say which one"),
    ({"formula": "x", "wrt": "z", "at": {"x": 1}}, DerivauditError, "not a variable"),
    ({"formula": "x*y", "wrt": "x", "at": {"x": 1}}, DerivauditError, "no value given for y"),
    ({"formula": "x", "at": {"x": 1, "q": 2}}, DerivauditError, "does not use"),
    ({"formula": "log(x)", "at": {"x": -1}}, DomainError, "not real"),
    ({"formula": "1/x", "at": {"x": 0}}, DomainError, "undefined"),
    ({"formula": "log(x)", "at": {"x": "0.05"}, "eps": [0.1]}, DomainError, "stencil needs"),
    ({"formula": "x", "at": {"x": 1}, "dps": 10**6}, LimitExceeded, "precision"),
    ({"formula": "x", "at": {"x": 1}, "schemes": ["central"]}, DerivauditError, "unknown scheme"),
    ({"formula": "x", "at": {"x": 1}, "precision": "float32"}, DerivauditError, "precision"),
])
def test_bad_input(kwargs, cls, fragment):
    with pytest.raises(cls) as info:
        da.study(**kwargs)
    assert fragment in str(info.value)


def test_exact_zero_through_irrational_steps():
    # f(2) = sin(2π) = 0 exactly; its numeric noise differs at every precision
    table = da.study("sin(pi*x)", at={"x": 2}, eps=[0.01], schemes=["centered"])
    with mpmath.workdps(30):
        assert digits(table.table.exact.iloc[0], 30) == digits(+mpmath.pi, 30)


def test_erf_in_float64():
    table = da.study("erf(x)", at={"x": "0.5"}, eps=[1e-3], schemes=["centered"], precision="float64")
    assert table.table.abs_error.iloc[0] < 1e-6


def test_steps_far_below_the_point_are_resolved_not_lost():
    # x + ε collapses to x at 50 digits when x = 1e1000: the precision must grow for the step
    table = da.study("x**2", at={"x": "1e1000"}, eps=[0.1], schemes=["forward"], dps=50)
    assert digits(table.table.approx.iloc[0]) == Decimal("2e1000")  # 2x + ε, ε below resolution
    table = da.study("x**2", at={"x": "1e30"}, eps=[0.1], schemes=["forward"], dps=50)
    assert digits(table.table.approx.iloc[0]) == Decimal("2000000000000000000000000000000.1")


def test_float64_fit_uses_only_the_truncation_arm():
    table = da.study("theta**3", at={"theta": 1}, eps="1e-1:1e-12:12", precision="float64",
                     schemes=["forward", "centered"])
    fitted = da.fitted_orders(table).set_index("scheme")
    assert abs(fitted.loc["forward", "fitted_order"] - 1) < 0.05
    assert abs(fitted.loc["centered", "fitted_order"] - 2) < 0.05
    # centered's V bottoms out near 1e-5 .. 1e-6: steps 1e-1 … 1e-4 remain
    assert fitted.loc["centered", "steps_used"] == 4


@pytest.mark.parametrize("precision", ["mp", "float64"])
def test_tables_share_no_mutable_axis(precision):
    """Naming one table's axes (``columns.name``, ``index.name``) leaves every other table
    as it was: each table owns its axis objects."""
    first = da.study("x**2", at={"x": "1"}, eps="1e-1,1e-2", schemes=["forward"], precision=precision)
    second = da.study("x**3", at={"x": "1"}, eps="1e-1,1e-2", schemes=["forward"], precision=precision)
    first.table.columns.name, first.table.index.name = "quantity", "row"
    assert second.table.columns.name is None and second.table.index.name is None
    assert list(second.table.columns) == list(first.table.columns)
