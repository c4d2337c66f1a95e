"""check_gradient on real NumPy code: a 2-layer network, planted bugs, causes, the ε sweep."""

import math

import numpy as np
import pytest

import derivaudit as da
from derivaudit.errors import DerivauditError, DomainError, ShapeError
from derivaudit.gradcheck.gradient import THRESHOLDS, suggest_cause, verdict_of

RNG = np.random.default_rng(7)
X = RNG.normal(size=(10, 3))
Y = RNG.normal(size=(10, 2))
SHAPES = [(3, 4), (4,), (4, 2), (2,)]
SIZES = [int(np.prod(s)) for s in SHAPES]
W1_B1 = range(0, 16)          # flat indices of W1 (12) and b1 (4)


def unpack(theta):
    parts, k = [], 0
    for shape, size in zip(SHAPES, SIZES):
        parts.append(theta[k:k + size].reshape(shape))
        k += size
    return parts


def loss(theta):
    """Mean squared error of a tanh network 3 → 4 → 2 (works on complex arrays too)."""
    W1, b1, W2, b2 = unpack(theta)
    out = np.tanh(X @ W1 + b1) @ W2 + b2
    return 0.5 * np.mean(np.sum((out - Y) ** 2, axis=1))


def backward(theta, bug=False):
    W1, b1, W2, b2 = unpack(theta)
    h = np.tanh(X @ W1 + b1)
    d = (h @ W2 + b2 - Y) / X.shape[0]
    dz = (d @ W2.T) * ((1 - h) if bug else (1 - h ** 2))   # the planted bug: tanh' = 1 − h
    return np.concatenate([(X.T @ dz).ravel(), dz.sum(0), (h.T @ d).ravel(), d.sum(0)])


THETA = RNG.normal(size=sum(SIZES))


def test_correct_backward_pass_is_fine():
    result = da.check_gradient(loss, backward, THETA)
    assert result.method == "complex step"
    assert result.verdict == "fine" and result.ok and result.wrong == ()
    assert result.relative_difference < 1e-13
    assert result.analytic.shape == THETA.shape


def test_centered_differences_also_pass_the_correct_pass():
    result = da.check_gradient(loss, backward, THETA, complex_step=False, sweep=False)
    assert result.method == "centered differences" and result.eps == 6e-6
    assert result.relative_difference < 1e-8 and result.ok
    assert result.sweep is None


@pytest.mark.parametrize("complex_step", ["auto", False])
def test_planted_bug_is_caught_and_located(complex_step):
    result = da.check_gradient(loss, lambda t: backward(t, bug=True), THETA, complex_step=complex_step,
                               sweep=False)
    assert result.verdict == "bug" and not result.ok
    # exactly the first layer's entries are wrong; the second layer's are right
    assert sorted(i for (i,) in result.wrong) == list(W1_B1)
    assert "only 16 of 26 entries are wrong" in result.cause


def test_sweep_shows_truncation_then_roundoff():
    result = da.check_gradient(loss, backward, THETA)
    sweep = result.sweep
    assert list(sweep.eps) == [10.0 ** -k for k in range(1, 13)]
    errors = sweep.error_vs_complex_step.to_numpy()
    best = int(np.argmin(errors))
    assert 2 <= best <= 8                                   # a V, not a slope
    assert errors[0] > 100 * errors[best] and errors[-1] > 100 * errors[best]
    # right arm ∝ ε² (truncation), left arm ∝ 1/ε (roundoff)
    assert errors[0] / errors[1] == pytest.approx(100, rel=0.05)
    assert list(sweep.dominant[:3]) == ["truncation"] * 3 and list(sweep.dominant[-3:]) == ["roundoff"] * 3
    assert np.allclose(sweep.truncation_estimate[:4], errors[:4], rtol=0.05)
    assert sweep.roundoff_estimate.iloc[-1] > 10 * sweep.roundoff_estimate.iloc[-3] * 0.99


def test_real_only_code_falls_back_to_centered_differences():
    def real_loss(theta):
        return loss(np.asarray(theta, dtype=float))          # drops the imaginary part

    result = da.check_gradient(real_loss, backward, THETA, sweep=False)
    assert result.method == "centered differences" and result.ok
    assert any("ComplexWarning" in n or "does not accept complex" in n for n in result.notes)
    with pytest.raises(DerivauditError, match="complex_step=True"):
        da.check_gradient(real_loss, backward, THETA, complex_step=True, sweep=False)


def test_non_analytic_code_is_not_trusted_with_the_complex_step():
    # |t|²·t runs on complex numbers but is not complex-analytic: Im(|x + ih|²(x + ih))/h = x², not 3x²
    f = lambda t: np.sum(np.abs(t) ** 2 * t)
    g = lambda t: 3 * t ** 2
    result = da.check_gradient(f, g, np.array([0.5, -1.5, 2.0]), sweep=False)
    assert result.method == "centered differences" and result.ok
    assert any("disagrees" in n for n in result.notes)


@pytest.mark.parametrize("bad_grad, cause", [
    (lambda t: -backward(t), "sign flip at all entries"),
    (lambda t: 2 * backward(t), "off by a constant factor 2"),
    (lambda t: np.where(np.arange(t.size) >= 24, 0.0, backward(t)), "zero at entries (24,), (25,)"),
    (lambda t: np.where(np.arange(t.size) == 3, -backward(t), backward(t)), "sign flip at entries (3,)"),
])
def test_suggested_causes(bad_grad, cause):
    result = da.check_gradient(loss, bad_grad, THETA, sweep=False)
    assert result.verdict == "bug"
    assert cause in result.cause


def test_transposed_gradient_of_a_matrix_parameter():
    A = np.array([[1.0, 2.0], [3.0, 5.0]])
    f = lambda W: np.sum(A * W ** 2)                       # ∂f/∂W = 2 A ∘ W
    W = np.array([[0.3, -1.2], [0.7, 2.0]])
    ok = da.check_gradient(f, lambda W: 2 * A * W, W, sweep=False)
    assert ok.ok and ok.numeric.shape == (2, 2)
    bad = da.check_gradient(f, lambda W: (2 * A * W).T, W, sweep=False)
    assert bad.verdict == "bug" and bad.cause.startswith("transposed")
    assert set(bad.wrong) == {(0, 1), (1, 0)}              # index tuples in θ's shape


def test_inputs_anything_asarray_takes_and_clear_errors():
    f = lambda t: float(np.sum(np.asarray(t) ** 2))
    result = da.check_gradient(f, lambda t: [2 * v for v in t], [1, 2, 3], sweep=False)
    assert result.ok and result.method == "centered differences"
    with pytest.raises(ShapeError, match="f must return a scalar"):
        da.check_gradient(lambda t: t * 2, lambda t: t, [1.0, 2.0])
    with pytest.raises(ShapeError, match=r"grad_f returned shape \(3,\)"):
        da.check_gradient(f, lambda t: np.ones(3), [1.0, 2.0])
    with pytest.raises(ShapeError, match="looks transposed"):
        da.check_gradient(lambda W: np.sum(W ** 2), lambda W: 2 * W.T, np.ones((2, 3)))
    with pytest.raises(DomainError, match="NaN"):
        da.check_gradient(f, lambda t: t, [1.0, np.nan])
    with pytest.raises(DomainError, match="not finite"):
        with np.errstate(divide="ignore"):
            da.check_gradient(lambda t: np.log(t[0] - 1), lambda t: t, [1.0])
    with pytest.raises(DerivauditError, match="real numbers"):
        da.check_gradient(f, lambda t: t, ["a", "b"])
    with pytest.raises(DerivauditError, match="eps"):
        da.check_gradient(f, lambda t: 2 * t, [1.0], eps=0)


def test_nondeterministic_f_is_reported():
    rng = np.random.default_rng(0)
    noisy = lambda t: float(np.sum(t ** 2) + 1e-3 * rng.normal())
    result = da.check_gradient(noisy, lambda t: 2 * t, [1.0, 2.0], sweep=False)
    assert any("not deterministic" in n for n in result.notes)


def test_verdict_thresholds():
    assert THRESHOLDS == (1e-7, 1e-5, 1e-3)
    assert [verdict_of(r) for r in (0, 5e-8, 5e-6, 5e-4, 1e-3, 1)] == \
        ["fine", "fine", "ok", "look again", "bug", "bug"]
    assert suggest_cause(np.ones(3), np.ones(3), ()) == ""
    assert math.isclose(da.check_gradient(lambda t: 0.0 * t[0], lambda t: 0 * t, [1.0],
                                          sweep=False).relative_difference, 0.0)
