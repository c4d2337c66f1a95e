"""Mixed partials in studies: tensor-product stencils with their theoretical order."""

import numpy as np
import pytest
import sympy as sp

import derivaudit as da
from derivaudit.errors import DerivauditError
from derivaudit.core.stencils import tensor_stencil

R = sp.Rational


def test_tensor_stencil_terms_and_leading_error():
    st = tensor_stencil("centered", (1, 1))
    assert st.derivative == 2 and st.accuracy == 2 and st.points == 4
    assert sorted(st.terms()) == [((-1, -1), R(1, 4)), ((-1, 1), R(-1, 4)), ((1, -1), R(-1, 4)),
                                  ((1, 1), R(1, 4))]
    assert st.leading_terms() == [(R(1, 6), (3, 1)), (R(1, 6), (1, 3))]
    mixed = tensor_stencil("forward", (2, 1))
    assert mixed.derivative == 3 and mixed.accuracy == 1


@pytest.mark.parametrize("scheme, expected", [("centered", 2), ("forward", 1), ("richardson-centered", 4),
                                              ("centered4", 4)])
def test_mixed_partial_orders_measured_at_50_digits(scheme, expected):
    table = da.study("sin(x*y) + x**3*y", wrt=["x", "y"], at={"x": 1, "y": "0.5"}, eps="1e-2:1e-4:3",
                     schemes=[scheme], dps=50)
    assert table.wrt == "x,y" and table.derivative == 2
    assert table.exact_derivative == "3*x**2 - x*y*sin(x*y) + cos(x*y)"
    assert (table.table.theoretical_order == expected).all()
    assert abs(da.fitted_orders(table).fitted_order.iloc[0] - expected) < 0.05


def test_repeated_variable_and_three_directions():
    table = da.study("exp(x)*y**3*z", wrt=["x", "y", "y", "z"], at={"x": 0, "y": 1, "z": 2},
                     eps=["1e-3"], schemes=["centered"], dps=30)
    assert float(table.table.exact.iloc[0]) == pytest.approx(6.0)
    assert float(table.table.rel_error.iloc[0]) < 1e-5
    second = da.study("exp(x)", wrt=["x", "x"], at={"x": 0}, eps=["1e-2"], schemes=["centered"])
    assert second.derivative == 2 and second.wrt == "x"


def test_mixed_partials_in_float64():
    table = da.study("exp(x*y)", wrt=["x", "y"], at={"x": 1, "y": 1}, eps="1e-1:1e-6:6",
                     schemes=["centered"], precision="float64")
    errors = np.array([float(e) for e in table.table.abs_error])
    assert errors[2] < 1e-4 and "predicted_error" in table.table.columns


def test_order_and_list_together_is_refused():
    with pytest.raises(DerivauditError, match="not both"):
        da.study("x*y", wrt=["x", "y"], at={"x": 1, "y": 1}, order=2)
    with pytest.raises(DerivauditError, match="not a variable"):
        da.study("x*y", wrt=["x", "z"], at={"x": 1, "y": 1})
