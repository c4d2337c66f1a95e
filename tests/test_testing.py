"""The pytest helper da.testing.assert_gradient and its failure message."""

import numpy as np
import pytest

import derivaudit as da
from derivaudit.testing import assert_gradient

THETA = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])


def f(W):
    return np.sum(np.sin(W) * W ** 2)


def grad(W):
    return np.cos(W) * W ** 2 + 2 * W * np.sin(W)


def test_passes_and_returns_the_result():
    result = assert_gradient(f, grad, THETA)
    assert result.verdict == "fine" and result.relative_difference < 1e-14
    assert da.testing.assert_gradient is assert_gradient


def test_failure_message_names_entries_values_difference_and_cause():
    def wrong(W):
        g = grad(W)
        g[1, 2] *= -1                                          # one entry with a flipped sign
        return g

    with pytest.raises(AssertionError) as info:
        assert_gradient(f, wrong, THETA)
    message = str(info.value)
    g = grad(THETA)[1, 2]
    lines = message.splitlines()
    assert lines[0] == "gradient check failed (threshold 1e-05)"
    assert lines[1].startswith("relative difference ") and lines[1].endswith(
        "bug (fine < 1e-07, look again ≥ 1e-05, bug ≥ 0.001)")
    assert "numeric gradient: complex step" in message
    assert "1 of 6 entries disagree; worst entries:" in message
    worst = next(line for line in lines if line.lstrip().startswith("(1, 2)"))
    assert f"{-g:.6g}" in worst and f"{g:.6g}" in worst
    assert "suggested cause: sign flip at entries (1, 2)" in message


def test_shape_errors_become_assertion_errors():
    with pytest.raises(AssertionError, match=r"gradient check failed: grad_f returned shape \(3, 2\).*transposed"):
        assert_gradient(f, lambda W: grad(W).T, THETA)


def test_threshold_is_respected():
    tiny = lambda W: grad(W) * (1 + 1e-6)                   # relative difference 5e-7: "ok"
    assert assert_gradient(f, tiny, THETA).verdict == "ok"
    with pytest.raises(AssertionError, match=r"relative difference 5\.000e-07: ok"):
        assert_gradient(f, tiny, THETA, threshold=1e-7)
    small = lambda W: grad(W) * (1 + 1e-4)                  # 5e-5: "look again", every entry off
    with pytest.raises(AssertionError, match="look again") as info:
        assert_gradient(f, small, THETA)
    assert "6 of 6 entries disagree" in str(info.value)
    assert "off by a constant factor 1.0001 at all entries" in str(info.value)
