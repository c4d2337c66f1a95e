"""Pieces shared by the float64 and ball second-order checks: shapes, the user's gradient, the cause.

A claimed Hessian is read as an ``(n, n)`` array (:func:`claimed_matrix`);
the user's gradient becomes a reference only after it agrees with ``f``
along random directions (:func:`gradient_disagrees`); the cause of a Hessian
check says plainly when the claim is not symmetric or ``f`` has a kink
within the step (:func:`hessian_cause`, :func:`kinks_in`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from derivaudit.errors import ShapeError
from derivaudit.gradcheck.numeric import DEFAULT_EPS, Objective
from derivaudit.gradcheck.packing import Packing, finite_float64, to_numpy
from derivaudit.gradcheck.results import THRESHOLDS, GradientCheckResult
from derivaudit.studies.error_model import UNIT_ROUNDOFF

__all__ = ["GRADIENT_DIRECTIONS", "hessian_packing", "claimed_matrix", "vector_of", "objective_of",
           "gradient_disagrees", "kinks_in", "hessian_cause"]

#: random directions along which the user's grad is compared with f before its differences are the reference
GRADIENT_DIRECTIONS = 2


def objective_of(f: Callable, shape: tuple) -> Objective:
    """``f`` on flat float64 vectors (reshaped to ``shape``), counting calls."""
    return Objective(lambda x: f(x), Packing("array", ("x",), (shape,), ("numpy",), ()))


def hessian_packing(n: int) -> Packing:
    """The packing of an ``(n, n)`` Hessian: one array, wrong entries as ``(i, j)``."""
    return Packing("array", ("H",), ((n, n),), ("numpy",), ())
def claimed_matrix(value, n: int, shape: tuple, who: str = "hess", balls: bool = False) -> np.ndarray:
    """``hess``'s result as an ``(n, n)`` array; one clear error for any other shape."""
    array = np.asarray(value if balls else to_numpy(value))
    if array.shape not in ((n, n), tuple(shape) + tuple(shape)):
        wanted = f"({n}, {n})" + ("" if len(shape) == 1 else f" or {tuple(shape) + tuple(shape)}")
        raise ShapeError(f"{who} returned an array of shape {array.shape}, but x has {n} entries: "
                         f"the Hessian must have shape {wanted}")
    if balls:
        return array.reshape(n, n)
    return finite_float64(array.reshape(n, n), f"{who} must return real numbers",
                          f"{who} returned entries that are not finite")
def vector_of(g: Callable, shape: tuple, who: str = "grad") -> Callable:
    """``flat ↦ g(x)`` flattened to float64, with one clear error for the wrong shape."""
    n = int(np.prod(shape))

    def call(flat):
        out = g(flat.reshape(shape))
        if type(out) is np.ndarray and out.dtype == np.float64 and out.size == n:
            return out.ravel()
        out = np.asarray(to_numpy(out), dtype=np.float64)
        if out.size != n:
            raise ShapeError(f"{who} returned {out.size} entries, but x has {n}: it must return x's shape {shape}")
        return out.ravel()
    return call
def gradient_disagrees(f: Objective, g0: np.ndarray, theta: np.ndarray, seed: int) -> str:
    """Why the user's gradient is not the gradient of ``f`` (empty when it agrees along random directions)."""
    rng = np.random.default_rng(seed + 7919)
    f0 = float(np.real(f(theta)))
    for _ in range(GRADIENT_DIRECTIONS):
        v = rng.standard_normal(theta.size)
        h = DEFAULT_EPS * max(1.0, float(np.max(np.abs(theta))))
        quotients = [(f(theta + s * v) - f(theta - s * v)) / (2 * s) for s in (h, 2 * h)]
        claimed = float(g0 @ v)
        uncertainty = abs(quotients[0] - quotients[1]) + 4 * UNIT_ROUNDOFF * abs(f0) / h
        difference = abs(claimed - quotients[0])
        if difference > 10 * uncertainty and difference >= THRESHOLDS[1] * (abs(claimed) + abs(quotients[0])):
            return (f"grad disagrees with f along a random direction (grad·v = {claimed:.6g}, "
                    f"differences of f give {quotients[0]:.6g}); check it with check_gradient")
    return ""
def kinks_in(f: Objective, gvec, theta: np.ndarray, bad: list[tuple[int, int]], base: float) -> list:
    """Entries whose one-sided second derivatives disagree at h and at h/100: a kink within the step.

    With a gradient the one-sided differences of column ``j``; without, of
    ``f`` along ``eᵢ`` (diagonal entries only).
    """
    found = []
    for i, j in bad[:10]:
        jumps = []
        for h in (base * max(1.0, abs(theta[j])), base / 100 * max(1.0, abs(theta[j]))):
            x = theta.copy()
            if gvec is not None:
                g0 = gvec(x)[i]
                x[j] = theta[j] + h
                right = (gvec(x)[i] - g0) / h
                x[j] = theta[j] - h
                left = (g0 - gvec(x)[i]) / h
            elif i == j:
                values = []
                for s in (2, 1, 0, -1, -2):
                    x[j] = theta[j] + s * h
                    values.append(float(np.real(f(x))))
                right = (values[0] - 2 * values[1] + values[2]) / h ** 2
                left = (values[2] - 2 * values[3] + values[4]) / h ** 2
            else:
                continue
            jumps.append((abs(right - left), abs(right) + abs(left)))
        if jumps and all(jump > 1e-3 * size for jump, size in jumps) and jumps[1][0] > 0.1 * jumps[0][0]:
            found.append((i, j))
    return found
def hessian_cause(result: GradientCheckResult, claimed: np.ndarray, kinks: list) -> GradientCheckResult:
    """The cause of a Hessian check: a non-symmetric claim and kinks said plainly, before the entry pattern."""
    from dataclasses import replace
    reasons = []
    if kinks:
        reasons.append(f"f is not twice differentiable within the step at entries {', '.join(map(str, kinks))}: "
                       "the one-sided second derivatives differ (a kink of relu/abs/max at x); move x off the kink")
    mids = np.asarray(claimed, dtype=float)
    asymmetry = np.abs(mids - mids.T)
    tolerance = THRESHOLDS[1] * (np.abs(mids) + np.abs(mids.T)) + 1e-300
    lopsided = [(int(i), int(j)) for i, j in zip(*np.nonzero(np.triu(asymmetry > tolerance, 1)))]
    if lopsided:
        shown = ", ".join(f"H{p} ≠ H{p[::-1]}" for p in lopsided[:4])
        reasons.append(f"the claimed Hessian is not symmetric ({shown}), but the Hessian of a twice "
                       "continuously differentiable f is: at most one of each pair can be right")
    if not reasons:
        return result
    lead = "; ".join(reasons)
    cause = lead if result.ok else (f"{lead}; {result.cause}" if result.cause else lead)
    return replace(result, cause=cause, notes=result.notes + tuple(reasons))