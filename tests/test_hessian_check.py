"""Second-order checks of NumPy code: check_hessian, check_hvp, check_layer(order=2), assert_hessian."""

import json

import numpy as np
import pytest

import derivaudit as da
from derivaudit.errors import DerivauditError, ShapeError
from derivaudit.testing import assert_hessian

X = np.array([0.5, -1.25])


def f(x):
    return x[0] ** 3 * x[1] + np.exp(x[0] * x[1])


def grad(x):
    e = np.exp(x[0] * x[1])
    return np.array([3 * x[0] ** 2 * x[1] + x[1] * e, x[0] ** 3 + x[0] * e])


def hessian(mixed=lambda x, e: 3 * x[0] ** 2 + (1 + x[0] * x[1]) * e, lower=None):
    def hess(x):
        e = np.exp(x[0] * x[1])
        m = mixed(x, e)
        low = m if lower is None else lower(x, e)
        return np.array([[6 * x[0] * x[1] + x[1] ** 2 * e, m], [low, x[0] ** 2 * e]])
    return hess


RIGHT = hessian()
#: the product-rule term of d/dy (x·e^{xy}) missing, in both halves (symmetric but wrong)
MISSING = hessian(lambda x, e: 3 * x[0] ** 2 + x[0] * x[1] * e)
#: only the upper half wrong: not symmetric
LOPSIDED = hessian(lambda x, e: 3 * x[0] ** 2 + x[0] * x[1] * e,
                   lower=lambda x, e: 3 * x[0] ** 2 + (1 + x[0] * x[1]) * e)


@pytest.mark.parametrize("precision", ["float64", "mp"])
@pytest.mark.parametrize("with_grad", [False, True])
def test_a_correct_hessian_is_fine(precision, with_grad):
    r = da.check_hessian(f, RIGHT, X, grad=grad if with_grad else None, precision=precision)
    assert r.ok and r.verdict == "fine" and r.wrong == ()
    assert r.analytic.shape == (2, 2)
    if precision == "mp":
        assert r.relative_difference < 1e-25 and r.precision == "mp" and r.dps == 50
    else:
        assert r.relative_difference < 1e-7


@pytest.mark.parametrize("precision", ["float64", "mp"])
@pytest.mark.parametrize("with_grad", [False, True])
def test_a_wrong_mixed_partial_is_named_in_both_halves(precision, with_grad):
    r = da.check_hessian(f, MISSING, X, grad=grad if with_grad else None, precision=precision)
    assert not r.ok and r.verdict == "bug"
    assert set(r.wrong) == {(0, 1), (1, 0)}
    assert r.numeric[0, 1] == pytest.approx(3 * 0.25 + (1 - 0.625) * np.exp(-0.625), rel=1e-6)


@pytest.mark.parametrize("precision", ["float64", "mp"])
def test_a_claim_that_is_not_symmetric_is_said_plainly(precision):
    r = da.check_hessian(f, LOPSIDED, X, grad=grad, precision=precision)
    assert r.wrong == ((0, 1),)
    assert "not symmetric" in r.cause and "H(0, 1) ≠ H(1, 0)" in r.cause


def test_a_symmetric_claim_says_nothing_of_symmetry():
    assert "symmetric" not in da.check_hessian(f, MISSING, X, grad=grad).cause


@pytest.mark.parametrize("precision", ["float64", "mp"])
def test_a_hessian_of_the_wrong_shape_is_one_clear_error(precision):
    with pytest.raises(ShapeError, match=r"shape \(3, 3\).*the Hessian must have shape \(2, 2\)"):
        da.check_hessian(f, lambda x: np.eye(3), X, precision=precision)


def test_a_matrix_point_takes_its_entries_in_c_order():
    W = np.array([[0.3, -0.2], [0.1, 0.7]])
    g = lambda W: np.sum(np.tanh(W) ** 2)                       # noqa: E731
    def hess(W):
        t = np.tanh(W).ravel()
        return np.diag(2 * (1 - t ** 2) ** 2 - 4 * t ** 2 * (1 - t ** 2))
    assert da.check_hessian(g, hess, W, precision="mp").ok
    assert da.check_hessian(g, lambda W: hess(W).reshape(2, 2, 2, 2), W).ok
    planted = lambda W: hess(W) + np.diag([0, 0, 0.5, 0])        # noqa: E731
    assert da.check_hessian(g, planted, W, precision="mp").wrong == ((2, 2),)


def kinked(x):
    return np.sum(np.maximum(x, 0) ** 2) + x[0] * x[1]


def kinked_grad(x):
    return 2 * np.maximum(x, 0) + np.array([x[1], x[0], 0.0])


def kinked_hess(x):
    h = np.diag(2.0 * (x > 0))
    h[0, 1] += 1
    h[1, 0] += 1
    return h


@pytest.mark.parametrize("precision", ["float64", "mp"])
def test_off_the_kink_relu_squared_is_fine_and_at_it_the_kink_is_named(precision):
    assert da.check_hessian(kinked, kinked_hess, np.array([0.3, -0.7, 1.2]), grad=kinked_grad,
                            precision=precision).ok
    at = da.check_hessian(kinked, kinked_hess, np.array([0.0, -0.7, 1.2]), grad=kinked_grad, precision=precision)
    assert at.wrong == ((0, 0),)
    assert at.cause.startswith("f is not twice differentiable within the step at entries (0, 0)")


def test_a_wrong_gradient_is_not_used_as_the_reference():
    bad_grad = lambda x: grad(x) * 1.5                           # noqa: E731
    for precision in ("float64", "mp"):
        r = da.check_hessian(f, RIGHT, X, grad=bad_grad, precision=precision)
        assert r.ok, r.summary()
        assert any("grad disagrees with f" in n for n in r.notes)
        assert "second differences of f" in r.method


def test_code_that_leaves_balls_falls_back_to_float64_and_says_so():
    r = da.check_hessian(lambda x: float(f(x)), RIGHT, X, precision="mp")
    assert r.precision == "float64" and r.ok
    assert any("fell back to float64" in n for n in r.notes)


def test_bad_settings_are_one_clear_error():
    with pytest.raises(DerivauditError, match="precision must be"):
        da.check_hessian(f, RIGHT, X, precision="float32")
    with pytest.raises(DerivauditError, match="one array"):
        da.check_hessian(f, RIGHT, (X, X))


def test_large_hessians_use_forward_columns_and_still_name_planted_entries():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(60, 60))
    A = A @ A.T / 60
    quad = lambda x: 0.5 * x @ A @ x + np.sum(np.cos(x))           # noqa: E731
    g = lambda x: A @ x - np.sin(x)                                # noqa: E731
    h = lambda x: A - np.diag(np.cos(x))                           # noqa: E731
    x = rng.normal(size=60)
    assert da.check_hessian(quad, h, x, grad=g).ok
    def planted(x):
        H = h(x)
        H[5, 40] += 0.1
        H[40, 5] += 0.1
        return H
    r = da.check_hessian(quad, planted, x, grad=g)
    assert set(r.wrong) == {(5, 40), (40, 5)} and "forward differences" in " ".join(r.notes)


# --- Hessian–vector products: softmax cross-entropy's Hessian is diag(p) − ppᵀ

def lse(z):
    m = np.max(z)
    return m + np.log(np.sum(np.exp(z - m)))


def softmax(z):
    p = np.exp(z - np.max(z))
    return p / np.sum(p)


def hvp(z, v):
    p = softmax(z)
    return p * v - p * (p @ v)


def hvp_without_outer(z, v):                                     # the −ppᵀ term forgotten
    p = softmax(z)
    return p * v


Z = np.array([0.1, -0.4, 2.0, 0.7])


@pytest.mark.parametrize("precision", ["float64", "mp"])
def test_a_softmax_hvp_is_checked_along_random_directions(precision):
    r = da.check_hvp(softmax, hvp, Z, precision=precision)
    assert r.ok and list(r.parts) == ["v1", "v2", "v3"]
    if precision == "mp":
        assert r.relative_difference < 1e-25
    wrong = da.check_hvp(softmax, hvp_without_outer, Z, precision=precision)
    assert not wrong.ok and wrong.verdict == "bug" and {name for name, _ in wrong.wrong} == {"v1", "v2", "v3"}


@pytest.mark.parametrize("precision", ["float64", "mp"])
def test_an_hvp_along_a_given_direction_names_its_entries(precision):
    v = np.array([1.0, 0.0, 0.0, 0.0])
    assert da.check_hvp(softmax, hvp, Z, v, precision=precision).ok
    p = softmax(Z)
    expected = {(k,) for k in range(4) if abs(p[k] * p[0]) > 1e-3}
    assert set(da.check_hvp(softmax, hvp_without_outer, Z, v, precision=precision).wrong) == expected


def test_hvp_input_errors():
    with pytest.raises(ShapeError, match="H·v must have x's shape"):
        da.check_hvp(softmax, lambda z, v: np.zeros(3), Z)
    with pytest.raises(DerivauditError, match="v is zero"):
        da.check_hvp(softmax, hvp, Z, np.zeros(4))
    with pytest.raises(ShapeError, match="v has 2 entries"):
        da.check_hvp(softmax, hvp, Z, np.ones(2))


# --- double backward: check_layer(order=2)

def mul_forward(x, w):
    return x * w, (x, w)


def mul_backward(dout, cache):
    x, w = cache
    return dout * w, dout * x


def mul_double_backward(ddin, dout, cache):
    x, w = cache
    ddx, ddw = ddin
    return ddw * dout, ddx * dout, ddx * w + ddw * x


def saved_as_constants(ddin, dout, cache):
    """The silently wrong custom Function: tensors saved on ctx treated as constants."""
    x, w = cache
    ddx, ddw = ddin
    return np.zeros_like(x), np.zeros_like(w), ddx * w + ddw * x


@pytest.mark.parametrize("precision", ["float64", "mp"])
def test_double_backward(precision):
    rng = np.random.default_rng(0)
    x, w = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    r = da.check_layer(mul_forward, mul_backward, x, w, order=2, double_backward=mul_double_backward,
                       precision=precision)
    assert r.ok and list(r.parts) == ["x", "w", "dout"]
    bad = da.check_layer(mul_forward, mul_backward, x, w, order=2, double_backward=saved_as_constants,
                         precision=precision)
    assert {name for name, _ in bad.wrong} == {"x", "w"} and bad.parts["dout"].ok


def test_double_backward_of_one_input_and_its_errors():
    y = lambda x: (np.tanh(x), np.tanh(x))                     # noqa: E731
    back = lambda dout, t: dout * (1 - t ** 2)                  # noqa: E731
    right = lambda ddx, dout, t: (-2 * t * (1 - t ** 2) * dout * ddx, (1 - t ** 2) * ddx)   # noqa: E731
    x = np.array([[0.3, -1.1], [0.8, 0.05]])
    assert da.check_layer(y, back, x, order=2, double_backward=right, precision="mp").relative_difference < 1e-25
    with pytest.raises(DerivauditError, match="pass double_backward"):
        da.check_layer(y, back, x, order=2)
    with pytest.raises(DerivauditError, match="order must be 1 or 2"):
        da.check_layer(y, back, x, order=3)


def test_assert_hessian():
    assert assert_hessian(f, RIGHT, X, grad=grad).ok
    with pytest.raises(AssertionError, match=r"Hessian check failed.*\n(.|\n)*wrong entries: \(0, 1\), \(1, 0\)"):
        assert_hessian(f, MISSING, X, precision="mp")
    with pytest.raises(AssertionError, match="Hessian check failed: hess returned"):
        assert_hessian(f, lambda x: np.ones(2), X)


# -- what the report says was compared -------------------------------------------------------

@pytest.mark.parametrize("precision", ["float64", "mp"])
def test_reports_of_second_order_checks_name_what_was_compared(precision, tmp_path):
    hessian_check = da.check_hessian(f, RIGHT, X, grad=grad, precision=precision)
    hvp_check = da.check_hvp(grad, lambda x, v: RIGHT(x) @ v, X, np.array([1.0, 2.0]), precision=precision)
    jacobian_check = da.check_jacobian(grad, RIGHT, X, precision=precision)
    gradient_check = da.check_gradient(f, grad, X, precision=precision)
    for result, compared in [(hessian_check, "Hessian"), (hvp_check, "Hessian–vector product"),
                             (jacobian_check, "Jacobian"), (gradient_check, "gradient")]:
        assert result.precision == precision and result.compared == compared
        second = result.summary().splitlines()[1]
        assert second.startswith(f"numeric {compared}: {result.method}"), second
        page = result.write_html(tmp_path / "r.html").read_text("utf-8")
        assert f"{compared[0].upper()}{compared[1:]} check" in page and f"reference {compared}" in page
        assert json.loads(result.to_json())["compared"] == compared
