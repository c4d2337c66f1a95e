"""Test helpers: gradient, layer and Hessian assertions for pytest (or any test runner).

    from derivaudit.testing import assert_gradient, assert_hessian, assert_layer

    def test_backward_pass():
        assert_gradient(loss, loss_grad, theta)
        assert_layer(conv_forward, conv_backward, x, w, b, conv_param, precision="mp")
        assert_hessian(loss, loss_hessian, theta, grad=loss_grad)

fail with an :class:`AssertionError` whose message names the worst entries
(index, analytic and numeric values; ``(name, index)`` for several inputs),
the relative difference and a suggested cause, as computed by
:func:`derivaudit.check_gradient`, :func:`derivaudit.check_layer` and
:func:`derivaudit.check_hessian`.
"""

from __future__ import annotations

from collections.abc import Callable

from derivaudit.errors import ShapeError
from derivaudit.gradcheck.gradient import THRESHOLDS, GradientCheckResult, check_gradient
from derivaudit.gradcheck.hessian import check_hessian
from derivaudit.gradcheck.layers import check_layer

__all__ = ["assert_gradient", "assert_layer", "assert_hessian"]


def _judge(result: GradientCheckResult, threshold: float, show: int, what: str) -> GradientCheckResult:
    if result.relative_difference >= threshold or result.wrong:
        named = ""
        if result.wrong:
            named = f"\nwrong entries: {', '.join(str(w) for w in result.wrong[:8])}" + \
                (f" and {len(result.wrong) - 8} more" if len(result.wrong) > 8 else "")
        raise AssertionError(f"{what} check failed (threshold {threshold:g})\n{result.summary(show)}{named}")
    return result


def assert_gradient(f: Callable, grad_f: Callable, theta, *, threshold: float = THRESHOLDS[1],
                    precision: str = "float64", dps: int = 50, eps: float | None = None,
                    complex_step: bool | str = "auto", show: int = 5) -> GradientCheckResult:
    """Assert that ``grad_f`` is the gradient of ``f`` at ``theta``.

    Fails when the relative difference ``‖g − n‖/(‖g‖ + ‖n‖)`` reaches
    ``threshold`` (default 1e-5, the "look again" line) or when any entry
    disagrees beyond the numeric gradient's uncertainty (with
    ``precision="mp"``: any entry certainly wrong at ``dps`` digits), or when
    ``grad_f`` returns the wrong shape.  The ε sweep is skipped (tests stay
    fast); the result is returned for further assertions.
    """
    try:
        result = check_gradient(f, grad_f, theta, precision=precision, dps=dps, eps=eps,
                                complex_step=complex_step, sweep=False)
    except ShapeError as exc:
        raise AssertionError(f"gradient check failed: {exc}") from None
    return _judge(result, threshold, show, "gradient")


def assert_layer(forward: Callable, backward: Callable, *inputs, threshold: float = THRESHOLDS[1],
                 precision: str = "float64", dps: int = 50, seed: int = 0, show: int = 5) -> GradientCheckResult:
    """Assert that ``backward(dout, cache)`` returns the gradients of ``forward(*inputs)``.

    The CS231n convention of :func:`derivaudit.check_layer`; fails like
    :func:`assert_gradient`, naming the input and the entries that are wrong
    (``("w", (0, 1, 2, 2))``).
    """
    try:
        result = check_layer(forward, backward, *inputs, precision=precision, dps=dps, seed=seed)
    except ShapeError as exc:
        raise AssertionError(f"layer check failed: {exc}") from None
    return _judge(result, threshold, show, "layer")


def assert_hessian(f: Callable, hess: Callable, x, *, grad: Callable | None = None,
                   threshold: float = THRESHOLDS[1], precision: str = "float64", dps: int = 50,
                   show: int = 5) -> GradientCheckResult:
    """Assert that ``hess(x)`` is the Hessian of the scalar ``f`` at ``x``.

    :func:`derivaudit.check_hessian` (the reference from ``grad`` when given,
    else second differences of ``f``); fails like :func:`assert_gradient`,
    naming the wrong ``(i, j)`` entries, and when ``hess`` returns the wrong
    shape.

    >>> import numpy as np
    >>> f = lambda x: x[0] ** 2 * x[1]
    >>> assert_hessian(f, lambda x: np.array([[2 * x[1], 2 * x[0]], [2 * x[0], 0.0]]), np.array([1.0, 2.0])).wrong
    ()
    """
    try:
        result = check_hessian(f, hess, x, grad=grad, precision=precision, dps=dps)
    except ShapeError as exc:
        raise AssertionError(f"Hessian check failed: {exc}") from None
    return _judge(result, threshold, show, "Hessian")
