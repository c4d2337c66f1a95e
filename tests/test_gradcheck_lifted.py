"""Lifted precision: the user's NumPy code on 50-digit balls, the quiet ways a value drops to float64,
and the fall back to float64 that names the line."""

import math

import numpy as np
import pytest
from flint import arb, ctx

import derivaudit as da
from derivaudit.gradcheck.lifted import BallArray, lift, mid_floats
from derivaudit.gradcheck.precision import lifted

W = np.array([0.3, -1.2, 0.7, 2.1])


def _exact(value, fraction) -> bool:
    """``value`` (a 0-d ball array or a ball) equals ``fraction`` to 100 digits."""
    ball = value.view(np.ndarray).item() if isinstance(value, np.ndarray) else value
    old, ctx.prec = ctx.prec, 400
    try:
        return float(abs(ball - arb(fraction.numerator) / fraction.denominator).upper()) < 1e-100
    finally:
        ctx.prec = old


def test_values_entering_a_ball_array_become_balls():
    from fractions import Fraction
    with lifted(50):
        x = lift(W)
        dx = np.zeros_like(x)
        dx[x > 0] = 1                                  # a Python int
        dx /= 5                                        # 1/5 as a ball, not the float 0.2
        scaled = x * (1 / 6) * 6                       # the float 1/6 read as the fraction it rounds from
        y = np.maximum(0, x)                           # np.maximum would keep the int 0 on plain object arrays
        z = np.where(x > 0, x, 0.5)
        p = np.pad(x, 1)
        e = np.eye(2) + np.full((2, 2), 0.25)
        fifth, sixth = dx[0], scaled[0]
        kinds = {type(v) for a in (dx, y, z, p, e) for v in a.view(np.ndarray).flat}
        types_ = {type(a) for a in (dx, y, z, p, e, np.zeros(3), np.ones((2, 2)), np.empty(2))}
        rng_values = np.random.default_rng(0).normal(size=3)      # numpy.random keeps its float buffers
    assert kinds == {arb} and types_ == {BallArray}
    assert _exact(fifth, Fraction(1, 5)) and _exact(sixth, Fraction(3, 10))
    assert rng_values.dtype == np.float64


def test_routed_ufuncs_and_functions_run_on_balls():
    with lifted(50):
        x = lift(np.array([[0.5, -0.25, 2.0], [1.5, 0.75, -1.0]]))
        results = {
            "var": np.var(x, axis=0), "std": x.std(), "arctan": np.arctan(x), "clip": np.clip(x, -0.5, 1.0),
            "max": np.max(x, axis=1), "log2": np.log2(np.abs(x)), "hypot": np.hypot(x, 1.0),
        }
        added = np.zeros_like(x)
        np.add.at(added, (np.array([0, 0, 1]), np.array([1, 1, 2])), 1.5)
        argmax = np.argmax(x, axis=1)
        mask = x >= x                                  # a ball is equal to itself (decided on midpoints)
    plain = np.array([[0.5, -0.25, 2.0], [1.5, 0.75, -1.0]])
    expected = {"var": np.var(plain, axis=0), "std": plain.std(), "arctan": np.arctan(plain),
                "clip": np.clip(plain, -0.5, 1.0), "max": np.max(plain, axis=1),
                "log2": np.log2(np.abs(plain)), "hypot": np.hypot(plain, 1.0)}
    for name, value in results.items():
        assert type(value) is BallArray, name
        assert np.allclose(mid_floats(value), expected[name], rtol=1e-15), name
    assert mid_floats(added)[0, 1] == 3.0 and mid_floats(added)[1, 2] == 1.5
    assert list(argmax) == [2, 0] and mask.dtype == bool and mask.all()


def test_fresh_arrays_shaped_like_float_constants_are_balls():
    W_fixed = np.array([[0.5, -1.0], [2.0, 0.25]])

    def loss(x):
        return np.sum((x @ W_fixed) ** 2)

    def grad(x):
        out = x @ W_fixed
        dx = np.zeros_like(W_fixed)                   # shaped like a float constant, filled with balls
        dx += 2 * out @ W_fixed.T
        return dx

    result = da.check_gradient(loss, grad, np.array([[0.1, 0.2], [0.3, -0.4]]), precision="mp")
    assert result.precision == "mp" and result.relative_difference < 1e-25
    labels = np.array([1, 0])
    with lifted(50):
        assert np.zeros_like(labels).dtype.kind == "i" and type(np.full_like(W_fixed, 0.5)) is BallArray


def test_correct_gradient_agrees_to_far_more_than_float64_digits():
    f = lambda w: np.sum(np.tanh(w) ** 2 * np.exp(-w / 3)) + np.var(w) + np.sum(np.arctan(w))
    g = lambda w: (2 * np.tanh(w) * (1 - np.tanh(w) ** 2) * np.exp(-w / 3) - np.tanh(w) ** 2 * np.exp(-w / 3) / 3
                   + 2 * (w - np.mean(w)) / w.size + 1 / (1 + w ** 2))
    result = da.check_gradient(f, g, W, precision="mp", dps=50)
    assert result.precision == "mp" and result.dps == 50 and result.method == "centered differences on balls"
    assert result.verdict == "fine" and result.relative_difference < 1e-40 and result.wrong == ()
    loose = da.check_gradient(f, g, W, precision="mp", dps=20)
    assert loose.relative_difference < 1e-10
    # a float64-sized mistake is certain at 50 digits, and invisible in float64
    nudged = lambda w: g(w) * (1 + 1e-12 * (np.arange(w.size) == 2))
    assert da.check_gradient(f, nudged, W, precision="mp").wrong == ((2,),)
    assert da.check_gradient(f, nudged, W).wrong == ()


def _float_of_ball(w):
    s = float(np.sum(w ** 2))
    return s * np.sum(w)


def _astype(w):
    v = w.astype(np.float64)
    return np.sum(np.exp(v))


def _numpy_float(w):
    total = 0
    for v in w:
        total = total + np.float64(v) ** 2
    return total


def _math_exp(w):
    return sum(math.exp(v) for v in w)


def _asarray_float(w):
    return np.sum(np.asarray(w, dtype=np.float64) ** 2)


@pytest.mark.parametrize("f, grad, line", [
    (_float_of_ball, lambda w: 2 * w * np.sum(w) + np.sum(w ** 2), "s = float(np.sum(w ** 2))"),
    (_astype, np.exp, "v = w.astype(np.float64)"),
    (_numpy_float, lambda w: 2 * w, "total = total + np.float64(v) ** 2"),
    (_math_exp, np.exp, "return sum(math.exp(v) for v in w)"),
    (_asarray_float, lambda w: 2 * w, "np.asarray(w, dtype=np.float64)"),
])
def test_code_forcing_float64_falls_back_and_names_the_line(f, grad, line):
    result = da.check_gradient(f, grad, W, precision="mp")
    assert result.precision == "float64" and result.verdict == "fine"
    note = next(n for n in result.notes if "fell back to float64" in n)
    assert "test_gradcheck_lifted.py:" in note and line in note


def test_c_extension_falls_back_saying_why():
    # np.linalg runs LAPACK: object arrays of balls cannot go in
    f = lambda w: np.sum(np.linalg.inv(np.diag(w) + 3 * np.eye(w.size)))
    g = lambda w: -1 / (w + 3) ** 2
    result = da.check_gradient(f, g, W, precision="mp")
    assert result.precision == "float64" and result.ok
    assert any("the code failed on balls (UFuncTypeError: Cannot cast ufunc 'inv'" in n for n in result.notes)


def test_dropped_code_with_a_wrong_gradient_leads_with_the_drop():
    result = da.check_gradient(_astype, lambda w: 2 * np.exp(w), W, precision="mp")
    assert result.verdict == "bug" and result.cause.startswith("precision='mp' fell back to float64")
    assert "every entry is 2 × the true gradient" in result.cause


def test_nondeterministic_f_in_mp():
    rng = np.random.default_rng(1)
    result = da.check_gradient(lambda w: np.sum(w ** 2) + 1e-30 * rng.normal(), lambda w: 2 * w, W,
                               precision="mp")
    assert result.precision == "mp"
    assert any("not deterministic" in n for n in result.notes)


def test_assert_gradient_in_mp_names_entries():
    from derivaudit.testing import assert_gradient
    assert assert_gradient(np.sin, np.cos, np.array([0.5]), precision="mp").relative_difference < 1e-25
    with pytest.raises(AssertionError, match=r"wrong entries: \(1,\)"):
        assert_gradient(lambda w: np.sum(np.sin(w)), lambda w: np.cos(w) * [1, -1, 1], np.array([0.1, 0.2, 0.3]),
                        precision="mp")
    with pytest.raises(da.DerivauditError, match="dps"):
        da.check_gradient(np.sin, np.cos, np.array([0.5]), precision="mp", dps=3)
    with pytest.raises(da.DerivauditError, match="precision"):
        da.check_gradient(np.sin, np.cos, np.array([0.5]), precision="float128")


def _through_item(w):
    total = np.sum(w ** 2).item()
    return float(total)


def test_a_drop_through_item_is_seen_too():
    result = da.check_gradient(_through_item, lambda w: 2 * w, W, precision="mp")
    assert result.precision == "float64" and result.ok
    note = next(n for n in result.notes if "fell back to float64" in n)
    assert "test_gradcheck_lifted.py:" in note and "return float(total)" in note


def test_a_result_that_is_not_a_ball_falls_back():
    bare = lambda w: float(np.sum(w ** 2).view(np.ndarray).item())     # a bare ball converted: no hook sees it
    result = da.check_gradient(bare, lambda w: 2 * w, W, precision="mp")
    assert result.precision == "float64" and result.ok
    assert any("its result holds float64 numbers, not balls" in n for n in result.notes)
