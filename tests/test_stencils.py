import pytest
import sympy as sp

from derivaudit.errors import DerivauditError
from derivaudit.core.stencils import backward, centered, forward, stencil

R = sp.Rational


@pytest.mark.parametrize("st, offsets, weights, accuracy, constant", [
    (forward(1, 1), (0, 1), (-1, 1), 1, R(1, 2)),
    (backward(1, 1), (-1, 0), (-1, 1), 1, R(-1, 2)),
    (centered(1, 2), (-1, 0, 1), (R(-1, 2), 0, R(1, 2)), 2, R(1, 6)),
    (centered(1, 4), (-2, -1, 0, 1, 2), (R(1, 12), R(-2, 3), 0, R(2, 3), R(-1, 12)), 4, R(-1, 30)),
    (centered(2, 2), (-1, 0, 1), (1, -2, 1), 2, R(1, 12)),
    (forward(1, 2), (0, 1, 2), (R(-3, 2), 2, R(-1, 2)), 2, R(-1, 3)),
])
def test_weights_and_orders_are_exact(st, offsets, weights, accuracy, constant):
    assert st.offsets == tuple(sp.Integer(o) for o in offsets)
    assert st.weights == tuple(sp.Rational(w) for w in weights)
    assert st.accuracy == accuracy
    assert st.error_constant == constant


def test_names():
    assert stencil("centered4").accuracy == 4
    assert stencil("forward", 2).offsets == (0, 1, 2)
    assert stencil("CENTERED").name == "centered"
    for bad in ["central", "centered3", "forward0", ""]:
        with pytest.raises(DerivauditError):
            stencil(bad)
