"""The float64 error model: predicted error column, best step and least error."""

import math

import numpy as np
import pytest
import sympy as sp

import derivaudit as da
from derivaudit.studies.error_model import UNIT_ROUNDOFF, ErrorModel, float64_error_model
from derivaudit.errors import DerivauditError
from derivaudit.lang.parse import make_symbol
from derivaudit.core.stencils import centered, complex_step

SUITE = [("exp(x)", "1"), ("sin(x)", "1"), ("log(x)", "2"), ("tanh(x)", "0.5"), ("sigmoid(x)", "1"),
         ("x**5 - 3*x**2 + x", "1.5"), ("exp(x)", "10")]
SCHEMES = ["forward", "centered", "backward2", "centered4", "richardson-centered", "richardson-forward"]
#: a fine log grid: 4 steps per decade from 1e-1 to 1e-13
GRID = "1e-1:1e-13:49"


@pytest.fixture(scope="module")
def suite_tables():
    return {(f, x): da.study(f, wrt="x", at={"x": x}, eps=GRID, schemes=SCHEMES + ["complex-step"],
                             precision="float64") for f, x in SUITE}


def test_predicted_best_step_within_factor_10_of_measured_v_bottom(suite_tables):
    raw_ratios = []
    for (formula, point), table in suite_tables.items():
        best = da.predicted_best_steps(table).set_index("scheme")
        for scheme in SCHEMES:
            row = best.loc[scheme]
            # the V's bottom fitted to the measured errors: within a factor 10 (in fact 2)
            fitted = row.fitted_best_eps / row.predicted_best_eps
            assert 1 / 3 <= fitted <= 3, (formula, scheme, fitted)
            raw_ratios.append(row.best_eps / row.predicted_best_eps)
            # the model is not optimistic: the least measured error is not far above it
            assert row.min_abs_error <= 3 * row.predicted_min_error, (formula, scheme)
        cs = best.loc["complex-step"]
        assert math.isnan(cs.fitted_best_eps)
        assert cs.min_abs_error <= 3 * cs.predicted_min_error
    # the single least error is partly luck, yet within 10× in almost every case
    raw_ratios = np.array(raw_ratios)
    assert np.all((raw_ratios > 1 / 30) & (raw_ratios < 10))
    assert np.mean((raw_ratios >= 0.1) & (raw_ratios <= 10)) >= 0.9


@pytest.mark.parametrize("formula, point", SUITE[:4])
def test_predicted_error_matches_the_truncation_arm(formula, point):
    table = da.study(formula, wrt="x", at={"x": point}, eps="1e-2:1e-3:3", schemes=["forward", "centered"],
                     precision="float64")
    assert "predicted_error" in table.table.columns
    measured = np.array([float(v) for v in table.table.abs_error])
    assert np.allclose(table.table.predicted_error, measured, rtol=0.05)


def test_closed_form_best_step_minimises_the_model():
    model = ErrorModel("centered", 1, 2, truncation=0.4, roundoff=3e-16, floor=1e-17)
    steps = np.logspace(-9, -3, 20001)
    numeric_best = steps[np.argmin(model.error(steps))]
    assert model.best_eps == pytest.approx(numeric_best, rel=1e-3)
    assert model.min_error == pytest.approx(model.error(model.best_eps), rel=1e-9)
    assert model.best_eps == pytest.approx((3e-16 / (2 * 0.4)) ** (1 / 3))


def test_model_terms_for_exp_are_the_textbook_ones():
    x = make_symbol("x")
    point = {x: sp.Integer(1)}
    e, u = math.e, UNIT_ROUNDOFF
    bound = float64_error_model(sp.exp(x), x, point, centered(1, 2), statistic="bound")
    assert bound.truncation == pytest.approx(e / 6)                  # |C|·|f⁽³⁾|, C = 1/6
    assert bound.roundoff == pytest.approx(u * 1 * (e + 1 * e))      # u·Σ|w|·(|f| + |x f'|)
    assert bound.floor == pytest.approx(u * e)                       # u·|x|·|f''|
    typical = float64_error_model(sp.exp(x), x, point, centered(1, 2))
    kappa = math.sqrt(2 / math.pi) / math.sqrt(3)
    assert typical.roundoff == pytest.approx(kappa * u * math.sqrt(0.5) * math.hypot(e, e))
    cs = float64_error_model(sp.exp(x), x, point, complex_step(), statistic="bound")
    assert cs.roundoff == 0 and cs.floor == pytest.approx(2 * u * e)
    assert cs.best_eps == pytest.approx(math.sqrt(cs.floor / (e / 6)))
    with pytest.raises(DerivauditError, match="statistic"):
        float64_error_model(sp.exp(x), x, point, centered(1, 2), statistic="worst")


def test_complex_step_floor_is_predicted():
    table = da.study("exp(x)", at={"x": 1}, eps="1e-10:1e-200:20", schemes=["complex-step"],
                     precision="float64")
    best = da.predicted_best_steps(table).iloc[0]
    assert best.min_abs_error <= 3 * best.predicted_min_error
    # below ε = 1e-10 truncation is nil: the prediction is the floor
    assert np.allclose(table.table.predicted_error.iloc[1:], best.predicted_min_error, rtol=1e-9)


def test_mixed_partial_model():
    table = da.study("sin(x*y) + x**3*y", wrt=["x", "y"], at={"x": 1, "y": "0.5"}, eps=GRID,
                     schemes=["centered"], precision="float64")
    predicted = da.predicted_best_steps(table).iloc[0]
    assert 1 / 3 <= predicted.fitted_best_eps / predicted.predicted_best_eps <= 3


def test_error_model_only_in_float64_and_nan_where_undefined():
    table = da.study("exp(x)", at={"x": 1}, eps=["0.01"], schemes=["centered"])
    assert "predicted_error" not in table.table.columns
    with pytest.raises(DerivauditError, match="float64"):
        da.predicted_best_steps(table)
    kink = da.study("abs(x - 1) + x", at={"x": 1}, eps=["0.01"], schemes=["centered"], precision="float64")
    assert math.isnan(kink.table.predicted_error.iloc[0])
    assert math.isnan(da.predicted_best_steps(kink).predicted_best_eps.iloc[0])
