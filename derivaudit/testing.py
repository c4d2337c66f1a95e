"""Test helpers: gradient assertions for pytest (or any test runner).

    from derivaudit.testing import assert_gradient

    def test_backward_pass():
        assert_gradient(loss, loss_grad, theta)

fails with an :class:`AssertionError` whose message names the worst
entries (index, analytic and numeric values), the relative difference and a
suggested cause, as computed by :func:`derivaudit.gradcheck.check_gradient`.
"""

from __future__ import annotations

from collections.abc import Callable

from derivaudit.errors import ShapeError
from derivaudit.gradcheck.gradient import THRESHOLDS, GradientCheckResult, check_gradient

__all__ = ["assert_gradient"]


def assert_gradient(f: Callable, grad_f: Callable, theta, *, threshold: float = THRESHOLDS[1],
                    eps: float | None = None, complex_step: bool | str = "auto",
                    show: int = 5) -> GradientCheckResult:
    """Assert that ``grad_f`` is the gradient of ``f`` at ``theta``.

    Fails when the relative difference ``‖g − n‖/(‖g‖ + ‖n‖)`` reaches
    ``threshold`` (default 1e-5, the "look again" line) or when any entry
    disagrees beyond the numeric gradient's uncertainty, or when ``grad_f``
    returns the wrong shape.  The ε sweep is skipped (tests stay fast); the
    result is returned for further assertions.
    """
    try:
        result = check_gradient(f, grad_f, theta, eps=eps, complex_step=complex_step, sweep=False)
    except ShapeError as exc:
        raise AssertionError(f"gradient check failed: {exc}") from None
    if result.relative_difference >= threshold or result.wrong:
        raise AssertionError(f"gradient check failed (threshold {threshold:g})\n{result.summary(show)}")
    return result
