"""Richardson extrapolation: exact stencils whose raised order is measured at 50 digits."""

import numpy as np
import pytest
import sympy as sp

import derivaudit as da
from derivaudit.errors import DerivauditError
from derivaudit.core.stencils import backward, centered, forward, richardson, stencil

R = sp.Rational


@pytest.mark.parametrize("name, derivative, offsets, weights, accuracy, constant", [
    ("richardson-centered", 1, (-1, R(-1, 2), R(1, 2), 1), (R(1, 6), R(-4, 3), R(4, 3), R(-1, 6)), 4, R(-1, 480)),
    ("richardson-forward", 1, (0, R(1, 2), 1), (-3, 4, -1), 2, R(-1, 12)),
    ("richardson-backward", 1, (-1, R(-1, 2), 0), (1, -4, 3), 2, R(-1, 12)),
])
def test_richardson_weights_and_orders_are_exact(name, derivative, offsets, weights, accuracy, constant):
    st = stencil(name, derivative)
    assert st.name == name
    assert st.offsets == tuple(sp.Rational(o) for o in offsets)
    assert st.weights == tuple(sp.Rational(w) for w in weights)
    assert st.accuracy == accuracy and st.error_constant == constant


@pytest.mark.parametrize("base, raised", [
    (forward(1, 1), 2), (backward(1, 1), 2), (forward(1, 2), 3), (centered(1, 2), 4),
    (centered(1, 4), 6), (centered(2, 2), 4), (forward(2, 1), 2), (centered(3, 2), 4),
])
def test_order_raise_comes_from_the_error_expansion(base, raised):
    assert richardson(base).accuracy == raised
    assert richardson(base, 3).accuracy == raised          # any ratio > 1
    assert stencil("richardson-richardson-centered").accuracy == 6   # Romberg: 2 → 4 → 6


@pytest.mark.parametrize("formula, point", [("exp(x)", 1), ("sin(x)", 1), ("log(x)", 2),
                                            ("sigmoid(x)", "0.3")])
@pytest.mark.parametrize("scheme, order, base_order, expected", [
    ("richardson-centered", 1, 2, 4), ("richardson-forward", 1, 1, 2),
    ("richardson-backward", 1, 1, 2), ("richardson-centered", 2, 2, 4),
])
def test_measured_order_is_raised_at_50_digits(formula, point, scheme, order, base_order, expected):
    base = scheme.removeprefix("richardson-")
    table = da.study(formula, wrt="x", at={"x": point}, eps="1e-2:1e-5:4", schemes=[base, scheme],
                     order=order, dps=50)
    fitted = da.fitted_orders(table).set_index("scheme")
    assert abs(fitted.loc[base, "fitted_order"] - base_order) < 0.05
    assert abs(fitted.loc[scheme, "fitted_order"] - expected) < 0.05
    assert fitted.loc[scheme, "theoretical_order"] == expected
    measured = table.table[table.table.scheme == scheme].observed_order.iloc[1:]
    assert np.all(np.abs(measured - expected) < 0.05)


def test_leading_error_constant_is_measured():
    # R_ε f − f' ≈ C·f⁽⁵⁾·ε⁴ with C = −1/480; for exp at 0 every derivative is 1
    table = da.study("exp(x)", at={"x": 0}, eps=["1e-3"], schemes=["richardson-centered"], dps=50)
    ratio = float(table.table.error.iloc[0]) / 1e-12
    assert ratio == pytest.approx(-1 / 480, rel=1e-5)


@pytest.mark.parametrize("ratio", [1, "1/2", 0, -2, "x"])
def test_bad_ratio_is_refused(ratio):
    with pytest.raises(DerivauditError, match="ratio"):
        richardson(centered(), ratio)


def test_unknown_base_names_the_choices():
    with pytest.raises(DerivauditError, match="richardson-<scheme>"):
        stencil("richardson-central")
    with pytest.raises(DerivauditError, match="complex step"):
        stencil("richardson-complex-step")
